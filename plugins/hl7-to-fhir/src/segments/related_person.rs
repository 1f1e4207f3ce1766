//! NK1 → RelatedPerson and Patient.contact (IG `NK1[RelatedPerson]`,
//! `NK1[Patient]`), and the people that GT1 and IN1 name: the guarantor and
//! the insured.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, push, put};
use crate::datatypes::{address, codes, identifier, name, telecom, time};
use crate::references::organization;
use crate::segments::{patient, positioned};

/// Maps an NK1 to a RelatedPerson of `patient`: name (NK1-2, -30),
/// relationship (NK1-3, table 0063; NK1-7, table 0131), address (NK1-4, -32),
/// telecom (NK1-5 home, NK1-6 work, NK1-31, -40, -41), period (NK1-8, -9),
/// identifiers (NK1-12, -33, the social security number NK1-37), gender (NK1-15), birth date (NK1-16) and
/// language (NK1-20).
pub fn nk1<'m>(ctx: &mut Context<'m>, nk1: Seg<'m>, position: usize, patient: Handle) -> Handle {
    let mut person = positioned(ctx, "RelatedPerson", position);
    person["patient"] = ctx.reference(patient);
    let mut identifiers: Vec<Value<'m>> = [12, 33]
        .into_iter()
        .flat_map(|n| nk1.reps(n))
        .filter_map(identifier::cx)
        .collect();
    identifiers.extend(nk1.text(37).map(identifier::ssn));
    put(&mut person, "identifier", Some(Value::Array(identifiers)));
    let names = [2, 30]
        .into_iter()
        .flat_map(|n| nk1.reps(n))
        .filter_map(name::xpn);
    put(&mut person, "name", Some(names.collect()));
    put(&mut person, "relationship", Some(relationships(nk1)));
    let addresses = [4, 32]
        .into_iter()
        .flat_map(|n| nk1.reps(n))
        .filter_map(address::xad);
    put(&mut person, "address", Some(addresses.collect()));
    put(
        &mut person,
        "telecom",
        Some(telecoms(nk1, &[5, 6, 31, 40, 41])),
    );
    put(&mut person, "period", period(nk1));
    let gender = nk1.text(15).and_then(patient::gender);
    put(&mut person, "gender", gender.map(Value::from));
    put(&mut person, "birthDate", nk1.date(16).map(Value::from));
    let language = nk1
        .rep(20)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0296")));
    put(
        &mut person,
        "communication",
        language.map(|l| json!([{ "language": l }])),
    );
    ctx.add(person, None)
}

/// Whether an NK1 names a person, who is then also a RelatedPerson: the
/// IG's ADT maps make only a contact of an employer or agency (NK1-3
/// `EMR`, `E`, `F`, `I`, `S`).
pub fn names_a_person(nk1: Seg<'_>) -> bool {
    !matches!(
        nk1.component(3, 1).as_deref(),
        Some("EMR" | "E" | "F" | "I" | "S")
    )
}

/// Adds an NK1 to `patient`'s contacts (IG `NK1[Patient]`): relationship
/// (NK1-3, table 0063; NK1-7, table 0131), name NK1-2, telecom (NK1-5
/// home, NK1-6 work, NK1-40, -41), address NK1-4, gender NK1-15, the
/// organization NK1-13 and period NK1-8/-9. Nothing for an NK1 that names
/// no one, as a contact must name someone (FHIR's pat-1).
pub fn contact<'m>(ctx: &mut Context<'m>, nk1: Seg<'m>, patient: Handle) {
    let mut contact = json!({});
    put(&mut contact, "relationship", Some(relationships(nk1)));
    put(&mut contact, "name", nk1.rep(2).and_then(name::xpn));
    put(
        &mut contact,
        "telecom",
        Some(telecoms(nk1, &[5, 6, 40, 41])),
    );
    put(&mut contact, "address", nk1.rep(4).and_then(address::xad));
    let gender = nk1.text(15).and_then(patient::gender);
    put(&mut contact, "gender", gender.map(Value::from));
    let organization = nk1.rep(13).and_then(|xon| organization::xon(ctx, xon));
    put(
        &mut contact,
        "organization",
        organization.map(|h| ctx.reference(h)),
    );
    let someone = ["name", "telecom", "address", "organization"]
        .iter()
        .any(|key| contact.get(key).is_some());
    if !someone {
        return;
    }
    put(&mut contact, "period", period(nk1));
    push(ctx.resource_mut(patient), "contact", contact);
}

/// NK1-3 (table 0063) and NK1-7 (table 0131) as CodeableConcepts.
fn relationships<'m>(nk1: Seg<'m>) -> Value<'m> {
    [(3, codes::v2_table!("0063")), (7, codes::v2_table!("0131"))]
        .into_iter()
        .filter_map(|(n, table)| codes::table_cwe(&nk1.rep(n)?, table))
        .collect()
}

/// The ContactPoints of the NK1 `fields`: NK1-5 is home, NK1-6 work.
fn telecoms<'m>(nk1: Seg<'m>, fields: &[usize]) -> Value<'m> {
    fields
        .iter()
        .flat_map(|&n| {
            let default_use = match n {
                5 => Some("home"),
                6 => Some("work"),
                _ => None,
            };
            nk1.reps(n)
                .filter_map(move |r| telecom::xtn(r, default_use))
        })
        .collect()
}

/// NK1-8 to NK1-9 as a Period of dates.
fn period<'m>(nk1: Seg<'m>) -> Option<Value<'m>> {
    let start = nk1.text(8).and_then(|t| time::date(&t));
    let end = nk1.text(9).and_then(|t| time::date(&t));
    time::period(start, end)
}

/// Where a segment that names a person related to the patient keeps that
/// person's data: GT1's guarantor, IN1's insured.
pub struct PersonFields {
    identifier: Option<usize>,
    name: usize,
    relationship: usize,
    address: usize,
    home_phone: Option<usize>,
    work_phone: Option<usize>,
    birth_date: usize,
    gender: usize,
}

/// GT1's guarantor: identifier GT1-2, name GT1-3, address GT1-5, telecom
/// GT1-6 (home) and GT1-7 (work), birth date GT1-8, gender GT1-9,
/// relationship GT1-11.
pub const GUARANTOR: PersonFields = PersonFields {
    identifier: Some(2),
    name: 3,
    relationship: 11,
    address: 5,
    home_phone: Some(6),
    work_phone: Some(7),
    birth_date: 8,
    gender: 9,
};

/// IN1's insured: name IN1-16, relationship IN1-17, birth date IN1-18,
/// address IN1-19, gender IN1-43.
pub const INSURED: PersonFields = PersonFields {
    identifier: None,
    name: 16,
    relationship: 17,
    address: 19,
    home_phone: None,
    work_phone: None,
    birth_date: 18,
    gender: 43,
};

/// The person that `seg` names at `fields` as a RelatedPerson of
/// `patient`, with the relationship from table 0063. `None` without a name.
pub fn named<'m>(
    ctx: &mut Context<'m>,
    seg: Seg<'m>,
    fields: &PersonFields,
    position: usize,
    patient: Handle,
) -> Option<Handle> {
    let names: Vec<Value<'m>> = seg.reps(fields.name).filter_map(name::xpn).collect();
    if names.is_empty() {
        return None;
    }
    let mut person = positioned(ctx, "RelatedPerson", position);
    person["patient"] = ctx.reference(patient);
    let identifiers = fields
        .identifier
        .into_iter()
        .flat_map(|n| seg.reps(n))
        .filter_map(identifier::cx);
    put(&mut person, "identifier", Some(identifiers.collect()));
    person["name"] = Value::Array(names);
    let relationship = seg
        .rep(fields.relationship)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0063")));
    put(
        &mut person,
        "relationship",
        relationship.map(|r| json!([r])),
    );
    let addresses = seg.reps(fields.address).filter_map(address::xad);
    put(&mut person, "address", Some(addresses.collect()));
    let telecoms = [(fields.home_phone, "home"), (fields.work_phone, "work")]
        .into_iter()
        .filter_map(|(n, used)| Some((n?, used)))
        .flat_map(|(n, used)| seg.reps(n).filter_map(move |r| telecom::xtn(r, Some(used))));
    put(&mut person, "telecom", Some(telecoms.collect()));
    put(
        &mut person,
        "birthDate",
        seg.date(fields.birth_date).map(Value::from),
    );
    let gender = seg.text(fields.gender).and_then(patient::gender);
    put(&mut person, "gender", gender.map(Value::from));
    Some(ctx.add(person, None))
}

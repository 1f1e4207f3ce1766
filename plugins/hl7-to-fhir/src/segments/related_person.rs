//! NK1 → RelatedPerson (IG `NK1[RelatedPerson]`), and a GT1's guarantor.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, put};
use crate::datatypes::{address, codes, identifier, name, telecom, time};
use crate::segments::{patient, positioned};

/// Maps an NK1 to a RelatedPerson of `patient`: name (NK1-2, -30),
/// relationship (NK1-3, table 0063; NK1-7, table 0131), address (NK1-4, -32),
/// telecom (NK1-5 home, NK1-6 work, NK1-31, -40, -41), period (NK1-8, -9),
/// identifiers (NK1-12, -33), gender (NK1-15), birth date (NK1-16) and
/// language (NK1-20).
pub fn nk1<'m>(ctx: &mut Context<'m>, nk1: Seg<'m>, position: usize, patient: Handle) -> Handle {
    let mut person = positioned(ctx, "RelatedPerson", position);
    person["patient"] = ctx.reference(patient);
    let identifiers: Vec<Value<'m>> = [12, 33]
        .into_iter()
        .flat_map(|n| nk1.reps(n))
        .filter_map(identifier::cx)
        .collect();
    put(&mut person, "identifier", Some(Value::Array(identifiers)));
    let names = [2, 30]
        .into_iter()
        .flat_map(|n| nk1.reps(n))
        .filter_map(name::xpn);
    put(&mut person, "name", Some(names.collect()));
    let relationships = [(3, codes::v2_table!("0063")), (7, codes::v2_table!("0131"))]
        .into_iter()
        .filter_map(|(n, table)| codes::table_cwe(&nk1.rep(n)?, table));
    put(&mut person, "relationship", Some(relationships.collect()));
    let addresses = [4, 32]
        .into_iter()
        .flat_map(|n| nk1.reps(n))
        .filter_map(address::xad);
    put(&mut person, "address", Some(addresses.collect()));
    let telecoms = [
        (5, Some("home")),
        (6, Some("work")),
        (31, None),
        (40, None),
        (41, None),
    ]
    .into_iter()
    .flat_map(|(n, default_use)| {
        nk1.reps(n)
            .filter_map(move |r| telecom::xtn(r, default_use))
    });
    put(&mut person, "telecom", Some(telecoms.collect()));
    let start = nk1.text(8).and_then(|t| time::date(&t));
    let end = nk1.text(9).and_then(|t| time::date(&t));
    put(&mut person, "period", time::period(start, end));
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

/// A GT1's guarantor as a RelatedPerson of `patient`: identifier GT1-2, name
/// GT1-3, address GT1-5, telecom GT1-6 (home) and GT1-7 (work), birth date
/// GT1-8, gender GT1-9 and relationship GT1-11 (table 0063). `None` without
/// a name.
pub fn gt1<'m>(
    ctx: &mut Context<'m>,
    gt1: Seg<'m>,
    position: usize,
    patient: Handle,
) -> Option<Handle> {
    let names: Vec<Value<'m>> = gt1.reps(3).filter_map(name::xpn).collect();
    if names.is_empty() {
        return None;
    }
    let mut person = positioned(ctx, "RelatedPerson", position);
    person["patient"] = ctx.reference(patient);
    let identifiers = gt1.reps(2).filter_map(identifier::cx);
    put(&mut person, "identifier", Some(identifiers.collect()));
    person["name"] = Value::Array(names);
    let relationship = gt1
        .rep(11)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0063")));
    put(
        &mut person,
        "relationship",
        relationship.map(|r| json!([r])),
    );
    let addresses = gt1.reps(5).filter_map(address::xad);
    put(&mut person, "address", Some(addresses.collect()));
    let telecoms = [(6, "home"), (7, "work")]
        .into_iter()
        .flat_map(|(n, used)| gt1.reps(n).filter_map(move |r| telecom::xtn(r, Some(used))));
    put(&mut person, "telecom", Some(telecoms.collect()));
    put(&mut person, "birthDate", gt1.date(8).map(Value::from));
    let gender = gt1.text(9).and_then(patient::gender);
    put(&mut person, "gender", gender.map(Value::from));
    Some(ctx.add(person, None))
}

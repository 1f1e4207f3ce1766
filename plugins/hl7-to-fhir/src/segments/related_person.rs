//! NK1 → RelatedPerson (IG `NK1[RelatedPerson]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, put};
use crate::datatypes::{address, codes, identifier, name, telecom, time};
use crate::segments::positioned;

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
    let gender = nk1.text(15).and_then(|code| match &*code {
        "M" => Some("male"),
        "F" => Some("female"),
        "U" => Some("unknown"),
        "O" | "A" | "N" => Some("other"),
        _ => None,
    });
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

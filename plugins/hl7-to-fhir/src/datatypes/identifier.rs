//! CX, EI and HD → Identifier, and the conditional-write query an identifier
//! allows.

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Parts, Rep, Text, object, push, put};
use crate::datatypes::{codes, time};

/// The system URI of an HD given as namespace, universal id and its type:
/// `urn:oid:` for ISO (or an OID-shaped id), `urn:uuid:` for UUID, the id
/// itself for URI/URL. A namespace alone is no URI, so gives `None`.
pub fn hd_system<'m>(hd: &impl Parts<'m>, first: usize) -> Option<Text<'m>> {
    let universal = hd.part(first + 1)?;
    let kind = hd.part(first + 2).unwrap_or_default().to_ascii_uppercase();
    let oid_shaped = universal.split('.').count() > 1
        && universal
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
    match kind.as_str() {
        "ISO" => Some(format!("urn:oid:{universal}").into()),
        "UUID" | "GUID" => Some(format!("urn:uuid:{universal}").into()),
        "URI" | "URL" => Some(universal),
        _ if oid_shaped => Some(format!("urn:oid:{universal}").into()),
        _ => None,
    }
}

/// A CX as an Identifier: value (CX-1), system and assigner (CX-4, an HD),
/// type (CX-5, table 0203) and period (CX-7, CX-8).
pub fn cx<'m>(cx: Rep<'m>) -> Option<Value<'m>> {
    let mut identifier = object(5, "value", cx.get(1)?);
    let authority = cx.nested(4);
    put(
        &mut identifier,
        "system",
        hd_system(&authority, 1).map(Value::from),
    );
    put(
        &mut identifier,
        "type",
        cx.get(5)
            .map(|code| codes::table_concept(codes::v2_table!("0203"), code)),
    );
    let assigner = authority.part(1).or_else(|| authority.part(2));
    put(
        &mut identifier,
        "assigner",
        assigner.map(|name| json!({ "display": name })),
    );
    let start = cx.get(7).and_then(|t| time::date(&t));
    let end = cx.get(8).and_then(|t| time::date(&t));
    put(&mut identifier, "period", time::period(start, end));
    Some(identifier)
}

/// An EI (value, namespace, universal id, its type) starting at part `first`
/// as an Identifier.
pub fn ei<'m>(ei: &impl Parts<'m>, first: usize) -> Option<Value<'m>> {
    let mut identifier = object(4, "value", ei.part(first)?);
    put(
        &mut identifier,
        "system",
        hd_system(ei, first + 1).map(Value::from),
    );
    if identifier.get("system").is_none() {
        let assigner = ei.part(first + 1);
        put(
            &mut identifier,
            "assigner",
            assigner.map(|name| json!({ "display": name })),
        );
    }
    Some(identifier)
}

/// A CWE used as an identifier (IG `CWE[Identifier]`): the code is the
/// value, within the coding system CWE-3 when it is a known one.
pub fn cwe<'m>(cwe: &Rep<'m>) -> Option<Value<'m>> {
    let mut identifier = object(2, "value", cwe.get(1)?);
    let system = cwe.get(3).and_then(|name| codes::coding_system(&name));
    put(&mut identifier, "system", system.map(Value::from));
    Some(identifier)
}

/// An EIP (a placer and a filler EI, each in subcomponents) as its
/// Identifiers, typed `PLAC` and `FILL`; the absent ones are left out.
pub fn eip<'m>(eip: &Rep<'m>) -> Vec<Value<'m>> {
    [(1, "PLAC"), (2, "FILL")]
        .into_iter()
        .filter_map(|(c, code)| Some(typed(ei(&eip.nested(c), 1)?, code)))
        .collect()
}

/// `identifier` with a type from HL7 table 0203 (`PLAC`, `FILL`, `VN`, ...).
pub fn typed<'m>(mut identifier: Value<'m>, code: &'static str) -> Value<'m> {
    identifier["type"] = codes::table_concept(codes::v2_table!("0203"), code);
    identifier
}

/// A US social security number (type `SS`).
pub fn ssn<'m>(number: Text<'m>) -> Value<'m> {
    typed(
        json!({ "system": "http://hl7.org/fhir/sid/us-ssn", "value": number }),
        "SS",
    )
}

/// Adds `identifier` to `resource` unless it already has one of the same
/// system and value (a number that the PID and an IN2 both give).
pub fn add_new<'m>(resource: &mut Value<'m>, identifier: Value<'m>) {
    let mut known = resource["identifier"].as_array().into_iter().flatten();
    let same = |other: &Value<'m>| {
        other["value"] == identifier["value"] && other["system"] == identifier["system"]
    };
    if !known.any(same) {
        push(resource, "identifier", identifier);
    }
}

/// The conditional-write query for the first identifier with a system URI.
pub fn conditional_query<'m>(identifiers: &[Value<'m>]) -> Option<String> {
    identifiers.iter().find_map(|identifier| {
        let system = identifier["system"].as_str()?;
        let value = identifier["value"].as_str()?;
        Some(fhir::identifier_query(system, value))
    })
}

/// The first of `identifiers` named within a system or by its assigner, as
/// a slice of none or one: such an identifier names the same thing in a
/// resend, where a bare number may name another patient's.
pub fn scoped<'v, 'm>(identifiers: &'v [Value<'m>]) -> &'v [Value<'m>] {
    identifiers
        .iter()
        .position(|identifier| !key(identifier)[0].is_empty())
        .map_or(&[], |at| &identifiers[at..=at])
}

/// The parts that name an identifier for a deterministic id: its system, or
/// else its assigner, and its value.
pub fn key<'v>(identifier: &'v Value<'_>) -> [&'v str; 2] {
    let scope = identifier["system"]
        .as_str()
        .or_else(|| identifier["assigner"]["display"].as_str())
        .unwrap_or("");
    let value = identifier["value"].as_str().unwrap_or("");
    [scope, value]
}

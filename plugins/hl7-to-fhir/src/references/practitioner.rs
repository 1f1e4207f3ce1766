//! XCN → Practitioner.

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Rep, object, put, resource};
use crate::datatypes::{codes, identifier, name};

/// An XCN as a Practitioner: identifier XCN-1 (system from XCN-9, type from
/// XCN-13) and name XCN-2 to XCN-7. `None` when the XCN has neither.
pub fn xcn<'m>(ctx: &mut Context<'m>, xcn: Rep<'m>) -> Option<Handle> {
    ctx.shared("XCN", xcn, make)
}

/// [`xcn`], the first time the XCN is met.
fn make<'m>(ctx: &mut Context<'m>, xcn: Rep<'m>) -> Option<Handle> {
    let identifier = xcn.get(1).map(|value| {
        let mut identifier = object(3, "value", value);
        let authority = xcn.nested(9);
        put(
            &mut identifier,
            "system",
            identifier::hd_system(&authority, 1).map(Value::from),
        );
        put(
            &mut identifier,
            "type",
            xcn.get(13)
                .map(|code| codes::table_concept(codes::v2_table!("0203"), code)),
        );
        identifier
    });
    let [scope, value] = identifier.as_ref().map(identifier::key).unwrap_or_default();
    let family = xcn.get(2).unwrap_or_default();
    let given = xcn.get(3).unwrap_or_default();
    let id = id([scope, value], &family, &given);
    if let Some(known) = ctx.existing(&id) {
        // The same doctor again: only whether this XCN names anyone matters.
        return (identifier.is_some() || name::xcn(xcn).is_some()).then_some(known);
    }
    let name = name::xcn(xcn);
    if identifier.is_none() && name.is_none() {
        return None;
    }
    let mut practitioner = resource("Practitioner", id);
    let identifiers: Vec<Value<'m>> = identifier.into_iter().collect();
    let query = identifier::conditional_query(&identifiers);
    put(
        &mut practitioner,
        "identifier",
        Some(Value::Array(identifiers)),
    );
    put(&mut practitioner, "name", name.map(|n| json!([n])));
    Some(ctx.add(practitioner, query))
}

/// The id of the Practitioner with the identifier `key` (see
/// [`identifier::key`]) and the name `family`, `given`: the same doctor
/// named in another field or segment is the same resource.
pub fn id(key: [&str; 2], family: &str, given: &str) -> String {
    fhir::deterministic_id(&["Practitioner", key[0], key[1], family, given])
}

/// The first non-empty XCN of a field as a Practitioner reference.
pub fn reference<'m>(ctx: &mut Context<'m>, xcn: Option<Rep<'m>>) -> Option<Value<'m>> {
    let handle = self::xcn(ctx, xcn?)?;
    Some(ctx.reference(handle))
}

//! XCN → Practitioner.

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Nested, Parts, Rep, object, put, resource};
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
    let family = xcn.get(2).unwrap_or_default();
    let given = xcn.get(3).unwrap_or_default();
    person(ctx, identifier, [&family, &given], || name::xcn(xcn))
}

/// A CNN (a person in the subcomponents of one component, as NDL-1 holds
/// it) as a Practitioner: identifier CNN-1 with its assigning authority
/// CNN-9 to -11, name CNN-2 to -7. The same doctor as an XCN naming them.
pub fn cnn<'m>(ctx: &mut Context<'m>, cnn: Nested<'m>) -> Option<Handle> {
    let identifier = cnn.part(1).map(|value| {
        let mut identifier = object(2, "value", value);
        let system = identifier::hd_system(&cnn, 9);
        put(&mut identifier, "system", system.map(Value::from));
        identifier
    });
    let family = cnn.part(2).unwrap_or_default();
    let given = cnn.part(3).unwrap_or_default();
    person(ctx, identifier, [&family, &given], || name::cnn(&cnn))
}

/// The Practitioner of `identifier` and the name that `name` builds (whose
/// `family` and `given` names key it, with the identifier); the one the
/// message already holds when it is the same person. `None` when neither
/// an identifier nor a name is given.
fn person<'m>(
    ctx: &mut Context<'m>,
    identifier: Option<Value<'m>>,
    [family, given]: [&str; 2],
    name: impl Fn() -> Option<Value<'m>>,
) -> Option<Handle> {
    let [scope, value] = identifier.as_ref().map(identifier::key).unwrap_or_default();
    let id = id([scope, value], family, given);
    if let Some(known) = ctx.existing(&id) {
        // The same doctor again: only whether this one names anyone matters.
        return (identifier.is_some() || name().is_some()).then_some(known);
    }
    let name = name();
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

//! HD, XON and CWE → Organization.

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Parts, Rep, Text, object, put, put_new, resource};
use crate::datatypes::{address, identifier, telecom};

/// An Organization named `name` with `identifier`; `None` when both are absent.
pub fn named<'m>(
    ctx: &mut Context<'m>,
    name: Option<Text<'m>>,
    identifier: Option<Value<'m>>,
) -> Option<Handle> {
    if name.is_none() && identifier.is_none() {
        return None;
    }
    let [scope, value] = identifier.as_ref().map(identifier::key).unwrap_or_default();
    let id = fhir::deterministic_id(&["Organization", scope, value, name.as_deref().unwrap_or("")]);
    if let Some(known) = ctx.existing(&id) {
        return Some(known);
    }
    let mut organization = resource("Organization", id);
    let identifiers: Vec<Value<'m>> = identifier.into_iter().collect();
    let query = identifier::conditional_query(&identifiers);
    put(
        &mut organization,
        "identifier",
        Some(Value::Array(identifiers)),
    );
    put(&mut organization, "name", name.map(Value::from));
    Some(ctx.add(organization, query))
}

/// An HD (namespace, universal id, type) as an Organization: the namespace is
/// the name, the universal id the identifier.
pub fn hd<'m>(ctx: &mut Context<'m>, hd: Rep<'m>) -> Option<Handle> {
    ctx.shared("HD", hd, |ctx, hd| {
        let identifier = identifier::hd_system(&hd, 1)
            .map(|uri| json!({ "system": "urn:ietf:rfc:3986", "value": uri }))
            .or_else(|| hd.part(2).map(|universal| json!({ "value": universal })));
        named(ctx, hd.part(1), identifier)
    })
}

/// An XON as an Organization: name XON-1, identifier XON-10 (or XON-3) with
/// its assigning authority XON-6.
pub fn xon<'m>(ctx: &mut Context<'m>, xon: Rep<'m>) -> Option<Handle> {
    let identifier = xon.get(10).or_else(|| xon.get(3)).map(|value| {
        let mut identifier = object(2, "value", value);
        let authority = xon.nested(6);
        put(
            &mut identifier,
            "system",
            identifier::hd_system(&authority, 1).map(Value::from),
        );
        identifier
    });
    named(ctx, xon.get(1), identifier)
}

/// An XON as an Organization (see [`xon`]), with the address and phone
/// numbers its segment gives beside it when it has none yet.
pub fn xon_reached<'m>(
    ctx: &mut Context<'m>,
    xon: Rep<'m>,
    address: Option<Rep<'m>>,
    telecoms: impl Iterator<Item = Rep<'m>>,
) -> Option<Handle> {
    let organization = self::xon(ctx, xon)?;
    let address = address.and_then(address::xad).map(|a| json!([a]));
    let telecoms: Vec<Value<'m>> = telecoms.filter_map(|t| telecom::xtn(t, None)).collect();
    let held = ctx.resource_mut(organization);
    put_new(held, "address", address);
    put_new(held, "telecom", Some(Value::Array(telecoms)));
    Some(organization)
}

/// A CWE naming an organization (e.g. a vaccine manufacturer, MVX): the code
/// is the identifier in the coding system, the text the name.
pub fn cwe<'m>(ctx: &mut Context<'m>, cwe: Rep<'m>) -> Option<Handle> {
    named(ctx, cwe.get(2), identifier::cwe(&cwe))
}

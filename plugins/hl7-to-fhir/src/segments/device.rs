//! PRT → Device (IG `PRT[Device]`): a device that took part, for example in
//! an observation; and an observation's equipment (OBX-18).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Rep, Seg, put};
use crate::datatypes::{codes, identifier};
use crate::segments::order;

/// Maps the device of a PRT: identifier and UDI carrier PRT-10, a second
/// UDI carrier PRT-16, manufacture and expiry dates PRT-17/-18, lot PRT-19,
/// serial PRT-20, distinct identifier PRT-21 and type PRT-22. Its id derives
/// from PRT-10 when that has a system or assigner, so the same device is one
/// Device across messages; else from the message and position. `None`
/// without PRT-10.
pub fn prt<'m>(ctx: &mut Context<'m>, prt: Seg<'m>, position: usize) -> Option<Handle> {
    let device_id = prt.rep(10).and_then(|ei| identifier::ei(&ei, 1))?;
    let identifiers = [device_id];
    let query = identifier::conditional_query(&identifiers);
    let mut device = match unknown(ctx, &identifiers, position) {
        Ok(device) => device,
        Err(known) => return Some(known),
    };
    let [device_id] = identifiers;
    let carriers: Vec<Value<'m>> = [
        Some(&device_id),
        prt.rep(16).and_then(|ei| identifier::ei(&ei, 1)).as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(udi_carrier)
    .collect();
    put(&mut device, "identifier", Some(json!([device_id.clone()])));
    put(&mut device, "udiCarrier", Some(Value::Array(carriers)));
    put(
        &mut device,
        "distinctIdentifier",
        prt.text(21).map(Value::from),
    );
    put(
        &mut device,
        "manufactureDate",
        prt.datetime(17, ctx).map(Value::from),
    );
    put(
        &mut device,
        "expirationDate",
        prt.datetime(18, ctx).map(Value::from),
    );
    put(&mut device, "lotNumber", prt.text(19).map(Value::from));
    put(&mut device, "serialNumber", prt.text(20).map(Value::from));
    put(
        &mut device,
        "type",
        prt.rep(22)
            .and_then(|r: Rep<'m>| codes::codeable_concept(&r)),
    );
    Some(ctx.add(device, query))
}

/// Maps the equipment of an OBX (OBX-18, IG `EI[Identifier-Extension]`) to
/// a Device with those identifiers, one across messages when the first
/// identifier with a system or assigner names it. `None` without OBX-18.
pub fn equipment<'m>(ctx: &mut Context<'m>, obx: Seg<'m>, position: usize) -> Option<Handle> {
    let identifiers: Vec<Value<'m>> = obx
        .reps(18)
        .filter_map(|ei| identifier::ei(&ei, 1))
        .collect();
    if identifiers.is_empty() {
        return None;
    }
    let query = identifier::conditional_query(&identifiers);
    let mut device = match unknown(ctx, &identifiers, position) {
        Ok(device) => device,
        Err(known) => return Some(known),
    };
    device["identifier"] = Value::Array(identifiers);
    Some(ctx.add(device, query))
}

/// A new Device named by `identifiers` (see [`order::identified`]), or the
/// handle of the one this message already holds.
fn unknown<'m>(
    ctx: &Context<'m>,
    identifiers: &[Value<'m>],
    position: usize,
) -> Result<Value<'m>, Handle> {
    let device = order::identified(ctx, "Device", identifier::scoped(identifiers), position);
    match ctx.existing(device["id"].as_str().unwrap_or_default()) {
        Some(known) => Err(known),
        None => Ok(device),
    }
}

/// A device identifier as a UDI carrier: the identifier's value as the
/// device identifier, its system as the issuer.
fn udi_carrier<'m>(identifier: &Value<'m>) -> Value<'m> {
    let mut carrier = json!({ "deviceIdentifier": identifier["value"].clone() });
    put(&mut carrier, "issuer", identifier.get("system").cloned());
    carrier
}

//! SFT → Device, and the sending software in MessageHeader.source (IG
//! `SFT[Device]`, `SFT[MessageHeader]`).

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, put, resource};

/// R5's install date of a device version, as the IG carries it in R4.
const INSTALL_DATE: &str =
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-Device.version.installDate";

/// Maps an SFT to a Device: manufacturer (SFT-1.1), version (SFT-2, with the
/// install date SFT-6), name (SFT-3, as the manufacturer's name for it),
/// model number (the binary id SFT-4) and note (SFT-5). Its id derives from
/// those, so the same software is one Device across messages. `None` for an
/// SFT that names nothing.
pub fn sft<'m>(ctx: &mut Context<'m>, sft: Seg<'m>) -> Option<Handle> {
    let vendor = sft.component(1, 1);
    let version = sft.text(2);
    let product = sft.text(3);
    let binary = sft.text(4);
    if vendor.is_none() && version.is_none() && product.is_none() && binary.is_none() {
        return None;
    }
    let part = |text: &Option<_>| text.as_deref().unwrap_or("").to_string();
    let id = fhir::deterministic_id(&[
        "Device",
        &part(&vendor),
        &part(&product),
        &part(&version),
        &part(&binary),
    ]);
    if let Some(known) = ctx.existing(&id) {
        return Some(known);
    }
    let mut device = resource("Device", id);
    put(&mut device, "manufacturer", vendor.map(Value::from));
    put(
        &mut device,
        "deviceName",
        product.map(|name| json!([{ "name": name, "type": "manufacturer-name" }])),
    );
    put(&mut device, "modelNumber", binary.map(Value::from));
    let installed = sft.datetime(6, ctx);
    let version = version.map(|value| {
        let mut version = json!({ "value": value });
        put(
            &mut version,
            "extension",
            installed.map(|at| json!([{ "url": INSTALL_DATE, "valueDateTime": at }])),
        );
        json!([version])
    });
    put(&mut device, "version", version);
    put(
        &mut device,
        "note",
        sft.text(5).map(|text| json!([{ "text": text }])),
    );
    Some(ctx.add(device, None))
}

/// The sending software (the message's first SFT) in the MessageHeader's
/// source: its name (SFT-3) and version (SFT-2).
pub fn source<'m>(ctx: &mut Context<'m>, sft: Seg<'m>, header: Handle) {
    let source = &mut ctx.resource_mut(header)["source"];
    put(source, "software", sft.text(3).map(Value::from));
    put(source, "version", sft.text(2).map(Value::from));
}

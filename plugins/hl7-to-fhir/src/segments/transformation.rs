//! The mapping itself as a Provenance (IG `MSH[Provenance-Transformation]`),
//! when a channel asks for it: which software turned which HL7 v2 message
//! into the bundle's resources, and when.

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, resource};
use crate::datatypes::{attachment, time};
use crate::segments::positioned;

/// The IG's activity code for a v2 to FHIR transformation.
const ACTIVITY_SYSTEM: &str =
    "http://hl7.org/fhir/uv/v2mappings/CodeSystem/provenance-activity-type-v2-to-fhir";

/// The media type of an HL7 v2 message in its ER7 (pipe) encoding.
const ER7: &str = "x-application/hl7-v2+er7";

/// Adds a Provenance of every resource so far: activity
/// `v2-fhir-transformation`, recorded at `now` (seconds since 1970, the
/// time of the mapping), the mapper as the assembling agent (a Device
/// named and versioned after this crate, one across messages) and the
/// message `raw` as the source entity (a DocumentReference holding it,
/// base64-encoded, as the IG asks when the message is not kept elsewhere).
pub fn provenance<'m>(ctx: &mut Context<'m>, raw: &[u8], now: i64) {
    let targets: Vec<Value<'m>> = ctx
        .handles()
        .into_iter()
        .map(|h| ctx.reference(h))
        .collect();
    let mapper = mapper(ctx);
    let mut source = positioned(ctx, "DocumentReference", 0);
    source["status"] = Value::from("current");
    source["content"] = json!([{ "attachment": {
        "contentType": ER7,
        "data": attachment::encode(raw),
    }}]);
    let source = ctx.add(source, None);
    let mut provenance = positioned(ctx, "Provenance", 0);
    provenance["target"] = Value::Array(targets);
    provenance["recorded"] = Value::from(time::unix_instant(now));
    provenance["activity"] = json!({ "coding": [{
        "system": ACTIVITY_SYSTEM,
        "code": "v2-fhir-transformation",
    }]});
    provenance["agent"] = json!([{
        "type": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": "assembler",
        }]},
        "who": ctx.reference(mapper),
    }]);
    provenance["entity"] = json!([{ "role": "source", "what": ctx.reference(source) }]);
    ctx.add(provenance, None);
}

/// This mapper as a Device: its name and version, the same resource in
/// every bundle of one version.
fn mapper(ctx: &mut Context<'_>) -> Handle {
    let name = concat!("hl7wasm ", env!("CARGO_PKG_NAME"));
    let version = env!("CARGO_PKG_VERSION");
    let id = fhir::deterministic_id(&["Device", name, version]);
    let mut device = resource("Device", id);
    device["deviceName"] = json!([{ "name": name, "type": "user-friendly-name" }]);
    device["version"] = json!([{ "value": version }]);
    ctx.add(device, None)
}

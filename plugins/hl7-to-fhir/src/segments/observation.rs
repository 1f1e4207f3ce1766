//! OBX → Observation (IG `OBX[Observation]`), and the patient's living will
//! (IG `PD1[Observation-LivingWill]`).

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, push, put, resource};
use crate::datatypes::codes;
use crate::references::{organization, practitioner};
use crate::segments::{Links, positioned, value};

/// Maps a PD1's living will code (PD1-7, table 0315) to a final Observation
/// of `patient` with the LOINC code for an advance directive. Its id derives
/// from the patient's, so the next message updates the one Observation.
pub fn living_will<'m>(ctx: &mut Context<'m>, pd1: Seg<'m>, patient: Handle) {
    let Some(value) = pd1
        .rep(7)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0315")))
    else {
        return;
    };
    let subject = ctx.reference(patient);
    let owner = subject["reference"].as_str().unwrap_or_default();
    let id = fhir::deterministic_id(&["Observation", "living-will", owner]);
    let mut observation = resource("Observation", id);
    observation["status"] = Value::from("final");
    observation["code"] = json!({ "coding": [{
        "system": "http://loinc.org",
        "code": "75320-2",
        "display": "Advance directive",
    }]});
    observation["subject"] = subject;
    observation["valueCodeableConcept"] = value;
    ctx.add(observation, None);
}

/// Maps an OBX to an Observation: code (OBX-3), value (OBX-2, -5, -6),
/// reference range (OBX-7), interpretation (OBX-8), status (OBX-11, table
/// 0085), effective time (OBX-14), performers (OBX-16 observers, OBX-23
/// organization), method (OBX-17) and body site (OBX-20); subject, encounter,
/// basedOn and partOf from `links`. An OBX without OBX-3 (text lines of a
/// report, in some feeds) keeps its value under an unknown code.
pub fn obx<'m>(ctx: &mut Context<'m>, obx: Seg<'m>, position: usize, links: Links) -> Handle {
    let code = obx
        .rep(3)
        .and_then(|r| codes::codeable_concept(&r))
        .unwrap_or_else(|| {
            json!({ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                "code": "unknown",
            }]})
        });
    let mut observation = positioned(ctx, "Observation", position);
    observation["status"] = Value::from(obx.text(11).map_or("unknown", |s| status(&s)));
    put(
        &mut observation,
        "basedOn",
        links.request.map(|h| json!([ctx.reference(h)])),
    );
    put(
        &mut observation,
        "partOf",
        links.immunization.map(|h| json!([ctx.reference(h)])),
    );
    observation["code"] = code;
    put(
        &mut observation,
        "subject",
        links.patient.map(|h| ctx.reference(h)),
    );
    put(
        &mut observation,
        "encounter",
        links.encounter.map(|h| ctx.reference(h)),
    );
    put(
        &mut observation,
        "effectiveDateTime",
        obx.datetime(14, ctx).map(Value::from),
    );
    value::set(ctx, obx, &mut observation);
    let interpretations = obx
        .reps(8)
        .filter_map(|r| codes::table_cwe(&r, codes::v2_table!("0078")))
        .map(interpretation)
        .collect();
    put(
        &mut observation,
        "interpretation",
        Some(Value::Array(interpretations)),
    );
    // A repeated value's components carry the range themselves.
    if observation.get("component").is_none() {
        put(
            &mut observation,
            "referenceRange",
            obx.text(7).map(|text| json!([{ "text": text }])),
        );
    }
    put(
        &mut observation,
        "method",
        obx.rep(17).and_then(|r| codes::codeable_concept(&r)),
    );
    put(
        &mut observation,
        "bodySite",
        obx.rep(20).and_then(|r| codes::codeable_concept(&r)),
    );
    for rep in obx.reps(16) {
        if let Some(observer) = practitioner::reference(ctx, Some(rep)) {
            push(&mut observation, "performer", observer);
        }
    }
    if let Some(lab) = obx.rep(23).and_then(|r| organization::xon(ctx, r)) {
        push(&mut observation, "performer", ctx.reference(lab));
    }
    ctx.add(observation, None)
}

/// HL7 table 0085 (observation result status) → Observation status.
fn status(code: &str) -> &'static str {
    match code {
        "F" | "U" => "final",
        "C" => "corrected",
        "A" => "amended",
        "P" | "R" | "S" => "preliminary",
        "I" | "O" => "registered",
        "D" | "W" => "entered-in-error",
        "X" => "cancelled",
        _ => "unknown",
    }
}

/// Table 0078 codes are the v3 ObservationInterpretation codes that FHIR binds.
fn interpretation<'m>(mut concept: Value<'m>) -> Value<'m> {
    if let Some(coding) = codes::first_coding(&mut concept)
        && coding["system"]
            .as_str()
            .is_some_and(|system| system == codes::v2_table!("0078"))
    {
        coding["system"] =
            Value::from("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation");
    }
    concept
}

//! OBX → Observation (IG `OBX[Observation]`), and the patient's living will
//! (IG `PD1[Observation-LivingWill]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Parts, Seg, push, put, resource};
use crate::datatypes::{codes, identifier, quantity};
use crate::references::{organization, practitioner};
use crate::segments::{Links, device, one_per, participation, positioned, unknown_code, value};

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
    let id = one_per(ctx, "Observation", "living-will", patient);
    let mut observation = resource("Observation", id);
    observation["status"] = Value::from("final");
    observation["code"] = json!({ "coding": [{
        "system": "http://loinc.org",
        "code": "75320-2",
        "display": "Advance directive",
    }]});
    observation["subject"] = ctx.reference(patient);
    observation["valueCodeableConcept"] = value;
    ctx.add(observation, None);
}

/// Maps an OBX to an Observation: code (OBX-3), sub-id (OBX-4), value
/// (OBX-2, -5, -6), reference range (OBX-7), interpretation (OBX-8), status
/// (OBX-11, table 0085), effective time (OBX-14), performers (OBX-16
/// observers as PractitionerRoles, OBX-23 organization), method (OBX-17),
/// device (OBX-18) and body site (OBX-20); subject, encounter, basedOn and
/// partOf from `links`; the type OBX-29 (table 0936) as category, the
/// instance identifier OBX-21, the analysis time OBX-19, the performing lab
/// OBX-23 (address OBX-24) and its medical director OBX-25. An OBX without
/// OBX-3 (text lines of a report, in some feeds) keeps its value under an
/// unknown code.
pub fn obx<'m>(ctx: &mut Context<'m>, obx: Seg<'m>, position: usize, links: Links) -> Handle {
    let code = obx
        .rep(3)
        .and_then(|r| codes::codeable_concept(&r))
        .unwrap_or_else(unknown_code);
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
            let role = participation::held_role(ctx, Some(observer), Some(OBSERVER), None);
            push(&mut observation, "performer", ctx.reference(role));
        }
    }
    let lab = performing_lab(ctx, obx);
    if let Some(lab) = lab {
        push(&mut observation, "performer", ctx.reference(lab));
    }
    if let Some(director) = practitioner::reference(ctx, obx.rep(25)) {
        let lab = lab.map(|h| ctx.reference(h));
        let role = participation::held_role(ctx, Some(director), Some(DIRECTOR), lab);
        push(&mut observation, "performer", ctx.reference(role));
    }
    if let Some(equipment) = device::equipment(ctx, obx, position) {
        observation["device"] = ctx.reference(equipment);
    }
    if let Some(extension) = sub_id(obx) {
        push(&mut observation, "extension", extension);
    }
    put(
        &mut observation,
        "category",
        obx.rep(29)
            .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0936")))
            .map(|c| json!([c])),
    );
    if let Some(instance) = obx.rep(21).and_then(|r| identifier::ei(&r, 1)) {
        observation["identifier"] = json!([identifier::typed(instance, "FILL")]);
    }
    if let Some(analysed) = obx.datetime(19, ctx) {
        let extension = json!({
            "url": "http://hl7.org/fhir/StructureDefinition/observation-analysis-date-time",
            "valueDateTime": analysed,
        });
        push(&mut observation, "extension", extension);
    }
    ctx.add(observation, None)
}

/// OBX-4 as the `observation-v2-subid` extension: the OG type's original
/// sub-identifier (all of OBX-4 before v2.8.2), group, sequence and
/// identifier. How the sub-ids group results is local to each feed, so the
/// IG passes them on for the receiver to structure.
fn sub_id<'m>(obx: Seg<'m>) -> Option<Value<'m>> {
    let og = obx.rep(4)?.split::<4>();
    let text = |n| og.part(n).map(|t| ("valueString", Value::from(t)));
    let number = |n| {
        og.part(n)
            .and_then(|t| quantity::number(&t))
            .map(|v| ("valueDecimal", v))
    };
    let parts: Vec<Value<'m>> = [
        ("original-sub-identifier", text(1)),
        ("group", number(2)),
        ("sequence", number(3)),
        ("identifier", text(4)),
    ]
    .into_iter()
    .filter_map(|(url, value)| {
        let (key, value) = value?;
        let mut part = json!({ "url": url });
        part[key] = value;
        Some(part)
    })
    .collect();
    (!parts.is_empty()).then(|| {
        json!({
            "url": "http://hl7.org/fhir/StructureDefinition/observation-v2-subid",
            "extension": parts,
        })
    })
}

/// The performing organization OBX-23, with its address OBX-24 when it
/// has none yet.
fn performing_lab<'m>(ctx: &mut Context<'m>, obx: Seg<'m>) -> Option<Handle> {
    organization::xon_reached(ctx, obx.rep(23)?, obx.rep(24), std::iter::empty())
}

/// OBX-16's role (the IG's code for a responsible observer).
const OBSERVER: (&str, &str) = (
    "http://terminology.hl7.org/CodeSystem/practitioner-role",
    "responsibleObserver",
);

/// OBX-25's role: the performing organization's medical director.
const DIRECTOR: (&str, &str) = (codes::v2_table!("0912"), "MDIR");

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

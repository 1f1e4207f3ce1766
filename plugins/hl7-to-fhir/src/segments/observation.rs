//! OBX → Observation (IG `OBX[Observation]`), and the patient's living will
//! (IG `PD1[Observation-LivingWill]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, push, put, put_new, resource};
use crate::datatypes::{address, codes, identifier};
use crate::references::{organization, practitioner};
use crate::segments::{Links, one_per, participation, positioned, value};

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

/// Maps an OBX to an Observation: code (OBX-3), value (OBX-2, -5, -6),
/// reference range (OBX-7), interpretation (OBX-8), status (OBX-11, table
/// 0085), effective time (OBX-14), performers (OBX-16 observers, OBX-23
/// organization), method (OBX-17) and body site (OBX-20); subject, encounter,
/// basedOn and partOf from `links`; the type OBX-29 (table 0936) as
/// category, the instance identifier OBX-21, the analysis time OBX-19, the
/// performing lab OBX-23 (address OBX-24) and its medical director OBX-25.
/// An OBX without OBX-3 (text lines of a
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
    let lab = performing_lab(ctx, obx);
    if let Some(lab) = lab {
        push(&mut observation, "performer", ctx.reference(lab));
    }
    if let Some(director) = medical_director(ctx, obx, lab) {
        push(&mut observation, "performer", ctx.reference(director));
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

/// The performing organization OBX-23, with its address OBX-24 when it
/// has none yet.
fn performing_lab<'m>(ctx: &mut Context<'m>, obx: Seg<'m>) -> Option<Handle> {
    let lab = obx.rep(23).and_then(|r| organization::xon(ctx, r))?;
    if let Some(address) = obx.rep(24).and_then(address::xad) {
        let organization = ctx.resource_mut(lab);
        put_new(organization, "address", Some(json!([address])));
    }
    Some(lab)
}

/// The performing organization's medical director OBX-25, as a
/// PractitionerRole (`MDIR`, table 0912) of `lab`; one per person and lab
/// across results.
fn medical_director<'m>(
    ctx: &mut Context<'m>,
    obx: Seg<'m>,
    lab: Option<Handle>,
) -> Option<Handle> {
    let person = practitioner::reference(ctx, obx.rep(25))?;
    let organization = lab.map(|h| ctx.reference(h));
    let id = participation::role_id(Some(&person), "MDIR", organization.as_ref());
    if let Some(known) = ctx.existing(&id) {
        return Some(known);
    }
    let mut role = resource("PractitionerRole", id);
    role["practitioner"] = person;
    put(&mut role, "organization", organization);
    role["code"] = json!([codes::table_concept(codes::v2_table!("0912"), "MDIR")]);
    Some(ctx.add(role, None))
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

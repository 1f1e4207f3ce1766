//! AL1 and IAM → AllergyIntolerance (IG `AL1[AllergyIntolerance]`,
//! `IAM[AllergyIntolerance]`).

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, put};
use crate::datatypes::{codes, identifier};

/// FHIR's code system of AllergyIntolerance.clinicalStatus.
const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
/// FHIR's code system of AllergyIntolerance.verificationStatus.
const VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";

/// Where an allergy segment keeps what AL1 and IAM share (type, allergen,
/// severity and reaction at 2 to 5 in both) and what only IAM has.
#[derive(Debug, Clone, Copy)]
pub struct AllergyFields {
    onset: usize,
    action: Option<usize>,
    identifier: Option<usize>,
    onset_text: Option<usize>,
    recorded: Option<usize>,
    status: Option<usize>,
}

/// AL1, the patient allergy segment.
pub const AL1: AllergyFields = AllergyFields {
    onset: 6,
    action: None,
    identifier: None,
    onset_text: None,
    recorded: None,
    status: None,
};

/// IAM, the adverse reaction segment of ADT^A60: AL1's fields plus the
/// action code (IAM-6), identifier (IAM-7), onset text (IAM-12), reported
/// time (IAM-13) and clinical status (IAM-17, table 0438).
pub const IAM: AllergyFields = AllergyFields {
    onset: 11,
    action: Some(6),
    identifier: Some(7),
    onset_text: Some(12),
    recorded: Some(13),
    status: Some(17),
};

/// Maps an AL1 or IAM (`fields` says which) to an AllergyIntolerance of
/// `patient`: allergen (3), category and type (2), reactions (5) with their
/// severity (4), the severity also as criticality (as the IG's AL1 map
/// has it), and onset; from an IAM also the identifier, onset text, recorded date and
/// status. It is active unless the IAM's status says inactive, or its
/// action code (`D`) or status (`E`) says entered in error; table 0438's
/// confirmed (`C`) and unconfirmed (`U`, `P`, `S`) set the verification
/// status. The id derives from the patient and the allergen, so a later
/// message listing the same allergy updates it. Without an allergen (FHIR
/// does not require the code) the id derives from the segment's `position`
/// in the message.
pub fn allergy<'m>(
    ctx: &mut Context<'m>,
    al1: Seg<'m>,
    fields: &AllergyFields,
    patient: Handle,
    position: usize,
) -> Handle {
    let code = al1.rep(3).and_then(|r| codes::codeable_concept(&r));
    let patient_ref = ctx.reference(patient);
    let id = match &code {
        Some(code) => fhir::deterministic_id(&[
            "AllergyIntolerance",
            patient_ref["reference"].as_str().unwrap_or(""),
            &code.to_string(),
        ]),
        None => ctx.message_id("AllergyIntolerance", position),
    };
    let status = fields.status.and_then(|n| al1.text(n));
    let erroneous = fields.action.and_then(|n| al1.text(n)).as_deref() == Some("D")
        || status.as_deref() == Some("E");
    let clinical = match status.as_deref() {
        _ if erroneous => None,
        Some("I") => Some("inactive"),
        _ => Some("active"),
    };
    let verification = match status.as_deref() {
        _ if erroneous => Some("entered-in-error"),
        Some("C") => Some("confirmed"),
        Some("U" | "P" | "S") => Some("unconfirmed"),
        _ => None,
    };
    let mut allergy = json!({ "resourceType": "AllergyIntolerance", "id": id });
    let identifiers: Vec<Value<'m>> = fields
        .identifier
        .and_then(|n| al1.rep(n))
        .and_then(|r| identifier::ei(&r, 1))
        .into_iter()
        .collect();
    put(&mut allergy, "identifier", Some(Value::Array(identifiers)));
    put(
        &mut allergy,
        "clinicalStatus",
        clinical.map(|code| codes::table_concept(CLINICAL, code)),
    );
    put(
        &mut allergy,
        "verificationStatus",
        verification.map(|code| codes::table_concept(VERIFICATION, code)),
    );
    put(&mut allergy, "code", code);
    allergy["patient"] = patient_ref;
    if let Some((category, kind)) = al1.text(2).and_then(|t| category(&t)) {
        allergy["category"] = json!([category]);
        allergy["type"] = Value::from(kind);
    }
    let severity = al1.text(4);
    let manifestations: Vec<Value<'m>> = al1
        .reps(5)
        .filter_map(|r| r.get(1))
        .map(|text| json!({ "text": text }))
        .collect();
    let criticality = severity.as_deref().and_then(|s| match s {
        "SV" => Some("high"),
        "MO" | "MI" => Some("low"),
        "U" => Some("unable-to-assess"),
        _ => None,
    });
    put(&mut allergy, "criticality", criticality.map(Value::from));
    if !manifestations.is_empty() {
        let mut reaction = json!({ "manifestation": manifestations });
        let level = severity.as_deref().and_then(|s| match s {
            "SV" => Some("severe"),
            "MO" => Some("moderate"),
            "MI" => Some("mild"),
            _ => None,
        });
        put(&mut reaction, "severity", level.map(Value::from));
        allergy["reaction"] = json!([reaction]);
    }
    match al1.datetime(fields.onset, ctx) {
        Some(onset) => allergy["onsetDateTime"] = Value::from(onset),
        None => put(
            &mut allergy,
            "onsetString",
            fields.onset_text.and_then(|n| al1.text(n)).map(Value::from),
        ),
    }
    put(
        &mut allergy,
        "recordedDate",
        fields
            .recorded
            .and_then(|n| al1.datetime(n, ctx))
            .map(Value::from),
    );
    ctx.add(allergy, None)
}

/// HL7 table 0127 (allergen type) → FHIR category and type.
fn category(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "DA" => ("medication", "allergy"),
        "MA" => ("medication", "intolerance"),
        "FA" => ("food", "allergy"),
        "EA" | "AA" | "PA" | "LA" => ("environment", "allergy"),
        _ => return None,
    })
}

//! DG1 → Condition, and Encounter.diagnosis (IG `DG1[Condition]`,
//! `DG1[Encounter]`); PRB → a problem-list Condition.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Rep, Seg, push, put, resource};
use crate::datatypes::{codes, identifier, quantity};
use crate::references::practitioner;
use crate::segments::{owned_id, positioned, unknown};

/// Maps a DG1 to an encounter-diagnosis Condition of `patient`: code (DG1-3,
/// with DG1-4 as text), onset (DG1-5), asserter (DG1-16), recorded date
/// (DG1-19), identifier (DG1-20), entered-in-error for action code `D`
/// (DG1-21), the parent diagnosis DG1-22 as the condition it is due to. With an `encounter`, adds it to Encounter.diagnosis with its use
/// (DG1-6) and rank (DG1-15).
pub fn dg1<'m>(
    ctx: &mut Context<'m>,
    dg1: Seg<'m>,
    position: usize,
    patient: Handle,
    encounter: Option<Handle>,
) -> Handle {
    let mut condition = positioned(ctx, "Condition", position);
    condition["category"] = json!([{ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
        "code": "encounter-diagnosis",
    }]}]);
    let mut code = dg1.rep(3).and_then(|r| codes::codeable_concept(&r));
    if let Some(text) = dg1.text(4) {
        code.get_or_insert_with(|| json!({}))["text"] = Value::from(text);
    }
    put(&mut condition, "code", code);
    condition["subject"] = ctx.reference(patient);
    put(
        &mut condition,
        "encounter",
        encounter.map(|h| ctx.reference(h)),
    );
    put(
        &mut condition,
        "onsetDateTime",
        dg1.datetime(5, ctx).map(Value::from),
    );
    put(
        &mut condition,
        "recordedDate",
        dg1.datetime(19, ctx).map(Value::from),
    );
    let asserter = practitioner::reference(ctx, dg1.rep(16));
    put(&mut condition, "asserter", asserter);
    let identifiers: Vec<Value<'m>> = dg1
        .rep(20)
        .and_then(|r| identifier::ei(&r, 1))
        .into_iter()
        .collect();
    let query = identifier::conditional_query(&identifiers);
    put(
        &mut condition,
        "identifier",
        Some(Value::Array(identifiers)),
    );
    if let Some(parent) = dg1.rep(22).and_then(|r| identifier::ei(&r, 1)) {
        let extension = json!({
            "url": "http://hl7.org/fhir/StructureDefinition/condition-dueTo",
            "valueReference": identified_condition(ctx, parent),
        });
        push(&mut condition, "extension", extension);
    }
    if dg1.text(21).as_deref() == Some("D") {
        condition["verificationStatus"] = codes::table_concept(VERIFICATION, "entered-in-error");
    }
    let handle = ctx.add(condition, query);
    if let Some(encounter) = encounter {
        let mut diagnosis = json!({ "condition": ctx.reference(handle) });
        let role = dg1.text(6).and_then(|t| match &*t {
            "A" => Some("AD"),
            "F" => Some("DD"),
            _ => None,
        });
        put(
            &mut diagnosis,
            "use",
            role.map(|code| {
                json!({ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/diagnosis-role",
                    "code": code,
                }]})
            }),
        );
        let rank = dg1
            .text(15)
            .and_then(|r| quantity::whole(&r))
            .filter(|r| *r > 0);
        put(&mut diagnosis, "rank", rank.map(Value::from));
        push(ctx.resource_mut(encounter), "diagnosis", diagnosis);
    }
    handle
}

/// FHIR's code system of Condition.verificationStatus.
const VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
/// FHIR's code system of Condition.clinicalStatus.
const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";

/// Maps a PRB (problem detail, PPR messages) to a problem-list-item
/// Condition of `patient`. The IG tables at hand have no PRB map; the fields
/// follow their HL7 v2.8 definitions and DG1's map: code (PRB-3),
/// identifier (PRB-4, which also makes the id with the patient, see
/// [`owned_id`], so an update of a problem lands on the Condition its add
/// made), recorded date (PRB-7, else the
/// action's time PRB-2), abatement (PRB-9), classification (PRB-10) as a
/// further category, verification (PRB-13) and clinical status (PRB-14) when
/// their text is a FHIR code, onset (PRB-16, else the text PRB-17) and
/// severity (PRB-26). The action code `DE` (PRB-1) makes it
/// entered-in-error, as DG1-21 does. FHIR requires a problem's clinical
/// status (con-3): without one, an abated problem is `inactive` (con-4) and
/// any other's status is marked unknown.
pub fn prb<'m>(
    ctx: &mut Context<'m>,
    prb: Seg<'m>,
    position: usize,
    patient: Handle,
    encounter: Option<Handle>,
) -> Handle {
    let identifiers: Vec<Value<'m>> = prb
        .rep(4)
        .and_then(|r| identifier::ei(&r, 1))
        .into_iter()
        .collect();
    let query = identifier::conditional_query(&identifiers);
    let subject = ctx.reference(patient);
    let mut condition = match identifiers.first() {
        Some(instance) => resource("Condition", owned_id("Condition", instance, &subject)),
        None => positioned(ctx, "Condition", position),
    };
    put(
        &mut condition,
        "identifier",
        Some(Value::Array(identifiers)),
    );
    let deleted = prb.text(1).as_deref() == Some("DE");
    let abatement = prb.datetime(9, ctx);
    let clinical = prb
        .rep(14)
        .and_then(|r| known_code(&r, &CLINICAL_CODES))
        .filter(|code| abatement.is_none() || ABATED_CODES.contains(code));
    let clinical = match (clinical, &abatement) {
        _ if deleted => None,
        (Some(code), _) => Some(codes::table_concept(CLINICAL, code)),
        (None, Some(_)) => Some(codes::table_concept(CLINICAL, "inactive")),
        (None, None) => Some(unknown()),
    };
    put(&mut condition, "clinicalStatus", clinical);
    let verification = if deleted {
        Some("entered-in-error")
    } else {
        prb.rep(13)
            .and_then(|r| known_code(&r, &VERIFICATION_CODES))
    };
    put(
        &mut condition,
        "verificationStatus",
        verification.map(|code| codes::table_concept(VERIFICATION, code)),
    );
    let mut categories = vec![json!({ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
        "code": "problem-list-item",
    }]})];
    categories.extend(prb.rep(10).and_then(|r| codes::codeable_concept(&r)));
    condition["category"] = Value::Array(categories);
    put(
        &mut condition,
        "severity",
        prb.rep(26).and_then(|r| codes::codeable_concept(&r)),
    );
    put(
        &mut condition,
        "code",
        prb.rep(3).and_then(|r| codes::codeable_concept(&r)),
    );
    condition["subject"] = subject;
    put(
        &mut condition,
        "encounter",
        encounter.map(|h| ctx.reference(h)),
    );
    match prb.datetime(16, ctx) {
        Some(onset) => condition["onsetDateTime"] = Value::from(onset),
        None => put(&mut condition, "onsetString", prb.text(17).map(Value::from)),
    }
    put(
        &mut condition,
        "abatementDateTime",
        abatement.map(Value::from),
    );
    let recorded = prb.datetime(7, ctx).or_else(|| prb.datetime(2, ctx));
    put(&mut condition, "recordedDate", recorded.map(Value::from));
    ctx.add(condition, query)
}

/// The codes of Condition.clinicalStatus.
const CLINICAL_CODES: [&str; 6] = [
    "active",
    "recurrence",
    "relapse",
    "inactive",
    "remission",
    "resolved",
];
/// The clinical statuses a Condition with an abatement may have.
const ABATED_CODES: [&str; 3] = ["inactive", "remission", "resolved"];
/// The codes of Condition.verificationStatus, bar entered-in-error (which
/// PRB-1 says).
const VERIFICATION_CODES: [&str; 5] = [
    "unconfirmed",
    "provisional",
    "differential",
    "confirmed",
    "refuted",
];

/// The code of `codes` that the CWE's identifier or text (components 1 and
/// 2) names, in any case: senders write `ACTIVE` or `Resolved`.
fn known_code(cwe: &Rep<'_>, codes: &[&'static str]) -> Option<&'static str> {
    [1, 2]
        .into_iter()
        .filter_map(|c| cwe.get(c))
        .find_map(|text| {
            codes
                .iter()
                .find(|code| code.eq_ignore_ascii_case(text.trim()))
        })
        .copied()
}

/// A reference to the Condition with the identifier `named`: by fullUrl
/// when an earlier DG1 of the message is that diagnosis, else by the
/// identifier.
fn identified_condition<'m>(ctx: &mut Context<'m>, named: Value<'m>) -> Value<'m> {
    let key = identifier::key(&named);
    let known = ctx.handles_of("Condition").into_iter().find(|&h| {
        let condition = ctx.resource_mut(h);
        condition["identifier"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|id| identifier::key(id) == key))
    });
    match known {
        Some(condition) => ctx.reference(condition),
        None => json!({ "type": "Condition", "identifier": named }),
    }
}

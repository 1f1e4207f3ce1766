//! DG1 → Condition, and Encounter.diagnosis (IG `DG1[Condition]`,
//! `DG1[Encounter]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, push, put};
use crate::datatypes::{codes, identifier};
use crate::references::practitioner;
use crate::segments::positioned;

/// Maps a DG1 to an encounter-diagnosis Condition of `patient`: code (DG1-3,
/// with DG1-4 as text), onset (DG1-5), asserter (DG1-16), recorded date
/// (DG1-19), identifier (DG1-20), entered-in-error for action code `D`
/// (DG1-21). With an `encounter`, adds it to Encounter.diagnosis with its use
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
    if dg1.text(21).as_deref() == Some("D") {
        condition["verificationStatus"] = json!({ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": "entered-in-error",
        }]});
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
            .and_then(|r| r.parse::<u32>().ok())
            .filter(|r| *r > 0);
        put(&mut diagnosis, "rank", rank.map(Value::from));
        push(ctx.resource_mut(encounter), "diagnosis", diagnosis);
    }
    handle
}

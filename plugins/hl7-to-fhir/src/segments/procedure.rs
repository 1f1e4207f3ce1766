//! PR1 → Procedure (IG `PR1[Procedure]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, put};
use crate::datatypes::{codes, identifier};
use crate::references::practitioner;
use crate::segments::positioned;

/// Maps a PR1 to a completed Procedure of `patient`: code (PR1-3, with PR1-4
/// as text), performed time (PR1-5), performers (PR1-8 anesthesiologist,
/// PR1-11 surgeon, PR1-12 practitioners), reason (PR1-15) and identifier
/// (PR1-19).
pub fn pr1<'m>(
    ctx: &mut Context<'m>,
    pr1: Seg<'m>,
    position: usize,
    patient: Handle,
    encounter: Option<Handle>,
) -> Handle {
    let mut procedure = positioned(ctx, "Procedure", position);
    procedure["status"] = Value::from("completed");
    let mut code = pr1.rep(3).and_then(|r| codes::codeable_concept(&r));
    if let Some(text) = pr1.text(4) {
        code.get_or_insert_with(|| json!({}))["text"] = Value::from(text);
    }
    put(&mut procedure, "code", code);
    procedure["subject"] = ctx.reference(patient);
    put(
        &mut procedure,
        "encounter",
        encounter.map(|h| ctx.reference(h)),
    );
    put(
        &mut procedure,
        "performedDateTime",
        pr1.datetime(5, ctx).map(Value::from),
    );
    let performers: Vec<Value<'m>> = [8, 11, 12]
        .into_iter()
        .flat_map(|n| pr1.reps(n))
        .filter_map(|r| practitioner::reference(ctx, Some(r)))
        .map(|actor| json!({ "actor": actor }))
        .collect();
    put(&mut procedure, "performer", Some(Value::Array(performers)));
    let reason = pr1.rep(15).and_then(|r| codes::codeable_concept(&r));
    put(&mut procedure, "reasonCode", reason.map(|r| json!([r])));
    let identifiers: Vec<Value<'m>> = pr1
        .rep(19)
        .and_then(|r| identifier::ei(&r, 1))
        .into_iter()
        .collect();
    let query = identifier::conditional_query(&identifiers);
    put(
        &mut procedure,
        "identifier",
        Some(Value::Array(identifiers)),
    );
    ctx.add(procedure, query)
}

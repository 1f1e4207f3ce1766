//! What a segment records about the history of what it describes, as a
//! Provenance of that resource (IG `ORC[Provenance]`, `TXA[Provenance]`,
//! `PID[Provenance-Patient]`): who entered, verified, ordered or changed an
//! order, a document or a patient's record, and when. The message's and
//! the trigger event's Provenances are the header's (see `header`).

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, put, resource};
use crate::datatypes::{address, telecom};
use crate::references::{organization, practitioner};
use crate::segments::positioned;

/// FHIR's Provenance agent types.
const PARTICIPANT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/provenance-participant-type";

/// Maps an ORC's history to a Provenance of `target`, the order it makes
/// (IG `ORC[Provenance]`): activity by the order control ORC-1 (`NW`
/// create, `SC` update, `OC` and `CA` cancel), recorded and occurred at
/// ORC-9, the enterer ORC-10 (on behalf of the entering organization
/// ORC-17), verifier ORC-11, author (the ordering provider ORC-12) and
/// performer (action by ORC-19) as agents, and the ordering facility
/// ORC-21 (with its address ORC-22 and phone ORC-23) as location. None
/// unless ORC-9 is an instant (a time with a zone, as `recorded` must be)
/// and the ORC names an agent.
pub fn orc<'m>(ctx: &mut Context<'m>, orc: Seg<'m>, position: usize, target: Handle) {
    let Some(recorded) = orc.instant(9, ctx) else {
        return;
    };
    let on_behalf = orc
        .rep(17)
        .and_then(|cwe| organization::cwe(ctx, cwe))
        .map(|h| ctx.reference(h));
    let mut agents = Vec::new();
    for (field, kind) in [
        (10, "enterer"),
        (11, "verifier"),
        (12, "author"),
        (19, "performer"),
    ] {
        for xcn in orc.reps(field) {
            if let Some(who) = practitioner::reference(ctx, Some(xcn)) {
                let mut agent = agent(kind, who);
                if field == 10 {
                    put(&mut agent, "onBehalfOf", on_behalf.clone());
                }
                agents.push(agent);
            }
        }
    }
    let Some(mut provenance) = record(ctx, position, target, recorded, agents) else {
        return;
    };
    let activity = match orc.text(1).as_deref() {
        Some("NW") => Some("CREATE"),
        Some("SC") => Some("UPDATE"),
        Some("OC" | "CA") => Some("CANCEL"),
        _ => None,
    };
    put(
        &mut provenance,
        "activity",
        activity.map(|code| {
            json!({ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                "code": code,
            }]})
        }),
    );
    let facility = ordering_facility(ctx, orc);
    put(
        &mut provenance,
        "location",
        facility.map(|h| ctx.reference(h)),
    );
    ctx.add(provenance, None);
}

/// Maps a TXA's edit to a Provenance of `target`, its DocumentReference
/// (IG `TXA[Provenance]`): recorded at the edit time TXA-8, the originator
/// TXA-9 as author and the recipients of copies TXA-23 as agents in the
/// information recipient role (the IG's URL for that role is its web page;
/// this is the code system), the change reason TXA-21 as reason. None
/// unless TXA-8 is an instant and some agent is named.
pub fn txa<'m>(ctx: &mut Context<'m>, txa: Seg<'m>, position: usize, target: Handle) {
    let Some(recorded) = txa.instant(8, ctx) else {
        return;
    };
    let mut agents: Vec<Value<'m>> = txa
        .reps(9)
        .filter_map(|xcn| practitioner::reference(ctx, Some(xcn)))
        .map(|who| agent("author", who))
        .collect();
    for xcn in txa.reps(23) {
        if let Some(who) = practitioner::reference(ctx, Some(xcn)) {
            agents.push(json!({
                "role": [{ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": "IRCP",
                }]}],
                "who": who,
            }));
        }
    }
    let Some(mut provenance) = record(ctx, position, target, recorded, agents) else {
        return;
    };
    put(
        &mut provenance,
        "reason",
        txa.text(21).map(|text| json!([{ "text": text }])),
    );
    ctx.add(provenance, None);
}

/// Maps a PID's last update to a Provenance of `patient` (IG
/// `PID[Provenance-Patient]`): activity update, recorded and occurred at
/// PID-33, the last update facility PID-34 as the performing agent. The IG
/// records the time of the mapping; the update's own time keeps the bundle
/// the same for the same message. None unless PID-33 is an instant and
/// PID-34 names a facility.
pub fn pid<'m>(ctx: &mut Context<'m>, pid: Seg<'m>, position: usize, patient: Handle) {
    let Some(recorded) = pid.instant(33, ctx) else {
        return;
    };
    let agents: Vec<Value<'m>> = pid
        .rep(34)
        .and_then(|hd| organization::hd(ctx, hd))
        .map(|facility| agent("performer", ctx.reference(facility)))
        .into_iter()
        .collect();
    let Some(mut provenance) = record(ctx, position, patient, recorded, agents) else {
        return;
    };
    provenance["activity"] = json!({ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
        "code": "UPDATE",
    }]});
    ctx.add(provenance, None);
}

/// A Provenance of `target` recorded and occurred at `recorded`, by
/// `agents`; `None` without an agent, as FHIR requires one.
fn record<'m>(
    ctx: &Context<'m>,
    position: usize,
    target: Handle,
    recorded: String,
    agents: Vec<Value<'m>>,
) -> Option<Value<'m>> {
    if agents.is_empty() {
        return None;
    }
    let mut provenance = positioned(ctx, "Provenance", position);
    provenance["target"] = json!([ctx.reference(target)]);
    provenance["occurredDateTime"] = Value::from(recorded.clone());
    provenance["recorded"] = Value::from(recorded);
    provenance["agent"] = Value::Array(agents);
    Some(provenance)
}

/// A Provenance agent of the participant type `kind`.
fn agent<'m>(kind: &'static str, who: Value<'m>) -> Value<'m> {
    json!({
        "type": { "coding": [{ "system": PARTICIPANT_TYPE, "code": kind }] },
        "who": who,
    })
}

/// The ordering facility (ORC-21, its name) as a Location with its address
/// (ORC-22) and phone (ORC-23); one Location per facility name.
fn ordering_facility<'m>(ctx: &mut Context<'m>, orc: Seg<'m>) -> Option<Handle> {
    let name = orc.component(21, 1)?;
    let id = fhir::deterministic_id(&["Location", "xon", &name]);
    if let Some(known) = ctx.existing(&id) {
        return Some(known);
    }
    let mut location = resource("Location", id);
    location["name"] = Value::from(name);
    put(&mut location, "address", orc.rep(22).and_then(address::xad));
    let telecoms: Vec<Value<'m>> = orc
        .reps(23)
        .filter_map(|xtn| telecom::xtn(xtn, None))
        .collect();
    put(&mut location, "telecom", Some(Value::Array(telecoms)));
    Some(ctx.add(location, None))
}

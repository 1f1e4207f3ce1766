//! MSH → MessageHeader and Provenance, EVN → the event's Provenance (IG
//! `MSH[MessageHeader]`, `MSH[Provenance-Source]`, `EVN[Provenance]`); the
//! SFT Devices are the message Provenance's source entities.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::MessageKind;
use hl7wasm_plugin_sdk::fhir;

use crate::context::{Context, Handle, Rep, Seg, Text, put, resource};
use crate::datatypes::{codes, identifier};
use crate::references::{organization, practitioner};
use crate::segments::{positioned, unknown};

/// The Provenance's position, after every segment's: the same number on
/// every platform, so that its id is too (`usize::MAX` differs between the
/// 32-bit component and a 64-bit native build).
const AFTER_EVERY_SEGMENT: usize = u32::MAX as usize;

/// Maps the MSH to a MessageHeader: event (MSH-9), source (MSH-3), sender
/// (MSH-4), destination (MSH-5, receiver MSH-6) and processing id (MSH-11,
/// as a tag). An endpoint that no HD universal id gives is marked unknown.
pub fn message_header<'m>(ctx: &mut Context<'m>, msh: Seg<'m>) -> Handle {
    let mut header = positioned(ctx, "MessageHeader", 0);
    let event = match (msh.component(9, 1), msh.component(9, 2)) {
        (Some(code), Some(trigger)) => {
            let display = format!("{code}^{trigger}");
            json!({
                "system": codes::v2_table!("0003"),
                "code": trigger,
                "display": display,
            })
        }
        (code, _) => json!({ "system": codes::v2_table!("0076"), "code": code }),
    };
    header["eventCoding"] = event;
    let endpoint = |n: usize| msh.rep(n).and_then(|hd| identifier::hd_system(&hd, 1));
    let mut source = json!({});
    put(&mut source, "name", msh.text(3).map(Value::from));
    match endpoint(3) {
        Some(uri) => source["endpoint"] = Value::from(uri),
        None => source["_endpoint"] = unknown(),
    }
    header["source"] = source;
    if let Some(sender) = msh.rep(4).and_then(|hd| organization::hd(ctx, hd)) {
        header["sender"] = ctx.reference(sender);
    }
    let receiver = msh.rep(6).and_then(|hd| organization::hd(ctx, hd));
    if msh.rep(5).is_some() || receiver.is_some() {
        let mut destination = json!({});
        put(&mut destination, "name", msh.text(5).map(Value::from));
        match endpoint(5) {
            Some(uri) => destination["endpoint"] = Value::from(uri),
            None => destination["_endpoint"] = unknown(),
        }
        put(
            &mut destination,
            "receiver",
            receiver.map(|h| ctx.reference(h)),
        );
        header["destination"] = json!([destination]);
    }
    if let Some(mode) = msh.text(11) {
        header["meta"] = json!({ "tag": [{ "system": codes::v2_table!("0103"), "code": mode }] });
    }
    ctx.add(header, None)
}

/// Points the MessageHeader at the resources the message is about (see
/// [`MessageKind`]).
pub fn focus<'m>(ctx: &mut Context<'m>, header: Handle, kind: MessageKind) {
    let focus: Vec<Value<'m>> = kind
        .focus_types()
        .iter()
        .flat_map(|t| ctx.handles_of(t))
        .map(|h| ctx.reference(h))
        .collect();
    put(ctx.resource_mut(header), "focus", Some(Value::Array(focus)));
}

/// A Provenance for every resource of the bundle but the sending software:
/// recorded and occurred at
/// MSH-7, authored by the sender (MSH-4, else the application MSH-3),
/// activity the message type, with the software that sent it (`software`,
/// the SFT Devices) as source entities. None when MSH-7 has no time with a
/// zone, as `recorded` must be an instant.
pub fn provenance<'m>(ctx: &mut Context<'m>, msh: Seg<'m>, software: &[Handle]) {
    let Some(recorded) = msh.instant(7, ctx) else {
        return;
    };
    let Some(who) = sender(ctx, msh) else {
        return;
    };
    let mut provenance = positioned(ctx, "Provenance", AFTER_EVERY_SEGMENT);
    provenance["target"] = Value::Array(targets(ctx, software));
    provenance["occurredDateTime"] = Value::from(recorded.clone());
    provenance["recorded"] = Value::from(recorded);
    provenance["activity"] = activity("message", msh);
    provenance["agent"] = json!([{
        "type": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": "author",
        }]},
        "who": who,
    }]);
    let entities: Vec<Value<'m>> = software
        .iter()
        .map(|&device| json!({ "role": "source", "what": ctx.reference(device) }))
        .collect();
    put(&mut provenance, "entity", Some(Value::Array(entities)));
    ctx.add(provenance, None);
}

/// The trigger event's Provenance (IG `EVN[Provenance]`), for every resource
/// of the bundle but the Provenances and the sending `software`: recorded at EVN-2, occurred at EVN-6,
/// reason EVN-4 (table 0062; `U` is an unknown reason), the operators
/// (EVN-5) as agents, at the facility EVN-7 as a Location. Without an
/// operator the sender is the agent, as in the message's Provenance, since
/// FHIR requires one. None when EVN-2 has no time with a zone.
pub fn event_provenance<'m>(
    ctx: &mut Context<'m>,
    evn: Seg<'m>,
    position: usize,
    msh: Seg<'m>,
    software: &[Handle],
) {
    let Some(recorded) = evn.instant(2, ctx) else {
        return;
    };
    // The message's resources, not the agents and place made below.
    let targets = targets(ctx, software);
    let operators: Vec<Value<'m>> = evn
        .reps(5)
        .filter_map(|xcn| practitioner::reference(ctx, Some(xcn)))
        .map(|who| json!({ "who": who }))
        .collect();
    let agents = if operators.is_empty() {
        let Some(who) = sender(ctx, msh) else {
            return;
        };
        vec![json!({ "who": who })]
    } else {
        operators
    };
    let reason = evn.rep(4).and_then(|r| match r.get(1).as_deref() {
        Some("U") => Some(unknown()),
        _ => codes::table_cwe(&r, codes::v2_table!("0062")),
    });
    let location = evn.rep(7).and_then(|hd| facility(ctx, hd));
    let mut provenance = positioned(ctx, "Provenance", position);
    provenance["target"] = Value::Array(targets);
    put(
        &mut provenance,
        "occurredDateTime",
        evn.datetime(6, ctx).map(Value::from),
    );
    provenance["recorded"] = Value::from(recorded);
    put(
        &mut provenance,
        "location",
        location.map(|h| ctx.reference(h)),
    );
    put(&mut provenance, "reason", reason.map(|r| json!([r])));
    provenance["activity"] = activity("event", msh);
    provenance["agent"] = Value::Array(agents);
    ctx.add(provenance, None);
}

/// The sending organisation (MSH-4), else the sending application's name
/// (MSH-3), as a Provenance agent's `who`.
fn sender<'m>(ctx: &mut Context<'m>, msh: Seg<'m>) -> Option<Value<'m>> {
    match msh.rep(4).and_then(|hd| organization::hd(ctx, hd)) {
        Some(sender) => Some(ctx.reference(sender)),
        None => msh
            .text(3)
            .map(|application| json!({ "display": application })),
    }
}

/// References to every resource of the bundle so far but the Provenances
/// and the sending `software`.
fn targets<'m>(ctx: &mut Context<'m>, software: &[Handle]) -> Vec<Value<'m>> {
    let provenances = ctx.handles_of("Provenance");
    ctx.handles()
        .into_iter()
        .filter(|h| !provenances.contains(h) && !software.contains(h))
        .map(|h| ctx.reference(h))
        .collect()
}

/// What a Provenance records, `<what> - <MSH-9>` (`event - ADT^A01`), as the
/// IG words it.
fn activity<'m>(what: &str, msh: Seg<'m>) -> Value<'m> {
    let event: Vec<Text<'m>> = (1..=3).filter_map(|c| msh.component(9, c)).collect();
    json!({ "coding": [{ "display": format!("{what} - {}", event.join("^")) }] })
}

/// An HD naming a facility as a Location: the namespace as its name, the
/// universal id as its identifier.
fn facility<'m>(ctx: &mut Context<'m>, hd: Rep<'m>) -> Option<Handle> {
    let uri = identifier::hd_system(&hd, 1);
    let name = hd.get(1);
    let key = uri.as_deref().or(name.as_deref())?;
    let id = fhir::deterministic_id(&["Location", "hd", key]);
    if let Some(known) = ctx.existing(&id) {
        return Some(known);
    }
    let mut location = resource("Location", id);
    let identifiers: Vec<Value<'m>> = uri
        .map(|uri| json!({ "system": "urn:ietf:rfc:3986", "value": uri }))
        .into_iter()
        .collect();
    let query = identifier::conditional_query(&identifiers);
    put(&mut location, "identifier", Some(Value::Array(identifiers)));
    put(&mut location, "name", name.map(Value::from));
    Some(ctx.add(location, query))
}

//! MSH → MessageHeader and Provenance, EVN → the event's Provenance (IG
//! `MSH[MessageHeader]`, `MSH[Provenance-Source]`, `EVN[Provenance]`); the
//! SFT Devices are the message Provenance's source entities.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::MessageKind;
use hl7wasm_plugin_sdk::fhir;

use crate::context::{Context, Handle, Rep, Seg, Text, put, put_new, resource};
use crate::datatypes::{codes, identifier};
use crate::references::{organization, practitioner};
use crate::segments::{positioned, unknown};

/// The Provenance's position, after every segment's: the same number on
/// every platform, so that its id is too (`usize::MAX` differs between the
/// 32-bit component and a 64-bit native build).
const AFTER_EVERY_SEGMENT: usize = u32::MAX as usize;

/// Maps the MSH to a MessageHeader: event (MSH-9), source (MSH-3, endpoint
/// MSH-24 else MSH-3), sender (MSH-4, its country MSH-17), destination
/// (MSH-5, endpoint MSH-25 else MSH-5, receiver MSH-23 else MSH-6), the
/// responsible organization MSH-22, language MSH-19, and as meta the
/// security MSH-8, -26 and -27 and the processing id MSH-11 (a tag). An
/// endpoint that no HD universal id gives is marked unknown.
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
    put(&mut header, "meta", meta(msh));
    put(&mut header, "language", language(msh).map(Value::from));
    header["eventCoding"] = event;
    let mut source = json!({});
    put(&mut source, "name", msh.text(3).map(Value::from));
    set_endpoint(&mut source, msh, [24, 3]);
    header["source"] = source;
    if let Some(sender) = msh.rep(4).and_then(|hd| organization::hd(ctx, hd)) {
        if let Some(country) = msh.text(17) {
            let address = json!([{ "country": country }]);
            put_new(ctx.resource_mut(sender), "address", Some(address));
        }
        header["sender"] = ctx.reference(sender);
    }
    let receiver = match msh.rep(23) {
        Some(xon) => organization::xon(ctx, xon),
        None => msh.rep(6).and_then(|hd| organization::hd(ctx, hd)),
    };
    if msh.rep(5).is_some() || msh.rep(25).is_some() || receiver.is_some() {
        let mut destination = json!({});
        put(&mut destination, "name", msh.text(5).map(Value::from));
        set_endpoint(&mut destination, msh, [25, 5]);
        put(
            &mut destination,
            "receiver",
            receiver.map(|h| ctx.reference(h)),
        );
        header["destination"] = json!([destination]);
    }
    let responsible = msh.rep(22).and_then(|xon| organization::xon(ctx, xon));
    put(
        &mut header,
        "responsible",
        responsible.map(|h| ctx.reference(h)),
    );
    ctx.add(header, None)
}

/// Sets the endpoint of a MessageHeader's source or destination from the
/// first of `fields` (a network address, then an application) whose HD
/// gives a URI; marked unknown when none does, as FHIR requires one.
fn set_endpoint<'m>(side: &mut Value<'m>, msh: Seg<'m>, fields: [usize; 2]) {
    let uri = fields
        .into_iter()
        .find_map(|n| msh.rep(n).and_then(|hd| identifier::hd_system(&hd, 1)));
    match uri {
        Some(uri) => side["endpoint"] = Value::from(uri),
        None => side["_endpoint"] = unknown(),
    }
}

/// The message's principal language MSH-19 (a CWE's code), when it looks
/// like a language tag.
fn language<'m>(msh: Seg<'m>) -> Option<Text<'m>> {
    let code = msh.component(19, 1)?;
    let tag = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    code.bytes().all(tag).then_some(code)
}

/// The header's meta: its security labels (MSH-8, free text, as a display;
/// the classification MSH-26 and handling instructions MSH-27 as codings)
/// and the processing id MSH-11 (table 0103) as a tag.
fn meta<'m>(msh: Seg<'m>) -> Option<Value<'m>> {
    let mut meta = json!({});
    let labelled = msh.text(8).map(|text| json!({ "display": text }));
    let coded = [26, 27]
        .into_iter()
        .flat_map(|n| msh.reps(n))
        .filter_map(|cwe| codes::cwe_coding(&cwe));
    let labels: Vec<Value<'m>> = labelled.into_iter().chain(coded).collect();
    put(&mut meta, "security", Some(Value::Array(labels)));
    if let Some(mode) = msh.text(11) {
        meta["tag"] = json!([{ "system": codes::v2_table!("0103"), "code": mode }]);
    }
    let labelled = meta.get("security").is_some() || meta.get("tag").is_some();
    labelled.then_some(meta)
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
/// recorded and occurred at MSH-7, authored by the sender (see [`sender`]),
/// activity the message type, with the software that sent it (`software`:
/// the SFT Devices and the [`application`]) as source entities. None when
/// MSH-7 has no time with a zone, as `recorded` must be an instant.
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

/// Who authored the message, as a Provenance agent's `who`: the sending
/// responsible organization (MSH-22), else the sending facility (MSH-4),
/// as IG `MSH[Provenance-Source]` says; else the sending application's name
/// (MSH-3).
fn sender<'m>(ctx: &mut Context<'m>, msh: Seg<'m>) -> Option<Value<'m>> {
    let responsible = msh.rep(22).and_then(|xon| organization::xon(ctx, xon));
    match responsible.or_else(|| msh.rep(4).and_then(|hd| organization::hd(ctx, hd))) {
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

/// The sending application MSH-3 as a Device, when the message also gives
/// the sending network address MSH-24 (IG `MSH[Provenance-Source]`, which
/// makes it a source entity of the message's Provenance): its name the
/// HD's namespace, its identifier the universal id; one Device across
/// messages.
pub fn application<'m>(ctx: &mut Context<'m>, msh: Seg<'m>) -> Option<Handle> {
    msh.rep(24)?;
    hd_named(ctx, msh.rep(3)?, "Device", |device, name| {
        device["deviceName"] = json!([{ "name": name, "type": "user-friendly-name" }]);
    })
}

/// An HD naming a facility as a Location: the namespace as its name, the
/// universal id as its identifier.
fn facility<'m>(ctx: &mut Context<'m>, hd: Rep<'m>) -> Option<Handle> {
    hd_named(ctx, hd, "Location", |location, name| {
        location["name"] = Value::from(name);
    })
}

/// The resource of `resource_type` that an HD names: the universal id as
/// its identifier, the namespace given to it by `set_name`; one resource
/// per HD across messages. `None` when the HD has neither.
fn hd_named<'m>(
    ctx: &mut Context<'m>,
    hd: Rep<'m>,
    resource_type: &'static str,
    set_name: impl FnOnce(&mut Value<'m>, Text<'m>),
) -> Option<Handle> {
    let uri = identifier::hd_system(&hd, 1);
    let name = hd.get(1);
    let key = uri.as_deref().or(name.as_deref())?;
    let id = fhir::deterministic_id(&[resource_type, "hd", key]);
    if let Some(known) = ctx.existing(&id) {
        return Some(known);
    }
    let mut named = resource(resource_type, id);
    let identifiers: Vec<Value<'m>> = uri
        .map(|uri| json!({ "system": "urn:ietf:rfc:3986", "value": uri }))
        .into_iter()
        .collect();
    let query = identifier::conditional_query(&identifiers);
    put(&mut named, "identifier", Some(Value::Array(identifiers)));
    if let Some(name) = name {
        set_name(&mut named, name);
    }
    Some(ctx.add(named, query))
}

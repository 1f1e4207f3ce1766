//! MSH → MessageHeader and Provenance (IG `MSH[MessageHeader]`,
//! `MSH[Provenance-Source]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::MessageKind;
use crate::context::{Context, Handle, Seg, Text, put};
use crate::datatypes::{codes, identifier};
use crate::references::organization;
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

/// A Provenance for every resource of the bundle: recorded and occurred at
/// MSH-7, authored by the sender (MSH-4, else the application MSH-3),
/// activity the message type. None when MSH-7 has no time with a zone, as
/// `recorded` must be an instant.
pub fn provenance<'m>(ctx: &mut Context<'m>, msh: Seg<'m>) {
    let Some(recorded) = msh.instant(7, ctx) else {
        return;
    };
    let who = match msh.rep(4).and_then(|hd| organization::hd(ctx, hd)) {
        Some(sender) => ctx.reference(sender),
        None => match msh.text(3) {
            Some(application) => json!({ "display": application }),
            None => return,
        },
    };
    let targets: Vec<Value<'m>> = ctx
        .handles()
        .into_iter()
        .map(|h| ctx.reference(h))
        .collect();
    let event: Vec<Text<'m>> = (1..=3).filter_map(|c| msh.component(9, c)).collect();
    let mut provenance = positioned(ctx, "Provenance", AFTER_EVERY_SEGMENT);
    provenance["target"] = Value::Array(targets);
    provenance["occurredDateTime"] = Value::from(recorded.clone());
    provenance["recorded"] = Value::from(recorded);
    provenance["activity"] =
        json!({ "coding": [{ "display": format!("message - {}", event.join("^")) }] });
    provenance["agent"] = json!([{
        "type": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": "author",
        }]},
        "who": who,
    }]);
    ctx.add(provenance, None);
}

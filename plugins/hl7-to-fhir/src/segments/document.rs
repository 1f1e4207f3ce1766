//! TXA and its OBX text → DocumentReference (IG `TXA[DocumentReference]`,
//! `OBX[DocumentReference]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, put};
use crate::datatypes::{attachment, codes, identifier};
use crate::references::practitioner;
use crate::segments::{Links, positioned};

/// Maps a TXA to a DocumentReference of the patient in `links`: type (TXA-2,
/// table 0270), date (TXA-6), author (TXA-9), authenticator (TXA-10), master
/// identifier (TXA-12), identifier (TXA-16), document status (TXA-17),
/// security label (TXA-18, table 0272) and status (TXA-19; a T11 event is
/// entered-in-error). The content is set by [`content`] from the OBX that
/// follow.
pub fn txa<'m>(
    ctx: &mut Context<'m>,
    txa: Seg<'m>,
    position: usize,
    links: Links,
    trigger: &str,
) -> Handle {
    let master = txa.rep(12).and_then(|r| identifier::ei(&r, 1));
    let mut document = match &master {
        Some(master) => crate::segments::order::identified(
            ctx,
            "DocumentReference",
            std::slice::from_ref(master),
            position,
        ),
        None => positioned(ctx, "DocumentReference", position),
    };
    let query = master
        .as_ref()
        .and_then(|m| identifier::conditional_query(std::slice::from_ref(m)));
    put(&mut document, "masterIdentifier", master);
    put(
        &mut document,
        "identifier",
        txa.text(16).map(|file| json!([{ "value": file }])),
    );
    let status = match (trigger, txa.text(19).as_deref()) {
        ("T11", _) | (_, Some("CA")) => "entered-in-error",
        (_, Some("OB")) => "superseded",
        _ => "current",
    };
    document["status"] = Value::from(status);
    let doc_status = txa.text(17).and_then(|code| match &*code {
        "AU" | "LA" | "DO" => Some("final"),
        "DI" | "IP" | "IN" | "PA" => Some("preliminary"),
        _ => None,
    });
    put(&mut document, "docStatus", doc_status.map(Value::from));
    put(
        &mut document,
        "type",
        txa.rep(2)
            .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0270"))),
    );
    put(
        &mut document,
        "subject",
        links.patient.map(|h| ctx.reference(h)),
    );
    put(&mut document, "date", txa.instant(6, ctx).map(Value::from));
    let authors: Vec<Value<'m>> = txa
        .reps(9)
        .filter_map(|r| practitioner::reference(ctx, Some(r)))
        .collect();
    put(&mut document, "author", Some(Value::Array(authors)));
    put(
        &mut document,
        "authenticator",
        practitioner::reference(ctx, txa.rep(10)),
    );
    let label = txa
        .text(18)
        .map(|code| json!([codes::table_concept(codes::v2_table!("0272"), code)]));
    put(&mut document, "securityLabel", label);
    let media = attachment::media_type(txa.text(3).as_deref(), None);
    document["content"] = json!([{ "attachment": { "contentType": media } }]);
    put(
        &mut document,
        "context",
        links
            .encounter
            .map(|h| json!({ "encounter": [ctx.reference(h)] })),
    );
    ctx.add(document, query)
}

/// Sets the content of `document` from its OBX: the first ED value as is,
/// else the text of every OBX-5 joined by line breaks, base64-encoded. NTE
/// comments on the document stay as further content after it.
pub fn content<'m>(ctx: &mut Context<'m>, document: Handle, obxs: &[Seg<'m>]) {
    let embedded = obxs
        .iter()
        .filter(|obx| obx.text(2).as_deref() == Some("ED"))
        .find_map(|obx| attachment::ed(&obx.rep(5)?));
    let lines: Vec<String> = obxs
        .iter()
        .flat_map(|obx| obx.reps(5))
        .map(|r| r.0.value().trim_end().to_string())
        .collect();
    let attachment = match embedded {
        Some(embedded) => embedded,
        None if lines.is_empty() => return,
        None => attachment::text(&lines.join("\n")),
    };
    // In place of the first content, which says only TXA-3's media type,
    // and ahead of what notes on the document added.
    let content = json!({ "attachment": attachment });
    match ctx.resource_mut(document)["content"].as_array_mut() {
        Some(contents) if !contents.is_empty() => contents[0] = content,
        _ => ctx.resource_mut(document)["content"] = json!([content]),
    }
}

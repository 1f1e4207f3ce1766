//! NTE → Annotation on the resource the note follows (IG `NTE[...]` maps).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, push};
use crate::datatypes::attachment;

/// R4 resources with a `note` (Annotation) element that NTE can follow.
const WITH_NOTE: [&str; 8] = [
    "Observation",
    "ServiceRequest",
    "Immunization",
    "Condition",
    "Procedure",
    "AllergyIntolerance",
    "Specimen",
    "ChargeItem",
];

/// Adds the comment of an NTE (NTE-3, repetitions joined by line breaks) to
/// `target`: as a note, appended to an Appointment's comment, or as a
/// DocumentReference's further content (text/plain). Other targets have no
/// place for it, and the note is dropped.
pub fn nte<'m>(ctx: &mut Context<'m>, nte: Seg<'m>, target: Handle) {
    let lines: Vec<String> = nte
        .reps(3)
        .map(|r| r.0.value().trim_end().to_string())
        .collect();
    if lines.is_empty() {
        return;
    }
    let text = lines.join("\n");
    let resource = ctx.resource_mut(target);
    let resource_type = resource["resourceType"].as_str().unwrap_or_default();
    if WITH_NOTE.contains(&resource_type) {
        push(resource, "note", json!({ "text": text }));
    } else if resource_type == "DocumentReference" {
        // IG `NTE[DocumentReference]`: the comment is more of the content.
        push(
            resource,
            "content",
            json!({ "attachment": attachment::text(&text) }),
        );
    } else if resource_type == "Appointment" {
        let comment = match resource["comment"].as_str() {
            Some(before) => format!("{before}\n{text}"),
            None => text,
        };
        resource["comment"] = Value::from(comment);
    }
}

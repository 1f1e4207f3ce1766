//! OBR → DiagnosticReport (IG `OBR[DiagnosticReport]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Rep, Seg, push, put};
use crate::datatypes::{codes, identifier, time};
use crate::references::practitioner;
use crate::segments::{Links, order, participation, unknown_code};

/// Maps an OBR (with its ORC) to a DiagnosticReport of `patient` based on
/// `request`: identifiers, code (OBR-4), status (OBR-25, table 0123),
/// category (OBR-24, table 0074), effective time (OBR-7, with OBR-8 a
/// period), issued (OBR-22), the principal result interpreter (OBR-32) and
/// as performers the technicians (OBR-34) and transcriptionists (OBR-35),
/// each with their function. Results and specimens are added later.
/// Without OBR-4 the code, which FHIR requires, is unknown
/// (data-absent-reason).
pub fn obr<'m>(
    ctx: &mut Context<'m>,
    orc: Option<Seg<'m>>,
    obr: Seg<'m>,
    position: usize,
    links: Links,
) -> Handle {
    let code = obr
        .rep(4)
        .and_then(|r| codes::codeable_concept(&r))
        .unwrap_or_else(unknown_code);
    let identifiers = order::identifiers(orc, Some(obr));
    let by_filler: Vec<Value<'m>> = identifiers.iter().rev().cloned().collect();
    let mut report = order::identified(ctx, "DiagnosticReport", &by_filler, position);
    let query = identifier::conditional_query(&by_filler);
    put(&mut report, "identifier", Some(Value::Array(identifiers)));
    put(
        &mut report,
        "basedOn",
        links.request.map(|h| json!([ctx.reference(h)])),
    );
    report["status"] = Value::from(obr.text(25).map_or("unknown", |s| status(&s)));
    let category = obr
        .text(24)
        .map(|c| json!([codes::table_concept(codes::v2_table!("0074"), c)]));
    put(&mut report, "category", category);
    report["code"] = code;
    put(
        &mut report,
        "subject",
        links.patient.map(|h| ctx.reference(h)),
    );
    put(
        &mut report,
        "encounter",
        links.encounter.map(|h| ctx.reference(h)),
    );
    let (start, end) = (obr.datetime(7, ctx), obr.datetime(8, ctx));
    time::put_when(
        &mut report,
        ("effectivePeriod", "effectiveDateTime"),
        start,
        end,
    );
    put(&mut report, "issued", obr.instant(22, ctx).map(Value::from));
    for ndl in obr.reps(32) {
        if let Some(interpreter) = held_by(ctx, ndl, "PRI") {
            push(&mut report, "resultsInterpreter", interpreter);
        }
    }
    for (n, role, function) in [(34, "TN", "SPRF"), (35, "TR", "TRANS")] {
        for ndl in obr.reps(n) {
            let Some(mut performer) = held_by(ctx, ndl, role) else {
                continue;
            };
            performer["extension"] = json!([{
                "url": "http://hl7.org/fhir/StructureDefinition/event-performerFunction",
                "valueCodeableConcept": codes::table_concept(
                    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    function,
                ),
            }]);
            push(&mut report, "performer", performer);
        }
    }
    ctx.add(report, query)
}

/// A reference to the PractitionerRole, in `role` (table 0912), of the
/// person of an NDL (IG `NDL[PractitionerRole]`): NDL-1, a CNN. Senders of
/// older versions write an XCN there (a name, not a time, in the second
/// component), which is read as one.
fn held_by<'m>(ctx: &mut Context<'m>, ndl: Rep<'m>, role: &'static str) -> Option<Value<'m>> {
    let written_as_xcn = ndl
        .get(2)
        .is_some_and(|t| t.bytes().any(|b| b.is_ascii_alphabetic()));
    let person = match written_as_xcn {
        true => practitioner::xcn(ctx, ndl),
        false => practitioner::cnn(ctx, ndl.nested(1)),
    }?;
    let person = ctx.reference(person);
    let code = (codes::v2_table!("0912"), role);
    let role = participation::held_role(ctx, Some(person), Some(code), None);
    Some(ctx.reference(role))
}

/// HL7 table 0123 (result status) → DiagnosticReport status.
fn status(code: &str) -> &'static str {
    match code {
        "O" | "I" => "registered",
        "S" | "A" => "partial",
        "P" | "R" => "preliminary",
        "C" => "corrected",
        "F" => "final",
        "X" => "cancelled",
        _ => "unknown",
    }
}

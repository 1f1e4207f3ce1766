//! RXO (with the ORC before it), RXR and TQ1 → MedicationRequest and
//! Medication (IG `RXO[MedicationRequest]`, `RXR[MedicationRequest]`,
//! `TQ1[MedicationRequest]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::MapError;
use crate::context::{Context, Handle, Seg, push, put};
use crate::datatypes::{codes, identifier, quantity, time};
use crate::references::practitioner;
use crate::segments::{Links, order, positioned};

/// Maps an RXO (and its ORC) to a MedicationRequest (intent
/// `original-order`) of the patient in `links`, for a Medication of the
/// requested give code (RXO-1) and dosage form (RXO-5): identifiers and
/// status from the ORC, as for a ServiceRequest; dose range (RXO-2 to
/// RXO-4); substitution (RXO-9, table 0161); dispense quantity (RXO-11,
/// RXO-12) and refills (RXO-13); requester (ORC-12, else RXO-14); authored
/// time (ORC-9). Its id derives from the order identifiers.
///
/// # Errors
/// [`MapError::Invalid`] when RXO-1 (what is requested) is empty.
pub fn rxo<'m>(
    ctx: &mut Context<'m>,
    rxo: Seg<'m>,
    orc: Option<Seg<'m>>,
    position: usize,
    links: Links,
) -> Result<Handle, MapError> {
    let code = rxo
        .rep(1)
        .and_then(|r| codes::codeable_concept(&r))
        .ok_or_else(|| rxo.error(1, "the requested give code is required"))?;
    let mut medication = positioned(ctx, "Medication", position);
    medication["code"] = code;
    put(
        &mut medication,
        "form",
        rxo.rep(5).and_then(|r| codes::codeable_concept(&r)),
    );
    let medication = ctx.add(medication, None);

    let identifiers = order::identifiers(orc, None);
    let mut request = order::identified(ctx, "MedicationRequest", &identifiers, position);
    let query = identifier::conditional_query(&identifiers);
    put(&mut request, "identifier", Some(Value::Array(identifiers)));
    request["status"] = Value::from(order::status(orc));
    request["intent"] = Value::from("original-order");
    request["medicationReference"] = ctx.reference(medication);
    request["subject"] = match links.patient {
        Some(patient) => ctx.reference(patient),
        None => crate::segments::unknown(),
    };
    put(
        &mut request,
        "encounter",
        links.encounter.map(|h| ctx.reference(h)),
    );
    put(
        &mut request,
        "authoredOn",
        orc.and_then(|o| o.datetime(9, ctx)).map(Value::from),
    );
    let requester = orc.and_then(|o| o.rep(12)).or_else(|| rxo.rep(14));
    let requester = practitioner::reference(ctx, requester);
    put(&mut request, "requester", requester);
    put(
        &mut request,
        "dosageInstruction",
        dose(rxo).map(|d| json!([d])),
    );
    put(&mut request, "dispenseRequest", dispense(rxo));
    let substitution = rxo
        .text(9)
        .map(|code| codes::table_concept(codes::v2_table!("0161"), code));
    put(
        &mut request,
        "substitution",
        substitution.map(|allowed| json!({ "allowedCodeableConcept": allowed })),
    );
    Ok(ctx.add(request, query))
}

/// RXO-2 and RXO-3 in RXO-4's units, as the ordered dose range.
fn dose<'m>(rxo: Seg<'m>) -> Option<Value<'m>> {
    let units = rxo.rep(4);
    let bound = |n| {
        let amount = quantity::number(&rxo.text(n)?)?;
        Some(quantity::quantity(amount, units.as_ref()))
    };
    let mut range = json!({});
    put(&mut range, "low", bound(2));
    put(&mut range, "high", bound(3));
    if range == json!({}) {
        return None;
    }
    Some(json!({ "doseAndRate": [{
        "type": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/dose-rate-type",
            "code": "ordered",
        }]},
        "doseRange": range,
    }]}))
}

/// RXO-11 in RXO-12's units, and RXO-13 refills.
fn dispense<'m>(rxo: Seg<'m>) -> Option<Value<'m>> {
    let mut request = json!({});
    let amount = rxo.text(11).and_then(|a| quantity::number(&a));
    put(
        &mut request,
        "quantity",
        amount.map(|a| quantity::quantity(a, rxo.rep(12).as_ref())),
    );
    let refills = rxo.text(13).and_then(|r| r.trim().parse::<u32>().ok());
    put(
        &mut request,
        "numberOfRepeatsAllowed",
        refills.map(Value::from),
    );
    (request != json!({})).then_some(request)
}

/// Adds an RXR to the dosage instruction of `request`: route (RXR-1, table
/// 0162), site (RXR-2, table 0163), method (RXR-4) and routing instruction
/// (RXR-5).
pub fn rxr<'m>(ctx: &mut Context<'m>, rxr: Seg<'m>, request: Handle) {
    let table = |n, system| rxr.rep(n).and_then(|r| codes::table_cwe(&r, system));
    let elements = [
        ("route", table(1, codes::v2_table!("0162"))),
        ("site", table(2, codes::v2_table!("0163"))),
        (
            "method",
            rxr.rep(4).and_then(|r| codes::codeable_concept(&r)),
        ),
        (
            "additionalInstruction",
            rxr.rep(5).and_then(|r| codes::codeable_concept(&r)),
        ),
    ];
    add_to_dosage(ctx, request, elements);
}

/// Adds a TQ1 to `request`: the repeat pattern's code (TQ1-3.1, table 0335),
/// the start and end (TQ1-7, TQ1-8) and the number of occurrences (TQ1-14)
/// as the dosage's timing, the condition (TQ1-10) as an additional
/// instruction, the text instruction (TQ1-11) as its text, and the priority
/// (TQ1-9) as the request's.
pub fn tq1<'m>(ctx: &mut Context<'m>, tq1: Seg<'m>, request: Handle) {
    let mut repeat = json!({});
    let bounds = time::period(tq1.datetime(7, ctx), tq1.datetime(8, ctx));
    put(&mut repeat, "boundsPeriod", bounds);
    let count = tq1.text(14).and_then(|c| c.trim().parse::<u32>().ok());
    put(
        &mut repeat,
        "countMax",
        count.filter(|c| *c > 0).map(Value::from),
    );
    let mut timing = json!({});
    let pattern = tq1.component(3, 1);
    let pattern = pattern.map(|code| codes::table_concept(codes::v2_table!("0335"), code));
    put(&mut timing, "code", pattern);
    put(
        &mut timing,
        "repeat",
        (repeat != json!({})).then_some(repeat),
    );
    let condition = tq1.text(10).map(|text| json!({ "text": text }));
    let elements = [
        ("timing", (timing != json!({})).then_some(timing)),
        ("additionalInstruction", condition),
        ("text", tq1.text(11).map(Value::from)),
    ];
    add_to_dosage(ctx, request, elements);
    let priority = tq1.component(9, 1).and_then(|code| order::priority(&code));
    put(
        ctx.resource_mut(request),
        "priority",
        priority.map(Value::from),
    );
}

/// Puts `elements` (those with a value) into the first dosage instruction
/// of `request`, which is made when there is none yet; an additional
/// instruction is added to the list of them.
fn add_to_dosage<'m, const N: usize>(
    ctx: &mut Context<'m>,
    request: Handle,
    elements: [(&'static str, Option<Value<'m>>); N],
) {
    if elements.iter().all(|(_, value)| value.is_none()) {
        return;
    }
    let resource = ctx.resource_mut(request);
    if resource.get("dosageInstruction").is_none() {
        resource["dosageInstruction"] = json!([{}]);
    }
    let dosages = resource["dosageInstruction"]
        .as_array_mut()
        .expect("dosageInstruction is an array");
    for (key, value) in elements {
        match (key, value) {
            ("additionalInstruction", Some(instruction)) => {
                push(&mut dosages[0], key, instruction);
            }
            (key, value) => put(&mut dosages[0], key, value),
        }
    }
}

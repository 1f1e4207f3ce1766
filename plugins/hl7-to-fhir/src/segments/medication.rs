//! RXO and RXE (with the ORC before them), RXR and TQ1 → MedicationRequest
//! and Medication (IG `RXO[MedicationRequest]`, `RXR[MedicationRequest]`,
//! `TQ1[MedicationRequest]`; RXE by the RXO rows, see [`RXE`]).

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, push, put, resource};
use crate::datatypes::{codes, identifier, quantity};
use crate::references::practitioner;
use crate::segments::{Links, order, positioned, subject, unknown_code};

/// Where a pharmacy order segment keeps what the IG maps from RXO.
#[derive(Debug, Clone, Copy)]
pub struct OrderFields {
    intent: &'static str,
    code: usize,
    dose_min: usize,
    dose_max: usize,
    dose_units: usize,
    form: usize,
    substitution: Option<usize>,
    dispense_amount: usize,
    dispense_units: usize,
    refills: usize,
    provider: usize,
    prescription: Option<usize>,
}

/// The placer's order: RXO, as the IG maps it.
pub const RXO: OrderFields = OrderFields {
    intent: "original-order",
    code: 1,
    dose_min: 2,
    dose_max: 3,
    dose_units: 4,
    form: 5,
    substitution: Some(9),
    dispense_amount: 11,
    dispense_units: 12,
    refills: 13,
    provider: 14,
    prescription: None,
};

/// The pharmacy's encoded order: RXE, by the RXO rows at RXE's positions
/// (the IG's own RXE map was under construction), with the prescription
/// number (RXE-15) as an identifier. Its substitution status (RXE-9) says
/// what was done, not what is allowed, and is not mapped.
pub const RXE: OrderFields = OrderFields {
    intent: "filler-order",
    code: 2,
    dose_min: 3,
    dose_max: 4,
    dose_units: 5,
    form: 6,
    substitution: None,
    dispense_amount: 10,
    dispense_units: 11,
    refills: 12,
    provider: 13,
    prescription: Some(15),
};

/// Maps an RXO or RXE (`fields` says which) and its ORC to a
/// MedicationRequest of the patient in `links`, for a Medication of the give
/// code and dosage form: identifiers and status from the ORC, as for a
/// ServiceRequest; the dose range; substitution (RXO-9, table 0161);
/// dispense quantity and refills; requester (ORC-12, else the ordering
/// provider of the segment); authored time (ORC-9). An encoded order is
/// `basedOn` the group's RXO request (`original`), if there is one.
///
/// Its id derives from the order identifiers, with the ORC's conditional
/// update. When an RXO already took those, an RXE's id derives from them
/// with its prescription number, else from its place in the message, and
/// it is written by id. Without a give code the Medication's code is
/// unknown (data-absent-reason).
pub fn request<'m>(
    ctx: &mut Context<'m>,
    order: Seg<'m>,
    fields: &OrderFields,
    orc: Option<Seg<'m>>,
    position: usize,
    links: Links,
    original: Option<Handle>,
) -> Handle {
    let code = drug_code(order, fields.code).unwrap_or_else(unknown_code);
    let medication = product(ctx, order, code, fields.form, position);
    let medication = ctx.add(medication, None);

    let mut identifiers = order::identifiers(orc, None);
    let prescription = fields.prescription.and_then(|n| order.text(n));
    let (mut request, query) = match (original, &prescription) {
        (None, _) => (
            order::identified(ctx, "MedicationRequest", &identifiers, position),
            identifier::conditional_query(&identifiers),
        ),
        (Some(_), Some(number)) => {
            let [scope, order] = identifiers.first().map_or(["", ""], identifier::key);
            let parts = ["MedicationRequest", scope, order, "prescription", number];
            (
                resource("MedicationRequest", fhir::deterministic_id(&parts)),
                None,
            )
        }
        (Some(_), None) => (positioned(ctx, "MedicationRequest", position), None),
    };
    if let Some(number) = prescription {
        identifiers.push(identifier::typed(json!({ "value": number }), "PRN"));
    }
    put(&mut request, "identifier", Some(Value::Array(identifiers)));
    request["status"] = Value::from(order::status(orc));
    request["intent"] = Value::from(fields.intent);
    request["medicationReference"] = ctx.reference(medication);
    request["subject"] = subject(ctx, links.patient);
    put(
        &mut request,
        "encounter",
        links.encounter.map(|h| ctx.reference(h)),
    );
    put(
        &mut request,
        "basedOn",
        original.map(|h| json!([ctx.reference(h)])),
    );
    put(
        &mut request,
        "authoredOn",
        orc.and_then(|o| o.datetime(9, ctx)).map(Value::from),
    );
    let requester = orc
        .and_then(|o| o.rep(12))
        .or_else(|| order.rep(fields.provider));
    let requester = practitioner::reference(ctx, requester);
    put(&mut request, "requester", requester);
    put(
        &mut request,
        "dosageInstruction",
        dose(order, fields).map(|d| json!([d])),
    );
    put(&mut request, "dispenseRequest", dispense(order, fields));
    let substitution = fields
        .substitution
        .and_then(|n| order.text(n))
        .map(|code| codes::table_concept(codes::v2_table!("0161"), code));
    put(
        &mut request,
        "substitution",
        substitution.map(|allowed| json!({ "allowedCodeableConcept": allowed })),
    );
    ctx.add(request, query)
}

/// The drug coded in field `n` of `seg`; `None` when it is empty.
pub fn drug_code<'m>(seg: Seg<'m>, n: usize) -> Option<Value<'m>> {
    seg.rep(n).and_then(|r| codes::codeable_concept(&r))
}

/// A Medication of the drug `code`, in the dosage form of field `form` of
/// `seg`.
pub fn product<'m>(
    ctx: &Context<'m>,
    seg: Seg<'m>,
    code: Value<'m>,
    form: usize,
    position: usize,
) -> Value<'m> {
    let mut medication = positioned(ctx, "Medication", position);
    medication["code"] = code;
    put(
        &mut medication,
        "form",
        seg.rep(form).and_then(|r| codes::codeable_concept(&r)),
    );
    medication
}

/// The minimum and maximum give amounts in the give units, as the ordered
/// dose range.
fn dose<'m>(order: Seg<'m>, fields: &OrderFields) -> Option<Value<'m>> {
    let units = order.rep(fields.dose_units);
    let bound = |n| {
        let amount = quantity::number(&order.text(n)?)?;
        Some(quantity::quantity(amount, units.as_ref()))
    };
    let range = quantity::range(bound(fields.dose_min), bound(fields.dose_max))?;
    Some(json!({ "doseAndRate": [{
        "type": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/dose-rate-type",
            "code": "ordered",
        }]},
        "doseRange": range,
    }]}))
}

/// The dispense amount in its units, and the number of refills.
fn dispense<'m>(order: Seg<'m>, fields: &OrderFields) -> Option<Value<'m>> {
    let mut request = json!({});
    let amount = order
        .text(fields.dispense_amount)
        .and_then(|a| quantity::number(&a));
    let units = order.rep(fields.dispense_units);
    put(
        &mut request,
        "quantity",
        amount.map(|a| quantity::quantity(a, units.as_ref())),
    );
    let refills = order.text(fields.refills).and_then(|r| quantity::whole(&r));
    put(
        &mut request,
        "numberOfRepeatsAllowed",
        refills.map(Value::from),
    );
    (request != json!({})).then_some(request)
}

/// Adds an RXR to the dosage instruction of `request` (a MedicationRequest
/// or MedicationDispense): route (RXR-1, table
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

/// Adds an RXC to the Medication of `request`, a MedicationRequest: the
/// component RXC-2 as an ingredient, its strength RXC-5 in RXC-6 units as
/// the amount per unit of the product. There is no IG map for RXC; this
/// follows the HL7 v2 field definitions, as FHIR-Converter does.
pub fn rxc<'m>(ctx: &mut Context<'m>, rxc: Seg<'m>, request: Handle) {
    let Some(component) = rxc.rep(2).and_then(|r| codes::codeable_concept(&r)) else {
        return;
    };
    let mut ingredient = json!({ "itemCodeableConcept": component });
    if let Some(strength) = rxc.text(5).and_then(|s| quantity::number(&s)) {
        let units = rxc.rep(6);
        ingredient["strength"] = json!({
            "numerator": quantity::quantity(strength, units.as_ref()),
            "denominator": { "value": 1_u32 },
        });
    }
    let product = ctx.resource_mut(request)["medicationReference"].clone();
    if let Some(medication) = ctx.referenced(&product) {
        push(ctx.resource_mut(medication), "ingredient", ingredient);
    }
}

/// Adds a TQ1 to `request`: the repeat pattern's code (TQ1-3.1, table 0335),
/// the start and end (TQ1-7, TQ1-8) and the number of occurrences (TQ1-14)
/// as the dosage's timing, the condition (TQ1-10) as an additional
/// instruction, the text instruction (TQ1-11) as its text, and the priority
/// (TQ1-9) as the request's.
pub fn tq1<'m>(ctx: &mut Context<'m>, tq1: Seg<'m>, request: Handle) {
    let condition = tq1.text(10).map(|text| json!({ "text": text }));
    let elements = [
        ("timing", order::timing(ctx, tq1)),
        ("additionalInstruction", condition),
        ("text", tq1.text(11).map(Value::from)),
    ];
    add_to_dosage(ctx, request, elements);
    order::tq1_priority(ctx, tq1, request);
}

/// Puts `elements` (those with a value) into the first dosage instruction
/// of `request`, which is made when there is none yet; an additional
/// instruction is added to the list of them.
pub(crate) fn add_to_dosage<'m, const N: usize>(
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

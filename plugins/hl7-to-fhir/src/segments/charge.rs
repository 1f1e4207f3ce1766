//! FT1 → ChargeItem: a charge or credit posted for the patient. No IG map at
//! hand covers FT1, so the fields follow their HL7 v2.8 definitions.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Rep, Seg, push, put};
use crate::datatypes::{codes, quantity, time};
use crate::references::practitioner;
use crate::segments::{Links, positioned};

/// Maps an FT1 that posts a charge or a credit (FT1-6, table 0017: not a
/// payment `PY` or an adjustment `AJ`, which are no charge items) to a
/// billable ChargeItem of the patient: identifier FT1-2, code the
/// transaction code FT1-7 (else the procedure code FT1-25, else the
/// description FT1-8 as text), occurrence FT1-4 (a date range), entered
/// FT1-5, quantity FT1-10, the extended amount FT1-11 as priceOverride,
/// performer FT1-20, enterer FT1-24, reasons the diagnoses FT1-19, product
/// the NDC code FT1-29, and the patient's `account`. `None` for a payment,
/// an adjustment, or a charge that names nothing charged.
pub fn ft1<'m>(
    ctx: &mut Context<'m>,
    ft1: Seg<'m>,
    position: usize,
    links: Links,
    account: Option<Handle>,
) -> Option<Handle> {
    let patient = links.patient?;
    if matches!(ft1.text(6).as_deref(), Some("PY" | "AJ")) {
        return None;
    }
    let code = ft1
        .rep(7)
        .or_else(|| ft1.rep(25))
        .and_then(|r| codes::codeable_concept(&r))
        .or_else(|| ft1.text(8).map(|text| json!({ "text": text })))?;
    let mut charge = positioned(ctx, "ChargeItem", position);
    put(
        &mut charge,
        "identifier",
        ft1.text(2).map(|id| json!([{ "value": id }])),
    );
    charge["status"] = Value::from("billable");
    charge["code"] = code;
    charge["subject"] = ctx.reference(patient);
    put(
        &mut charge,
        "context",
        links.encounter.map(|h| ctx.reference(h)),
    );
    if let Some(when) = ft1.rep(4) {
        let start = when.get(1).and_then(|t| ctx.datetime(t));
        let end = when.get(2).and_then(|t| ctx.datetime(t));
        let keys = ("occurrencePeriod", "occurrenceDateTime");
        time::put_when(&mut charge, keys, start, end);
    }
    let performers = ft1
        .reps(20)
        .filter_map(|xcn| practitioner::reference(ctx, Some(xcn)));
    for actor in performers.collect::<Vec<_>>() {
        push(&mut charge, "performer", json!({ "actor": actor }));
    }
    put(
        &mut charge,
        "enterer",
        practitioner::reference(ctx, ft1.rep(24)),
    );
    put(
        &mut charge,
        "enteredDate",
        ft1.datetime(5, ctx).map(Value::from),
    );
    put(
        &mut charge,
        "quantity",
        ft1.text(10)
            .and_then(|n| quantity::number(&n))
            .map(|value| json!({ "value": value })),
    );
    put(
        &mut charge,
        "priceOverride",
        ft1.rep(11).and_then(|cp| money(&cp)),
    );
    let reasons = ft1.reps(19).filter_map(|r| codes::codeable_concept(&r));
    put(&mut charge, "reason", Some(reasons.collect()));
    put(
        &mut charge,
        "productCodeableConcept",
        ft1.rep(29).and_then(|r| codes::codeable_concept(&r)),
    );
    put(
        &mut charge,
        "account",
        account.map(|h| json!([ctx.reference(h)])),
    );
    Some(ctx.add(charge, None))
}

/// A CP's price (component 1, an MO: amount & currency) as Money.
fn money<'m>(cp: &Rep<'m>) -> Option<Value<'m>> {
    let amount = cp.sub(1, 1).and_then(|a| quantity::number(&a))?;
    let mut money = json!({ "value": amount });
    put(&mut money, "currency", cp.sub(1, 2).map(Value::from));
    Some(money)
}

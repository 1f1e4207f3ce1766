//! IN1 → Coverage (IG `IN1[Coverage]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, push, put};
use crate::datatypes::{address, codes, identifier, quantity};
use crate::references::organization;
use crate::segments::{positioned, related_person};

/// Maps an IN1 to an active Coverage of `patient`: payor (IN1-4 name with
/// IN1-3 id, and the address IN1-5), plan (IN1-2) and group (IN1-8, IN1-9)
/// classes, the insured's employer (IN1-11 with IN1-10 id) as policy
/// holder, period (IN1-12, IN1-13), type (IN1-15), subscriber (see
/// [`subscriber`]), relationship (IN1-17), order (IN1-22) and policy number
/// (IN1-36, identifier and subscriber id). `None` without a payor.
pub fn in1<'m>(
    ctx: &mut Context<'m>,
    in1: Seg<'m>,
    position: usize,
    patient: Handle,
) -> Option<Handle> {
    let company = in1.rep(3).and_then(identifier::cx);
    let payor = organization::named(ctx, in1.text(4), company)?;
    if let Some(home) = in1.rep(5).and_then(address::xad) {
        let payor = ctx.resource_mut(payor);
        if payor.get("address").is_none() {
            payor["address"] = json!([home]);
        }
    }
    let employer_id = in1.rep(10).and_then(identifier::cx);
    let holder = organization::named(ctx, in1.component(11, 1), employer_id);
    let subscriber = subscriber(ctx, in1, position, patient);
    let mut coverage = positioned(ctx, "Coverage", position);
    coverage["status"] = Value::from("active");
    coverage["beneficiary"] = ctx.reference(patient);
    coverage["payor"] = json!([ctx.reference(payor)]);
    put(
        &mut coverage,
        "policyHolder",
        holder.map(|h| ctx.reference(h)),
    );
    put(&mut coverage, "subscriber", subscriber);
    for (kind, value, name) in [
        (
            "plan",
            in1.rep(2).and_then(|r| r.get(1)),
            in1.component(2, 2),
        ),
        ("group", in1.text(8), in1.text(9)),
    ] {
        let Some(value) = value else { continue };
        let mut class = json!({
            "type": { "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": kind }] },
            "value": value,
        });
        put(&mut class, "name", name.map(Value::from));
        push(&mut coverage, "class", class);
    }
    let start = in1.date(12);
    let end = in1.date(13);
    put(
        &mut coverage,
        "period",
        crate::datatypes::time::period(start, end),
    );
    put(
        &mut coverage,
        "type",
        in1.rep(15)
            .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0086"))),
    );
    let relationship = in1.text(17).map(|code| match &*code {
        "SEL" => "self",
        "SPO" => "spouse",
        "CHD" => "child",
        "DOM" => "common",
        _ => "other",
    });
    put(
        &mut coverage,
        "relationship",
        relationship.map(|code| {
            json!({ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                "code": code,
            }]})
        }),
    );
    let order = in1
        .text(22)
        .and_then(|o| quantity::whole(&o))
        .filter(|o| *o > 0);
    put(&mut coverage, "order", order.map(Value::from));
    if let Some(policy) = in1.text(36) {
        coverage["subscriberId"] = Value::from(policy.clone());
        coverage["identifier"] = json!([{ "value": policy }]);
    }
    Some(ctx.add(coverage, None))
}

/// The insured (IN1-16): the patient when the relationship IN1-17 is `SEL`,
/// else a RelatedPerson of the patient (see [`related_person::INSURED`]).
/// `None` without a name.
fn subscriber<'m>(
    ctx: &mut Context<'m>,
    in1: Seg<'m>,
    position: usize,
    patient: Handle,
) -> Option<Value<'m>> {
    if in1.component(17, 1).as_deref() == Some("SEL") {
        return Some(ctx.reference(patient));
    }
    let insured = related_person::named(ctx, in1, &related_person::INSURED, position, patient)?;
    Some(ctx.reference(insured))
}

//! IN1 → Coverage (IG `IN1[Coverage]`), the insured's numbers in IN2, and a
//! visit's financial class (IG `PV1[Coverage]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, push, put, put_new, resource};
use crate::datatypes::{address, codes, identifier, quantity, time};
use crate::references::organization;
use crate::segments::{one_per, positioned, related_person, unknown};

/// An IN1's Coverage and its subscriber, the resource of the insured: the
/// Patient or a RelatedPerson.
#[derive(Debug, Clone, Copy)]
pub struct Insurance {
    /// The Coverage.
    pub coverage: Handle,
    /// The insured, when the IN1 names one.
    pub insured: Option<Handle>,
}

/// Maps an IN1 to an active Coverage of `patient`: payor (IN1-4 name with
/// IN1-3 id, and the address IN1-5), plan (IN1-2) and group (IN1-8, IN1-9)
/// classes, the insured's employer (IN1-11 with IN1-10 id) as policy
/// holder, period (IN1-12, IN1-13), type (IN1-15), subscriber (see
/// [`subscriber`]), relationship (IN1-17), order (IN1-22), identifiers (the
/// plan IN1-2 and the policy number IN1-36, which FHIR-Converter also makes
/// the subscriber id) and the insured's id IN1-49 (R5's subscriberId, an
/// Identifier, as its cross-version extension). `None` without a payor.
pub fn in1<'m>(
    ctx: &mut Context<'m>,
    in1: Seg<'m>,
    position: usize,
    patient: Handle,
) -> Option<Insurance> {
    let company = in1.rep(3).and_then(identifier::cx);
    let payor = organization::named(ctx, in1.text(4), company)?;
    if let Some(home) = in1.rep(5).and_then(address::xad) {
        let payor = ctx.resource_mut(payor);
        put_new(payor, "address", Some(json!([home])));
    }
    let employer_id = in1.rep(10).and_then(identifier::cx);
    let holder = organization::named(ctx, in1.component(11, 1), employer_id);
    let insured = subscriber(ctx, in1, position, patient);
    let mut coverage = positioned(ctx, "Coverage", position);
    coverage["status"] = Value::from("active");
    coverage["beneficiary"] = ctx.reference(patient);
    coverage["payor"] = json!([ctx.reference(payor)]);
    put(
        &mut coverage,
        "policyHolder",
        holder.map(|h| ctx.reference(h)),
    );
    put(
        &mut coverage,
        "subscriber",
        insured.map(|h| ctx.reference(h)),
    );
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
    put(&mut coverage, "period", time::period(start, end));
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
    let mut identifiers: Vec<Value<'m>> = in1
        .rep(2)
        .and_then(|r| identifier::cwe(&r))
        .into_iter()
        .collect();
    if let Some(policy) = in1.text(36) {
        coverage["subscriberId"] = Value::from(policy.clone());
        identifiers.push(json!({ "value": policy }));
    }
    put(&mut coverage, "identifier", Some(Value::Array(identifiers)));
    if let Some(insured_id) = in1.rep(49).and_then(identifier::cx) {
        let extension = json!({
            "url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-Coverage.subscriberId",
            "valueIdentifier": insured_id,
        });
        push(&mut coverage, "extension", extension);
    }
    let coverage = ctx.add(coverage, None);
    Some(Insurance { coverage, insured })
}

/// The insured (IN1-16): the patient when the relationship IN1-17 is `SEL`,
/// else a RelatedPerson of the patient (see [`related_person::INSURED`]).
/// `None` without a name.
fn subscriber<'m>(
    ctx: &mut Context<'m>,
    in1: Seg<'m>,
    position: usize,
    patient: Handle,
) -> Option<Handle> {
    if in1.component(17, 1).as_deref() == Some("SEL") {
        return Some(patient);
    }
    related_person::named(ctx, in1, &related_person::INSURED, position, patient)
}

/// Adds an IN2's numbers of the insured to `insured` (the Patient or the
/// insured RelatedPerson of the IN1 before it): the social security number
/// IN2-2, the Medicare number IN2-6 (type `MC`), the Medicaid case number
/// IN2-8 (`MA`), the military id IN2-10 (`MI`) and the member number IN2-61
/// (its own type, else `MB`). There is no IG map at hand; these follow the
/// HL7 v2.8 field definitions.
pub fn in2<'m>(ctx: &mut Context<'m>, in2: Seg<'m>, insured: Handle) {
    let mut numbers: Vec<Value<'m>> = in2.text(2).map(identifier::ssn).into_iter().collect();
    for (n, code) in [(6, "MC"), (8, "MA"), (10, "MI")] {
        if let Some(number) = in2.text(n) {
            numbers.push(identifier::typed(json!({ "value": number }), code));
        }
    }
    numbers.extend(in2.reps(61).filter_map(identifier::cx).map(|mut member| {
        if member.get("type").is_none() {
            member = identifier::typed(member, "MB");
        }
        member
    }));
    let resource = ctx.resource_mut(insured);
    for number in numbers {
        identifier::add_new(resource, number);
    }
}

/// Maps the visit's financial class PV1-20 (FC: class, table 0064, and its
/// effective date) to an active Coverage of `patient` whose type is the
/// class, as the IG's ADT maps do when PV1-20 is valued. The IG names no
/// payor, which FHIR requires, so the payor is marked unknown. One per
/// visit: the id derives from the Encounter's.
pub fn pv1<'m>(ctx: &mut Context<'m>, pv1: Seg<'m>, visit: Handle, patient: Handle) {
    let Some(class) = pv1.rep(20) else {
        return;
    };
    let Some(mut kind) = codes::nested_concept(&class.nested(1)) else {
        return;
    };
    if let Some(first) = codes::first_coding(&mut kind)
        && first.get("system").is_none()
    {
        first["system"] = Value::from(codes::v2_table!("0064"));
    }
    let id = one_per(ctx, "Coverage", "financial-class", visit);
    let mut coverage = resource("Coverage", id);
    coverage["status"] = Value::from("active");
    coverage["type"] = kind;
    coverage["beneficiary"] = ctx.reference(patient);
    let start = class.get(2).and_then(|t| time::date(&t));
    put(&mut coverage, "period", time::period(start, None));
    coverage["payor"] = json!([unknown()]);
    ctx.add(coverage, None);
}

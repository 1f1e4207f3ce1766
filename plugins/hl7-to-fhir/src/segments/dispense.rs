//! RXD (with the RXR after it) → MedicationDispense and Medication. The IG
//! tables at hand have no RXD map; the fields follow the RXO and RXE maps'
//! choices for the same data types (see docs/FHIR-MAPPING.md).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, put};
use crate::datatypes::{codes, identifier, quantity};
use crate::references::practitioner;
use crate::segments::medication::{add_to_dosage, drug_code, product};
use crate::segments::{Links, positioned, subject, unknown_code};

/// Maps an RXD to a completed MedicationDispense of the patient in `links`
/// for a Medication of the dispense code (RXD-2), dosage form (RXD-6), lot
/// (RXD-18) and expiry (RXD-19): handed over at RXD-3, the actual amount and
/// units (RXD-4, RXD-5), notes (RXD-9), the dispensing provider (RXD-10),
/// substitution (RXD-11, table 0167), the total daily dose (RXD-12) as the
/// dosage's maximum per day and the dispense type (RXD-33, table 0484).
///
/// It is authorised by `prescription`, the order group's MedicationRequest,
/// else by the prescription number (RXD-7) as a logical reference. Without a
/// dispense code it is for the prescription's Medication, and without a
/// prescription either for a Medication of unknown code.
pub fn rxd<'m>(
    ctx: &mut Context<'m>,
    rxd: Seg<'m>,
    position: usize,
    links: Links,
    prescription: Option<Handle>,
) -> Handle {
    let code = drug_code(rxd, 2);
    let prescribed = prescription.filter(|_| code.is_none()).and_then(|request| {
        ctx.resource_mut(request)
            .get("medicationReference")
            .cloned()
    });
    let medication = match prescribed {
        Some(reference) => reference,
        None => {
            let code = code.unwrap_or_else(unknown_code);
            let mut medication = product(ctx, rxd, code, 6, position);
            let mut batch = json!({});
            put(&mut batch, "lotNumber", rxd.text(18).map(Value::from));
            put(
                &mut batch,
                "expirationDate",
                rxd.datetime(19, ctx).map(Value::from),
            );
            put(
                &mut medication,
                "batch",
                (batch != json!({})).then_some(batch),
            );
            let medication = ctx.add(medication, None);
            ctx.reference(medication)
        }
    };
    let mut dispense = positioned(ctx, "MedicationDispense", position);
    dispense["status"] = Value::from("completed");
    dispense["medicationReference"] = medication;
    dispense["subject"] = subject(ctx, links.patient);
    put(
        &mut dispense,
        "context",
        links.encounter.map(|h| ctx.reference(h)),
    );
    let performer = practitioner::reference(ctx, rxd.rep(10));
    put(
        &mut dispense,
        "performer",
        performer.map(|actor| json!([{ "actor": actor }])),
    );
    let authority = match (prescription, rxd.text(7)) {
        (Some(request), _) => Some(ctx.reference(request)),
        (None, Some(number)) => Some(json!({
            "type": "MedicationRequest",
            "identifier": identifier::typed(json!({ "value": number }), "PRN"),
        })),
        (None, None) => None,
    };
    put(
        &mut dispense,
        "authorizingPrescription",
        authority.map(|a| json!([a])),
    );
    put(
        &mut dispense,
        "type",
        rxd.rep(33)
            .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0484"))),
    );
    let amount = rxd.text(4).and_then(|a| quantity::number(&a));
    let units = rxd.rep(5);
    put(
        &mut dispense,
        "quantity",
        amount.map(|a| quantity::quantity(a, units.as_ref())),
    );
    put(
        &mut dispense,
        "whenHandedOver",
        rxd.datetime(3, ctx).map(Value::from),
    );
    let notes: Vec<Value<'m>> = rxd
        .reps(9)
        .filter_map(|r| r.get(1))
        .map(|text| json!({ "text": text }))
        .collect();
    put(&mut dispense, "note", Some(Value::Array(notes)));
    put(&mut dispense, "substitution", substitution(rxd));
    let handle = ctx.add(dispense, None);
    add_to_dosage(ctx, handle, [("maxDosePerPeriod", daily_dose(rxd))]);
    handle
}

/// RXD-11 (table 0167): whether another product than the one prescribed was
/// dispensed (`N` and `0` say no), with the code as the type.
fn substitution<'m>(rxd: Seg<'m>) -> Option<Value<'m>> {
    let code = rxd.text(11)?;
    let substituted = !matches!(&*code, "N" | "0");
    Some(json!({
        "wasSubstituted": substituted,
        "type": codes::table_concept(codes::v2_table!("0167"), code),
    }))
}

/// RXD-12 (CQ) as the most given in one day.
fn daily_dose<'m>(rxd: Seg<'m>) -> Option<Value<'m>> {
    let dose = quantity::cq(&rxd.rep(12)?)?;
    Some(json!({
        "numerator": dose,
        "denominator": {
            "value": 1_u32,
            "unit": "d",
            "system": "http://unitsofmeasure.org",
            "code": "d",
        },
    }))
}

//! RXA and RXR (with the ORC before them) → Immunization (IG
//! `RXA[Immunization]`, `RXR[Immunization]`, `ORC[Immunization]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, Text, push, put};
use crate::datatypes::{codes, identifier, quantity};
use crate::references::{location, organization, practitioner};
use crate::segments::{Links, order, unknown, unknown_code};

/// Maps an RXA (and its ORC) to an Immunization of the patient in `links`:
/// vaccine (RXA-5), time (RXA-3), dose (RXA-6, RXA-7; 999 means unknown),
/// primary source (RXA-9 `00`), performers (RXA-10, ORC-12), lot (RXA-15),
/// expiry (RXA-16), manufacturer (RXA-17), refusal reason (RXA-18), reasons
/// (RXA-19), status (RXA-20, RXA-21), recorded time (RXA-22) and location
/// (RXA-27). Its id derives from the order identifiers (ORC-3, ORC-2). FHIR
/// requires the vaccine and the time: without RXA-5 the vaccine is unknown
/// (data-absent-reason), a malformed RXA-3 is kept as text
/// (occurrenceString), and an empty one is the text `unknown` with a
/// data-absent-reason.
pub fn rxa<'m>(
    ctx: &mut Context<'m>,
    rxa: Seg<'m>,
    orc: Option<Seg<'m>>,
    position: usize,
    links: Links,
) -> Handle {
    let vaccine = rxa
        .rep(5)
        .and_then(|r| codes::codeable_concept(&r))
        .unwrap_or_else(unknown_code);
    let occurrence = match (rxa.datetime(3, ctx), rxa.text(3)) {
        (Some(when), _) => ("occurrenceDateTime", Text::Owned(when), false),
        (None, Some(text)) => ("occurrenceString", text, false),
        (None, None) => ("occurrenceString", Text::Borrowed("unknown"), true),
    };
    let identifiers = order::identifiers(orc, None);
    let by_filler: Vec<Value<'m>> = identifiers.iter().rev().cloned().collect();
    let mut immunization = order::identified(ctx, "Immunization", &by_filler, position);
    let query = identifier::conditional_query(&by_filler);
    put(
        &mut immunization,
        "identifier",
        Some(Value::Array(identifiers)),
    );
    let completion = rxa.text(20).unwrap_or_default();
    let status = match (rxa.text(21).as_deref(), &*completion) {
        (Some("D"), _) => "entered-in-error",
        (_, "RE" | "NA") => "not-done",
        _ => "completed",
    };
    immunization["status"] = Value::from(status);
    if status == "not-done" {
        put(
            &mut immunization,
            "statusReason",
            rxa.rep(18).and_then(|r| codes::codeable_concept(&r)),
        );
    }
    immunization["vaccineCode"] = vaccine;
    put(
        &mut immunization,
        "patient",
        links.patient.map(|h| ctx.reference(h)),
    );
    put(
        &mut immunization,
        "encounter",
        links.encounter.map(|h| ctx.reference(h)),
    );
    immunization[occurrence.0] = Value::from(occurrence.1);
    if occurrence.2 {
        immunization["_occurrenceString"] = unknown();
    }
    put(
        &mut immunization,
        "recorded",
        rxa.datetime(22, ctx).map(Value::from),
    );
    if let Some(source) = rxa.text(9) {
        immunization["primarySource"] = Value::Bool(source == "00");
    }
    put(
        &mut immunization,
        "lotNumber",
        rxa.text(15).map(Value::from),
    );
    put(
        &mut immunization,
        "expirationDate",
        rxa.date(16).map(Value::from),
    );
    let manufacturer = rxa.rep(17).and_then(|r| organization::cwe(ctx, r));
    put(
        &mut immunization,
        "manufacturer",
        manufacturer.map(|h| ctx.reference(h)),
    );
    put(&mut immunization, "doseQuantity", dose(rxa));
    let reasons = rxa
        .reps(19)
        .filter_map(|r| codes::codeable_concept(&r))
        .collect();
    put(&mut immunization, "reasonCode", Some(Value::Array(reasons)));
    if completion == "PA" {
        immunization["isSubpotent"] = Value::Bool(true);
    }
    let place = rxa.rep(27).and_then(|r| location::pl(ctx, r));
    put(
        &mut immunization,
        "location",
        place.map(|h| ctx.reference(h)),
    );
    performers(ctx, rxa, orc, &mut immunization);
    ctx.add(immunization, query)
}

/// RXA-6 in RXA-7's units; `999` is "unknown amount" and gives none.
fn dose<'m>(rxa: Seg<'m>) -> Option<Value<'m>> {
    let amount = rxa.text(6).filter(|a| a != "999")?;
    let value = quantity::number(&amount)?;
    Some(quantity::quantity(value, rxa.rep(7).as_ref()))
}

/// RXA-10 (administering, `AP`) and ORC-12 (ordering, `OP`) providers.
fn performers<'m>(
    ctx: &mut Context<'m>,
    rxa: Seg<'m>,
    orc: Option<Seg<'m>>,
    immunization: &mut Value<'m>,
) {
    let givers = rxa.reps(10).map(|r| ("AP", r));
    let orderers = orc.into_iter().flat_map(|o| o.reps(12)).map(|r| ("OP", r));
    for (function, xcn) in givers.chain(orderers) {
        let Some(actor) = practitioner::reference(ctx, Some(xcn)) else {
            continue;
        };
        let performer = json!({
            "function": codes::table_concept(codes::v2_table!("0443"), function),
            "actor": actor,
        });
        push(immunization, "performer", performer);
    }
}

/// Adds an RXR to `immunization`: route (RXR-1, table 0162) and site (RXR-2,
/// table 0163).
pub fn rxr<'m>(ctx: &mut Context<'m>, rxr: Seg<'m>, immunization: Handle) {
    let route = rxr
        .rep(1)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0162")));
    let site = rxr
        .rep(2)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0163")));
    let resource = ctx.resource_mut(immunization);
    put(resource, "route", route);
    put(resource, "site", site);
}

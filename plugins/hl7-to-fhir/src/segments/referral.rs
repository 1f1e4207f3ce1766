//! RF1 → a referral ServiceRequest, and PRD → the providers it names (its
//! requester and performers). No IG map at hand covers RF1 or PRD, so the
//! fields follow their HL7 v2.8 definitions.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, push, put, resource};
use crate::datatypes::{address, codes, identifier, name, telecom, time};
use crate::references::{location, organization, practitioner};
use crate::segments::{Links, order, participation, subject};

/// SNOMED CT's "Patient referral", the category every referral carries.
const REFERRAL: &str = "3457005";

/// Maps an RF1 to a ServiceRequest, intent `order`, in the categories
/// patient referral (SNOMED CT), the referral type RF1-3 (table 0281) and
/// category RF1-5 (table 0284): status RF1-1 (table 0283: accepted and
/// pending are active, rejected, expired and cancelled revoked),
/// priority RF1-2, identifiers the originating and external referral ids
/// (RF1-6, RF1-11; the first with a system or assigner makes the id, as an
/// order's does), the effective and expiration dates RF1-7/-8 as
/// occurrence, the process date RF1-9 as authored, reason RF1-10 (table
/// 0336). A referral before the PID (as REF sends it) gets its subject
/// from [`subject_of`].
pub fn rf1<'m>(ctx: &mut Context<'m>, rf1: Seg<'m>, position: usize, links: Links) -> Handle {
    let identifiers: Vec<Value<'m>> = [6, 11]
        .into_iter()
        .filter_map(|n| identifier::ei(&rf1.rep(n)?, 1))
        .collect();
    let query = identifier::conditional_query(&identifiers);
    let named = identifier::scoped(&identifiers);
    let mut referral = order::identified(ctx, "ServiceRequest", named, position);
    put(&mut referral, "identifier", Some(Value::Array(identifiers)));
    let status = rf1.component(1, 1).map(|code| match &*code {
        "A" | "P" => "active",
        "R" | "E" | "C" => "revoked",
        _ => "unknown",
    });
    referral["status"] = Value::from(status.unwrap_or("unknown"));
    referral["intent"] = Value::from("order");
    let mut categories = vec![json!({ "coding": [{
        "system": "http://snomed.info/sct",
        "code": REFERRAL,
        "display": "Patient referral",
    }]})];
    categories.extend(
        [(3, codes::v2_table!("0281")), (5, codes::v2_table!("0284"))]
            .into_iter()
            .filter_map(|(n, table)| codes::table_cwe(&rf1.rep(n)?, table)),
    );
    referral["category"] = Value::Array(categories);
    let priority = rf1.component(2, 1).and_then(|code| order::priority(&code));
    put(&mut referral, "priority", priority.map(Value::from));
    referral["subject"] = subject(ctx, links.patient);
    put(
        &mut referral,
        "encounter",
        links.encounter.map(|h| ctx.reference(h)),
    );
    let effective = time::period(rf1.datetime(7, ctx), rf1.datetime(8, ctx));
    put(&mut referral, "occurrencePeriod", effective);
    put(
        &mut referral,
        "authoredOn",
        rf1.datetime(9, ctx).map(Value::from),
    );
    let reasons = rf1
        .reps(10)
        .filter_map(|r| codes::table_cwe(&r, codes::v2_table!("0336")));
    put(&mut referral, "reasonCode", Some(reasons.collect()));
    ctx.add(referral, query)
}

/// Maps a PRD to a PractitionerRole of the referral: role PRD-1 (table
/// 0286), a Practitioner of the name PRD-2, address PRD-3 and identifier
/// PRD-7, location PRD-4, telecom PRD-5, period PRD-8/-9, organization
/// PRD-10; one resource per person, role and organization across messages.
/// The referring provider (`RP`) is `referral`'s requester (the
/// first one), a referred-to or consulting provider (`RT`, `CP`) a
/// performer. `None` for a PRD that names no one.
pub fn prd<'m>(ctx: &mut Context<'m>, prd: Seg<'m>, referral: Option<Handle>) -> Option<Handle> {
    let role = prd.component(1, 1);
    let person = practitioner(ctx, prd);
    let organization = prd
        .rep(10)
        .and_then(|xon| organization::xon(ctx, xon))
        .map(|h| ctx.reference(h));
    if person.is_none() && organization.is_none() {
        return None;
    }
    let id = participation::role_id(
        person.as_ref(),
        role.as_deref().unwrap_or_default(),
        organization.as_ref(),
    );
    let mut held = resource("PractitionerRole", id);
    put(&mut held, "practitioner", person);
    put(&mut held, "organization", organization);
    put(
        &mut held,
        "code",
        prd.rep(1)
            .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0286")))
            .map(|r| json!([r])),
    );
    put(
        &mut held,
        "period",
        time::period(prd.datetime(8, ctx), prd.datetime(9, ctx)),
    );
    let place = prd.rep(4).and_then(|pl| location::pl(ctx, pl));
    put(
        &mut held,
        "location",
        place.map(|h| json!([ctx.reference(h)])),
    );
    let telecoms = prd.reps(5).filter_map(|xtn| telecom::xtn(xtn, None));
    put(&mut held, "telecom", Some(telecoms.collect()));
    let held = ctx.add(held, None);
    if let Some(referral) = referral {
        let reference = ctx.reference(held);
        let request = ctx.resource_mut(referral);
        match role.as_deref() {
            Some("RP") if request.get("requester").is_none() => request["requester"] = reference,
            Some("RT" | "CP") => push(request, "performer", reference),
            _ => {}
        }
    }
    Some(held)
}

/// The Practitioner a PRD names: name PRD-2, address PRD-3, identifier
/// PRD-7.1 (a PLN, whose type PRD-7.2 names no system). Its id derives from
/// the identifier and name as an XCN's does ([`practitioner::id`]), so the
/// same provider named elsewhere is the same Practitioner.
fn practitioner<'m>(ctx: &mut Context<'m>, prd: Seg<'m>) -> Option<Value<'m>> {
    let names: Vec<Value<'m>> = prd.reps(2).filter_map(name::xpn).collect();
    let identifiers: Vec<Value<'m>> = prd
        .reps(7)
        .filter_map(|pln| pln.get(1))
        .map(|id| json!({ "value": id }))
        .collect();
    if names.is_empty() && identifiers.is_empty() {
        return None;
    }
    let first = |value: Option<&Value<'m>>| value.and_then(Value::as_str).unwrap_or("").to_string();
    let id = practitioner::id(
        ["", &first(identifiers.first().map(|i| &i["value"]))],
        &first(names.first().map(|n| &n["family"])),
        &first(names.first().and_then(|n| n["given"].as_array()?.first())),
    );
    let made = match ctx.existing(&id) {
        Some(known) => known,
        None => {
            let mut practitioner = resource("Practitioner", id);
            put(
                &mut practitioner,
                "identifier",
                Some(Value::Array(identifiers)),
            );
            put(&mut practitioner, "name", Some(Value::Array(names)));
            let addresses = prd.reps(3).filter_map(address::xad);
            put(&mut practitioner, "address", Some(addresses.collect()));
            ctx.add(practitioner, None)
        }
    };
    Some(ctx.reference(made))
}

//! The patient's accounts and their guarantors: the account number PID-18
//! (IG `PID[Account]`), a merge's prior account number MRG-3 (IG
//! `MRG[Account]`), and GT1 → Account.guarantor. The IG's GT1 map is under
//! construction in the tables at hand, so GT1 follows its HL7 v2.8 field
//! definitions.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, push, put, resource};
use crate::datatypes::{identifier, time};
use crate::references::organization;
use crate::segments::{one_per, owned_id, related_person};

/// The patient's account (IG `PID[Account]`): an active Account of
/// `patient` identified by the account number PID-18; none without one.
pub fn pid<'m>(ctx: &mut Context<'m>, pid: Seg<'m>, patient: Handle) -> Option<Handle> {
    let number = pid.rep(18).and_then(identifier::cx)?;
    Some(numbered(ctx, number, "active", patient))
}

/// A merge's prior account (IG `MRG[Account]`): an Account of `patient`
/// identified by MRG-3, whose status is unknown; none without one.
pub fn mrg<'m>(ctx: &mut Context<'m>, mrg: Seg<'m>, patient: Handle) {
    if let Some(number) = mrg.rep(3).and_then(identifier::cx) {
        numbered(ctx, number, "unknown", patient);
    }
}

/// An Account of `patient` identified by `number`, in `status`. Its id is
/// [`owned_id`]'s, with a conditional update when the number has a system.
fn numbered<'m>(
    ctx: &mut Context<'m>,
    number: Value<'m>,
    status: &'static str,
    patient: Handle,
) -> Handle {
    let identifiers = vec![number];
    let query = identifier::conditional_query(&identifiers);
    let subject = ctx.reference(patient);
    let id = owned_id("Account", &identifiers[0], &subject);
    let mut account = resource("Account", id);
    account["identifier"] = Value::Array(identifiers);
    account["status"] = Value::from(status);
    account["subject"] = json!([subject]);
    ctx.add(account, query)
}

/// Adds a GT1's guarantor to `account`, the patient's account, and returns
/// it; without one (no PID-18) the guarantors go to an active Account of
/// `patient` whose id derives from the patient's, one per patient. The
/// guarantor is the patient itself when the relationship GT1-11 is `SEL`,
/// else a RelatedPerson of the guarantor's name GT1-3 (see
/// [`related_person::GUARANTOR`]), else the guarantor organization GT1-21;
/// with the billing hold flag GT1-22 as `onHold` and GT1-13/-14 as period.
/// A GT1 that names no guarantor changes nothing.
pub fn gt1<'m>(
    ctx: &mut Context<'m>,
    gt1: Seg<'m>,
    position: usize,
    patient: Handle,
    account: Option<Handle>,
) -> Option<Handle> {
    let party = if gt1.component(11, 1).as_deref() == Some("SEL") {
        Some(ctx.reference(patient))
    } else if let Some(person) =
        related_person::named(ctx, gt1, &related_person::GUARANTOR, position, patient)
    {
        Some(ctx.reference(person))
    } else {
        gt1.rep(21)
            .and_then(|xon| organization::xon(ctx, xon))
            .map(|h| ctx.reference(h))
    };
    let mut guarantor = json!({ "party": party? });
    put(
        &mut guarantor,
        "onHold",
        gt1.text(22).map(|flag| Value::from(&*flag == "Y")),
    );
    let start = gt1.text(13).and_then(|t| time::date(&t));
    let end = gt1.text(14).and_then(|t| time::date(&t));
    put(&mut guarantor, "period", time::period(start, end));
    let account = account.unwrap_or_else(|| {
        // One per patient, so that the next message's guarantors replace
        // these rather than pile up in new Accounts.
        let id = one_per(ctx, "Account", "guarantors", patient);
        let mut account = resource("Account", id);
        account["status"] = Value::from("active");
        account["subject"] = json!([ctx.reference(patient)]);
        ctx.add(account, None)
    });
    push(ctx.resource_mut(account), "guarantor", guarantor);
    Some(account)
}

//! ROL → the patient's general practitioner, care team or a visit's
//! participant (IG `ROL[Patient-GeneralPractitioner]`, `ROL[CareTeam]`,
//! `ROL[Encounter-PractitionerRole]`, by where the ROL comes, as the IG's
//! ADT maps place them).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use hl7wasm_plugin_sdk::fhir;

use crate::context::{Context, Handle, Seg, push, put, resource};
use crate::datatypes::{codes, identifier, telecom, time};
use crate::references::{location, organization, practitioner};
use crate::segments::positioned;

/// What a ROL describes, from the segment it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A ROL after the PID: the patient's primary care provider (role `PP`)
    /// or care team.
    Patient(Handle),
    /// A ROL after the PV1: a participant of the visit.
    Visit(Handle),
}

/// Maps a ROL in `scope`. A patient's primary care provider (ROL-3 `PP`)
/// becomes a PractitionerRole in Patient.generalPractitioner; another role of
/// the patient's a participant of the patient's CareTeam (one per patient,
/// made by the first such ROL); a visit's role a PractitionerRole in
/// Encounter.participant, with the role as its type and ROL-5/-6 as its
/// period.
pub fn rol<'m>(ctx: &mut Context<'m>, rol: Seg<'m>, position: usize, scope: Scope) {
    let role = rol
        .rep(3)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0443")));
    let period = time::period(rol.datetime(5, ctx), rol.datetime(6, ctx));
    let primary_care = rol.component(3, 1).as_deref() == Some("PP");
    match scope {
        Scope::Patient(patient) if primary_care => {
            let held = practitioner_role(ctx, rol, role, period);
            let reference = ctx.reference(held);
            push(ctx.resource_mut(patient), "generalPractitioner", reference);
        }
        Scope::Patient(patient) => {
            let Some(member) = practitioner::reference(ctx, rol.rep(4)) else {
                return;
            };
            let team = care_team(ctx, patient, position);
            let mut participant = json!({ "member": member });
            put(&mut participant, "role", role.map(|r| json!([r])));
            put(&mut participant, "period", period);
            let on_behalf = rol.rep(14).and_then(|xon| organization::xon(ctx, xon));
            put(
                &mut participant,
                "onBehalfOf",
                on_behalf.map(|h| ctx.reference(h)),
            );
            push(ctx.resource_mut(team), "participant", participant);
        }
        Scope::Visit(visit) => {
            let mut participant = json!({});
            put(&mut participant, "type", role.clone().map(|r| json!([r])));
            put(&mut participant, "period", period.clone());
            let held = practitioner_role(ctx, rol, role, period);
            participant["individual"] = ctx.reference(held);
            push(ctx.resource_mut(visit), "participant", participant);
        }
    }
}

/// A PractitionerRole of the ROL's person (ROL-4) in `role` over `period`:
/// identifier ROL-1, telecom ROL-12, location ROL-13, organization ROL-14.
/// Its id derives from ROL-1 when that has a system; else from the person,
/// the role and the organization, since senders often number ROL-1 per
/// message (`1`), which must not merge different people's roles.
fn practitioner_role<'m>(
    ctx: &mut Context<'m>,
    rol: Seg<'m>,
    role: Option<Value<'m>>,
    period: Option<Value<'m>>,
) -> Handle {
    let identifiers: Vec<Value<'m>> = rol
        .rep(1)
        .and_then(|r| identifier::ei(&r, 1))
        .into_iter()
        .collect();
    let query = identifier::conditional_query(&identifiers);
    let person = practitioner::reference(ctx, rol.rep(4));
    let organization = rol.rep(14).and_then(|xon| organization::xon(ctx, xon));
    let organization = organization.map(|h| ctx.reference(h));
    let id = match &query {
        Some(_) => {
            let [system, value] = identifier::key(&identifiers[0]);
            fhir::deterministic_id(&["PractitionerRole", system, value])
        }
        None => {
            let reference = |r: &Option<Value<'m>>| {
                r.as_ref()
                    .and_then(|r| r["reference"].as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let code = rol.component(3, 1).unwrap_or_default();
            fhir::deterministic_id(&[
                "PractitionerRole",
                &reference(&person),
                &code,
                &reference(&organization),
            ])
        }
    };
    let mut held = resource("PractitionerRole", id);
    put(&mut held, "identifier", Some(Value::Array(identifiers)));
    put(&mut held, "period", period);
    put(&mut held, "practitioner", person);
    put(&mut held, "organization", organization);
    put(&mut held, "code", role.map(|r| json!([r])));
    let place = rol.rep(13).and_then(|pl| location::pl(ctx, pl));
    put(
        &mut held,
        "location",
        place.map(|h| json!([ctx.reference(h)])),
    );
    let telecoms: Vec<Value<'m>> = rol
        .reps(12)
        .filter_map(|xtn| telecom::xtn(xtn, None))
        .collect();
    put(&mut held, "telecom", Some(Value::Array(telecoms)));
    ctx.add(held, query)
}

/// The patient's CareTeam, made at the first ROL that needs it.
fn care_team(ctx: &mut Context<'_>, patient: Handle, position: usize) -> Handle {
    let subject = ctx.reference(patient);
    let existing = ctx
        .handles_of("CareTeam")
        .into_iter()
        .find(|&team| ctx.resource_mut(team)["subject"] == subject);
    existing.unwrap_or_else(|| {
        let mut team = positioned(ctx, "CareTeam", position);
        team["subject"] = subject;
        ctx.add(team, None)
    })
}

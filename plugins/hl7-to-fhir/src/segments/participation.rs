//! ROL and PRT → who (and what) takes part in what the segment before them
//! describes, as the IG's message maps place them: a patient's general
//! practitioner or care team, a visit's participants, an order's requester
//! and specimen collector, a report's performers and interpreter, an
//! immunization's performers, an observation's performer, device and place,
//! and a procedure's performers (IG `ROL[...]` and `PRT[...]` segment maps).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use hl7wasm_plugin_sdk::fhir;

use crate::context::{Context, Handle, Seg, Text, push, put, put_new, resource};
use crate::datatypes::{address, codes, identifier, telecom, time};
use crate::references::{location, organization, practitioner};
use crate::segments::{device, positioned};

/// What a ROL or PRT describes, from the segment it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// After the PID: the patient's primary care provider (role `PP`) or
    /// care team.
    Patient(Handle),
    /// After the PV1: a participant of the visit.
    Visit(Handle),
    /// After an order's ORC or OBR: its request (a ServiceRequest or
    /// MedicationRequest) and, in result messages, the OBR's
    /// DiagnosticReport.
    Order {
        /// The ServiceRequest or MedicationRequest.
        request: Handle,
        /// The DiagnosticReport of the OBR.
        report: Option<Handle>,
    },
    /// The order of an RXA: its Immunization.
    Immunization(Handle),
    /// After an OBX: its Observation.
    Observation(Handle),
    /// After a PR1: its Procedure.
    Procedure(Handle),
}

/// Where a participation segment keeps what ROL and PRT share.
struct Fields {
    instance: usize,
    action: usize,
    role: usize,
    role_table: &'static str,
    person: usize,
    specialty: Option<usize>,
    begin: usize,
    end: usize,
    telecom: usize,
    location: usize,
    organization: usize,
    address: Option<usize>,
}

const ROL: Fields = Fields {
    instance: 1,
    action: 2,
    role: 3,
    role_table: codes::v2_table!("0443"),
    person: 4,
    specialty: None,
    begin: 5,
    end: 6,
    telecom: 12,
    location: 13,
    organization: 14,
    address: None,
};

const PRT: Fields = Fields {
    instance: 1,
    action: 2,
    role: 4,
    role_table: codes::v2_table!("0912"),
    person: 5,
    specialty: Some(6),
    begin: 11,
    end: 12,
    telecom: 15,
    location: 9,
    organization: 8,
    address: Some(14),
};

/// A ROL or PRT as read once.
struct Participation<'m> {
    seg: Seg<'m>,
    fields: &'static Fields,
    /// The role's code (ROL-3.1, PRT-4.1).
    code: Option<Text<'m>>,
    /// The role as a CodeableConcept.
    role: Option<Value<'m>>,
    period: Option<Value<'m>>,
}

impl<'m> Participation<'m> {
    /// `None` for a deleted participation (action code `DE`), which names
    /// no one taking part.
    fn read(ctx: &Context<'m>, seg: Seg<'m>, fields: &'static Fields) -> Option<Self> {
        if seg.text(fields.action).as_deref() == Some("DE") {
            return None;
        }
        Some(Participation {
            seg,
            fields,
            code: seg.component(fields.role, 1),
            role: seg
                .rep(fields.role)
                .and_then(|r| codes::table_cwe(&r, fields.role_table)),
            period: time::period(
                seg.datetime(fields.begin, ctx),
                seg.datetime(fields.end, ctx),
            ),
        })
    }

    fn is(&self, codes: &[&str]) -> bool {
        self.code
            .as_deref()
            .is_some_and(|code| codes.contains(&code))
    }
}

/// Maps a ROL in `scope`. The IG maps ROL only after a patient or a visit;
/// elsewhere (procedure and insurance groups) it maps to nothing.
pub fn rol<'m>(ctx: &mut Context<'m>, rol: Seg<'m>, position: usize, scope: Scope) {
    if matches!(scope, Scope::Patient(_) | Scope::Visit(_))
        && let Some(part) = Participation::read(ctx, rol, &ROL)
    {
        participate(ctx, &part, position, scope);
    }
}

/// Maps a PRT in `scope`. Returns the reference of an order's specimen
/// collector (role `SC`), which the caller gives the order's specimens,
/// as they come after it.
pub fn prt<'m>(
    ctx: &mut Context<'m>,
    prt: Seg<'m>,
    position: usize,
    scope: Scope,
) -> Option<Value<'m>> {
    let part = Participation::read(ctx, prt, &PRT)?;
    participate(ctx, &part, position, scope)
}

/// Maps a participation by its scope:
/// - a patient's primary care provider (`PP`) → a PractitionerRole in
///   Patient.generalPractitioner; another role → a participant of the
///   patient's CareTeam (member the person, else the organization);
/// - a visit's → a PractitionerRole in Encounter.participant, with the role
///   as its type and the begin and end as its period;
/// - an order's orderer (`OP`) → its requester when it has none (ORC-12
///   comes first); in a result, the technician, responsible or assistant
///   interpreter (`TN`, `TR`, `ARI`) → the report's performer, the
///   principal interpreter (`PRI`) → its resultsInterpreter; the specimen
///   collector (`SC`) is returned;
/// - an immunization's orderer (`OP`) or administrator (`AP`) → a
///   performer with that function;
/// - an observation's person → a performer; its device → Observation.device
///   (PRT-10, IG `PRT[Device]`); its place (PRT-9, PRT-14) → the
///   event-location extension (IG `PRT[Observation-Location]`);
/// - a procedure's → a performer with the role as its function.
fn participate<'m>(
    ctx: &mut Context<'m>,
    part: &Participation<'m>,
    position: usize,
    scope: Scope,
) -> Option<Value<'m>> {
    match scope {
        Scope::Patient(patient) if part.is(&["PP"]) => {
            let held = practitioner_role(ctx, part)?;
            let reference = ctx.reference(held);
            push(ctx.resource_mut(patient), "generalPractitioner", reference);
        }
        Scope::Patient(patient) => care_team_member(ctx, part, patient, position),
        Scope::Visit(visit) => {
            let held = practitioner_role(ctx, part)?;
            let mut participant = json!({});
            put(
                &mut participant,
                "type",
                part.role.clone().map(|r| json!([r])),
            );
            put(&mut participant, "period", part.period.clone());
            participant["individual"] = ctx.reference(held);
            push(ctx.resource_mut(visit), "participant", participant);
        }
        Scope::Order { request, report } => {
            let key = match (part.code.as_deref(), report) {
                (Some("OP"), _) => "requester",
                (Some("SC"), _) => return practitioner_role(ctx, part).map(|h| ctx.reference(h)),
                (Some("TN" | "TR" | "ARI"), Some(_)) => "performer",
                (Some("PRI"), Some(_)) => "resultsInterpreter",
                _ => return None,
            };
            let held = practitioner_role(ctx, part)?;
            let reference = ctx.reference(held);
            match report {
                Some(report) if key != "requester" => {
                    push(ctx.resource_mut(report), key, reference);
                }
                _ => {
                    let request = ctx.resource_mut(request);
                    if request.get(key).is_none() {
                        request[key] = reference;
                    }
                }
            }
        }
        Scope::Immunization(given) if part.is(&["OP", "AP"]) => {
            let held = practitioner_role(ctx, part)?;
            let function = part.code.clone()?;
            let performer = json!({
                "function": codes::table_concept(codes::v2_table!("0443"), function),
                "actor": ctx.reference(held),
            });
            push(ctx.resource_mut(given), "performer", performer);
        }
        Scope::Immunization(_) => {}
        Scope::Observation(observed) => observation(ctx, part, position, observed),
        Scope::Procedure(done) => {
            let held = practitioner_role(ctx, part)?;
            let mut performer = json!({});
            put(&mut performer, "function", part.role.clone());
            performer["actor"] = ctx.reference(held);
            push(ctx.resource_mut(done), "performer", performer);
        }
    }
    None
}

/// An observation's participation (IG `PRT[PractitionerRole]`,
/// `PRT[Device]`, `PRT[Observation-Location]` in the OBX maps).
fn observation<'m>(
    ctx: &mut Context<'m>,
    part: &Participation<'m>,
    position: usize,
    observed: Handle,
) {
    let seg = part.seg;
    if seg.rep(part.fields.person).is_some()
        && let Some(held) = practitioner_role(ctx, part)
    {
        let reference = ctx.reference(held);
        push(ctx.resource_mut(observed), "performer", reference);
    }
    if let Some(used) = device::prt(ctx, seg, position) {
        let reference = ctx.reference(used);
        let observation = ctx.resource_mut(observed);
        if observation.get("device").is_none() {
            observation["device"] = reference;
        }
    }
    if let Some(place) = event_location(ctx, seg, position) {
        let extension = json!({
            "url": "http://hl7.org/fhir/StructureDefinition/event-location",
            "valueReference": ctx.reference(place),
        });
        push(ctx.resource_mut(observed), "extension", extension);
    }
}

/// Where an observation took place: the PRT's location (PRT-9) with its
/// address (PRT-14) when the location has none, else a Location of the
/// address alone.
fn event_location<'m>(ctx: &mut Context<'m>, prt: Seg<'m>, position: usize) -> Option<Handle> {
    let address = prt.rep(14).and_then(address::xad);
    match prt.rep(9).and_then(|pl| location::pl(ctx, pl)) {
        Some(place) => {
            let resource = ctx.resource_mut(place);
            put_new(resource, "address", address);
            Some(place)
        }
        None => {
            let mut place = positioned(ctx, "Location", position);
            place["address"] = address?;
            Some(ctx.add(place, None))
        }
    }
}

/// Adds a participant to the patient's CareTeam: the person as member
/// (on behalf of the organization), else the organization.
fn care_team_member<'m>(
    ctx: &mut Context<'m>,
    part: &Participation<'m>,
    patient: Handle,
    position: usize,
) {
    let seg = part.seg;
    let person = practitioner::reference(ctx, seg.rep(part.fields.person));
    let organization = seg
        .rep(part.fields.organization)
        .and_then(|xon| organization::xon(ctx, xon))
        .map(|h| ctx.reference(h));
    let (member, on_behalf) = match (person, organization) {
        (Some(person), organization) => (person, organization),
        (None, Some(organization)) => (organization, None),
        (None, None) => return,
    };
    let team = care_team(ctx, patient, position);
    let mut participant = json!({ "member": member });
    put(
        &mut participant,
        "role",
        part.role.clone().map(|r| json!([r])),
    );
    put(&mut participant, "period", part.period.clone());
    put(&mut participant, "onBehalfOf", on_behalf);
    push(ctx.resource_mut(team), "participant", participant);
}

/// A PractitionerRole of the participation: identifier (ROL-1, PRT-1),
/// code (the role), person (ROL-4, PRT-5, whose address PRT-14 becomes),
/// specialty (PRT-6), period, telecom (ROL-12, PRT-15), location (ROL-13,
/// PRT-9) and organization (ROL-14, PRT-8). Its id derives from the
/// identifier when that has a system; else from the person, the role and
/// the organization, since senders often number participations per message
/// (`1`), which must not merge different people's roles. `None` when it
/// names neither a person nor an organization.
fn practitioner_role<'m>(ctx: &mut Context<'m>, part: &Participation<'m>) -> Option<Handle> {
    let (seg, fields) = (part.seg, part.fields);
    let person = seg
        .rep(fields.person)
        .and_then(|xcn| practitioner::xcn(ctx, xcn));
    if let Some(person) = person
        && let Some(home) = fields
            .address
            .and_then(|n| seg.rep(n))
            .and_then(address::xad)
    {
        let practitioner = ctx.resource_mut(person);
        put_new(practitioner, "address", Some(json!([home])));
    }
    let person = person.map(|h| ctx.reference(h));
    let organization = seg
        .rep(fields.organization)
        .and_then(|xon| organization::xon(ctx, xon))
        .map(|h| ctx.reference(h));
    if person.is_none() && organization.is_none() {
        return None;
    }
    let identifiers: Vec<Value<'m>> = seg
        .rep(fields.instance)
        .and_then(|r| identifier::ei(&r, 1))
        .into_iter()
        .collect();
    let query = identifier::conditional_query(&identifiers);
    let id = match &query {
        Some(_) => {
            let [system, value] = identifier::key(&identifiers[0]);
            fhir::deterministic_id(&["PractitionerRole", system, value])
        }
        None => role_id(
            person.as_ref(),
            part.code.as_deref().unwrap_or_default(),
            organization.as_ref(),
        ),
    };
    if let Some(known) = ctx.existing(&id) {
        return Some(known);
    }
    let mut held = resource("PractitionerRole", id);
    put(&mut held, "identifier", Some(Value::Array(identifiers)));
    put(&mut held, "period", part.period.clone());
    put(&mut held, "practitioner", person);
    put(&mut held, "organization", organization);
    put(&mut held, "code", part.role.clone().map(|r| json!([r])));
    let specialty = fields
        .specialty
        .and_then(|n| seg.rep(n))
        .and_then(|r| codes::codeable_concept(&r));
    put(&mut held, "specialty", specialty.map(|s| json!([s])));
    let place = seg
        .rep(fields.location)
        .and_then(|pl| location::pl(ctx, pl));
    put(
        &mut held,
        "location",
        place.map(|h| json!([ctx.reference(h)])),
    );
    let telecoms: Vec<Value<'m>> = seg
        .reps(fields.telecom)
        .filter_map(|xtn| telecom::xtn(xtn, None))
        .collect();
    put(&mut held, "telecom", Some(Value::Array(telecoms)));
    Some(ctx.add(held, query))
}

/// The PractitionerRole of `person` (a reference) for `organization` (a
/// reference) in the role `code` (a system and a code), as a field of
/// another segment names it: one per person, role and organization across
/// messages, made when the message does not hold it yet.
pub fn held_role<'m>(
    ctx: &mut Context<'m>,
    person: Option<Value<'m>>,
    code: Option<(&'static str, &'static str)>,
    organization: Option<Value<'m>>,
) -> Handle {
    let key = code.map_or("", |(_, code)| code);
    let id = role_id(person.as_ref(), key, organization.as_ref());
    if let Some(known) = ctx.existing(&id) {
        return known;
    }
    let mut role = resource("PractitionerRole", id);
    put(&mut role, "practitioner", person);
    put(&mut role, "organization", organization);
    let code = code.map(|(system, code)| json!([codes::table_concept(system, code)]));
    put(&mut role, "code", code);
    ctx.add(role, None)
}

/// The id of the PractitionerRole of `person` in the role `code` for
/// `organization` (references, either may be absent): the same role of the
/// same person is one resource across messages.
pub fn role_id(person: Option<&Value<'_>>, code: &str, organization: Option<&Value<'_>>) -> String {
    fn reference<'v>(r: Option<&'v Value<'_>>) -> &'v str {
        r.and_then(|r| r["reference"].as_str()).unwrap_or("")
    }
    fhir::deterministic_id(&[
        "PractitionerRole",
        reference(person),
        code,
        reference(organization),
    ])
}

/// The patient's CareTeam, made at the first participation that needs it.
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

//! ORC and OBR → ServiceRequest (IG `ORC[ServiceRequest]`, `OBR[ServiceRequest]`).

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Parts, Rep, Seg, push, put, put_new, resource};
use crate::datatypes::{address, codes, identifier, quantity, telecom, time};
use crate::references::{organization, practitioner};
use crate::segments::{participation, positioned};

/// The order identifiers of an ORC/OBR pair: placer (ORC-2, else OBR-2) and
/// filler (ORC-3, else OBR-3), typed `PLAC` and `FILL`.
pub fn identifiers<'m>(orc: Option<Seg<'m>>, obr: Option<Seg<'m>>) -> Vec<Value<'m>> {
    [(2, "PLAC"), (3, "FILL")]
        .into_iter()
        .filter_map(|(n, code)| {
            let from = |seg: Option<Seg<'m>>| seg?.rep(n).and_then(|r| identifier::ei(&r, 1));
            Some(identifier::typed(from(orc).or_else(|| from(obr))?, code))
        })
        .collect()
}

/// A resource of `resource_type` whose id derives from the first of
/// `identifiers`, else from the message and `position`.
pub fn identified<'m>(
    ctx: &Context<'m>,
    resource_type: &'static str,
    identifiers: &[Value<'m>],
    position: usize,
) -> Value<'m> {
    match identifiers.first() {
        Some(first) => resource(resource_type, identified_id(resource_type, first)),
        None => positioned(ctx, resource_type, position),
    }
}

/// The id of the resource of `resource_type` that [`identified`] names by
/// `first`, its first identifier.
fn identified_id(resource_type: &str, first: &Value<'_>) -> String {
    let [scope, value] = identifier::key(first);
    fhir::deterministic_id(&[resource_type, scope, value])
}

/// Maps an ORC and/or its OBR to a ServiceRequest of `patient`: identifiers,
/// status (ORC-5, else ORC-1), intent (`reflex-order` for OBR-11 `G`, else
/// `order`), the parent order OBR-29 as basedOn, code (OBR-4), what the
/// ORC alone says (see [`of_the_orc`]), requester (see [`requester`]),
/// call-back phones (OBR-17, ORC-14), priority (ORC-7.6, else OBR-27.6),
/// the requested time OBR-6 as occurrence and reasons (OBR-31). Without a
/// patient (ORM allows that), the required subject is marked unknown.
pub fn request<'m>(
    ctx: &mut Context<'m>,
    orc: Option<Seg<'m>>,
    obr: Option<Seg<'m>>,
    position: usize,
    patient: Option<Handle>,
    encounter: Option<Handle>,
) -> Handle {
    let identifiers = identifiers(orc, obr);
    let mut request = identified(ctx, "ServiceRequest", &identifiers, position);
    let query = identifier::conditional_query(&identifiers);
    put(&mut request, "identifier", Some(Value::Array(identifiers)));
    request["status"] = Value::from(status(orc));
    // A reflex test (OBR-11 `G`) is ordered by the results of its parent.
    let reflex = obr
        .and_then(|o| o.text(11))
        .is_some_and(|action| action == "G");
    request["intent"] = Value::from(if reflex { "reflex-order" } else { "order" });
    let parent = obr.and_then(|o| parent(ctx, o));
    put(&mut request, "basedOn", parent.map(|p| json!([p])));
    put(
        &mut request,
        "code",
        obr.and_then(|o| codes::codeable_concept(&o.rep(4)?)),
    );
    request["subject"] = crate::segments::subject(ctx, patient);
    put(
        &mut request,
        "encounter",
        encounter.map(|h| ctx.reference(h)),
    );
    if let Some(orc) = orc {
        of_the_orc(ctx, &mut request, orc);
    }
    put(&mut request, "requester", requester(ctx, orc, obr));
    call_back(&mut request, orc, obr);
    let priority = orc
        .and_then(|o| o.component(7, 6))
        .or_else(|| obr.and_then(|o| o.component(27, 6)))
        .and_then(|code| priority(&code));
    put(&mut request, "priority", priority.map(Value::from));
    if let Some(obr) = obr {
        // Kept for older senders; a TQ1 of the order replaces it.
        put(
            &mut request,
            "occurrenceDateTime",
            obr.datetime(6, ctx).map(Value::from),
        );
        let reasons = obr
            .reps(31)
            .filter_map(|r| codes::codeable_concept(&r))
            .collect();
        put(&mut request, "reasonCode", Some(Value::Array(reasons)));
    }
    ctx.add(request, query)
}

/// What only the ORC says of the order: its placer group ORC-4 (see
/// [`group`]), the status reason ORC-16 when ORC-5 gives no status, the
/// confidentiality ORC-28 as a security label, the authored time ORC-9 and
/// the order type ORC-29 as the location code.
fn of_the_orc<'m>(ctx: &Context<'m>, request: &mut Value<'m>, orc: Seg<'m>) {
    group(request, orc);
    if orc.text(5).is_none()
        && let Some(reason) = orc.rep(16).and_then(|r| codes::codeable_concept(&r))
    {
        let extension = json!({
            "url": "http://hl7.org/fhir/StructureDefinition/request-statusReason",
            "valueCodeableConcept": reason,
        });
        push(request, "extension", extension);
    }
    let label = orc.rep(28).and_then(|r| codes::cwe_coding(&r));
    put(request, "meta", label.map(|l| json!({ "security": [l] })));
    put(request, "authoredOn", orc.datetime(9, ctx).map(Value::from));
    let order_type = orc
        .rep(29)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0482")));
    put(request, "locationCode", order_type.map(|c| json!([c])));
}

/// The placer group number ORC-4 (IG `ORC[ServiceRequest]`): an EI is the
/// requisition (`PGN`); an EIP (v2.8.2, told apart by its subcomponents)
/// gives the placer's as the requisition and the filler's as an identifier
/// (`FGN`).
fn group<'m>(request: &mut Value<'m>, orc: Seg<'m>) {
    let Some(number) = orc.rep(4) else {
        return;
    };
    let (requisition, filler) = if number.has_subcomponents() {
        let part = |c| identifier::ei(&number.nested(c), 1);
        (part(1), part(2))
    } else {
        (identifier::ei(&number, 1), None)
    };
    put(
        request,
        "requisition",
        requisition.map(|r| identifier::typed(r, "PGN")),
    );
    if let Some(filler) = filler {
        push(request, "identifier", identifier::typed(filler, "FGN"));
    }
}

/// The order whose results gave rise to this one, OBR-29 (IG
/// `OBR[ServiceRequest]`): a reference to its ServiceRequest when the
/// message holds it, else a logical one by its filler number (which names
/// the parent result) or its placer number. The IG leaves OBR-29 unmapped
/// when OBR-50 (the parent's universal service id) is valued.
fn parent<'m>(ctx: &Context<'m>, obr: Seg<'m>) -> Option<Value<'m>> {
    if obr.rep(50).is_some() {
        return None;
    }
    let identifiers = identifier::eip(&obr.rep(29)?);
    let first = identifiers.first()?;
    if let Some(known) = ctx.existing(&identified_id("ServiceRequest", first)) {
        return Some(ctx.reference(known));
    }
    let named = identifiers.last()?.clone();
    Some(json!({ "type": "ServiceRequest", "identifier": named }))
}

/// Who placed the order: the ordering provider ORC-12 (else OBR-16) as a
/// PractitionerRole of the ordering facility ORC-21 (address ORC-22, phone
/// ORC-23), the provider's address ORC-24 on the Practitioner; a bare
/// Practitioner when an OBR alone names the provider.
fn requester<'m>(
    ctx: &mut Context<'m>,
    orc: Option<Seg<'m>>,
    obr: Option<Seg<'m>>,
) -> Option<Value<'m>> {
    let ordering = obr.and_then(|o| o.rep(16));
    let Some(orc) = orc else {
        return practitioner::reference(ctx, ordering);
    };
    let person = orc
        .rep(12)
        .or(ordering)
        .and_then(|xcn| practitioner::xcn(ctx, xcn));
    if let Some(person) = person {
        let address = orc.rep(24).and_then(address::xad).map(|a| json!([a]));
        put_new(ctx.resource_mut(person), "address", address);
    }
    let facility = orc
        .rep(21)
        .and_then(|xon| organization::xon_reached(ctx, xon, orc.rep(22), orc.reps(23)));
    let person = person.map(|h| ctx.reference(h));
    let facility = facility.map(|h| ctx.reference(h));
    if facility.is_none() && (person.is_none() || orc.rep(12).is_none()) {
        return person;
    }
    let role = participation::held_role(ctx, person, None, facility);
    Some(ctx.reference(role))
}

/// The order's call-back phone numbers: OBR-17 on the requester (on the
/// request when it names none), else ORC-14 on the request.
fn call_back<'m>(request: &mut Value<'m>, orc: Option<Seg<'m>>, obr: Option<Seg<'m>>) {
    let extension = |xtn| {
        let phone = telecom::xtn(xtn, None)?;
        Some(json!({
            "url": "http://hl7.org/fhir/StructureDefinition/servicerequest-order-callback-phone-number",
            "valueContactPoint": phone,
        }))
    };
    let of_requester: Vec<Value<'m>> = obr
        .into_iter()
        .flat_map(|o| o.reps(17))
        .filter_map(extension)
        .collect();
    let of_order = orc
        .into_iter()
        .flat_map(|o| o.reps(14))
        .filter_map(extension);
    let (held_by, extensions): (&mut Value<'m>, Vec<Value<'m>>) = match request.get("requester") {
        _ if of_requester.is_empty() => (request, of_order.collect()),
        Some(_) => (&mut request["requester"], of_requester),
        None => (request, of_requester),
    };
    for extension in extensions {
        push(held_by, "extension", extension);
    }
}

/// ORC-5 (table 0038), else ORC-1 (table 0119), as a request status.
pub(crate) fn status<'m>(orc: Option<Seg<'m>>) -> &'static str {
    let Some(orc) = orc else {
        return "unknown";
    };
    let by_status = orc.text(5).and_then(|code| {
        Some(match &*code {
            "A" | "IP" | "SC" => "active",
            "CA" | "DC" | "RP" => "revoked",
            "CM" => "completed",
            "ER" => "entered-in-error",
            "HD" => "on-hold",
            _ => return None,
        })
    });
    let by_control = orc.text(1).and_then(|code| {
        Some(match &*code {
            "NW" | "SC" | "XO" | "RL" | "SN" | "OK" | "RE" => "active",
            "CA" | "OC" | "DC" | "OD" | "CR" | "DR" => "revoked",
            "HD" | "OH" => "on-hold",
            _ => return None,
        })
    });
    by_status.or(by_control).unwrap_or("unknown")
}

/// TQ priority → request priority.
pub(crate) fn priority(code: &str) -> Option<&'static str> {
    Some(match code {
        "S" => "stat",
        "A" => "asap",
        "R" => "routine",
        "P" | "T" => "urgent",
        _ => return None,
    })
}

/// TQ1's timing, as both IG TQ1 maps read it: the repeat pattern's code
/// (TQ1-3.1, table 0335), with its repeat: the start and end (TQ1-7,
/// TQ1-8), else the service duration TQ1-6, as bounds; the explicit times
/// TQ1-4 as times of day (the IG's MedicationRequest map says `event`, a
/// dateTime, which a time without a date cannot be); the occurrence
/// duration TQ1-13; the number of occurrences TQ1-14. Durations in a unit
/// that is no time unit are left out. `None` when the TQ1 gives none of
/// them.
pub fn timing<'m>(ctx: &Context<'m>, tq1: Seg<'m>) -> Option<Value<'m>> {
    let mut repeat = json!({});
    let bounds = time::period(tq1.datetime(7, ctx), tq1.datetime(8, ctx));
    match bounds {
        Some(bounds) => repeat["boundsPeriod"] = bounds,
        None => put(
            &mut repeat,
            "boundsDuration",
            tq1.rep(6).and_then(|cq| duration(&cq)),
        ),
    }
    let times: Vec<Value<'m>> = tq1
        .reps(4)
        .filter_map(|tm| time::time_of_day(&tm.get(1)?))
        .map(Value::from)
        .collect();
    put(&mut repeat, "timeOfDay", Some(Value::Array(times)));
    if let Some(each) = tq1.rep(13).and_then(|cq| duration(&cq)) {
        repeat["duration"] = each["value"].clone();
        repeat["durationUnit"] = each["code"].clone();
    }
    let count = tq1.text(14).and_then(|c| quantity::whole(&c));
    put(
        &mut repeat,
        "countMax",
        count.filter(|c| *c > 0).map(Value::from),
    );
    let mut timing = json!({});
    let pattern = tq1.component(3, 1);
    let pattern = pattern.map(|code| codes::table_concept(codes::v2_table!("0335"), code));
    put(&mut timing, "code", pattern);
    put(
        &mut timing,
        "repeat",
        (repeat != json!({})).then_some(repeat),
    );
    (timing != json!({})).then_some(timing)
}

/// A CQ of a time unit as a Duration (UCUM, as FHIR requires); `None` for a
/// quantity in another unit or none.
fn duration<'m>(cq: &Rep<'m>) -> Option<Value<'m>> {
    let value = quantity::number(&cq.get(1)?)?;
    let units = cq.nested(2);
    let unit = [1, 2]
        .into_iter()
        .find_map(|c| time::ucum_time_unit(&units.part(c)?))?;
    Some(json!({
        "value": value,
        "unit": unit,
        "system": "http://unitsofmeasure.org",
        "code": unit,
    }))
}

/// Sets the priority of `request` from TQ1-9 (see [`priority`]).
pub fn tq1_priority<'m>(ctx: &mut Context<'m>, tq1: Seg<'m>, request: Handle) {
    let priority = tq1.component(9, 1).and_then(|code| priority(&code));
    put(
        ctx.resource_mut(request),
        "priority",
        priority.map(Value::from),
    );
}

/// Adds a TQ1 to the ServiceRequest `request` (IG `TQ1[ServiceRequest]`):
/// the quantity (TQ1-2), the [`timing`] as occurrenceTiming (in place of
/// OBR-6's occurrenceDateTime, which v2.5 keeps only for older senders),
/// the priority (TQ1-9) and the text instruction (TQ1-11) as a note. A
/// second TQ1 of the same order adds its note and priority but keeps the
/// first's timing.
pub fn tq1<'m>(ctx: &mut Context<'m>, tq1: Seg<'m>, request: Handle) {
    let amount = tq1.rep(2).and_then(|cq| quantity::cq(&cq));
    let timing = timing(ctx, tq1);
    let resource = ctx.resource_mut(request);
    put_new(resource, "quantityQuantity", amount);
    if timing.is_some() {
        // occurrence[x] is one of its kinds: the TQ1 outranks OBR-6.
        resource.remove("occurrenceDateTime");
    }
    put_new(resource, "occurrenceTiming", timing);
    if let Some(text) = tq1.text(11) {
        push(resource, "note", json!({ "text": text }));
    }
    tq1_priority(ctx, tq1, request);
}

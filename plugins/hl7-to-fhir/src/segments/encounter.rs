//! PV1 and PV2 → Encounter (IG `PV1[Encounter]`, `PV2[Encounter]`).

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Parts, Rep, Seg, push, put, resource};
use crate::datatypes::{codes, identifier, quantity, time};
use crate::references::{location, practitioner};
use crate::segments::positioned;

/// The participant fields of PV1, with their v3-ParticipationType code and text.
const PARTICIPANTS: [(usize, &str, &str); 5] = [
    (7, "ATND", "attender"),
    (8, "REF", "referrer"),
    (9, "CON", "consultant"),
    (17, "ADM", "admitter"),
    (52, "PART", "Participation"),
];

/// The location fields of PV1 with the status each gets, as the IG's
/// `PV1[Encounter]` map gives them: the pending location PV1-42 is
/// `reserved` for the patient, and PV1-3 is planned rather than active for
/// a preadmit (class `P`).
const LOCATIONS: [(usize, &str); 4] = [
    (3, "active"),
    (6, "completed"),
    (11, "active"),
    (42, "reserved"),
];

/// Maps a PV1 to an Encounter of `patient`. Its id derives from the visit
/// number (PV1-19) when there is one, else from the message and `position`.
/// `trigger` (MSH-9.2) sets the status when PV1-45 does not.
pub fn pv1<'m>(
    ctx: &mut Context<'m>,
    pv1: Seg<'m>,
    position: usize,
    patient: Option<Handle>,
    trigger: &str,
) -> Handle {
    // The visit number is a `VN`; the alternate visit id keeps the type
    // its sender gave it (IG `PV1[Encounter]`).
    let visit = pv1
        .rep(19)
        .and_then(identifier::cx)
        .map(|cx| identifier::typed(cx, "VN"));
    let alternate = pv1.rep(50).and_then(identifier::cx).map(|cx| {
        if cx.get("type").is_some() {
            cx
        } else {
            identifier::typed(cx, "VN")
        }
    });
    let identifiers: Vec<Value<'m>> = visit.into_iter().chain(alternate).collect();
    let mut encounter = match identifiers.first() {
        Some(visit) => {
            let [scope, value] = identifier::key(visit);
            let id = fhir::deterministic_id(&["Encounter", scope, value]);
            resource("Encounter", id)
        }
        None => positioned(ctx, "Encounter", position),
    };
    let query = identifier::conditional_query(&identifiers);
    put(
        &mut encounter,
        "identifier",
        Some(Value::Array(identifiers)),
    );
    let class_code = pv1.text(2);
    let start = pv1.datetime(44, ctx);
    let end = pv1.datetime(45, ctx);
    encounter["status"] = Value::from(status(class_code.as_deref(), end.is_some(), trigger));
    encounter["class"] = class(class_code.as_deref());
    put(
        &mut encounter,
        "type",
        pv1.rep(4)
            .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0007")))
            .map(|t| json!([t])),
    );
    put(
        &mut encounter,
        "serviceType",
        pv1.rep(10)
            .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0069"))),
    );
    put(&mut encounter, "subject", patient.map(|h| ctx.reference(h)));
    put(&mut encounter, "period", time::period(start, end));
    put(&mut encounter, "hospitalization", hospitalization(pv1));
    if let Some(place) = discharged_to(ctx, pv1) {
        encounter["hospitalization"]["destination"] = ctx.reference(place);
    }
    participants(ctx, pv1, &mut encounter);
    for (n, status) in LOCATIONS {
        let status = if n == 3 && class_code.as_deref() == Some("P") {
            "planned"
        } else {
            status
        };
        let Some(place) = pv1.rep(n).and_then(|r| location::pl(ctx, r)) else {
            continue;
        };
        let entry = json!({ "location": ctx.reference(place), "status": status });
        push(&mut encounter, "location", entry);
    }
    ctx.add(encounter, query)
}

/// HL7 table 0004 (patient class) → v3-ActCode; other codes keep table 0004.
fn class<'m>(code: Option<&str>) -> Value<'m> {
    let act = |code: &'static str, display: &'static str| json!({ "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": code, "display": display });
    match code {
        Some("E") => act("EMER", "emergency"),
        Some("I" | "B") => act("IMP", "inpatient encounter"),
        Some("O" | "R") => act("AMB", "ambulatory"),
        Some("P") => act("PRENC", "pre-admission"),
        Some(other) => json!({
            "system": codes::v2_table!("0004"),
            "code": codes::fhir_code(other.into()).into_owned(),
        }),
        None => {
            json!({ "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK" })
        }
    }
}

/// Cancelled by a cancel event; finished once discharged (PV1-45, or a
/// discharge event); planned for preadmits and pending admits; in progress
/// for admits, registrations and transfers; else by the class (PV1-2).
fn status(class: Option<&str>, discharged: bool, trigger: &str) -> &'static str {
    match trigger {
        "A11" | "A27" | "A38" => "cancelled",
        _ if discharged => "finished",
        "A03" => "finished",
        "A05" | "A14" => "planned",
        "A01" | "A02" | "A04" | "A06" | "A07" | "A12" | "A13" => "in-progress",
        _ if class == Some("P") => "planned",
        _ if class.is_none() => "unknown",
        _ => "in-progress",
    }
}

/// PV1-5, -13, -14, -15, -16, -36 and -38.
fn hospitalization<'m>(pv1: Seg<'m>) -> Option<Value<'m>> {
    let mut hospitalization = json!({});
    put(
        &mut hospitalization,
        "preAdmissionIdentifier",
        pv1.rep(5).and_then(identifier::cx),
    );
    for (n, key, table) in [
        (13, "reAdmission", codes::v2_table!("0092")),
        (14, "admitSource", codes::v2_table!("0023")),
        (36, "dischargeDisposition", codes::v2_table!("0112")),
    ] {
        put(
            &mut hospitalization,
            key,
            pv1.rep(n).and_then(|r| codes::table_cwe(&r, table)),
        );
    }
    for (n, key, table) in [
        (15, "specialArrangement", codes::v2_table!("0009")),
        (16, "specialCourtesy", codes::v2_table!("0099")),
        (38, "dietPreference", codes::v2_table!("0114")),
    ] {
        let concepts = pv1
            .reps(n)
            .filter_map(|r| codes::table_cwe(&r, table))
            .collect();
        put(&mut hospitalization, key, Some(Value::Array(concepts)));
    }
    (hospitalization != json!({})).then_some(hospitalization)
}

fn participants<'m>(ctx: &mut Context<'m>, pv1: Seg<'m>, encounter: &mut Value<'m>) {
    for (n, code, text) in PARTICIPANTS {
        for rep in pv1.reps(n) {
            if let Some(participant) = participant(ctx, rep, code, text) {
                push(encounter, "participant", participant);
            }
        }
    }
}

/// An Encounter participant: the Practitioner of an XCN, with its
/// v3-ParticipationType `code` and `text` as type.
fn participant<'m>(
    ctx: &mut Context<'m>,
    xcn: Rep<'m>,
    code: &'static str,
    text: &'static str,
) -> Option<Value<'m>> {
    let doctor = practitioner::reference(ctx, Some(xcn))?;
    let kind = json!({ "coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
        "code": code,
    }], "text": text });
    Some(json!({ "type": [kind], "individual": doctor }))
}

/// Where the patient was discharged to (PV1-37, a DLD: the location as a
/// CWE) as a Location named by its text, else its code; one per code.
fn discharged_to<'m>(ctx: &mut Context<'m>, pv1: Seg<'m>) -> Option<Handle> {
    let place = pv1.rep(37)?.nested(1);
    let code = place.part(1);
    let name = place.part(2).or_else(|| code.clone())?;
    let id = fhir::deterministic_id(&["Location", "discharge", code.as_deref().unwrap_or(&name)]);
    if let Some(known) = ctx.existing(&id) {
        return Some(known);
    }
    let mut location = resource("Location", id);
    put(
        &mut location,
        "identifier",
        code.map(|code| json!([{ "value": code }])),
    );
    location["name"] = Value::from(name);
    Some(ctx.add(location, None))
}

/// R5's planned start and end of an encounter, as the IG carries them in R4.
const PLANNED: [(usize, &str); 2] = [
    (
        8,
        "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedStartDate",
    ),
    (
        9,
        "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate",
    ),
];

/// Adds a PV2 to `encounter`: the prior pending location PV2-1 (planned),
/// admit reason (PV2-3), the expected admit and discharge times PV2-8/-9
/// (R5's planned start and end), length of stay in days (PV2-11), the visit
/// description PV2-12 as narrative, the referral source PV2-13 as a
/// referrer, the visit protection indicator PV2-22 as a security label,
/// priority (PV2-25, table 0217) and mode of arrival (PV2-38, table 0430).
pub fn pv2<'m>(ctx: &mut Context<'m>, pv2: Seg<'m>, encounter: Handle) {
    let reason = pv2.rep(3).and_then(|r| codes::codeable_concept(&r));
    let length = pv2.text(11).and_then(|days| quantity::number(&days)).map(|days| {
        json!({ "value": days, "unit": "days", "system": "http://unitsofmeasure.org", "code": "d" })
    });
    let priority = pv2
        .rep(25)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0217")));
    let pending = pv2.rep(1).and_then(|pl| location::pl(ctx, pl));
    let pending = pending.map(|h| json!({ "location": ctx.reference(h), "status": "planned" }));
    let referrer = pv2
        .rep(13)
        .and_then(|xcn| participant(ctx, xcn, "REF", "referrer"));
    let mut extensions: Vec<Value<'m>> = PLANNED
        .into_iter()
        .filter_map(|(n, url)| {
            let at = pv2.datetime(n, ctx)?;
            Some(json!({ "url": url, "valueDateTime": at }))
        })
        .collect();
    let arrival = pv2
        .rep(38)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0430")))
        .and_then(|mut concept| codes::first_coding(&mut concept).map(|c| c.clone()));
    if let Some(arrival) = arrival {
        extensions.push(json!({
            "url": "http://hl7.org/fhir/StructureDefinition/encounter-modeOfArrival",
            "valueCoding": arrival,
        }));
    }
    let protected = pv2.text(22).filter(|flag| flag == "Y" || flag == "N");
    let resource = ctx.resource_mut(encounter);
    if let Some(flag) = protected {
        let label = json!({ "system": codes::v2_table!("0136"), "code": flag });
        push(&mut resource["meta"], "security", label);
    }
    put(resource, "text", pv2.text(12).map(|t| narrative(&t)));
    put(resource, "reasonCode", reason.map(|r| json!([r])));
    put(resource, "length", length);
    put(resource, "priority", priority);
    if let Some(pending) = pending {
        push(resource, "location", pending);
    }
    if let Some(referrer) = referrer {
        push(resource, "participant", referrer);
    }
    for extension in extensions {
        push(resource, "extension", extension);
    }
}

/// `text` as a FHIR Narrative that adds to the resource's data: an XHTML
/// div holding the text, escaped, its line breaks (`\.br\`) as `<br/>`.
fn narrative<'m>(text: &str) -> Value<'m> {
    let mut div = String::with_capacity(text.len() + 48);
    div.push_str(r#"<div xmlns="http://www.w3.org/1999/xhtml">"#);
    for c in text.chars() {
        match c {
            '&' => div.push_str("&amp;"),
            '<' => div.push_str("&lt;"),
            '>' => div.push_str("&gt;"),
            '\n' => div.push_str("<br/>"),
            '\r' => {}
            c => div.push(c),
        }
    }
    div.push_str("</div>");
    json!({ "status": "additional", "div": div })
}

//! PID, PD1 and MRG → Patient (IG `PID[Patient]`, `PD1[Patient]`), and what
//! a visit says about its patient (IG `PV1[Patient]`).

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::Realm;
use crate::context::{Context, Handle, Seg, Text, object, push, put, resource};
use crate::datatypes::{address, codes, identifier, name, quantity, telecom, time};
use crate::references::{organization, practitioner};
use crate::segments::{observation, one_per, race_ethnicity};

/// Maps a PID to a Patient. Its id derives from the first identifier of
/// PID-3 (else PID-2, PID-4), so every message about the patient updates the
/// same resource; without any, from the message and `position`. The
/// mother PID-21 identifies becomes a RelatedPerson.
pub fn pid<'m>(ctx: &mut Context<'m>, pid: Seg<'m>, position: usize) -> Handle {
    let identifiers = identifiers(pid);
    let id = match identifiers.first() {
        Some(first) => {
            let [scope, value] = identifier::key(first);
            fhir::deterministic_id(&["Patient", scope, value])
        }
        None => ctx.message_id("Patient", position),
    };
    let mut patient = resource("Patient", id);
    let query = identifier::conditional_query(&identifiers);
    put(&mut patient, "identifier", Some(Value::Array(identifiers)));
    let names = [5, 9]
        .into_iter()
        .flat_map(|n| pid.reps(n))
        .filter_map(name::xpn);
    put(&mut patient, "name", Some(names.collect()));
    if let Some(maiden) = pid
        .rep(6)
        .and_then(name::xpn)
        .and_then(|mother| mothers_maiden_name(&mother))
    {
        push(&mut patient, "extension", maiden);
    }
    birth(ctx, pid, &mut patient);
    put(
        &mut patient,
        "gender",
        pid.text(8).and_then(gender).map(Value::from),
    );
    demographics(pid, &mut patient);
    animal(pid, &mut patient);
    if ctx.realm() == Realm::Us {
        race_ethnicity::us_core(pid, &mut patient);
    }
    deceased(ctx, pid, &mut patient);
    let patient = ctx.add(patient, query);
    mother(ctx, pid, patient);
    patient
}

/// PID-2, PID-3, PID-4 (CX), PID-19 (SSN) and PID-20 (driver's licence).
fn identifiers<'m>(pid: Seg<'m>) -> Vec<Value<'m>> {
    let mut identifiers: Vec<Value<'m>> = [3, 2, 4]
        .into_iter()
        .flat_map(|n| pid.reps(n))
        .filter_map(identifier::cx)
        .collect();
    identifiers.extend(pid.text(19).map(identifier::ssn));
    if let Some(licence) = pid.rep(20) {
        let mut dl = object(3, "value", licence.get(1));
        let end = licence.get(3).and_then(|t| time::date(&t));
        put(&mut dl, "period", time::period(None, end));
        if dl["value"].is_string() {
            identifiers.push(identifier::typed(dl, "DL"));
        }
    }
    identifiers
}

/// The family and given names of `name` as the mother's maiden name; none
/// when it has neither (an XPN of only a name type).
fn mothers_maiden_name<'m>(name: &Value<'m>) -> Option<Value<'m>> {
    let parts: Vec<&str> = std::iter::once(&name["family"])
        .chain(name["given"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    (!parts.is_empty()).then(|| {
        json!({
            "url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
            "valueString": parts.join(" "),
        })
    })
}

/// PID-7: birthDate, and the birth time as an extension when a time is given.
fn birth<'m>(ctx: &Context<'m>, pid: Seg<'m>, patient: &mut Value<'m>) {
    let Some(date) = pid.date(7) else {
        return;
    };
    patient["birthDate"] = Value::from(date);
    if let Some(datetime) = pid.datetime(7, ctx).filter(|d| time::is_instant(d)) {
        patient["_birthDate"] = json!({ "extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
            "valueDateTime": datetime,
        }]});
    }
}

/// HL7 table 0001 → FHIR AdministrativeGender.
pub fn gender(code: Text<'_>) -> Option<&'static str> {
    Some(match &*code {
        "M" => "male",
        "F" => "female",
        "O" | "A" | "N" | "X" => "other",
        "U" => "unknown",
        _ => return None,
    })
}

/// Address, telecom, language, marital status, religion, birth place,
/// multiple birth, citizenship and nationality.
fn demographics<'m>(pid: Seg<'m>, patient: &mut Value<'m>) {
    let mut addresses: Vec<Value<'m>> = pid.reps(11).filter_map(address::xad).collect();
    if let Some(county) = pid.text(12) {
        county_of(&mut addresses, county);
    }
    put(patient, "address", Some(Value::Array(addresses)));
    let telecoms = [(13, Some("home")), (14, Some("work")), (40, None)]
        .into_iter()
        .flat_map(|(n, default_use)| {
            pid.reps(n)
                .filter_map(move |rep| telecom::xtn(rep, default_use))
        });
    put(patient, "telecom", Some(telecoms.collect()));
    let language = pid
        .rep(15)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0296")));
    put(
        patient,
        "communication",
        language.map(|l| json!([{ "language": l }])),
    );
    put(
        patient,
        "maritalStatus",
        pid.rep(16)
            .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0002"))),
    );
    if let Some(religion) = pid
        .rep(17)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0006")))
    {
        extend(patient, "religion", "valueCodeableConcept", religion);
    }
    if let Some(place) = pid.text(23) {
        let address = json!({ "text": place });
        extend(patient, "birthPlace", "valueAddress", address);
    }
    match (pid.text(25).and_then(|n| quantity::whole(&n)), pid.text(24)) {
        (Some(order), _) => patient["multipleBirthInteger"] = Value::from(order),
        (None, Some(flag)) if flag == "Y" || flag == "N" => {
            patient["multipleBirthBoolean"] = Value::Bool(flag == "Y");
        }
        _ => {}
    }
    for (n, url) in [
        (
            26,
            "http://hl7.org/fhir/StructureDefinition/patient-citizenship",
        ),
        (
            28,
            "http://hl7.org/fhir/StructureDefinition/patient-nationality",
        ),
        (
            39,
            "http://hl7.org/fhir/StructureDefinition/patient-citizenship",
        ),
    ] {
        for concept in pid.reps(n).filter_map(|r| codes::codeable_concept(&r)) {
            push(
                patient,
                "extension",
                json!({ "url": url, "extension": [{ "url": "code", "valueCodeableConcept": concept }] }),
            );
        }
    }
}

/// The county PID-12 as the IG places it: the district of the one address
/// that names none, else of an address of its own (PID-11 repeats, PID-12
/// does not, so it belongs to no one repetition of several).
fn county_of<'m>(addresses: &mut Vec<Value<'m>>, county: Text<'m>) {
    match addresses.as_mut_slice() {
        [only] if only.get("district").is_none() => only["district"] = Value::from(county),
        [only] if only["district"].as_str() == Some(&*county) => {}
        _ => addresses.push(json!({ "district": county })),
    }
}

/// The animal a patient is (PID-35 species, PID-36 breed), as the
/// `patient-animal` extension.
fn animal<'m>(pid: Seg<'m>, patient: &mut Value<'m>) {
    let parts: Vec<Value<'m>> = [(35, "species"), (36, "breed")]
        .into_iter()
        .filter_map(|(n, url)| {
            let concept = pid.rep(n).and_then(|r| codes::codeable_concept(&r))?;
            Some(json!({ "url": url, "valueCodeableConcept": concept }))
        })
        .collect();
    if !parts.is_empty() {
        extend(patient, "animal", "extension", Value::Array(parts));
    }
}

/// The patient's mother as PID-21 identifies her (IG
/// `CX[RelatedPerson-Mother]`): a RelatedPerson with those identifiers and
/// the relationship `MTH`, one per patient.
fn mother<'m>(ctx: &mut Context<'m>, pid: Seg<'m>, patient: Handle) {
    let identifiers: Vec<Value<'m>> = pid.reps(21).filter_map(identifier::cx).collect();
    if identifiers.is_empty() {
        return;
    }
    let id = one_per(ctx, "RelatedPerson", "mother", patient);
    let mut mother = resource("RelatedPerson", id);
    mother["identifier"] = Value::Array(identifiers);
    mother["patient"] = ctx.reference(patient);
    mother["relationship"] = json!([codes::table_concept(
        "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
        "MTH"
    )]);
    ctx.add(mother, None);
}

/// Adds FHIR's core patient extension `patient-<name>` to `patient`, its
/// value under `key` (`valueString`, `valueCodeableConcept`, ...).
fn extend<'m>(patient: &mut Value<'m>, name: &str, key: &'static str, value: Value<'m>) {
    let url = ["http://hl7.org/fhir/StructureDefinition/patient-", name].concat();
    let mut extension = json!({ "url": url });
    extension[key] = value;
    push(patient, "extension", extension);
}

/// PID-29 (death time), else PID-30 (death indicator).
fn deceased<'m>(ctx: &Context<'m>, pid: Seg<'m>, patient: &mut Value<'m>) {
    if let Some(when) = pid.datetime(29, ctx) {
        patient["deceasedDateTime"] = Value::from(when);
    } else if let Some(flag) = pid.text(30).filter(|f| f == "Y" || f == "N") {
        patient["deceasedBoolean"] = Value::Bool(flag == "Y");
    }
}

/// Adds a PD1 to `patient` (IG `PD1[Patient]`): the primary facility
/// (PD1-3) and the primary care provider (PD1-4) become generalPractitioner,
/// the handicap (PD1-6, table 0295) the disability extension and the place of
/// worship (PD1-14) the congregation extension. The living will (PD1-7)
/// becomes an Observation of its own ([`observation::living_will`]).
pub fn pd1<'m>(ctx: &mut Context<'m>, pd1: Seg<'m>, patient: Handle) {
    let facility = pd1
        .rep(3)
        .and_then(|r| organization::xon(ctx, r))
        .map(|h| ctx.reference(h));
    let doctors: Vec<Value<'m>> = pd1
        .reps(4)
        .filter_map(|r| practitioner::reference(ctx, Some(r)))
        .collect();
    observation::living_will(ctx, pd1, patient);
    let resource = ctx.resource_mut(patient);
    for reference in facility.into_iter().chain(doctors) {
        push(resource, "generalPractitioner", reference);
    }
    if let Some(handicap) = pd1
        .rep(6)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0295")))
    {
        extend(resource, "disability", "valueCodeableConcept", handicap);
    }
    for congregation in pd1.reps(14).filter_map(|r| r.get(1)) {
        extend(resource, "congregation", "valueString", congregation.into());
    }
}

/// Adds a DB1 about the patient (DB1-2 `PT`, or not said) to `patient`: the
/// disabled person identifier DB1-3. A DB1 about a guarantor or an insured
/// adds nothing. There is no IG map at hand; this follows the HL7 v2.8 field
/// definitions.
pub fn db1<'m>(ctx: &mut Context<'m>, db1: Seg<'m>, patient: Handle) {
    if db1.text(2).is_some_and(|person| person != "PT") {
        return;
    }
    let numbers: Vec<Value<'m>> = db1.reps(3).filter_map(identifier::cx).collect();
    let resource = ctx.resource_mut(patient);
    for number in numbers {
        identifier::add_new(resource, number);
    }
}

/// Maps an MRG (merge) to the Patient that `patient` replaces: identified by
/// MRG-1 (and MRG-4), named by MRG-7, inactive, linked both ways.
pub fn mrg<'m>(ctx: &mut Context<'m>, mrg: Seg<'m>, patient: Handle) -> Option<Handle> {
    let identifiers: Vec<Value<'m>> = [1, 4]
        .into_iter()
        .flat_map(|n| mrg.reps(n))
        .filter_map(identifier::cx)
        .collect();
    let [scope, value] = identifier::key(identifiers.first()?);
    let id = fhir::deterministic_id(&["Patient", scope, value]);
    let mut old = json!({
        "resourceType": "Patient",
        "id": id,
        "active": false,
        "link": [{ "other": ctx.reference(patient), "type": "replaced-by" }],
    });
    let query = identifier::conditional_query(&identifiers);
    put(&mut old, "identifier", Some(Value::Array(identifiers)));
    put(
        &mut old,
        "name",
        mrg.rep(7).and_then(name::xpn).map(|n| json!([n])),
    );
    let old = ctx.add(old, query);
    if old != patient {
        let link = json!({ "other": ctx.reference(old), "type": "replaces" });
        push(ctx.resource_mut(patient), "link", link);
    }
    Some(old)
}

/// A visit's facts about its patient (IG `PV1[Patient]`): the VIP indicator
/// PV1-16 (table 0099) as the patient-importance extension, once.
pub fn pv1<'m>(ctx: &mut Context<'m>, pv1: Seg<'m>, patient: Handle) {
    let Some(importance) = pv1
        .rep(16)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0099")))
    else {
        return;
    };
    const IMPORTANCE: &str = "http://hl7.org/fhir/StructureDefinition/patient-importance";
    let resource = ctx.resource_mut(patient);
    let extensions = resource.get("extension").and_then(|e| e.as_array());
    // A second visit of the same patient does not say it twice.
    if extensions.is_some_and(|e| e.iter().any(|x| x["url"] == IMPORTANCE)) {
        return;
    }
    let extension = json!({ "url": IMPORTANCE, "valueCodeableConcept": importance });
    push(resource, "extension", extension);
}

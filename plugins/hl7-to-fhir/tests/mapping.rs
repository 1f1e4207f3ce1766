//! Ensures that `map_message` maps the main message families to linked,
//! deterministic, idempotent FHIR bundles, and reports problems with their
//! place in the message.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hl7_to_fhir::{MapError, Options, map_message};
use serde_json::Value;

const ADT: &str = "MSH|^~\\&|ADT1|HOSP^1.2.3^ISO|FHIR|DEST|20240102030405+0100||ADT^A01^ADT_A01|MSG1|P|2.5.1\r\
EVN|A01|20240102030405\r\
PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN^Q||19800101|M|||1 MAIN ST^^SPRINGFIELD^IL^62701||^PRN^PH^^^555^5551234\r\
NK1|1|DOE^JANE|SPO^Spouse^HL70063\r\
PV1|1|I|WARD^101^1|||||||MED|||||||||V100^^^HOSP&1.2.840.99&ISO^VN|||||||||||||||||||||||||20240102030000+0100\r\
AL1|1|DA|70618^Penicillin^RXNORM|SV|Hives\r\
DG1|1||I10^Essential hypertension^I10|||A\r";

const ORU: &str = "MSH|^~\\&|LAB|HOSP|||20240102030405+0100||ORU^R01|MSG2|P|2.5.1\r\
PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r\
ORC|RE|P100|F200\r\
OBR|1|P100|F200|24317-0^Hemogram^LN|||20240102020000+0100||||||||||||||||||F\r\
OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL^g/dL^UCUM|12-16|N|||F|||20240102020000+0100\r\
OBX|2|SN|2345-7^Glucose^LN||>^200|mg/dL|||||F\r\
NTE|1||Repeat tomorrow\r\
SPM|1|S1&LAB||BLD^Blood^HL70487\r";

fn resources<'b>(bundle: &'b Value, resource_type: &str) -> Vec<&'b Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["resourceType"] == resource_type)
        .collect()
}

/// The resource of `bundle` that `reference` (by fullUrl) names.
fn resolve(bundle: &Value, reference: &Value) -> Value {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["fullUrl"] == reference["reference"])
        .unwrap_or_else(|| panic!("{reference} names no entry of the bundle"))["resource"]
        .clone()
}

#[test]
fn adt_maps_patient_visit_and_clinical_segments_linked_by_full_url() {
    let bundle = map_message(ADT, &Options::default()).unwrap();
    assert_eq!(bundle["type"], "transaction");
    let patient = resources(&bundle, "Patient")[0];
    assert_eq!(
        patient["request"]["url"],
        "Patient?identifier=urn:oid:1.2.840.99|123456"
    );
    assert_eq!(patient["resource"]["birthDate"], "1980-01-01");
    assert_eq!(patient["resource"]["gender"], "male");
    let encounter = &resources(&bundle, "Encounter")[0]["resource"];
    assert_eq!(encounter["class"]["code"], "IMP");
    assert_eq!(encounter["status"], "in-progress");
    assert_eq!(encounter["period"]["start"], "2024-01-02T03:00:00+01:00");
    assert_eq!(encounter["subject"]["reference"], patient["fullUrl"]);
    let allergy = &resources(&bundle, "AllergyIntolerance")[0]["resource"];
    assert_eq!(
        allergy["code"]["coding"][0]["system"],
        "http://www.nlm.nih.gov/research/umls/rxnorm"
    );
    assert_eq!(allergy["reaction"][0]["severity"], "severe");
    // The IG sets the criticality from AL1-4 with reactions too.
    assert_eq!(allergy["criticality"], "high");
    let condition = &resources(&bundle, "Condition")[0]["resource"];
    assert_eq!(
        condition["code"]["coding"][0]["system"],
        "http://hl7.org/fhir/sid/icd-10-cm"
    );
    assert_eq!(resources(&bundle, "RelatedPerson").len(), 1);
    assert_eq!(resources(&bundle, "Provenance").len(), 1);
}

#[test]
fn the_same_message_gives_the_same_bundle() {
    let options = Options::default();
    assert_eq!(
        map_message(ADT, &options).unwrap(),
        map_message(ADT, &options).unwrap()
    );
}

#[test]
fn oru_maps_report_results_notes_and_specimen() {
    let bundle = map_message(ORU, &Options::default()).unwrap();
    let report = &resources(&bundle, "DiagnosticReport")[0]["resource"];
    assert_eq!(report["status"], "final");
    assert_eq!(report["result"].as_array().unwrap().len(), 2);
    assert_eq!(report["specimen"].as_array().unwrap().len(), 1);
    let observations = resources(&bundle, "Observation");
    let hemoglobin = &observations[0]["resource"];
    assert_eq!(hemoglobin["valueQuantity"]["value"], 13.5);
    assert_eq!(hemoglobin["valueQuantity"]["code"], "g/dL");
    assert_eq!(hemoglobin["effectiveDateTime"], "2024-01-02T02:00:00+01:00");
    let glucose = &observations[1]["resource"];
    assert_eq!(glucose["valueQuantity"]["comparator"], ">");
    assert_eq!(glucose["note"][0]["text"], "Repeat tomorrow");
    assert_eq!(resources(&bundle, "ServiceRequest").len(), 1);
}

/// Ensures that a code padded with runs of whitespace, as senders write
/// them, becomes a valid FHIR `code` (single spaces between its words).
#[test]
fn padded_codes_become_valid_fhir_codes() {
    // PV1-14, the admit source, and NK1-3, the relationship.
    let message = ADT
        .replace(
            "|MED|||||||||V100",
            "|MED||||NHS  Provider\tGeneral|||||V100",
        )
        .replace("SPO^Spouse^HL70063", "SPO  X^Spouse^HL70063");
    let bundle = map_message(&message, &Options::default()).unwrap();
    let encounter = &resources(&bundle, "Encounter")[0]["resource"];
    assert_eq!(
        encounter["hospitalization"]["admitSource"]["coding"][0]["code"],
        "NHS Provider General"
    );
    let related = &resources(&bundle, "RelatedPerson")[0]["resource"];
    assert_eq!(related["relationship"][0]["coding"][0]["code"], "SPO X");
}

/// Ensures that a repeated value of a type other than text becomes one
/// component per repetition, each with the code, its value and the
/// reference range, and that repeated text stays one string.
#[test]
fn a_repeated_value_becomes_components() {
    let message = ORU.replace(
        "OBX|2|SN|2345-7^Glucose^LN||>^200|mg/dL|||||F",
        "OBX|2|NM|8867-4^Heart rate^LN||60~~120|/min^^UCUM|70-80|N|||F\r\
         OBX|3|TX|8251-1^Note^LN||first~second||||||F",
    );
    let bundle = map_message(&message, &Options::default()).unwrap();
    let observations = resources(&bundle, "Observation");
    let heart_rate = &observations[1]["resource"];
    let components = heart_rate["component"].as_array().unwrap();
    let values: Vec<&Value> = components
        .iter()
        .map(|c| &c["valueQuantity"]["value"])
        .collect();
    assert_eq!(values, [60, 120], "empty repetitions give no component");
    for component in components {
        assert_eq!(component["code"], heart_rate["code"]);
        assert_eq!(component["valueQuantity"]["code"], "/min");
        assert_eq!(component["referenceRange"][0]["text"], "70-80");
    }
    assert!(heart_rate.get("valueQuantity").is_none());
    assert!(heart_rate.get("referenceRange").is_none());
    assert_eq!(heart_rate["interpretation"][0]["coding"][0]["code"], "N");
    let note = &observations[2]["resource"];
    assert_eq!(note["valueString"], "first\nsecond");
    assert!(note.get("component").is_none());
}

/// Ensures that a pharmacy order maps to a MedicationRequest for a
/// Medication, with the order's identifiers, status, dose range, dispense
/// request, substitution, the route of its RXR and the timing of the TQ1
/// that comes before the RXO.
#[test]
fn a_pharmacy_order_maps_to_a_medication_request() {
    let message = "MSH|^~\\&|CPOE|HOSP|PHARM|HOSP|20240102030405+0100||OMP^O09|MSG3|P|2.5.1\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r\
        ORC|NW|P300^CPOE|||SC||||20240102030000+0100|||1234^WELBY^MARCUS\r\
        TQ1|1||TID||||20240102080000+0100|20240109080000+0100|S|If pulse above 100|With food|||21\r\
        RXO|50111032701^Hydralazine 25 MG Oral Tablet^NDC|1|2|TAB^tablet|TAB^Tablet^HL70663||||G||30|TAB^tablet|2\r\
        RXR|PO^Oral^HL70162||^^^||ROUTE^Check site^L\r\
        RXC|B|0338-0049^Sodium chloride 0.9%^NDC|250|mL^mL^UCUM|0.9|g/dL^g/dL^UCUM\r";
    let bundle = map_message(message, &Options::default()).unwrap();
    let request = &resources(&bundle, "MedicationRequest")[0]["resource"];
    let medication = &resources(&bundle, "Medication")[0];
    // An RXC is an ingredient of the ordered product, with its strength.
    let ingredient = &medication["resource"]["ingredient"][0];
    assert_eq!(
        ingredient["itemCodeableConcept"]["coding"][0]["code"],
        "0338-0049"
    );
    let strength = &ingredient["strength"];
    assert_eq!(strength["numerator"]["value"], 0.9);
    assert_eq!(strength["numerator"]["code"], "g/dL");
    assert_eq!(strength["denominator"]["value"], 1);
    assert_eq!(
        request["medicationReference"]["reference"],
        medication["fullUrl"]
    );
    assert_eq!(
        medication["resource"]["code"]["coding"][0]["code"],
        "50111032701"
    );
    assert_eq!(medication["resource"]["form"]["coding"][0]["code"], "TAB");
    assert_eq!(request["intent"], "original-order");
    assert_eq!(request["status"], "active");
    assert_eq!(request["identifier"][0]["value"], "P300");
    assert_eq!(request["authoredOn"], "2024-01-02T03:00:00+01:00");
    let patient = &resources(&bundle, "Patient")[0];
    assert_eq!(request["subject"]["reference"], patient["fullUrl"]);
    let dosage = &request["dosageInstruction"][0];
    let range = &dosage["doseAndRate"][0]["doseRange"];
    assert_eq!(
        (&range["low"]["value"], &range["high"]["value"]),
        (&1.into(), &2.into())
    );
    assert_eq!(range["low"]["unit"], "tablet");
    assert_eq!(dosage["route"]["coding"][0]["code"], "PO");
    let timing = &dosage["timing"];
    assert_eq!(timing["code"]["coding"][0]["code"], "TID");
    let bounds = &timing["repeat"]["boundsPeriod"];
    assert_eq!(bounds["start"], "2024-01-02T08:00:00+01:00");
    assert_eq!(bounds["end"], "2024-01-09T08:00:00+01:00");
    assert_eq!(timing["repeat"]["countMax"], 21);
    assert_eq!(dosage["text"], "With food");
    let instructions = dosage["additionalInstruction"].as_array().unwrap();
    assert_eq!(instructions.len(), 2, "TQ1-10 and RXR-5 both kept");
    assert_eq!(instructions[0]["text"], "If pulse above 100");
    assert_eq!(request["priority"], "stat");
    assert_eq!(request["dispenseRequest"]["quantity"]["value"], 30);
    assert_eq!(request["dispenseRequest"]["numberOfRepeatsAllowed"], 2);
    assert_eq!(
        request["substitution"]["allowedCodeableConcept"]["coding"][0]["code"],
        "G"
    );
    assert!(request["requester"]["reference"].is_string());
    let next_patient = format!("{message}PID|2||999^^^HOSP&1.2.840.99&ISO^MR||ROE^JANE\rRXR|IV\r");
    let bundle_after = map_message(&next_patient, &Options::default()).unwrap();
    let request_after = &resources(&bundle_after, "MedicationRequest")[0]["resource"];
    assert_eq!(
        request_after["dosageInstruction"][0]["route"]["coding"][0]["code"], "PO",
        "an RXR after a new PID is not the order's"
    );
    let header = &resources(&bundle, "MessageHeader")[0]["resource"];
    let focus = header["focus"][0]["reference"].as_str();
    assert_eq!(
        focus,
        resources(&bundle, "MedicationRequest")[0]["fullUrl"].as_str()
    );
}

/// Ensures that an encoded pharmacy order maps to a filler order based on
/// the placer's, with its own id, the prescription number, and the RXR and
/// TQ1 that follow the RXE.
#[test]
fn an_encoded_pharmacy_order_is_based_on_the_placer_order() {
    let message = "MSH|^~\\&|PHARM|HOSP|CPOE|HOSP|20240102030405+0100||RDE^O11|MSG4|P|2.5.1\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r\
        ORC|NW|P300^CPOE^1.2.3.4^ISO|F400^PHARM||IP||||20240102030000+0100\r\
        RXO|50111032701^Hydralazine 25 MG Oral Tablet^NDC|1||TAB^tablet\r\
        RXR|PO^Oral^HL70162\r\
        RXE||50111032701^Hydralazine 25 MG Oral Tablet^NDC|1||TAB^tablet|||||30|TAB^tablet|2|||RX998877\r\
        TQ1|1||BID\r\
        RXR|NG^Nasogastric^HL70162\r";
    let bundle = map_message(message, &Options::default()).unwrap();
    let requests = resources(&bundle, "MedicationRequest");
    assert_eq!(requests.len(), 2);
    let (placer, filler) = (&requests[0], &requests[1]);
    assert_eq!(placer["resource"]["intent"], "original-order");
    assert_eq!(filler["resource"]["intent"], "filler-order");
    assert_ne!(placer["resource"]["id"], filler["resource"]["id"]);
    assert_eq!(
        filler["resource"]["basedOn"][0]["reference"],
        placer["fullUrl"]
    );
    let identifiers = filler["resource"]["identifier"].as_array().unwrap();
    let prescription = identifiers.last().unwrap();
    assert_eq!(prescription["value"], "RX998877");
    assert_eq!(prescription["type"]["coding"][0]["code"], "PRN");
    assert!(placer["request"]["url"].as_str().unwrap().contains('?'));
    assert_eq!(filler["request"]["method"], "PUT");
    assert!(!filler["request"]["url"].as_str().unwrap().contains('?'));
    let route =
        |r: &Value| r["resource"]["dosageInstruction"][0]["route"]["coding"][0]["code"].clone();
    assert_eq!((route(placer), route(filler)), ("PO".into(), "NG".into()));
    let timing = &filler["resource"]["dosageInstruction"][0]["timing"];
    assert_eq!(timing["code"]["coding"][0]["code"], "BID");
    assert_eq!(
        filler["resource"]["dispenseRequest"]["quantity"]["value"],
        30
    );
    assert_eq!(resources(&bundle, "Medication").len(), 2);

    let without_placer_code = message.replace(
        "RXO|50111032701^Hydralazine 25 MG Oral Tablet^NDC|",
        "RXO||",
    );
    let bundle = map_message(&without_placer_code, &Options::default()).unwrap();
    let requests = resources(&bundle, "MedicationRequest");
    assert_eq!(requests.len(), 1, "an RXO without a drug is skipped");
    assert_eq!(requests[0]["resource"]["intent"], "filler-order");
    assert!(
        requests[0]["request"]["url"]
            .as_str()
            .unwrap()
            .contains('?')
    );
}

/// Ensures that a dispense maps to a completed MedicationDispense authorised
/// by its group's encoded order, with the RXR after it as its own dosage.
#[test]
fn a_pharmacy_dispense_maps_to_a_medication_dispense() {
    let message = "MSH|^~\\&|PHARM|HOSP|WARD|HOSP|20240102030405+0100||RDS^O13|MSG5|P|2.5.1\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r\
        PV1|1|I|WARD^101^1\r\
        ORC|RE|P300^CPOE|F300^PHARM\r\
        RXE||50111032701^Hydralazine 25 MG Oral Tablet^NDC|1||TAB^tablet|||||30|TAB^tablet|2|||RX77\r\
        RXR|IV\r\
        RXD|1|50111032701^Hydralazine 25 MG Oral Tablet^NDC|20240102100000+0100|30|TAB^tablet|TAB^Tablet^HL70663|RX77||Take with food|1234^WELBY^MARCUS|G|3^TAB&tablet||||||L123|20261231||||||||||||||R^Refill - Full Fill^HL70484\r\
        RXR|PO^Oral^HL70162\r";
    let bundle = map_message(message, &Options::default()).unwrap();
    let dispense = &resources(&bundle, "MedicationDispense")[0]["resource"];
    let request = &resources(&bundle, "MedicationRequest")[0];
    assert_eq!(dispense["status"], "completed");
    assert_eq!(
        dispense["authorizingPrescription"][0]["reference"],
        request["fullUrl"]
    );
    assert_eq!(
        dispense["subject"]["reference"],
        resources(&bundle, "Patient")[0]["fullUrl"]
    );
    assert_eq!(
        dispense["context"]["reference"],
        resources(&bundle, "Encounter")[0]["fullUrl"]
    );
    assert_eq!(dispense["whenHandedOver"], "2024-01-02T10:00:00+01:00");
    assert_eq!(dispense["quantity"]["value"], 30);
    assert_eq!(dispense["quantity"]["unit"], "tablet");
    assert_eq!(dispense["note"][0]["text"], "Take with food");
    assert!(dispense["performer"][0]["actor"]["reference"].is_string());
    assert_eq!(dispense["substitution"]["wasSubstituted"], true);
    assert_eq!(dispense["type"]["coding"][0]["code"], "R");
    let dosage = &dispense["dosageInstruction"][0];
    assert_eq!(dosage["route"]["coding"][0]["code"], "PO");
    assert_eq!(dosage["maxDosePerPeriod"]["numerator"]["value"], 3);
    assert_eq!(dosage["maxDosePerPeriod"]["denominator"]["code"], "d");
    assert_eq!(
        request["resource"]["dosageInstruction"][0]["route"]["coding"][0]["code"], "IV",
        "the RXR after the RXD is the dispense's, not the order's"
    );
    let medication = resolve(&bundle, &dispense["medicationReference"]);
    assert_eq!(medication["batch"]["lotNumber"], "L123");
    assert_eq!(medication["form"]["coding"][0]["code"], "TAB");

    let uncoded = message.replace(
        "RXD|1|50111032701^Hydralazine 25 MG Oral Tablet^NDC|",
        "RXD|1||",
    );
    let bundle = map_message(&uncoded, &Options::default()).unwrap();
    let dispense = &resources(&bundle, "MedicationDispense")[0]["resource"];
    let request = &resources(&bundle, "MedicationRequest")[0]["resource"];
    assert_eq!(
        dispense["medicationReference"], request["medicationReference"],
        "without RXD-2 the prescription's drug was dispensed"
    );
    let alone = uncoded.replace("ORC|RE|P300^CPOE|F300^PHARM\r", "").replace(
        "RXE||50111032701^Hydralazine 25 MG Oral Tablet^NDC|1||TAB^tablet|||||30|TAB^tablet|2|||RX77\r",
        "",
    );
    let bundle = map_message(&alone, &Options::default()).unwrap();
    let dispense = &resources(&bundle, "MedicationDispense")[0]["resource"];
    let drug = resolve(&bundle, &dispense["medicationReference"]);
    assert_eq!(
        drug["code"]["coding"][0]["code"], "unknown",
        "without RXD-2 or a prescription the drug is unknown"
    );
    assert_eq!(drug["batch"]["lotNumber"], "L123");
    let by_number = message.replace("ORC|RE|P300^CPOE|F300^PHARM\r", "").replace(
        "RXE||50111032701^Hydralazine 25 MG Oral Tablet^NDC|1||TAB^tablet|||||30|TAB^tablet|2|||RX77\r",
        "",
    );
    let bundle = map_message(&by_number, &Options::default()).unwrap();
    let authority =
        &resources(&bundle, "MedicationDispense")[0]["resource"]["authorizingPrescription"][0];
    assert_eq!(authority["identifier"]["value"], "RX77");
    assert_eq!(authority["identifier"]["type"]["coding"][0]["code"], "PRN");
}

/// Ensures that a problem message maps each PRB to a problem-list Condition
/// whose id follows the problem instance, so an update or delete lands on
/// the Condition the add made, with its notes and supporting observations.
#[test]
fn a_problem_message_maps_to_problem_list_conditions() {
    let add = "MSH|^~\\&|EHR|HOSP|||20240102030405+0100||PPR^PC1|MSG6|P|2.5.1\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r\
        PRB|AD|20240102030000+0100|I10^Essential hypertension^I10|PRB77^EHR|||||||||confirmed|ACTIVE^Active||20230501\r\
        NTE|1||Found at screening\r\
        OBX|1|NM|8480-6^Systolic blood pressure^LN||150|mm[Hg]^mm[Hg]^UCUM|||||F\r";
    let bundle = map_message(add, &Options::default()).unwrap();
    let condition = &resources(&bundle, "Condition")[0];
    let problem = &condition["resource"];
    assert_eq!(
        problem["category"][0]["coding"][0]["code"],
        "problem-list-item"
    );
    assert_eq!(problem["code"]["coding"][0]["code"], "I10");
    assert_eq!(problem["identifier"][0]["value"], "PRB77");
    assert_eq!(problem["clinicalStatus"]["coding"][0]["code"], "active");
    assert_eq!(
        problem["verificationStatus"]["coding"][0]["code"],
        "confirmed"
    );
    assert_eq!(problem["onsetDateTime"], "2023-05-01");
    assert_eq!(problem["recordedDate"], "2024-01-02T03:00:00+01:00");
    assert_eq!(problem["note"][0]["text"], "Found at screening");
    assert_eq!(
        problem["evidence"][0]["detail"][0]["reference"],
        resources(&bundle, "Observation")[0]["fullUrl"]
    );
    let header = &resources(&bundle, "MessageHeader")[0]["resource"];
    assert_eq!(header["focus"][0]["reference"], condition["fullUrl"]);

    let update = add
        .replace("PPR^PC1|MSG6", "PPR^PC2|MSG7")
        .replace("PRB|AD|", "PRB|UP|")
        .replace(
            "|||||||||confirmed|ACTIVE^Active|",
            "|||||20240301|||||Resolved|",
        );
    let updated = map_message(&update, &Options::default()).unwrap();
    let resolved = &resources(&updated, "Condition")[0]["resource"];
    assert_eq!(resolved["id"], problem["id"], "the same problem instance");
    assert_eq!(resolved["abatementDateTime"], "2024-03-01");
    assert_eq!(resolved["clinicalStatus"]["coding"][0]["code"], "resolved");

    let contradictory = update.replace("|Resolved|", "|active|");
    let bundle = map_message(&contradictory, &Options::default()).unwrap();
    let abated = &resources(&bundle, "Condition")[0]["resource"];
    assert_eq!(
        abated["clinicalStatus"]["coding"][0]["code"], "inactive",
        "an abated problem cannot be active (FHIR con-4)"
    );

    // A problem must have a clinical status (FHIR con-3): one that gives
    // none has an unknown one.
    let unsaid = add.replace("|ACTIVE^Active|", "||");
    let bundle = map_message(&unsaid, &Options::default()).unwrap();
    let problem_status = &resources(&bundle, "Condition")[0]["resource"]["clinicalStatus"];
    assert_eq!(problem_status["extension"][0]["valueCode"], "unknown");

    let delete = add
        .replace("PPR^PC1|MSG6", "PPR^PC3|MSG8")
        .replace("PRB|AD|", "PRB|DE|");
    let deleted = map_message(&delete, &Options::default()).unwrap();
    let removed = &resources(&deleted, "Condition")[0]["resource"];
    assert_eq!(removed["id"], problem["id"]);
    assert_eq!(
        removed["verificationStatus"]["coding"][0]["code"],
        "entered-in-error"
    );
    assert!(
        removed.get("clinicalStatus").is_none(),
        "no clinical status when entered in error (FHIR con-5)"
    );
}

/// Ensures that the EVN becomes the event's Provenance (IG `EVN[Provenance]`)
/// beside the message's, with the operator as its agent, else the sender.
#[test]
fn the_trigger_event_has_its_own_provenance() {
    let message = ADT.replace(
        "EVN|A01|20240102030405\r",
        "EVN|A01|20240102030000+0100||01^Patient request^HL70062|C08^WOOLFSON^KATHLEEN|20240102025500+0100|WARDS^1.2.3.4^ISO\r",
    );
    let bundle = map_message(&message, &Options::default()).unwrap();
    let provenances = resources(&bundle, "Provenance");
    assert_eq!(provenances.len(), 2, "the message's and the event's");
    let event = provenances
        .iter()
        .map(|p| &p["resource"])
        .find(|p| p["activity"]["coding"][0]["display"] == "event - ADT^A01^ADT_A01")
        .expect("the event's Provenance");
    assert_eq!(event["recorded"], "2024-01-02T03:00:00+01:00");
    assert_eq!(event["occurredDateTime"], "2024-01-02T02:55:00+01:00");
    assert_eq!(event["reason"][0]["coding"][0]["code"], "01");
    let url = |resource_type: &str| resources(&bundle, resource_type)[0]["fullUrl"].clone();
    let operator = &event["agent"][0]["who"]["reference"];
    let practitioner = resources(&bundle, "Practitioner")
        .into_iter()
        .find(|p| &p["fullUrl"] == operator)
        .expect("the operator is a Practitioner");
    assert_eq!(practitioner["resource"]["name"][0]["family"], "WOOLFSON");
    let location = resources(&bundle, "Location")
        .into_iter()
        .find(|l| l["fullUrl"] == event["location"]["reference"])
        .expect("the facility is a Location");
    assert_eq!(location["resource"]["name"], "WARDS");
    let targets: Vec<&Value> = event["target"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["reference"])
        .collect();
    assert!(targets.contains(&&url("Patient")) && targets.contains(&&url("Encounter")));
    for not_a_target in [&practitioner["fullUrl"], &location["fullUrl"]]
        .into_iter()
        .chain(provenances.iter().map(|p| &p["fullUrl"]))
    {
        assert!(!targets.contains(&not_a_target), "{not_a_target}");
    }

    let anonymous = message
        .replace("|C08^WOOLFSON^KATHLEEN|", "||")
        .replace("01^Patient request^HL70062", "U");
    let bundle = map_message(&anonymous, &Options::default()).unwrap();
    let event = resources(&bundle, "Provenance")
        .into_iter()
        .map(|p| &p["resource"])
        .find(|p| p["activity"]["coding"][0]["display"] == "event - ADT^A01^ADT_A01")
        .expect("the event's Provenance");
    assert_eq!(
        event["agent"][0]["who"]["reference"],
        resources(&bundle, "MessageHeader")[0]["resource"]["sender"]["reference"],
        "without an operator the sender is the agent"
    );
    assert_eq!(event["reason"][0]["extension"][0]["valueCode"], "unknown");

    let zoneless = map_message(ADT, &Options::default()).unwrap();
    assert_eq!(
        resources(&zoneless, "Provenance").len(),
        1,
        "EVN-2 without a zone is no instant, and `recorded` must be one"
    );
}

/// Ensures that ROL maps by where it comes (IG ADT maps): after the PID a
/// primary care provider to Patient.generalPractitioner and other roles to
/// the patient's CareTeam; after the PV1 to Encounter.participant.
#[test]
fn roles_map_by_where_they_come() {
    let message = ADT
        .replace(
            "NK1|1|",
            "ROL|1|AD|PP^Primary Care Provider^HL70443|111^WELBY^MARCUS|20200101|||||||^WPN^PH^^^555^5550001\r\
             ROL|2|AD|FHCP^Family Health Care Professional^HL70443|222^KILDARE^JAMES\r\
             NK1|1|",
        )
        .replace(
            "AL1|1|",
            "ROL|1|AD|PP^Primary Care Provider^HL70443|333^HOUSE^GREGORY||||||||||ORG1^^^^^^^^^77\r\
             AL1|1|",
        );
    let bundle = map_message(&message, &Options::default()).unwrap();
    let patient = &resources(&bundle, "Patient")[0]["resource"];
    let roles = resources(&bundle, "PractitionerRole");
    assert_eq!(roles.len(), 2, "the patient's PCP and the visit's role");
    let family_of = |role: &Value| {
        let practitioner = resources(&bundle, "Practitioner")
            .into_iter()
            .find(|p| p["fullUrl"] == role["resource"]["practitioner"]["reference"])
            .expect("the role's practitioner");
        practitioner["resource"]["name"][0]["family"].clone()
    };
    let general = roles
        .iter()
        .find(|r| {
            patient["generalPractitioner"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["reference"] == r["fullUrl"])
        })
        .expect("the PCP is a general practitioner");
    assert_eq!(family_of(general), "WELBY");
    assert_eq!(general["resource"]["code"][0]["coding"][0]["code"], "PP");
    assert_eq!(general["resource"]["period"]["start"], "2020-01-01");
    assert_eq!(general["resource"]["telecom"][0]["value"], "(555) 5550001");
    let team = &resources(&bundle, "CareTeam")[0]["resource"];
    assert_eq!(
        team["subject"]["reference"],
        resources(&bundle, "Patient")[0]["fullUrl"]
    );
    assert_eq!(
        team["participant"][0]["role"][0]["coding"][0]["code"],
        "FHCP"
    );
    let encounter = &resources(&bundle, "Encounter")[0]["resource"];
    let visit_role = encounter["participant"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"][0]["coding"][0]["code"] == "PP")
        .expect("the visit's role");
    let held = roles
        .iter()
        .find(|r| r["fullUrl"] == visit_role["individual"]["reference"])
        .expect("a PractitionerRole");
    assert_eq!(family_of(held), "HOUSE");
    assert!(held["resource"]["organization"]["reference"].is_string());
    assert_ne!(
        held["resource"]["id"], general["resource"]["id"],
        "ROL-1 numbered per message does not merge two people's roles"
    );
}

/// Ensures that each PRT lands where the IG's message maps put it, by the
/// segment it follows and its role: the patient's general practitioner,
/// the visit's participant, the order's requester (not over ORC-12) and
/// specimen collector, the report's performer and interpreter, the
/// observation's performer, device and place, an immunization's
/// performers; and that a deleted participation maps to nothing.
#[test]
fn participations_map_by_where_they_come() {
    let message = ORU
        .replace(
            "ORC|RE|P100|F200\r",
            "PRT|1|AD||PP^Primary Care Provider^HL70912|111^WELBY^MARCUS\r\
             PV1|1|O\r\
             PRT|2|AD||AT^Attending^HL70912|222^KILDARE^JAMES||||||20240102010000+0100\r\
             ORC|RE|P100|F200\r\
             PRT|3|AD||OP^Ordering Provider^HL70912|333^HOUSE^GREGORY\r",
        )
        .replace(
            "||||||F\rOBX|1|",
            "||||||F\r\
             NTE|1||Fasting\r\
             PRT|4|AD||PRI^Principal Result Interpreter^HL70912|444^QUINN^MICHAELA\r\
             PRT|5|AD||TN^Technician^HL70912|555^GREY^MEREDITH\r\
             PRT|6|AD||SC^Specimen Collector^HL70912|666^ROSS^DOUG\r\
             PRT|7|DE||TN^Technician^HL70912|777^BAILEY^MIRANDA\r\
             OBX|1|",
        )
        .replace(
            "OBX|2|SN|",
            "PRT|8|AD||RO^Responsible Observer^HL70912|888^YANG^CRISTINA||||ICU^12^A|ANALYZER-9^^1.2.3.4^ISO||||6547 DRUMS ST^^FLINT^MI^48507\r\
             OBX|2|SN|",
        );
    let bundle = map_message(&message, &Options::default()).unwrap();
    let resolve = |reference: &Value| resolve(&bundle, reference);
    let family = |role_reference: &Value| {
        let role = resolve(role_reference);
        assert_eq!(role["resourceType"], "PractitionerRole");
        resolve(&role["practitioner"])["name"][0]["family"].clone()
    };
    let patient = &resources(&bundle, "Patient")[0]["resource"];
    assert_eq!(family(&patient["generalPractitioner"][0]), "WELBY");
    let visit = &resources(&bundle, "Encounter")[0]["resource"];
    let attending = &visit["participant"][0];
    assert_eq!(attending["type"][0]["coding"][0]["code"], "AT");
    assert_eq!(attending["period"]["start"], "2024-01-02T01:00:00+01:00");
    assert_eq!(family(&attending["individual"]), "KILDARE");
    let request = &resources(&bundle, "ServiceRequest")[0]["resource"];
    assert_eq!(family(&request["requester"]), "HOUSE");
    let report = &resources(&bundle, "DiagnosticReport")[0]["resource"];
    assert_eq!(family(&report["resultsInterpreter"][0]), "QUINN");
    let performers = report["performer"].as_array().unwrap();
    assert_eq!(performers.len(), 1, "the deleted technician is left out");
    assert_eq!(family(&performers[0]), "GREY");
    let specimen = &resources(&bundle, "Specimen")[0]["resource"];
    assert_eq!(family(&specimen["collection"]["collector"]), "ROSS");

    let hemoglobin = &resources(&bundle, "Observation")[0]["resource"];
    assert_eq!(family(&hemoglobin["performer"][0]), "YANG");
    let device = resolve(&hemoglobin["device"]);
    assert_eq!(device["udiCarrier"][0]["deviceIdentifier"], "ANALYZER-9");
    assert_eq!(device["udiCarrier"][0]["issuer"], "urn:oid:1.2.3.4");
    let place = &hemoglobin["extension"][0];
    assert_eq!(
        place["url"],
        "http://hl7.org/fhir/StructureDefinition/event-location"
    );
    let place = resolve(&place["valueReference"]);
    assert_eq!(
        place["name"], "A",
        "the innermost level of the PL (the bed)"
    );
    assert_eq!(place["address"]["city"], "FLINT");
    let glucose = &resources(&bundle, "Observation")[1]["resource"];
    assert!(
        glucose.get("performer").is_none(),
        "the PRT is the first OBX's"
    );

    let named = message.replace(
        "ORC|RE|P100|F200\r",
        "ORC|RE|P100|F200|||||||||999^CARTER^JOHN\r",
    );
    let bundle = map_message(&named, &Options::default()).unwrap();
    let request = &resources(&bundle, "ServiceRequest")[0]["resource"];
    let role = resources(&bundle, "PractitionerRole")
        .into_iter()
        .find(|p| p["fullUrl"] == request["requester"]["reference"])
        .expect("the requester is ORC-12's PractitionerRole");
    let requester = resources(&bundle, "Practitioner")
        .into_iter()
        .find(|p| p["fullUrl"] == role["resource"]["practitioner"]["reference"])
        .expect("the role's Practitioner");
    assert_eq!(requester["resource"]["name"][0]["family"], "CARTER");

    let vaccination = "MSH|^~\\&|IIS|HOSP|||20240102030405+0100||VXU^V04|MSG3|P|2.5.1\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r\
        ORC|RE|P300\r\
        PRT|1|AD||OP^Ordering Provider^HL70912|333^HOUSE^GREGORY\r\
        PRT|2|AD||AP^Administering Provider^HL70912|999^NURSE^BETTY\r\
        PRT|3|AD||RCT^Results Copies To^HL70912|123^COPY^CAROL\r\
        TQ1|1\r\
        RXA|0|1|20240101||08^HepB^CVX|0.5|mL\r";
    let bundle = map_message(vaccination, &Options::default()).unwrap();
    let given = &resources(&bundle, "Immunization")[0]["resource"];
    let functions: Vec<&Value> = given["performer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["function"]["coding"][0]["code"])
        .collect();
    assert_eq!(functions, ["OP", "AP"], "copies-to is not a performer");
}

/// Ensures that an order's, a document's and a patient record's own
/// history become Provenances of what they describe (IG `ORC[Provenance]`,
/// `TXA[Provenance]`, `PID[Provenance-Patient]`), and that one without a
/// time with a zone makes none, as `recorded` must be an instant.
#[test]
fn records_keep_their_history_as_provenance() {
    let order = "MSH|^~\\&|CPOE|HOSP|||20240102030405+0100||ORM^O01|MSG4|P|2.5.1\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN||||||||||||||||||||||||||||20240101120000+0100|HOSP^1.2.840.99^ISO\r\
        ORC|NW|P100|||||||20240102020000+0100|11^ENTRY^ELLA||33^HOUSE^GREGORY|||||CARD^Cardiology^L||||Heart Clinic|1 MAIN ST^^SPRINGFIELD^IL|^WPN^PH^^^555^5550101\r\
        OBR|1|P100||24317-0^Hemogram^LN\r";
    let bundle = map_message(order, &Options::default()).unwrap();
    let target_of = |provenance: &Value| provenance["resource"]["target"][0]["reference"].clone();
    let request = &resources(&bundle, "ServiceRequest")[0];
    let patient = &resources(&bundle, "Patient")[0];
    let provenances = resources(&bundle, "Provenance");
    let ordered = provenances
        .iter()
        .find(|p| target_of(p) == request["fullUrl"])
        .expect("the order's Provenance");
    let ordered = &ordered["resource"];
    assert_eq!(ordered["recorded"], "2024-01-02T02:00:00+01:00");
    assert_eq!(ordered["activity"]["coding"][0]["code"], "CREATE");
    let kinds: Vec<&Value> = ordered["agent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["type"]["coding"][0]["code"])
        .collect();
    assert_eq!(kinds, ["enterer", "author"]);
    assert!(ordered["agent"][0]["onBehalfOf"]["reference"].is_string());
    let facility = resources(&bundle, "Location")
        .into_iter()
        .find(|l| l["fullUrl"] == ordered["location"]["reference"])
        .expect("the ordering facility");
    assert_eq!(facility["resource"]["name"], "Heart Clinic");
    assert_eq!(facility["resource"]["address"]["city"], "SPRINGFIELD");
    let updated = provenances
        .iter()
        .find(|p| target_of(p) == patient["fullUrl"])
        .expect("the patient record's Provenance");
    assert_eq!(
        updated["resource"]["activity"]["coding"][0]["code"],
        "UPDATE"
    );
    assert_eq!(updated["resource"]["recorded"], "2024-01-01T12:00:00+01:00");
    assert_eq!(
        updated["resource"]["agent"][0]["type"]["coding"][0]["code"],
        "performer"
    );

    let zoneless = order.replace("20240102020000+0100|11^", "20240102020000|11^");
    let bundle = map_message(&zoneless, &Options::default()).unwrap();
    let request = &resources(&bundle, "ServiceRequest")[0];
    assert!(
        !resources(&bundle, "Provenance")
            .iter()
            .any(|p| target_of(p) == request["fullUrl"]),
        "no instant, no order Provenance"
    );

    let document = "MSH|^~\\&|DOCS|HOSP|||20240102030405+0100||MDM^T02|MSG5|P|2.5.1\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r\
        TXA|1|CN|TX|||||20240102010000+0100|44^WRITER^WANDA||||||||AU||||Typo fixed||55^COPY^CAROL\r\
        OBX|1|TX|||Note text||||||F\r";
    let bundle = map_message(document, &Options::default()).unwrap();
    let written = &resources(&bundle, "DocumentReference")[0];
    let edited = resources(&bundle, "Provenance")
        .into_iter()
        .find(|p| target_of(p) == written["fullUrl"])
        .expect("the document's Provenance");
    let edited = &edited["resource"];
    assert_eq!(edited["recorded"], "2024-01-02T01:00:00+01:00");
    assert_eq!(edited["reason"][0]["text"], "Typo fixed");
    assert_eq!(edited["agent"][0]["type"]["coding"][0]["code"], "author");
    assert_eq!(edited["agent"][1]["role"][0]["coding"][0]["code"], "IRCP");
}

/// Ensures that SFT becomes a Device (IG `SFT[Device]`), the source entity
/// of the message's Provenance, and that the first SFT names the sending
/// software in MessageHeader.source (IG `SFT[MessageHeader]`).
#[test]
fn the_sending_software_is_a_device() {
    let message = ADT.replace(
        "EVN|",
        "SFT|Orion^L|2.4.3.52854|Rhapsody|B2.4.3|Interface engine|20070725111624+0100\rEVN|",
    );
    let bundle = map_message(&message, &Options::default()).unwrap();
    let device = &resources(&bundle, "Device")[0];
    let resource = &device["resource"];
    assert_eq!(resource["manufacturer"], "Orion");
    assert_eq!(resource["deviceName"][0]["name"], "Rhapsody");
    assert_eq!(resource["deviceName"][0]["type"], "manufacturer-name");
    assert_eq!(resource["version"][0]["value"], "2.4.3.52854");
    assert_eq!(
        resource["version"][0]["extension"][0]["valueDateTime"],
        "2007-07-25T11:16:24+01:00"
    );
    assert_eq!(resource["modelNumber"], "B2.4.3");
    assert_eq!(resource["note"][0]["text"], "Interface engine");
    let source = &resources(&bundle, "MessageHeader")[0]["resource"]["source"];
    assert_eq!(source["software"], "Rhapsody");
    assert_eq!(source["version"], "2.4.3.52854");
    let provenance = &resources(&bundle, "Provenance")[0]["resource"];
    assert_eq!(provenance["entity"][0]["role"], "source");
    assert_eq!(
        provenance["entity"][0]["what"]["reference"],
        device["fullUrl"]
    );
    assert!(
        provenance["target"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["reference"] != device["fullUrl"]),
        "the software is the source, not a target"
    );
    let again = map_message(&message.replace("|MSG1|", "|MSG9|"), &Options::default()).unwrap();
    assert_eq!(
        resources(&again, "Device")[0]["resource"]["id"],
        resource["id"],
        "the same software is one Device across messages"
    );
}

/// Ensures that IAM (ADT^A60) maps like AL1, plus its identifier, onset
/// text, reported time and status (IG `IAM[AllergyIntolerance]`).
#[test]
fn an_adverse_reaction_segment_is_an_allergy() {
    let message = "MSH|^~\\&|ADT1|HOSP|||20240102030405+0100||ADT^A60|MSG7|P|2.8\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r\
        IAM|1|FA^Food allergy^HL70127|12345^Peanut^L|SV^Severe^HL70128|Hives|A^Add^HL70206|A77^^1.2.3^ISO|||||Since childhood|20240101120000+0100||||C^Confirmed^HL70438\r";
    let bundle = map_message(message, &Options::default()).unwrap();
    let allergy = &resources(&bundle, "AllergyIntolerance")[0]["resource"];
    assert_eq!(allergy["code"]["coding"][0]["code"], "12345");
    assert_eq!(allergy["category"][0], "food");
    assert_eq!(allergy["reaction"][0]["manifestation"][0]["text"], "Hives");
    assert_eq!(allergy["reaction"][0]["severity"], "severe");
    // The IG sets the criticality from AL1-4 with reactions too.
    assert_eq!(allergy["criticality"], "high");
    assert_eq!(allergy["identifier"][0]["value"], "A77");
    assert_eq!(allergy["onsetString"], "Since childhood");
    assert_eq!(allergy["recordedDate"], "2024-01-01T12:00:00+01:00");
    assert_eq!(allergy["clinicalStatus"]["coding"][0]["code"], "active");
    assert_eq!(
        allergy["verificationStatus"]["coding"][0]["code"],
        "confirmed"
    );

    let inactive = message.replace("C^Confirmed^HL70438", "I^Inactive^HL70438");
    let bundle = map_message(&inactive, &Options::default()).unwrap();
    let allergy = &resources(&bundle, "AllergyIntolerance")[0]["resource"];
    assert_eq!(allergy["clinicalStatus"]["coding"][0]["code"], "inactive");

    let deleted = message.replace("|A^Add^HL70206|", "|D^Delete^HL70206|");
    let bundle = map_message(&deleted, &Options::default()).unwrap();
    let allergy = &resources(&bundle, "AllergyIntolerance")[0]["resource"];
    assert_eq!(
        allergy["verificationStatus"]["coding"][0]["code"],
        "entered-in-error"
    );
    assert!(
        allergy.get("clinicalStatus").is_none(),
        "no clinical status when entered in error (FHIR ait-2)"
    );
}

/// Ensures that the account number (PID-18) becomes the patient's Account
/// (IG `PID[Account]`), and that a number without a system does not merge
/// two patients' accounts.
#[test]
fn the_account_number_is_an_account() {
    let with_account = |pid: &str, number: &str| {
        let message = ADT.replace(
            "PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN^Q||19800101|M|||1 MAIN ST^^SPRINGFIELD^IL^62701||^PRN^PH^^^555^5551234",
            &format!("PID|1||{pid}^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN^Q||19800101|M||||||||||{number}"),
        );
        map_message(&message, &Options::default()).unwrap()
    };
    let bundle = with_account("123456", "A100^^^HOSP&1.2.840.99&ISO^AN");
    let account = &resources(&bundle, "Account")[0];
    assert_eq!(account["resource"]["status"], "active");
    assert_eq!(account["resource"]["identifier"][0]["value"], "A100");
    assert_eq!(
        account["resource"]["subject"][0]["reference"],
        resources(&bundle, "Patient")[0]["fullUrl"]
    );
    assert_eq!(
        account["request"]["url"],
        "Account?identifier=urn:oid:1.2.840.99|A100"
    );
    let id_of =
        |pid: &str| resources(&with_account(pid, "A100"), "Account")[0]["resource"]["id"].clone();
    assert_ne!(
        id_of("123456"),
        id_of("654321"),
        "a bare number names an account only with its patient"
    );
    assert!(resources(&map_message(ADT, &Options::default()).unwrap(), "Account").is_empty());
}

/// Ensures that a merge's prior account number (MRG-3) becomes an Account
/// of the patient whose status is unknown (IG `MRG[Account]`), and that a
/// visit's VIP indicator (PV1-16) marks the patient's importance once, however
/// many visits say it (IG `PV1[Patient]`).
#[test]
fn a_merge_and_a_visit_say_more_about_the_patient() {
    let message = ADT
        .replace("ADT^A01^ADT_A01", "ADT^A06^ADT_A06")
        .replace("NK1|1|", "MRG|||A099^^^HOSP&1.2.840.99&ISO^AN\rNK1|1|")
        .replace("|||MED||||||", "|||MED||||||VIP^Very important^HL70099");
    let message = format!("{message}PV1|2|O||||||||||||||VIP\r");
    let bundle = map_message(&message, &Options::default()).unwrap();
    let account = &resources(&bundle, "Account")[0]["resource"];
    assert_eq!(account["status"], "unknown");
    assert_eq!(account["identifier"][0]["value"], "A099");
    let patient = &resources(&bundle, "Patient")[0];
    assert_eq!(account["subject"][0]["reference"], patient["fullUrl"]);
    let importance: Vec<&Value> = patient["resource"]["extension"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["url"] == "http://hl7.org/fhir/StructureDefinition/patient-importance")
        .collect();
    assert_eq!(importance.len(), 1);
    assert_eq!(
        importance[0]["valueCodeableConcept"]["coding"][0]["code"],
        "VIP"
    );
}

/// Ensures that GT1 guarantors join the patient's Account in order: a
/// named guarantor as a RelatedPerson, the patient itself for `SEL`, an
/// organization by its name; and that without an account number the
/// guarantors get an Account of their own.
#[test]
fn guarantors_join_the_patients_account() {
    let gt1s = "GT1|1|G1|DOE^JANE||1 MAIN ST^^SPRINGFIELD^IL|^PRN^PH^^^555^5551111||19820202|F||SPO^Spouse^HL70063||20240101|20241231||||||||N\r\
        GT1|2||DOE^JOHN||||||||SEL\r\
        GT1|3||||||||||||||||||||ACME INSURANCE TRUST\r\
        GT1|4\r";
    let with = |pid_18: &str| {
        let message = ADT
            .replace(
                "||^PRN^PH^^^555^5551234",
                &format!("||^PRN^PH^^^555^5551234|||||{pid_18}"),
            )
            .replace("AL1|1|", &format!("{gt1s}AL1|1|"));
        map_message(&message, &Options::default()).unwrap()
    };
    let bundle = with("A100^^^HOSP&1.2.840.99&ISO^AN");
    let accounts = resources(&bundle, "Account");
    assert_eq!(accounts.len(), 1, "the guarantors join the PID-18 account");
    let account = &accounts[0]["resource"];
    assert_eq!(account["identifier"][0]["value"], "A100");
    let guarantors = account["guarantor"].as_array().unwrap();
    assert_eq!(guarantors.len(), 3, "a GT1 naming no one adds nothing");
    let spouse = resources(&bundle, "RelatedPerson")
        .into_iter()
        .find(|p| p["fullUrl"] == guarantors[0]["party"]["reference"])
        .expect("the first guarantor is a RelatedPerson");
    assert_eq!(spouse["resource"]["name"][0]["given"][0], "JANE");
    assert_eq!(spouse["resource"]["birthDate"], "1982-02-02");
    assert_eq!(spouse["resource"]["gender"], "female");
    assert_eq!(
        spouse["resource"]["relationship"][0]["coding"][0]["code"],
        "SPO"
    );
    assert_eq!(guarantors[0]["onHold"], false);
    assert_eq!(guarantors[0]["period"]["end"], "2024-12-31");
    assert_eq!(
        guarantors[1]["party"]["reference"],
        resources(&bundle, "Patient")[0]["fullUrl"]
    );
    let trust = resources(&bundle, "Organization")
        .into_iter()
        .find(|o| o["fullUrl"] == guarantors[2]["party"]["reference"])
        .expect("the third guarantor is an Organization");
    assert_eq!(trust["resource"]["name"], "ACME INSURANCE TRUST");

    let bundle = with("");
    let accounts = resources(&bundle, "Account");
    assert_eq!(accounts.len(), 1, "one account for all the guarantors");
    assert_eq!(accounts[0]["resource"]["status"], "active");
    assert_eq!(
        accounts[0]["resource"]["guarantor"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let resent = ADT
        .replace("|MSG1|", "|MSG9|")
        .replace("AL1|1|", &format!("{gt1s}AL1|1|"));
    let later = map_message(&resent, &Options::default()).unwrap();
    assert_eq!(
        resources(&later, "Account")[0]["resource"]["id"],
        accounts[0]["resource"]["id"],
        "the next message's guarantors update the same Account"
    );
}

/// Ensures that an FT1 charge becomes a billable ChargeItem of the patient,
/// its visit and account, and that payments and adjustments, which are no
/// charge items, make none.
#[test]
fn a_financial_transaction_is_a_charge_item() {
    let message = "MSH|^~\\&|BILL|HOSP|||20240102030405+0100||DFT^P03|MSG6|P|2.5.1\r\
        EVN|P03|20240102030405+0100\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN|||||||||||||A100^^^HOSP&1.2.840.99&ISO^AN\r\
        PV1|1|O\r\
        FT1|1|T-77||20240101^20240102|20240103|CG|71045^Xray exam chest 1 view^C4|||2|100.50&USD||||||||R07.9^Chest pain^I10|11^RAD^RAY||||22^CLERK^CLARA|||||00071015523^Drug^NDC\r\
        NTE|1||Portable unit\r\
        FT1|2|T-78||20240101|20240103|PY|CASH^Cash payment|||1|50&USD\r\
        FT1|3|T-79||20240101|20240103|AJ|DISC^Discount|||1|-10&USD\r";
    let bundle = map_message(message, &Options::default()).unwrap();
    let charges = resources(&bundle, "ChargeItem");
    assert_eq!(charges.len(), 1, "payments and adjustments are no charges");
    let charge = &charges[0]["resource"];
    assert_eq!(charge["status"], "billable");
    assert_eq!(charge["identifier"][0]["value"], "T-77");
    assert_eq!(charge["code"]["coding"][0]["code"], "71045");
    assert_eq!(charge["occurrencePeriod"]["end"], "2024-01-02");
    assert_eq!(charge["quantity"]["value"], 2);
    assert_eq!(charge["priceOverride"]["value"], 100.5);
    assert_eq!(charge["priceOverride"]["currency"], "USD");
    assert_eq!(charge["reason"][0]["coding"][0]["code"], "R07.9");
    assert_eq!(
        charge["productCodeableConcept"]["coding"][0]["code"],
        "00071015523"
    );
    assert_eq!(charge["note"][0]["text"], "Portable unit");
    let linked = |key: &str, resource_type: &str| {
        assert_eq!(
            charge[key]["reference"],
            resources(&bundle, resource_type)[0]["fullUrl"],
            "{key}"
        );
    };
    linked("subject", "Patient");
    linked("context", "Encounter");
    assert_eq!(
        charge["account"][0]["reference"],
        resources(&bundle, "Account")[0]["fullUrl"]
    );
    let named = |reference: &Value| {
        resources(&bundle, "Practitioner")
            .into_iter()
            .find(|p| p["fullUrl"] == reference["reference"])
            .expect("a Practitioner")["resource"]["name"][0]["family"]
            .clone()
    };
    assert_eq!(named(&charge["performer"][0]["actor"]), "RAD");
    assert_eq!(named(&charge["enterer"]), "CLERK");
}

/// Ensures that a referral (RF1) becomes a ServiceRequest in the referral
/// category, whose subject is the patient even when the PID comes after it
/// (as REF sends it), whose requester is the referring provider (PRD `RP`)
/// and whose performer the provider referred to (`RT`).
#[test]
fn a_referral_is_a_service_request() {
    let message = "MSH|^~\\&|REFER|HOSP|||20240102030405+0100||REF^I12|MSG7|P|2.5.1\r\
        RF1|A^Accepted^HL70283|S^STAT^HL70280|Med^Medical^HL70281||O^Outpatient^HL70284|R-1^^1.2.3.9^ISO|20240101|20240301|20240102|O^Provider Ordered^HL70336\r\
        PRD|RP^Referring Provider^HL70286|POWELL^ROBERT^^^DR|1 HEALTH DR^^ANN ARBOR^MI|||||||General Clinic\r\
        PRD|RT^Referred to Provider^HL70286|MCWILLIAMS^PAUL^^^DR\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r";
    let bundle = map_message(message, &Options::default()).unwrap();
    let referral = &resources(&bundle, "ServiceRequest")[0];
    let request = &referral["resource"];
    assert_eq!(request["status"], "active");
    assert_eq!(request["intent"], "order");
    assert_eq!(request["priority"], "stat");
    assert_eq!(request["category"][0]["coding"][0]["code"], "3457005");
    assert_eq!(request["identifier"][0]["system"], "urn:oid:1.2.3.9");
    assert_eq!(request["occurrencePeriod"]["end"], "2024-03-01");
    assert_eq!(request["authoredOn"], "2024-01-02");
    assert_eq!(
        request["subject"]["reference"],
        resources(&bundle, "Patient")[0]["fullUrl"]
    );
    let family = |reference: &Value| {
        let role = resources(&bundle, "PractitionerRole")
            .into_iter()
            .find(|r| r["fullUrl"] == reference["reference"])
            .expect("a PractitionerRole");
        let person = resources(&bundle, "Practitioner")
            .into_iter()
            .find(|p| p["fullUrl"] == role["resource"]["practitioner"]["reference"])
            .expect("its Practitioner");
        person["resource"]["name"][0]["family"].clone()
    };
    assert_eq!(family(&request["requester"]), "POWELL");
    assert_eq!(family(&request["performer"][0]), "MCWILLIAMS");
    let header = &resources(&bundle, "MessageHeader")[0]["resource"];
    assert_eq!(header["focus"][0]["reference"], referral["fullUrl"]);
    assert_eq!(
        referral["request"]["url"],
        "ServiceRequest?identifier=urn:oid:1.2.3.9|R-1"
    );
    let again = map_message(&message.replace("|MSG7|", "|MSG8|"), &Options::default()).unwrap();
    assert_eq!(
        resources(&again, "PractitionerRole")[0]["fullUrl"],
        resources(&bundle, "PractitionerRole")[0]["fullUrl"],
        "the same provider's role is one resource across messages"
    );
    let assigned = message.replace("R-1^^1.2.3.9^ISO", "R-1^REFAPP");
    let id_in = |control_id: &str| {
        let bundle = map_message(
            &assigned.replace("|MSG7|", &format!("|{control_id}|")),
            &Options::default(),
        )
        .unwrap();
        resources(&bundle, "ServiceRequest")[0]["resource"]["id"].clone()
    };
    assert_eq!(
        id_in("MSG8"),
        id_in("MSG9"),
        "a resent referral whose id has an assigner is the same ServiceRequest"
    );
}

/// Ensures that an SAC after an SPM describes that Specimen's container:
/// its identifier, capacity, available volume and additive, and the
/// accession number the Specimen lacked.
#[test]
fn a_container_detail_describes_its_specimen() {
    let message = ORU.replace(
        "SPM|1|S1&LAB||BLD^Blood^HL70487\r",
        "SPM|1|S1&LAB||BLD^Blood^HL70487\r\
         OBX|3|NM|SPEC-TEMP^Specimen temperature^L||4|Cel\r\
         SAC||ACC-9^LAB|TUBE-1^LAB||||||||||||||||||10|7||mL^milliliter^UCUM|||EDTA^EDTA^HL70371\r",
    );
    let bundle = map_message(&message, &Options::default()).unwrap();
    let specimen = &resources(&bundle, "Specimen")[0]["resource"];
    assert_eq!(specimen["accessionIdentifier"]["value"], "ACC-9");
    let container = &specimen["container"][0];
    assert_eq!(container["identifier"][0]["value"], "TUBE-1");
    assert_eq!(container["capacity"]["value"], 10);
    assert_eq!(container["specimenQuantity"]["value"], 7);
    assert_eq!(container["specimenQuantity"]["code"], "mL");
    assert_eq!(
        container["additiveCodeableConcept"]["coding"][0]["code"],
        "EDTA"
    );
}

/// Ensures that an IN1 names the Coverage's subscriber (the patient for
/// `SEL`, else a RelatedPerson of the insured's name), its policy holder
/// (the insured's employer) and the payer's address (IG `IN1[Coverage]`).
#[test]
fn insurance_names_its_plan_subscriber_and_holder() {
    let in1 = "IN1|1|GOLD^Gold Plan|INS001|ACME INSURANCE|PO BOX 1^^SPRINGFIELD^IL^62701|||GRP100||E77^^^EMPLOYERS|BIG CORP|||||DOE^JANE|SPO^Spouse^HL70063|19820202|1 MAIN ST^^SPRINGFIELD^IL|||||||||||||||||POL9|||||||||||||M123^^^HOSP&1.2.3&ISO^NI\r";
    let bundle_with = |in1: &str| {
        let message = ADT.replace("AL1|1|", &format!("{in1}AL1|1|"));
        map_message(&message, &Options::default()).unwrap()
    };
    let bundle = bundle_with(in1);
    let coverage = &resources(&bundle, "Coverage")[0]["resource"];
    let find = |resource_type: &str, reference: &Value| {
        resources(&bundle, resource_type)
            .into_iter()
            .find(|r| r["fullUrl"] == reference["reference"])
            .unwrap_or_else(|| panic!("a {resource_type}"))["resource"]
            .clone()
    };
    let insured = find("RelatedPerson", &coverage["subscriber"]);
    assert_eq!(insured["name"][0]["given"][0], "JANE");
    assert_eq!(insured["birthDate"], "1982-02-02");
    assert_eq!(insured["relationship"][0]["coding"][0]["code"], "SPO");
    assert_eq!(coverage["relationship"]["coding"][0]["code"], "spouse");
    assert_eq!(
        find("Organization", &coverage["policyHolder"])["name"],
        "BIG CORP"
    );
    let payer = find("Organization", &coverage["payor"][0]);
    assert_eq!(payer["address"][0]["line"][0], "PO BOX 1");
    // The plan IN1-2 and the policy number identify the coverage; IN1-49,
    // the insured's id, is R5's subscriberId.
    let identifiers: Vec<&Value> = coverage["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["value"])
        .collect();
    assert_eq!(identifiers, ["GOLD", "POL9"]);
    assert_eq!(
        coverage["extension"][0]["url"],
        "http://hl7.org/fhir/5.0/StructureDefinition/extension-Coverage.subscriberId"
    );
    assert_eq!(coverage["extension"][0]["valueIdentifier"]["value"], "M123");

    let own = in1.replace("SPO^Spouse^HL70063", "SEL^Self^HL70063");
    let bundle = bundle_with(&own);
    let coverage = &resources(&bundle, "Coverage")[0]["resource"];
    assert_eq!(
        coverage["subscriber"]["reference"],
        resources(&bundle, "Patient")[0]["fullUrl"]
    );
}

/// Ensures that a visit's discharge destination (PV1-37), its pending
/// location (PV1-42) and PV2's prior pending location, expected admit and
/// discharge, referral source and mode of
/// arrival reach the Encounter (IG `PV1[Encounter]`, `PV2[Encounter]`).
#[test]
fn a_visit_carries_its_plans_and_discharge() {
    let message = ADT
        .replace(
            "PV1|1|I|WARD^101^1|||||||MED|||||||||V100^^^HOSP&1.2.840.99&ISO^VN|||||||||||||||||||||||||20240102030000+0100",
            "PV1|1|I|WARD^101^1|||||||MED|||||||||V100^^^HOSP&1.2.840.99&ISO^VN||||||||||||||||||HOME&Home&L|||||WARD^303^3||20240102030000+0100",
        )
        .replace(
            "AL1|1|",
            "PV2|WARD^202^2||CHEST PAIN|||||20240103080000+0100|20240105120000+0100||||77^SENDER^SAM|||||||||||||||||||||||||A^Ambulance^HL70430\rAL1|1|",
        );
    let bundle = map_message(&message, &Options::default()).unwrap();
    let encounter = &resources(&bundle, "Encounter")[0]["resource"];
    let find = |reference: &Value| resolve(&bundle, reference);
    let home = find(&encounter["hospitalization"]["destination"]);
    assert_eq!(home["name"], "Home");
    let pending = encounter["location"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| find(&l["location"])["name"] == "2")
        .expect("the pending bed");
    assert_eq!(pending["status"], "planned");
    // The pending location PV1-42 is held for the patient.
    let held = encounter["location"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| find(&l["location"])["name"] == "3")
        .expect("the pending location");
    assert_eq!(held["status"], "reserved");
    let extension = |url_end: &str| {
        encounter["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"].as_str().unwrap().ends_with(url_end))
            .unwrap_or_else(|| panic!("{url_end}"))
            .clone()
    };
    assert_eq!(
        extension("plannedStartDate")["valueDateTime"],
        "2024-01-03T08:00:00+01:00"
    );
    assert_eq!(
        extension("plannedEndDate")["valueDateTime"],
        "2024-01-05T12:00:00+01:00"
    );
    assert_eq!(extension("modeOfArrival")["valueCoding"]["code"], "A");
    let referrer = encounter["participant"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"][0]["coding"][0]["code"] == "REF")
        .expect("the referral source");
    assert_eq!(find(&referrer["individual"])["name"][0]["family"], "SENDER");
}

/// Ensures that an OBR that describes its specimen (OBR-15, as before v2.5)
/// makes a Specimen of the report and order (IG `OBR[Specimen]`), and that
/// one whose group has an SPM leaves the specimen to it.
#[test]
fn an_order_without_spm_describes_its_specimen() {
    let old_style = ORU
        .replace(
            "OBR|1|P100|F200|24317-0^Hemogram^LN|||20240102020000+0100||||||||||||||||||F\r",
            "OBR|1|P100|F200|24317-0^Hemogram^LN|||20240102020000+0100|||55^DRAWER^DAN|||||122555007&Venous blood specimen&SCT^^^368208006&Left arm&SCT||||||||||F\r",
        )
        .replace("SPM|1|S1&LAB||BLD^Blood^HL70487\r", "");
    let bundle = map_message(&old_style, &Options::default()).unwrap();
    let specimens = resources(&bundle, "Specimen");
    assert_eq!(specimens.len(), 1);
    let specimen = &specimens[0]["resource"];
    assert_eq!(specimen["type"]["coding"][0]["code"], "122555007");
    assert_eq!(
        specimen["collection"]["bodySite"]["coding"][0]["code"],
        "368208006"
    );
    assert_eq!(
        specimen["collection"]["collectedDateTime"],
        "2024-01-02T02:00:00+01:00"
    );
    assert!(specimen["collection"]["collector"]["reference"].is_string());
    let report = &resources(&bundle, "DiagnosticReport")[0]["resource"];
    assert_eq!(report["specimen"][0]["reference"], specimens[0]["fullUrl"]);

    let with_spm = old_style.replace(
        "NTE|1||Repeat tomorrow\r",
        "NTE|1||Repeat tomorrow\rSPM|1|S1&LAB||BLD^Blood^HL70487\r",
    );
    let bundle = map_message(&with_spm, &Options::default()).unwrap();
    let specimens = resources(&bundle, "Specimen");
    assert_eq!(specimens.len(), 1, "the SPM describes the specimen");
    assert_eq!(specimens[0]["resource"]["type"]["coding"][0]["code"], "BLD");
}

/// Ensures that every NK1 is a contact of the Patient (IG `NK1[Patient]`),
/// and that one naming a person is also a RelatedPerson while an employer
/// is only a contact, as the IG's ADT maps have it.
#[test]
fn next_of_kin_are_contacts_and_people() {
    let message = ADT.replace(
        "NK1|1|DOE^JANE|SPO^Spouse^HL70063\r",
        "NK1|1|DOE^JANE|SPO^Spouse^HL70063|2 OAK ST^^SPRINGFIELD^IL|^PRN^PH^^^555^5550002\r\
         NK1|2||EMR^Employer^HL70063||||||||||ACME CORP\r",
    );
    let bundle = map_message(&message, &Options::default()).unwrap();
    let people = resources(&bundle, "RelatedPerson");
    assert_eq!(people.len(), 1, "the employer is no RelatedPerson");
    assert_eq!(people[0]["resource"]["name"][0]["given"][0], "JANE");
    let patient = &resources(&bundle, "Patient")[0]["resource"];
    let contacts = patient["contact"].as_array().unwrap();
    assert_eq!(contacts.len(), 2);
    assert_eq!(contacts[0]["name"]["family"], "DOE");
    assert_eq!(contacts[0]["relationship"][0]["coding"][0]["code"], "SPO");
    assert_eq!(contacts[0]["address"]["city"], "SPRINGFIELD");
    assert_eq!(contacts[0]["telecom"][0]["use"], "home");
    let employer = resources(&bundle, "Organization")
        .into_iter()
        .find(|o| o["fullUrl"] == contacts[1]["organization"]["reference"])
        .expect("the employer");
    assert_eq!(employer["resource"]["name"], "ACME CORP");
}

/// Ensures that an order's TQ1 becomes its quantity, timing, priority and
/// note (IG `TQ1[ServiceRequest]`).
#[test]
fn an_order_timing_maps_to_the_service_request() {
    let message = "MSH|^~\\&|CPOE|HOSP|LAB|HOSP|20240102030405+0100||OML^O21|MSG8|P|2.5.1\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r\
        ORC|NW|P500^CPOE\r\
        TQ1|1|2^mL&milliliter&UCUM|Q4H|0800~2000||1^wk|20240103080000+0100|20240104080000+0100|S||Before breakfast||30^min&minute&ANS+|6\r\
        OBR|1|P500^CPOE||2345-7^Glucose^LN||20240103070000+0100\r";
    let bundle = map_message(message, &Options::default()).unwrap();
    let request = &resources(&bundle, "ServiceRequest")[0]["resource"];
    // The TQ1 outranks OBR-6, kept for older senders: occurrence[x] is one.
    assert!(request.get("occurrenceDateTime").is_none());
    let without_tq1: String = message
        .split('\r')
        .filter(|s| !s.trim_start().starts_with("TQ1"))
        .map(|s| format!("{s}\r"))
        .collect();
    let older = map_message(&without_tq1, &Options::default()).unwrap();
    assert_eq!(
        resources(&older, "ServiceRequest")[0]["resource"]["occurrenceDateTime"],
        "2024-01-03T07:00:00+01:00"
    );
    let timing = &request["occurrenceTiming"];
    assert_eq!(timing["code"]["coding"][0]["code"], "Q4H");
    assert_eq!(
        timing["repeat"]["boundsPeriod"]["start"],
        "2024-01-03T08:00:00+01:00"
    );
    assert_eq!(timing["repeat"]["countMax"], 6);
    assert_eq!(
        timing["repeat"]["timeOfDay"],
        serde_json::json!(["08:00:00", "20:00:00"])
    );
    assert_eq!(timing["repeat"]["duration"], 30);
    assert_eq!(timing["repeat"]["durationUnit"], "min");
    assert!(
        timing["repeat"].get("boundsDuration").is_none(),
        "the start and end bound it"
    );
    assert_eq!(request["priority"], "stat");
    assert_eq!(request["note"][0]["text"], "Before breakfast");
    assert_eq!(request["quantityQuantity"]["value"], 2);
    assert_eq!(request["quantityQuantity"]["unit"], "milliliter");

    let timing_of = |tq1: &str| {
        let message = message.replace(
            "TQ1|1|2^mL&milliliter&UCUM|Q4H|0800~2000||1^wk|20240103080000+0100|20240104080000+0100|S||Before breakfast||30^min&minute&ANS+|6",
            tq1,
        );
        let bundle = map_message(&message, &Options::default()).unwrap();
        resources(&bundle, "ServiceRequest")[0]["resource"]["occurrenceTiming"].clone()
    };
    let bounded = timing_of("TQ1|1||Q4H|||3^D&day&ISO");
    assert_eq!(
        bounded["repeat"]["boundsDuration"],
        serde_json::json!({
            "value": 3, "unit": "d", "system": "http://unitsofmeasure.org", "code": "d",
        })
    );
    let weighed = timing_of("TQ1|1||Q4H|||150^&kg|||||||2^kg");
    assert!(
        weighed.get("repeat").is_none(),
        "a duration that is no time is left out: {weighed}"
    );
}

/// Ensures that a problem instance id without a system names a problem only
/// within its patient: two patients' problem 1 are two Conditions.
#[test]
fn bare_problem_ids_do_not_merge_patients() {
    let problem_of = |patient: &str| {
        let message = format!(
            "MSH|^~\\&|EHR|HOSP|||20240102030405+0100||PPR^PC1|M{patient}|P|2.5.1\r\
             PID|1||{patient}^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r\
             PRB|AD|20240102030000+0100|I10^Essential hypertension^I10|1\r"
        );
        let bundle = map_message(&message, &Options::default()).unwrap();
        resources(&bundle, "Condition")[0]["resource"]["id"].clone()
    };
    assert_eq!(problem_of("111"), problem_of("111"));
    assert_ne!(problem_of("111"), problem_of("222"));
}

#[test]
fn an_unsupported_type_is_named() {
    let ack = "MSH|^~\\&|A|B|C|D|20240102||ACK|1|P|2.5\rMSA|AA|1\r";
    match map_message(ack, &Options::default()) {
        Err(MapError::Unsupported(event)) => assert_eq!(event, "ACK^"),
        other => panic!("{other:?}"),
    }
}

/// Ensures that a segment that needs a patient before any PID is an error
/// that names where the patient was missing, for the ACK's ERR segment.
#[test]
fn a_missing_patient_names_segment_and_field() {
    let message = ADT.replacen("EVN|", "AL1|1|DA|X^Y\rEVN|", 1);
    match map_message(&message, &Options::default()) {
        Err(MapError::Invalid {
            segment,
            sequence,
            field,
            reason,
        }) => {
            assert_eq!((segment.as_str(), sequence, field), ("PID", 1, 3));
            assert!(reason.contains("before AL1"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// Ensures that a blank code or time that HL7 v2 requires does not reject
/// the message: the resource keeps what it has, and where FHIR requires the
/// element it says `unknown` (data-absent-reason). Rejecting a whole ADT for
/// a blank allergen, or a lab result for a blank OBR-4, helps nobody.
#[test]
fn blank_required_codes_map_as_unknown() {
    let dar = "http://terminology.hl7.org/CodeSystem/data-absent-reason";
    let bundle = map_message(&ORU.replace("24317-0^Hemogram^LN", ""), &Options::default()).unwrap();
    let report = &resources(&bundle, "DiagnosticReport")[0]["resource"];
    assert_eq!(report["code"]["coding"][0]["system"], dar);
    assert_eq!(report["code"]["coding"][0]["code"], "unknown");
    assert!(
        !resources(&bundle, "Observation").is_empty(),
        "the results still map"
    );

    let blank_allergen = ADT.replace("70618^Penicillin^RXNORM", "");
    let bundle = map_message(&blank_allergen, &Options::default()).unwrap();
    let allergy = &resources(&bundle, "AllergyIntolerance")[0]["resource"];
    assert!(allergy.get("code").is_none(), "no code, which FHIR allows");
    assert_eq!(allergy["reaction"][0]["manifestation"][0]["text"], "Hives");
    let twice = blank_allergen.replace(
        "AL1|1|DA||SV|Hives\r",
        "AL1|1|DA||SV|Hives\rAL1|2|DA||MO|Rash\r",
    );
    let bundle = map_message(&twice, &Options::default()).unwrap();
    assert_eq!(
        resources(&bundle, "AllergyIntolerance").len(),
        2,
        "two uncoded allergies stay two"
    );

    let vaccination = "MSH|^~\\&|IIS|HOSP|||20240102030405+0100||VXU^V04|MSG3|P|2.5.1\r\
        PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN\r\
        ORC|RE|P300\r\
        RXA|0|1|||\r";
    let bundle = map_message(vaccination, &Options::default()).unwrap();
    let given = &resources(&bundle, "Immunization")[0]["resource"];
    assert_eq!(given["vaccineCode"]["coding"][0]["code"], "unknown");
    assert_eq!(given["occurrenceString"], "unknown");
    assert_eq!(
        given["_occurrenceString"]["extension"][0]["valueCode"],
        "unknown"
    );
}

#[test]
fn collection_bundles_have_no_requests() {
    let options = Options::from_json(&serde_json::json!({"bundle_type": "collection"})).unwrap();
    let bundle = map_message(ADT, &options).unwrap();
    assert_eq!(bundle["type"], "collection");
    assert!(bundle["entry"][0].get("request").is_none());
}

#[test]
fn a_us_channel_gets_race_and_ethnicity_as_us_core_extensions() {
    let message = "MSH|^~\\&|ADT1|HOSP|||20240102030405+0100||ADT^A04|MSG9|P|2.5.1\r\
PID|1||123456^^^HOSP^MR||DOE^JOHN||19800101|M||2106-3^White^CDCREC~2028-9^^HL70005~2108-9^European^CDCREC~W~2106-3^White^CDCREC||||||||||||H^Hispanic or Latino^HL70189~2182-4^Cuban^CDCREC\r";
    let race_and_ethnicity = |options: &Options| {
        let bundle = map_message(message, options).unwrap();
        let patient = &resources(&bundle, "Patient")[0]["resource"];
        let us_core = |x: &&Value| x["url"].as_str().unwrap().contains("/us/core/");
        let extensions = patient["extension"].as_array().into_iter().flatten();
        extensions.filter(us_core).cloned().collect::<Vec<_>>()
    };
    assert!(race_and_ethnicity(&Options::default()).is_empty());

    let us = Options::from_json(&serde_json::json!({ "realm": "us" })).unwrap();
    let [race, ethnicity] = &race_and_ethnicity(&us)[..] else {
        panic!("expected a race and an ethnicity extension");
    };
    let parts = |extension: &Value| -> Vec<(String, String)> {
        let parts = extension["extension"].as_array().unwrap().iter();
        parts
            .map(|p| {
                let value = p["valueCoding"]["code"].as_str();
                let value = value.or(p["valueString"].as_str()).unwrap();
                (p["url"].as_str().unwrap().to_owned(), value.to_owned())
            })
            .collect()
    };
    let pair = |url: &str, value: &str| (url.to_owned(), value.to_owned());
    assert!(race["url"].as_str().unwrap().ends_with("us-core-race"));
    // Categories once each, a finer code as detailed, and the local `W`
    // only in the text, never guessed at.
    assert_eq!(
        parts(race),
        [
            pair("ombCategory", "2106-3"),
            pair("ombCategory", "2028-9"),
            pair("detailed", "2108-9"),
            pair("text", "White, Asian, European, W"),
        ]
    );
    let white = &race["extension"][0]["valueCoding"];
    assert_eq!(white["system"], "urn:oid:2.16.840.1.113883.6.238");
    assert_eq!(white["display"], "White");
    // Table 0189's letter becomes its CDC code.
    assert_eq!(
        parts(ethnicity),
        [
            pair("ombCategory", "2135-2"),
            pair("detailed", "2182-4"),
            pair("text", "Hispanic or Latino, Cuban"),
        ]
    );
}

/// An ADT^A08 about patient 123456 with the control id `control_id` and
/// `segments` after its PID: two of them differ only as two messages do.
fn patient_update(control_id: &str, segments: &str) -> String {
    format!(
        "MSH|^~\\&|ADT1|HOSP|||20240102030405+0100||ADT^A08|{control_id}|P|2.5.1\r\
PID|1||123456^^^HOSP^MR||DOE^JOHN||19800101|M\r{segments}"
    )
}

#[test]
fn a_patient_additional_demographic_says_more_about_the_patient() {
    let message = |control_id: &str| {
        patient_update(
            control_id,
            "PD1||||||D^Deaf^HL70295|Y^Yes, patient has a living will^HL70315|||||||First Baptist Church\r",
        )
    };
    let bundle = map_message(&message("MSG1"), &Options::default()).unwrap();
    let patient = &resources(&bundle, "Patient")[0];
    let extension = |url: &str| {
        let extensions = patient["resource"]["extension"].as_array().unwrap();
        let found = extensions
            .iter()
            .find(|x| x["url"].as_str().unwrap().ends_with(url));
        found.unwrap_or_else(|| panic!("no {url}")).clone()
    };
    assert_eq!(
        extension("patient-disability")["valueCodeableConcept"]["coding"][0]["code"],
        "D"
    );
    assert_eq!(
        extension("patient-congregation")["valueString"],
        "First Baptist Church"
    );
    let [will] = &resources(&bundle, "Observation")[..] else {
        panic!("expected one living will Observation");
    };
    let observation = &will["resource"];
    assert_eq!(observation["code"]["coding"][0]["code"], "75320-2");
    assert_eq!(observation["status"], "final");
    assert_eq!(
        observation["valueCodeableConcept"]["coding"][0]["system"],
        "http://terminology.hl7.org/CodeSystem/v2-0315"
    );
    assert_eq!(observation["subject"]["reference"], patient["fullUrl"]);
    // The next message about the patient updates the same Observation.
    let next = map_message(&message("MSG2"), &Options::default()).unwrap();
    assert_eq!(
        resources(&next, "Observation")[0]["fullUrl"],
        will["fullUrl"]
    );
}

#[test]
fn a_visits_financial_class_is_a_coverage() {
    let message = |control_id: &str| {
        patient_update(
            control_id,
            "PV1|1|I|WARD^101^1|||||||MED|||||||||V100^^^HOSP^VN|MC^20240101\r",
        )
    };
    let bundle = map_message(&message("MSG1"), &Options::default()).unwrap();
    let [coverage] = &resources(&bundle, "Coverage")[..] else {
        panic!("expected one Coverage");
    };
    let resource = &coverage["resource"];
    let kind = &resource["type"]["coding"][0];
    assert_eq!(kind["code"], "MC");
    assert_eq!(
        kind["system"],
        "http://terminology.hl7.org/CodeSystem/v2-0064"
    );
    assert_eq!(resource["period"]["start"], "2024-01-01");
    let patient = resources(&bundle, "Patient")[0];
    assert_eq!(resource["beneficiary"]["reference"], patient["fullUrl"]);
    // FHIR requires a payor; the financial class does not name one.
    let payor = &resource["payor"][0]["extension"][0];
    assert_eq!(payor["valueCode"], "unknown");
    // One per visit: the next message about the visit updates it.
    let next = map_message(&message("MSG2"), &Options::default()).unwrap();
    assert_eq!(
        resources(&next, "Coverage")[0]["fullUrl"],
        coverage["fullUrl"]
    );
}

#[test]
fn the_insureds_and_the_disabled_persons_numbers_identify_them() {
    let in1 = "IN1|1|GOLD^Gold Plan|INS001|ACME INSURANCE||||||||||||DOE^JILL|SPO^Spouse^HL70063\r";
    let in2 = format!(
        "IN2||123-45-6789||||MBI-1||MCD-2||MIL-3{}M-4^^^PLAN&2.16.840.1.999&ISO\r",
        "|".repeat(51)
    );
    let db1 = "DB1|1|PT|DIS-5^^^STATE&2.16.840.1.888&ISO^DI|Y\rDB1|2|GT|DIS-6\r";
    let message = ADT.replace("AL1|1|", &format!("{in1}{in2}{db1}AL1|1|"));
    let bundle = map_message(&message, &Options::default()).unwrap();
    let numbers = |resource: &Value| -> Vec<(String, String)> {
        let identifiers = resource["resource"]["identifier"].as_array().unwrap();
        let number = |i: &Value| {
            let code = i["type"]["coding"][0]["code"].as_str().unwrap_or("");
            (code.to_owned(), i["value"].as_str().unwrap().to_owned())
        };
        identifiers.iter().map(number).collect()
    };
    let pair = |code: &str, value: &str| (code.to_owned(), value.to_owned());
    // The IN2 describes the insured, here the spouse, not the patient.
    let spouse = resources(&bundle, "RelatedPerson")
        .into_iter()
        .find(|r| r["resource"]["name"][0]["given"][0] == "JILL")
        .unwrap();
    assert_eq!(
        numbers(spouse),
        [
            pair("SS", "123-45-6789"),
            pair("MC", "MBI-1"),
            pair("MA", "MCD-2"),
            pair("MI", "MIL-3"),
            pair("MB", "M-4"),
        ]
    );
    // The patient's disabled person id; a guarantor's DB1 adds nothing.
    let patient = resources(&bundle, "Patient")[0];
    let patient_numbers = numbers(patient);
    assert!(patient_numbers.contains(&pair("DI", "DIS-5")));
    assert!(!patient_numbers.iter().any(|(_, value)| value == "DIS-6"));

    // For a self-insured patient the IN2's numbers are the patient's; one
    // the PID gives already is not repeated.
    let own = message
        .replace("SPO^Spouse^HL70063", "SEL^Self^HL70063")
        .replace("||19800101|M|||", "||19800101|M|||||||||||123-45-6789|")
        .replace("1 MAIN ST^^SPRINGFIELD^IL^62701||^PRN^PH^^^555^5551234", "");
    let bundle = map_message(&own, &Options::default()).unwrap();
    let patient_numbers = numbers(resources(&bundle, "Patient")[0]);
    let ssns = patient_numbers.iter().filter(|(code, _)| code == "SS");
    assert_eq!(ssns.count(), 1, "{patient_numbers:?}");
    assert!(patient_numbers.contains(&pair("MC", "MBI-1")));
}

#[test]
fn an_appointment_is_based_on_the_order_it_books() {
    let siu = |trigger: &str| {
        format!(
            "MSH|^~\\&|SCHED|HOSP|||20240102030405+0100||SIU^{trigger}|MSG5|P|2.5.1\r\
SCH|A1^SCHED|||||||||||||||||||||||||P77^ORDERS|F88^LAB\r\
PID|1||123456^^^HOSP^MR||DOE^JOHN\r\
AIS|1|A|76164006^Biopsy of colon^SCT|20240110093000+0100\r"
        )
    };
    let bundle = map_message(&siu("S12"), &Options::default()).unwrap();
    let [order] = &resources(&bundle, "ServiceRequest")[..] else {
        panic!("expected the booked order");
    };
    let request = &order["resource"];
    assert_eq!(request["intent"], "order");
    assert_eq!(request["status"], "active");
    assert_eq!(request["identifier"][0]["value"], "P77");
    assert_eq!(request["identifier"][1]["value"], "F88");
    // The PID after the SCH is the subject; the AIS names the service.
    let patient = resources(&bundle, "Patient")[0];
    assert_eq!(request["subject"]["reference"], patient["fullUrl"]);
    assert_eq!(request["code"]["coding"][0]["code"], "76164006");
    assert_eq!(
        request["occurrencePeriod"]["start"],
        "2024-01-10T09:30:00+01:00"
    );
    let appointment = &resources(&bundle, "Appointment")[0]["resource"];
    assert_eq!(appointment["basedOn"][0]["reference"], order["fullUrl"]);

    // The order message with the same placer number updates the same
    // ServiceRequest.
    let orm = "MSH|^~\\&|ORDERS|HOSP|||20240102030405+0100||ORM^O01|MSG6|P|2.5.1\r\
PID|1||123456^^^HOSP^MR||DOE^JOHN\r\
ORC|NW|P77^ORDERS|F88^LAB\r\
OBR|1|P77^ORDERS|F88^LAB|76164006^Biopsy of colon^SCT\r";
    let ordered = map_message(orm, &Options::default()).unwrap();
    assert_eq!(
        resources(&ordered, "ServiceRequest")[0]["fullUrl"],
        order["fullUrl"]
    );

    // A cancelled booking revokes the order; an SCH without order numbers
    // books none.
    let cancelled = map_message(&siu("S15"), &Options::default()).unwrap();
    assert_eq!(
        resources(&cancelled, "ServiceRequest")[0]["resource"]["status"],
        "revoked"
    );
    let unordered = siu("S12").replace("|P77^ORDERS|F88^LAB", "");
    let bundle = map_message(&unordered, &Options::default()).unwrap();
    assert!(resources(&bundle, "ServiceRequest").is_empty());
    let appointment = &resources(&bundle, "Appointment")[0]["resource"];
    assert!(appointment.get("basedOn").is_none());
}

#[test]
fn a_message_bundle_starts_with_its_header_and_names_the_message() {
    let options = Options::from_json(&serde_json::json!({ "bundle_type": "message" })).unwrap();
    let bundle = map_message(ADT, &options).unwrap();
    // FHIR's bdl-12, though the header's sender Organization is made first.
    assert_eq!(
        bundle["entry"][0]["resource"]["resourceType"],
        "MessageHeader"
    );
    assert!(!resources(&bundle, "Organization").is_empty());
    // IG `MSH[Bundle]`: MSH-10 and MSH-7.
    assert_eq!(bundle["identifier"]["value"], "MSG1");
    assert_eq!(bundle["timestamp"], "2024-01-02T03:04:05+01:00");
}

/// Ensures that what FHIR's invariants require and senders leave out or get
/// wrong is completed or left out: a ContactPoint's system (cpt-2), a
/// Period's order (per-1) and an Appointment's start and end (apt-2).
#[test]
fn what_fhir_requires_is_completed_and_what_it_forbids_left_out() {
    let message = "MSH|^~\\&|ADT1|HOSP|||20240102030405+0100||ADT^A03|MSG1|P|2.5.1\r\
PID|1||123456^^^HOSP^MR||DOE^JOHN|||M|||||^PRN^^^^555^5551234~^NET^^jd@example.org~^PRN^^^^^^^^^^unlisted\r\
PV1|1|I|WARD^101^1|||||||MED|||||||||V100^^^HOSP^VN|||||||||||||||||||||||||20240105100000+0100|20240101090000+0100\r";
    let bundle = map_message(message, &Options::default()).unwrap();
    let patient = &resources(&bundle, "Patient")[0]["resource"];
    let systems: Vec<&str> = patient["telecom"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["system"].as_str().unwrap())
        .collect();
    assert_eq!(systems, ["phone", "email", "other"]);
    // A discharge before the admission: the end is left out.
    let encounter = &resources(&bundle, "Encounter")[0]["resource"];
    assert_eq!(encounter["period"]["start"], "2024-01-05T10:00:00+01:00");
    assert!(encounter["period"].get("end").is_none());

    // The Appointment of an SIU whose SCH gives `duration` and `timing`.
    let appointment = |duration: &str, timing: &str| {
        let message = format!(
            "MSH|^~\\&|SCHED|HOSP|||20240102030405+0100||SIU^S12|MSG5|P|2.5.1\r\
SCH|A1^SCHED||||||||{duration}|{timing}\r\
PID|1||123456^^^HOSP^MR||DOE^JOHN\r"
        );
        let bundle = map_message(&message, &Options::default()).unwrap();
        resources(&bundle, "Appointment")[0]["resource"].clone()
    };
    let (start, end) = ("2024-01-10T23:30:00-05:00", "2024-01-11T00:15:00-05:00");
    let starting = "^^^20240110233000-0500";
    let ending = "^^^^20240111001500-0500";
    // An end before the start is left out, and the duration gives it.
    let reversed = "^^^20240110233000-0500^20240110220000-0500";
    // A start or an end alone (SCH-11.4, SCH-11.5) gets the other from the
    // duration.
    for timing in [starting, ending, reversed] {
        let booked = appointment("45|min", timing);
        assert_eq!(
            (&booked["start"], &booked["end"]),
            (&start.into(), &end.into()),
            "{timing}"
        );
    }
    // Without a duration, what was given is only what was asked for.
    for (timing, key, when) in [(starting, "start", start), (ending, "end", end)] {
        let asked = appointment("|", timing);
        assert!(
            asked.get("start").is_none() && asked.get("end").is_none(),
            "{asked}"
        );
        assert_eq!(asked["requestedPeriod"][0][key], when, "{timing}");
    }
}

/// Ensures that a result's sub-id, observer, equipment, type, instance id,
/// analysis time, performing lab's address and medical director reach the
/// Observation (IG `OBX[Observation]`).
#[test]
fn a_result_names_its_lab_director_equipment_and_grouping() {
    let obx = "OBX|1|NM|718-7^Hemoglobin^LN|^1^2|13.5|g/dL|||||F|||20240102020000+0100||55^OBSERVER^OLLIE||ANALYZER7^^1.2.3^ISO|20240102023000+0100||OBS9^LAB||CITY LAB|1 LAB RD^^SPRINGFIELD^IL|77^DIRECTOR^DANA||||RSLT\r";
    let message = ORU.replace(
        "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL^g/dL^UCUM|12-16|N|||F|||20240102020000+0100\r",
        obx,
    );
    assert_ne!(message, ORU, "the OBX was replaced");
    let bundle = map_message(&message, &Options::default()).unwrap();
    let observation = resources(&bundle, "Observation")
        .into_iter()
        .find(|o| o["resource"]["code"]["coding"][0]["code"] == "718-7")
        .unwrap()["resource"]
        .clone();
    assert_eq!(observation["category"][0]["coding"][0]["code"], "RSLT");
    assert_eq!(observation["identifier"][0]["value"], "OBS9");
    let extension = |url: &str| {
        observation["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"] == url)
            .unwrap_or_else(|| panic!("extension {url}"))
            .clone()
    };
    assert_eq!(
        extension("http://hl7.org/fhir/StructureDefinition/observation-analysis-date-time")["valueDateTime"],
        "2024-01-02T02:30:00+01:00"
    );
    assert_eq!(
        extension("http://hl7.org/fhir/StructureDefinition/observation-v2-subid")["extension"],
        serde_json::json!([
            { "url": "group", "valueDecimal": 1 },
            { "url": "sequence", "valueDecimal": 2 },
        ])
    );
    let find = |reference: &Value| resolve(&bundle, reference);
    let equipment = find(&observation["device"]);
    assert_eq!(equipment["identifier"][0]["system"], "urn:oid:1.2.3");
    assert_eq!(equipment["identifier"][0]["value"], "ANALYZER7");
    let performers: Vec<Value> = observation["performer"]
        .as_array()
        .unwrap()
        .iter()
        .map(find)
        .collect();
    let lab = performers
        .iter()
        .find(|p| p["resourceType"] == "Organization")
        .expect("the performing lab");
    assert_eq!(lab["name"], "CITY LAB");
    assert_eq!(lab["address"][0]["line"][0], "1 LAB RD");
    let role = |code: &str| {
        performers
            .iter()
            .find(|p| p["code"][0]["coding"][0]["code"] == code)
            .unwrap_or_else(|| panic!("a PractitionerRole {code}"))
    };
    let director = role("MDIR");
    assert_eq!(
        find(&director["practitioner"])["name"][0]["family"],
        "DIRECTOR"
    );
    assert_eq!(find(&director["organization"])["name"], "CITY LAB");
    let observer = role("responsibleObserver");
    assert_eq!(
        find(&observer["practitioner"])["name"][0]["family"],
        "OBSERVER"
    );
}

/// Ensures that an alternate visit id keeps its sender's type (IG
/// `PV1[Encounter]`) and that a general resource's participant status is
/// its filler status AIG-14, not AIG-12 (its duration units).
#[test]
fn visit_ids_and_resource_statuses_are_read_where_the_ig_says() {
    let visit = patient_update(
        "MSG1",
        "PV1|1|I|WARD^101^1|||||||MED|||||||||V100^^^HOSP^VN|||||||||||||||||||||||||||||||ALT7^^^HOSP^MR\r",
    );
    let bundle = map_message(&visit, &Options::default()).unwrap();
    let encounter = &resources(&bundle, "Encounter")[0]["resource"];
    let types: Vec<&str> = encounter["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["VN", "MR"]);

    let schedule = "MSH|^~\\&|SCHED|HOSP|||20240102030405+0100||SIU^S12|MSG5|P|2.5.1\r\
SCH|A1^SCHED\r\
PID|1||123456^^^HOSP^MR||DOE^JOHN\r\
AIG|1||SCOPE^Endoscope|EQ^Equipment||||||||Cancelled|||\r\
AIG|2||CART^Cart|EQ^Equipment||||||||MIN||Cancelled|\r";
    let bundle = map_message(schedule, &Options::default()).unwrap();
    let appointment = &resources(&bundle, "Appointment")[0]["resource"];
    let status_of = |name: &str| {
        let participants = appointment["participant"].as_array().unwrap();
        let found = participants.iter().find(|p| p["actor"]["display"] == name);
        found.unwrap()["status"].as_str().unwrap().to_owned()
    };
    assert_eq!(status_of("Endoscope"), "accepted");
    assert_eq!(status_of("Cart"), "declined");
}

/// Ensures that the ordering provider is a PractitionerRole of the ordering
/// facility, with their addresses and phones where the IG puts them, and
/// that the call-back phone goes on the requester when OBR-17 gives it
/// (IG `ORC[ServiceRequest]`, `OBR[ServiceRequest]`).
#[test]
fn the_ordering_provider_acts_for_the_ordering_facility() {
    let orc = "ORC|RE|P100|F200|||||||||77^ORDER^OLIVIA||^WPN^PH^^^555^1112222|||||||CITY CLINIC^^^^^^^^^C1|2 CLINIC RD^^SPRINGFIELD^IL|^WPN^PH^^^555^3334444|9 HOME ST^^SPRINGFIELD^IL|||||O\r";
    let message = ORU.replace("ORC|RE|P100|F200\r", orc);
    assert_ne!(message, ORU, "the ORC was replaced");
    let bundle = map_message(&message, &Options::default()).unwrap();
    let find = |reference: &Value| resolve(&bundle, reference);
    let request = &resources(&bundle, "ServiceRequest")[0]["resource"];
    assert_eq!(request["locationCode"][0]["coding"][0]["code"], "O");
    let callback =
        "http://hl7.org/fhir/StructureDefinition/servicerequest-order-callback-phone-number";
    assert_eq!(request["extension"][0]["url"], callback);
    assert_eq!(
        request["extension"][0]["valueContactPoint"]["value"],
        "(555) 1112222"
    );
    let role = find(&request["requester"]);
    assert_eq!(role["resourceType"], "PractitionerRole");
    let person = find(&role["practitioner"]);
    assert_eq!(person["name"][0]["family"], "ORDER");
    assert_eq!(person["address"][0]["line"][0], "9 HOME ST");
    let facility = find(&role["organization"]);
    assert_eq!(facility["name"], "CITY CLINIC");
    assert_eq!(facility["address"][0]["line"][0], "2 CLINIC RD");
    assert_eq!(facility["telecom"][0]["value"], "(555) 3334444");

    // OBR-17 puts the call-back phone on the requester, and ORC-14 yields.
    let obr = "OBR|1|P100|F200|24317-0^Hemogram^LN|||20240102020000+0100||||||||||^WPN^PH^^^555^9990000||||||||F\r";
    let message = message.replace(
        "OBR|1|P100|F200|24317-0^Hemogram^LN|||20240102020000+0100||||||||||||||||||F\r",
        obr,
    );
    let bundle = map_message(&message, &Options::default()).unwrap();
    let request = &resources(&bundle, "ServiceRequest")[0]["resource"];
    assert!(request.get("extension").is_none(), "{request}");
    let on_requester = &request["requester"]["extension"][0];
    assert_eq!(on_requester["url"], callback);
    assert_eq!(on_requester["valueContactPoint"]["value"], "(555) 9990000");
}

/// Ensures that a reflex order (OBR-11 `G`) is based on its parent OBR-29:
/// by fullUrl when the message holds the parent, else by its filler
/// number; and not at all when OBR-50 is valued, which the IG leaves
/// unmapped (IG `OBR[ServiceRequest]`).
#[test]
fn a_reflex_order_is_based_on_its_parent() {
    let child =
        "OBR|2|P101|F201|5778-6^Color^LN|||20240102020000+0100||||G||||||||||||||F||||P100^F200\r";
    let message = format!("{ORU}{child}");
    let bundle = map_message(&message, &Options::default()).unwrap();
    let requests = resources(&bundle, "ServiceRequest");
    let [parent, reflex] = requests.as_slice() else {
        panic!("two orders: {requests:?}")
    };
    assert_eq!(parent["resource"]["intent"], "order");
    assert!(parent["resource"].get("basedOn").is_none());
    assert_eq!(reflex["resource"]["intent"], "reflex-order");
    assert_eq!(
        reflex["resource"]["basedOn"],
        serde_json::json!([{ "reference": parent["fullUrl"] }])
    );

    let elsewhere = message.replace("P100^F200\r", "P900^F900\r");
    let bundle = map_message(&elsewhere, &Options::default()).unwrap();
    let reflex = &resources(&bundle, "ServiceRequest")[1]["resource"];
    let based_on = &reflex["basedOn"][0];
    assert_eq!(based_on["type"], "ServiceRequest");
    assert_eq!(based_on["identifier"]["value"], "F900");
    assert_eq!(based_on["identifier"]["type"]["coding"][0]["code"], "FILL");

    let with_parent_code = message.replace(
        "P100^F200\r",
        "P100^F200|||||||||||||||||||||24317-0^Hemogram^LN\r",
    );
    let bundle = map_message(&with_parent_code, &Options::default()).unwrap();
    let reflex = &resources(&bundle, "ServiceRequest")[1]["resource"];
    assert!(reflex.get("basedOn").is_none(), "{reflex}");
}

/// Ensures that the MSH's security, country, language, responsible and
/// receiving organizations and network addresses reach the MessageHeader
/// where the IG puts them (`MSH[MessageHeader]`), and that without the
/// network addresses the applications' HDs give the endpoints.
#[test]
fn the_header_carries_the_msh_as_the_ig_maps_it() {
    let msh = "MSH|^~\\&|APP^1.2.3.3^ISO|FAC^1.2.3^ISO|RAPP^1.2.3.5^ISO|RFAC|20240102030405+0100|SECRET|ADT^A01^ADT_A01|MSG1|P|2.5.1|||||USA||en-US^English^ISO639|||SENDORG^^^^^^^^^S22|RECVORG^^^^^^^^^R23|NET^1.2.3.24^ISO|RNET^1.2.3.25^ISO|R^Restricted^HL70952\r";
    let message = ADT.replacen(ADT.split('\r').next().unwrap(), msh.trim_end(), 1);
    assert_ne!(message, ADT, "the MSH was replaced");
    let bundle = map_message(&message, &Options::default()).unwrap();
    let header = &resources(&bundle, "MessageHeader")[0]["resource"];
    assert_eq!(header["language"], "en-US");
    assert_eq!(header["meta"]["security"][0]["display"], "SECRET");
    assert_eq!(header["meta"]["security"][1]["code"], "R");
    assert_eq!(header["meta"]["tag"][0]["code"], "P");
    assert_eq!(header["source"]["name"], "APP");
    assert_eq!(header["source"]["endpoint"], "urn:oid:1.2.3.24");
    let destination = &header["destination"][0];
    assert_eq!(destination["endpoint"], "urn:oid:1.2.3.25");
    assert_eq!(
        resolve(&bundle, &destination["receiver"])["name"],
        "RECVORG"
    );
    assert_eq!(resolve(&bundle, &header["responsible"])["name"], "SENDORG");
    let sender = resolve(&bundle, &header["sender"]);
    assert_eq!(sender["address"][0]["country"], "USA");
    // The responsible sending organization authored the message
    // (IG `MSH[Provenance-Source]`), else the sending facility.
    let author = |bundle: &Value| {
        let provenance = &resources(bundle, "Provenance")[0]["resource"];
        resolve(bundle, &provenance["agent"][0]["who"])["name"].clone()
    };
    assert_eq!(author(&bundle), "SENDORG");
    // With MSH-24 valued, the sending application is a source Device.
    let provenance = &resources(&bundle, "Provenance")[0]["resource"];
    let application = resolve(&bundle, &provenance["entity"][0]["what"]);
    assert_eq!(application["identifier"][0]["value"], "urn:oid:1.2.3.3");
    assert_eq!(application["deviceName"][0]["name"], "APP");

    // Without MSH-23 to -25 the applications and MSH-6 stand in.
    let fewer = message.replace(
        "|SENDORG^^^^^^^^^S22|RECVORG^^^^^^^^^R23|NET^1.2.3.24^ISO|RNET^1.2.3.25^ISO|",
        "|SENDORG^^^^^^^^^S22||||",
    );
    assert_ne!(fewer, message);
    let bundle = map_message(&fewer, &Options::default()).unwrap();
    let header = &resources(&bundle, "MessageHeader")[0]["resource"];
    assert_eq!(header["source"]["endpoint"], "urn:oid:1.2.3.3");
    let destination = &header["destination"][0];
    assert_eq!(destination["endpoint"], "urn:oid:1.2.3.5");
    assert_eq!(resolve(&bundle, &destination["receiver"])["name"], "RFAC");
    let anonymous = fewer.replace("|SENDORG^^^^^^^^^S22|", "||");
    let bundle = map_message(&anonymous, &Options::default()).unwrap();
    assert_eq!(author(&bundle), "FAC");
}

/// Ensures that the county, the mother's identifier, the animal and the
/// tribal citizenship of a PID reach the Patient as the IG maps them
/// (`PID[Patient]`): a county that differs from the address's own is an
/// address of its own.
#[test]
fn a_patient_names_county_mother_species_and_tribe() {
    let pid = "PID|1||123456^^^HOSP&1.2.840.99&ISO^MR||DOE^JOHN||||||1 MAIN ST^^SPRINGFIELD^IL^^^^^SANGAMON|MENARD|||||||||M77^^^HOSP&1.2.840.99&ISO^MR||||||||||||||125097000^Goat^SCT|4880003^Beagle^SCT|||CA^Canada^ISO3166_1\r";
    let message = format!("MSH|^~\\&|ADT1|HOSP|||20240102030405+0100||ADT^A08|MSG1|P|2.5.1\r{pid}");
    let bundle = map_message(&message, &Options::default()).unwrap();
    let patient = &resources(&bundle, "Patient")[0];
    let districts: Vec<&Value> = patient["resource"]["address"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["district"])
        .collect();
    assert_eq!(districts, ["SANGAMON", "MENARD"]);
    let extensions = patient["resource"]["extension"].as_array().unwrap();
    let animal = extensions
        .iter()
        .find(|e| e["url"] == "http://hl7.org/fhir/StructureDefinition/patient-animal")
        .expect("the animal extension");
    assert_eq!(animal["extension"][0]["url"], "species");
    assert_eq!(
        animal["extension"][1]["valueCodeableConcept"]["coding"][0]["display"],
        "Beagle"
    );
    let citizenship = extensions
        .iter()
        .find(|e| e["url"] == "http://hl7.org/fhir/StructureDefinition/patient-citizenship")
        .expect("the tribal citizenship");
    assert_eq!(
        citizenship["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "CA"
    );
    let mother = &resources(&bundle, "RelatedPerson")[0]["resource"];
    assert_eq!(mother["patient"]["reference"], patient["fullUrl"]);
    assert_eq!(mother["identifier"][0]["value"], "M77");
    assert_eq!(mother["relationship"][0]["coding"][0]["code"], "MTH");

    // The county of an address that names none is that address's.
    let same = message.replace("^^^^^SANGAMON|MENARD|", "|MENARD|");
    let bundle = map_message(&same, &Options::default()).unwrap();
    let addresses = &resources(&bundle, "Patient")[0]["resource"]["address"];
    assert_eq!(addresses.as_array().unwrap().len(), 1);
    assert_eq!(addresses[0]["district"], "MENARD");
}

/// Ensures that a visit's description and protection indicator (IG
/// `PV2[Encounter]`), a contact's social security number (`NK1`), a
/// diagnosis's parent (`DG1[Condition]`) and an appointment reason coded
/// as a type (`SCH[Appointment]`) land where the IG puts them.
#[test]
fn descriptions_labels_and_causes_land_where_the_ig_puts_them() {
    let message = ADT
        .replace(
            "AL1|1|",
            "PV2|WARD^202^2||CHEST PAIN|||||20240103080000+0100|20240105120000+0100|||Checkup \\T\\ <review>\\.br\\next|77^SENDER^SAM|||||||||Y||||||||||||||||A^Ambulance^HL70430\rAL1|1|",
        )
        .replace(
            "NK1|1|DOE^JANE|SPO^Spouse^HL70063\r",
            "NK1|1|DOE^JANE|SPO^Spouse^HL70063||||||||||||||||||||||||||||||||||123-45-6789\r",
        )
        .replace(
            "DG1|1||I10^Essential hypertension^I10|||A\r",
            "DG1|1||I10^Essential hypertension^I10|||A||||||||||||||D1\r\
             DG1|2||N18.3^Chronic kidney disease^I10|||A||||||||||||||||D1\r",
        );
    let bundle = map_message(&message, &Options::default()).unwrap();
    let encounter = &resources(&bundle, "Encounter")[0]["resource"];
    assert_eq!(
        encounter["text"]["div"],
        "<div xmlns=\"http://www.w3.org/1999/xhtml\">Checkup &amp; &lt;review&gt;<br/>next</div>"
    );
    assert_eq!(encounter["meta"]["security"][0]["code"], "Y");
    let contact = &resources(&bundle, "RelatedPerson")[0]["resource"];
    let ssn = contact["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["system"] == "http://hl7.org/fhir/sid/us-ssn")
        .expect("the contact's SSN");
    assert_eq!(ssn["value"], "123-45-6789");
    let conditions = resources(&bundle, "Condition");
    let [parent, child] = conditions.as_slice() else {
        panic!("two diagnoses: {conditions:?}")
    };
    assert!(parent["resource"].get("extension").is_none());
    assert_eq!(
        child["resource"]["extension"][0],
        serde_json::json!({
            "url": "http://hl7.org/fhir/StructureDefinition/condition-dueTo",
            "valueReference": { "reference": parent["fullUrl"] },
        })
    );

    let siu = |reason: &str| {
        let message = format!(
            "MSH|^~\\&|SCHED|HOSP|||20240102030405+0100||SIU^S12|MSG5|P|2.5.1\r\
             SCH|A1^SCHED||||||{reason}\r\
             PID|1||123456^^^HOSP^MR||DOE^JOHN\r"
        );
        let bundle = map_message(&message, &Options::default()).unwrap();
        resources(&bundle, "Appointment")[0]["resource"].clone()
    };
    let appointment = siu("ROUTINE^Routine visit^HL70277");
    assert_eq!(
        appointment["appointmentType"]["coding"][0]["code"],
        "ROUTINE"
    );
    assert!(appointment.get("reasonCode").is_none());
    let appointment = siu("CHECKUP^Check-up^HL70276");
    assert_eq!(appointment["reasonCode"][0]["coding"][0]["code"], "CHECKUP");
    assert!(appointment.get("appointmentType").is_none());
}

/// Ensures that the principal result interpreter OBR-32 is the report's
/// resultsInterpreter, a PractitionerRole `PRI` (IG
/// `NDL[PractitionerRole]`), whether the sender writes the NDL's person as
/// a CNN in subcomponents or, as older senders do, an XCN, and that it is
/// the same Practitioner as an XCN naming the same doctor.
#[test]
fn the_principal_result_interpreter_reads_the_report() {
    let obr = "OBR|1|P100|F200|24317-0^Hemogram^LN|||20240102020000+0100||||||||||||||||||F\r";
    let interpreted = |ndl: &str| {
        let message = ORU
            .replace(obr, &format!("{}|||||||{ndl}\r", obr.trim_end()))
            .replace(
                "ORC|RE|P100|F200\r",
                "ORC|RE|P100|F200|||||||||5454^ROBIN^RITA^^^^^^HOSP&1.2.3&ISO\r",
            );
        assert_ne!(message, ORU);
        let bundle = map_message(&message, &Options::default()).unwrap();
        let report = &resources(&bundle, "DiagnosticReport")[0]["resource"];
        let role = resources(&bundle, "PractitionerRole")
            .into_iter()
            .find(|r| r["fullUrl"] == report["resultsInterpreter"][0]["reference"])
            .expect("the interpreter's PractitionerRole")["resource"]
            .clone();
        assert_eq!(role["code"][0]["coding"][0]["code"], "PRI");
        let person = resources(&bundle, "Practitioner")
            .into_iter()
            .find(|p| p["fullUrl"] == role["practitioner"]["reference"])
            .expect("the interpreter")["resource"]
            .clone();
        (person, bundle)
    };
    let (person, bundle) = interpreted("5454&ROBIN&RITA&&&&&&HOSP&1.2.3&ISO^20240102040000+0100");
    assert_eq!(person["name"][0]["family"], "ROBIN");
    assert_eq!(person["identifier"][0]["system"], "urn:oid:1.2.3");
    assert_eq!(
        resources(&bundle, "Practitioner").len(),
        1,
        "ORC-12 names the same doctor"
    );
    let (person, _) = interpreted("3065^MAHONEY^PAUL^J");
    assert_eq!(person["name"][0]["family"], "MAHONEY");
    assert_eq!(person["name"][0]["given"], serde_json::json!(["PAUL", "J"]));

    // The technician OBR-34 and transcriptionist OBR-35 are performers,
    // each with their function.
    let (_, bundle) = interpreted("5454&ROBIN||77&TECH&TOM|88&TYPIST&TINA");
    let report = &resources(&bundle, "DiagnosticReport")[0]["resource"];
    let functions: Vec<&Value> = report["performer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["extension"][0]["valueCodeableConcept"]["coding"][0]["code"])
        .collect();
    assert_eq!(functions, ["SPRF", "TRANS"]);
}

/// Ensures that an order's placer group number, status reason and
/// confidentiality reach its ServiceRequest (IG `ORC[ServiceRequest]`),
/// the group number as an EI or, in v2.8.2, an EIP.
#[test]
fn an_order_names_its_group_reason_and_confidentiality() {
    let request_of = |orc: &str| {
        let message = ORU.replace("ORC|RE|P100|F200\r", orc);
        assert_ne!(message, ORU);
        let bundle = map_message(&message, &Options::default()).unwrap();
        resources(&bundle, "ServiceRequest")[0]["resource"].clone()
    };
    let request = request_of(
        "ORC|RE|P100|F200|G7^CPOE||||||||||||PA^Patient asked^L||||||||||||R^Restricted^HL70952\r",
    );
    assert_eq!(request["requisition"]["value"], "G7");
    assert_eq!(request["requisition"]["type"]["coding"][0]["code"], "PGN");
    assert_eq!(
        request["extension"][0]["url"],
        "http://hl7.org/fhir/StructureDefinition/request-statusReason"
    );
    assert_eq!(
        request["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "PA"
    );
    assert_eq!(request["meta"]["security"][0]["code"], "R");

    let request = request_of("ORC|RE|P100|F200|G7&CPOE^FG9&LAB\r");
    assert_eq!(request["requisition"]["value"], "G7");
    let group = request["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"]["coding"][0]["code"] == "FGN")
        .expect("the filler's group number");
    assert_eq!(group["value"], "FG9");
}

/// Ensures that a channel that asks for it gets the mapping recorded as a
/// Provenance of every resource (IG `MSH[Provenance-Transformation]`): by
/// this mapper, at the time of mapping, from the message itself.
#[test]
fn the_mapping_can_record_itself() {
    let options =
        Options::from_json(&serde_json::json!({ "transformation_provenance": true })).unwrap();
    let before = std::time::SystemTime::now();
    let bundle = map_message(ADT, &options).unwrap();
    let provenance = resources(&bundle, "Provenance")
        .into_iter()
        .find(|p| p["resource"]["activity"]["coding"][0]["code"] == "v2-fhir-transformation")
        .expect("the transformation's Provenance")["resource"]
        .clone();
    let find = |reference: &Value| resolve(&bundle, reference);
    let patient = resources(&bundle, "Patient")[0]["fullUrl"].clone();
    assert!(
        provenance["target"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["reference"] == patient)
    );
    let recorded = provenance["recorded"].as_str().unwrap();
    let year: u64 = recorded[..4].parse().unwrap();
    let this_year = before
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 31_556_952
        + 1970;
    assert!(
        recorded.ends_with('Z') && year.abs_diff(this_year) <= 1,
        "{recorded}"
    );
    let mapper = find(&provenance["agent"][0]["who"]);
    assert_eq!(mapper["resourceType"], "Device");
    assert_eq!(mapper["deviceName"][0]["name"], "hl7wasm hl7-to-fhir");
    let source = find(&provenance["entity"][0]["what"]);
    let data = source["content"][0]["attachment"]["data"].as_str().unwrap();
    assert_eq!(
        STANDARD.decode(data).unwrap(),
        ADT.as_bytes(),
        "the message"
    );

    let plain = map_message(ADT, &Options::default()).unwrap();
    assert!(
        resources(&plain, "DocumentReference").is_empty(),
        "off by default"
    );
}

/// Ensures that a scheduled resource takes part for its own start and
/// duration (IG `AIG[Appointment]`, `AIP[Appointment]`).
#[test]
fn scheduled_resources_take_part_for_their_own_time() {
    let message = "MSH|^~\\&|SCHED|HOSP|||20240102030405+0100||SIU^S12|MSG5|P|2.5.1\r\
        SCH|A1^SCHED\r\
        PID|1||123456^^^HOSP^MR||DOE^JOHN\r\
        AIG|1|A|R1^Scope|101^Equipment||||20240110093000+0100|||30|min\r\
        AIP|1|A|77^DOC^DANA|D^Doctor||20240110093000+0100|||45|min^Minutes^ISO\r";
    let bundle = map_message(message, &Options::default()).unwrap();
    let appointment = &resources(&bundle, "Appointment")[0]["resource"];
    let periods: Vec<&Value> = appointment["participant"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.get("period"))
        .collect();
    assert_eq!(
        periods,
        [
            &serde_json::json!({ "start": "2024-01-10T09:30:00+01:00", "end": "2024-01-10T10:00:00+01:00" }),
            &serde_json::json!({ "start": "2024-01-10T09:30:00+01:00", "end": "2024-01-10T10:15:00+01:00" }),
        ]
    );
}

/// Ensures that a document's OBX text is its content and that a comment
/// on the document (an NTE after its TXA or OBX) is more of its content
/// (IG `OBX[DocumentReference]`, `NTE[DocumentReference]`).
#[test]
fn a_document_keeps_its_text_and_the_comments_on_it() {
    let message = "MSH|^~\\&|DOCS|HOSP|||20240102030405+0100||MDM^T02|MSG5|P|2.5.1\r\
        PID|1||123456^^^HOSP^MR||DOE^JOHN\r\
        TXA|1|CN|TX|||||||||||D77|||AU\r\
        OBX|1|TX|11488-4^Consult note^LN||Patient seen.\r\
        NTE|1||Dictated, not read\r\
        OBX|2|TX|11488-4^Consult note^LN||Follow up in a week.\r";
    let bundle = map_message(message, &Options::default()).unwrap();
    let document = &resources(&bundle, "DocumentReference")[0]["resource"];
    let texts: Vec<String> = document["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["attachment"]["contentType"], "text/plain");
            let data = c["attachment"]["data"].as_str().unwrap();
            String::from_utf8(STANDARD.decode(data).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(
        texts,
        ["Patient seen.\nFollow up in a week.", "Dictated, not read"]
    );
}

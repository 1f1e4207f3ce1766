//! CWE/CE/CNE → CodeableConcept, IS/ID → a coded value of an HL7 table, and
//! HL7 coding-system names (table 0396) → FHIR system URIs.

use std::borrow::Cow;

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Nested, Parts, Rep, Text, put};

/// A CWE, CE or CNE as a CodeableConcept: components 1–3 (with version 7 and
/// system OID 14) are the first coding, 4–6 (8, 17) the alternate one, and
/// component 9 (original text), else the display of a coding-less value, is
/// the text.
pub fn codeable_concept<'m>(cwe: &Rep<'m>) -> Option<Value<'m>> {
    let cwe = cwe.split::<17>();
    concept(|n| cwe.part(n))
}

/// [`codeable_concept`] of a CWE that is a component, its parts
/// subcomponents (for example SPS-1, the specimen source).
pub fn nested_concept<'m>(cwe: &Nested<'m>) -> Option<Value<'m>> {
    concept(|n| cwe.part(n))
}

/// A CodeableConcept of the CWE whose parts `part` reads.
fn concept<'m>(part: impl Fn(usize) -> Option<Text<'m>>) -> Option<Value<'m>> {
    let codings: Vec<Value<'m>> = [(1, 2, 3, 7, 14), (4, 5, 6, 8, 17)]
        .into_iter()
        .filter_map(|(code, display, system, version, oid)| {
            let code = part(code)?;
            let system = part(system)
                .and_then(|name| coding_system(&name))
                .or_else(|| part(oid).map(|oid| format!("urn:oid:{oid}").into()));
            Some(coding(system, code, part(display), part(version)))
        })
        .collect();
    let text = part(9).or_else(|| codings.is_empty().then(|| part(2)).flatten());
    if codings.is_empty() && text.is_none() {
        return None;
    }
    let mut concept = json!({});
    put(&mut concept, "coding", Some(Value::Array(codings)));
    put(&mut concept, "text", text.map(Value::from));
    Some(concept)
}

/// A CWE bound to an HL7 table whose FHIR system is `system` (see
/// [`v2_table!`]): as [`codeable_concept`], with the table's system on a
/// first coding that names none.
pub fn table_cwe<'m>(cwe: &Rep<'m>, system: &'static str) -> Option<Value<'m>> {
    let mut concept = codeable_concept(cwe)?;
    if let Some(first) = first_coding(&mut concept)
        && first.get("system").is_none()
        && cwe.get(3).is_none()
    {
        first["system"] = Value::from(system);
    }
    Some(concept)
}

/// A CWE as a single Coding (IG `CWE[Coding]`): the first of the codings
/// its CodeableConcept would have.
pub fn cwe_coding<'m>(cwe: &Rep<'m>) -> Option<Value<'m>> {
    let mut concept = codeable_concept(cwe)?;
    first_coding(&mut concept).map(std::mem::take)
}

/// The first coding of a CodeableConcept (a direct lookup: `pointer_mut`
/// allocates for every token of its path).
pub fn first_coding<'v, 'm>(concept: &'v mut Value<'m>) -> Option<&'v mut Value<'m>> {
    concept.get_mut("coding")?.as_array_mut()?.first_mut()
}

/// A Coding; absent parts are left out.
pub fn coding<'m>(
    system: Option<Cow<'static, str>>,
    code: Text<'m>,
    display: Option<Text<'m>>,
    version: Option<Text<'m>>,
) -> Value<'m> {
    let mut coding = json!({});
    put(&mut coding, "system", system.map(Value::from));
    put(&mut coding, "version", version.map(Value::from));
    coding["code"] = Value::from(fhir_code(code));
    put(&mut coding, "display", display.map(Value::from));
    coding
}

/// A CodeableConcept of one coding: `code` in the code system `system`, an
/// HL7 table's (see [`v2_table!`]) or one of FHIR's own.
pub fn table_concept<'m>(system: &'static str, code: impl Into<Text<'m>>) -> Value<'m> {
    json!({ "coding": [{ "system": system, "code": fhir_code(code.into()) }] })
}

/// `text` as a FHIR `code`, whose value may hold single spaces between its
/// words but no other whitespace (`[^\s]+(\s[^\s]+)*`): runs of
/// whitespace inside become one space. Senders do pad codes (`Admitted  as
/// Inpatient`), and one such code would make the whole bundle invalid.
/// `text` comes trimmed (see `context::clean`); plain codes stay borrowed.
pub fn fhir_code(text: Text<'_>) -> Text<'_> {
    let bytes = text.as_bytes();
    let plain = bytes.is_ascii()
        && !bytes.iter().any(|b| b.is_ascii_whitespace() && *b != b' ')
        && !bytes.windows(2).any(|pair| pair == b"  ");
    if plain {
        return text;
    }
    Cow::Owned(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// What the FHIR systems of HL7 v2 tables start with.
const TABLE_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v2-";

/// The FHIR system of HL7 v2 table `$table` (a literal, e.g. `"0203"`) as a
/// literal: [`table_system`] without the allocation.
macro_rules! v2_table {
    ($table:literal) => {
        concat!("http://terminology.hl7.org/CodeSystem/v2-", $table)
    };
}
pub(crate) use v2_table;

/// The FHIR system of HL7 v2 table `table`.
fn table_system(table: &str) -> String {
    [TABLE_SYSTEM, table].concat()
}

/// The FHIR system URI of an HL7 coding-system name (table 0396), for example
/// `LN` → `http://loinc.org`, `HL70203` → the v2-0203 code system. An OID is
/// written `urn:oid:`. `None` for local and unknown names (`L`, `99zzz`, ...):
/// a code without a system is truer than an invented URI.
pub fn coding_system(name: &str) -> Option<Cow<'static, str>> {
    let trimmed = name.trim();
    // Upper-cased on the stack: names are short.
    let mut buffer = [0; 16];
    let upper = match buffer.get_mut(..trimmed.len()) {
        Some(room) if trimmed.is_ascii() => {
            room.copy_from_slice(trimmed.as_bytes());
            room.make_ascii_uppercase();
            Cow::Borrowed(std::str::from_utf8(room).expect("ASCII"))
        }
        _ => Cow::Owned(trimmed.to_ascii_uppercase()),
    };
    let known = match &*upper {
        "LN" | "LOINC" => "http://loinc.org",
        "SCT" | "SNM" | "SNM3" | "SCT2" | "SNOMED" | "SNOMED-CT" | "SNOMEDCT" => {
            "http://snomed.info/sct"
        }
        "I10" | "I10C" | "ICD10" | "ICD-10" | "ICD10CM" | "ICD-10-CM" => {
            "http://hl7.org/fhir/sid/icd-10-cm"
        }
        "I10P" | "ICD10PCS" => "http://www.cms.gov/Medicare/Coding/ICD10",
        "I9" | "I9C" | "ICD9" | "ICD9CM" | "ICD-9-CM" => "http://hl7.org/fhir/sid/icd-9-cm",
        "CVX" => "http://hl7.org/fhir/sid/cvx",
        "MVX" => "http://terminology.hl7.org/CodeSystem/MVX",
        "NDC" => "http://hl7.org/fhir/sid/ndc",
        "RXNORM" | "RXN" => "http://www.nlm.nih.gov/research/umls/rxnorm",
        "UCUM" | "ANS+" => "http://unitsofmeasure.org",
        "C4" | "C5" | "CPT" | "CPT4" | "CPT-4" => "http://www.ama-assn.org/go/cpt",
        "HCPCS" | "HCPT" => "urn:oid:2.16.840.1.113883.6.285",
        "NUCC" | "NUCCPT" => "http://nucc.org/provider-taxonomy",
        "CDCREC" => "urn:oid:2.16.840.1.113883.6.238",
        "NCIT" => "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl",
        "PHINQUESTION" => "urn:oid:2.16.840.1.114222.4.5.232",
        "ISO3166_1" | "ISO3166-1" | "ISO3166" => "urn:iso:std:iso:3166",
        "ISO639" | "ISO+" => "urn:ietf:bcp:47",
        "UMLS" => "http://www.nlm.nih.gov/research/umls",
        "NPI" => "http://hl7.org/fhir/sid/us-npi",
        "FDDX" => "http://fdbhealth.com/fhir/CodeSystem/FDDX",
        _ => return hl7_table(&upper).or_else(|| oid(name)).map(Cow::Owned),
    };
    Some(Cow::Borrowed(known))
}

/// `HL70203`, `HL7-0203` and `HL7203` name HL7 tables.
fn hl7_table(upper: &str) -> Option<String> {
    let digits = upper.strip_prefix("HL7")?.trim_start_matches('-');
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(table_system(&format!("{digits:0>4}")))
}

/// An OID written as a coding-system name.
fn oid(name: &str) -> Option<String> {
    let is_oid = name.contains('.')
        && name
            .split('.')
            .all(|arc| !arc.is_empty() && arc.bytes().all(|b| b.is_ascii_digit()));
    is_oid.then(|| format!("urn:oid:{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_single_spaces_only() {
        let code = |text: &'static str| fhir_code(Cow::Borrowed(text));
        assert!(matches!(code("Admitted as Inpatient"), Cow::Borrowed(_)));
        assert_eq!(code("Admitted  as \t Inpatient"), "Admitted as Inpatient");
        assert_eq!(code("A\u{a0}\u{a0}B"), "A B");
        assert!(matches!(code("718-7"), Cow::Borrowed("718-7")));
    }

    #[test]
    fn table_systems_agree() {
        assert_eq!(v2_table!("0203"), table_system("0203"));
    }

    #[test]
    fn maps_well_known_systems() {
        assert_eq!(coding_system("LN").unwrap(), "http://loinc.org");
        assert_eq!(coding_system("SCT").unwrap(), "http://snomed.info/sct");
        assert_eq!(
            coding_system("I10").unwrap(),
            "http://hl7.org/fhir/sid/icd-10-cm"
        );
        assert_eq!(
            coding_system("HL70005").unwrap(),
            "http://terminology.hl7.org/CodeSystem/v2-0005"
        );
        assert_eq!(
            coding_system("2.16.840.1.113883.6.1").unwrap(),
            "urn:oid:2.16.840.1.113883.6.1"
        );
        assert_eq!(coding_system("L"), None);
        assert_eq!(coding_system("99ABC"), None);
    }
}

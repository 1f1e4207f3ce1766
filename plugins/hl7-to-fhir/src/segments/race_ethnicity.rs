//! PID-10 (race) and PID-22 (ethnic group) → the Patient's US Core race and
//! ethnicity extensions. The IG leaves both to realm profiles, so only a
//! channel configured with `"realm": "us"` gets them.
//!
//! Senders code both in the CDC Race & Ethnicity code system (CDCREC, whose
//! codes HL7 tables 0005 and 0189 reuse) or with table 0189's letters `H`,
//! `N`, `U`. A code of the five OMB race or two OMB ethnicity categories is
//! an `ombCategory`; any other CDCREC code of the right kind is `detailed`;
//! `UNK` and `ASKU` are null flavors, which the categories allow. What the
//! sender wrote (its text, else the code) is the required `text`, so a local
//! code such as `W` or `Caucasian` is kept without being guessed at.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Rep, Seg, Text, push};

const CDCREC: &str = "urn:oid:2.16.840.1.113883.6.238";
const NULL_FLAVOR: &str = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor";

/// One of the two extensions.
struct Kind {
    url: &'static str,
    /// The OMB categories by CDCREC code, with their displays.
    categories: &'static [(&'static str, &'static str)],
    /// How many `ombCategory` the extension allows.
    max_categories: usize,
    /// Whether a CDCREC code (its number before the check digit) is of
    /// this kind.
    owns: fn(u32) -> bool,
    /// Local letters with a category code (table 0189 for ethnicity).
    letters: &'static [(&'static str, &'static str)],
}

/// CDCREC numbers its ethnicity codes 2133 to 2186; the rest are races.
fn is_ethnicity(number: u32) -> bool {
    (2133..=2186).contains(&number)
}

const RACE: Kind = Kind {
    url: "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
    categories: &[
        ("1002-5", "American Indian or Alaska Native"),
        ("2028-9", "Asian"),
        ("2054-5", "Black or African American"),
        ("2076-8", "Native Hawaiian or Other Pacific Islander"),
        ("2106-3", "White"),
    ],
    max_categories: 5,
    owns: |number| !is_ethnicity(number),
    letters: &[],
};

const ETHNICITY: Kind = Kind {
    url: "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity",
    categories: &[
        ("2135-2", "Hispanic or Latino"),
        ("2186-5", "Not Hispanic or Latino"),
    ],
    max_categories: 1,
    owns: is_ethnicity,
    letters: &[("H", "2135-2"), ("N", "2186-5"), ("U", "UNK")],
};

/// Adds PID-10 and PID-22 to `patient` as the US Core extensions.
pub fn us_core<'m>(pid: Seg<'m>, patient: &mut Value<'m>) {
    for (n, kind) in [(10, &RACE), (22, &ETHNICITY)] {
        if let Some(extension) = extension(pid.reps(n), kind) {
            push(patient, "extension", extension);
        }
    }
}

/// A coded value that an extension of one kind knows.
struct Coded<'m> {
    /// An OMB category or a null flavor (an `ombCategory`), else a finer
    /// CDCREC code (a `detailed`).
    category: bool,
    coding: Value<'m>,
    /// The code's display: the standard one of a category, else the
    /// sender's.
    display: Option<Text<'m>>,
}

/// The extension of `kind` for the CWE repetitions `reps`; none when they
/// say nothing.
fn extension<'m>(reps: impl Iterator<Item = Rep<'m>>, kind: &Kind) -> Option<Value<'m>> {
    let mut categories = Vec::new();
    let mut detailed = Vec::new();
    let mut texts: Vec<Text<'m>> = Vec::new();
    for rep in reps {
        // The first triplet, else the alternate one, that this kind knows.
        let coded = [(1, 2), (4, 5)]
            .into_iter()
            .find_map(|(code, display)| classify(rep.get(code)?, rep.get(display), kind));
        let said = rep
            .get(9)
            .or_else(|| rep.get(2))
            .or_else(|| coded.as_ref().and_then(|c| c.display.clone()))
            .or_else(|| rep.get(1));
        if let Some(said) = said.filter(|t| !texts.contains(t)) {
            texts.push(said);
        }
        if let Some(Coded {
            category, coding, ..
        }) = coded
        {
            let known = if category {
                &mut categories
            } else {
                &mut detailed
            };
            if !known.contains(&coding) {
                known.push(coding);
            }
        }
    }
    if texts.is_empty() {
        return None;
    }
    categories.truncate(kind.max_categories);
    let parts = categories
        .into_iter()
        .map(|coding| json!({ "url": "ombCategory", "valueCoding": coding }))
        .chain(
            detailed
                .into_iter()
                .map(|coding| json!({ "url": "detailed", "valueCoding": coding })),
        )
        .chain(std::iter::once(
            json!({ "url": "text", "valueString": texts.join(", ") }),
        ));
    Some(json!({ "url": kind.url, "extension": parts.collect::<Value<'m>>() }))
}

/// `code` (with the sender's `display`) as a coded value of `kind`; none
/// for a code of the other kind or outside CDCREC.
fn classify<'m>(code: Text<'m>, display: Option<Text<'m>>, kind: &Kind) -> Option<Coded<'m>> {
    let letter = kind.letters.iter().find(|(letter, _)| *letter == code);
    let standard = letter.map_or(&*code, |(_, mapped)| mapped);
    let known = |system: &'static str, code: &'static str, display: &'static str| Coded {
        category: true,
        coding: json!({ "system": system, "code": code, "display": display }),
        display: Some(Text::Borrowed(display)),
    };
    if let Some((code, display)) = kind.categories.iter().find(|(c, _)| *c == standard) {
        return Some(known(CDCREC, code, display));
    }
    match standard {
        "UNK" => return Some(known(NULL_FLAVOR, "UNK", "Unknown")),
        "ASKU" => return Some(known(NULL_FLAVOR, "ASKU", "Asked but no answer")),
        _ => {}
    }
    cdcrec_number(&code).filter(|n| (kind.owns)(*n))?;
    let mut coding = json!({ "system": CDCREC, "code": code });
    if let Some(display) = &display {
        coding["display"] = Value::from(display.clone());
    }
    Some(Coded {
        category: false,
        coding,
        display,
    })
}

/// The number of a CDCREC code `NNNN-C` (four digits, a check digit).
fn cdcrec_number(code: &str) -> Option<u32> {
    let bytes = code.as_bytes();
    let shaped = bytes.len() == 6
        && bytes[4] == b'-'
        && bytes[..4].iter().chain(&bytes[5..]).all(u8::is_ascii_digit);
    shaped.then(|| code[..4].parse().ok()).flatten()
}

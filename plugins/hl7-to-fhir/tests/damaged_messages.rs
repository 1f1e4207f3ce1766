//! Ensures that the mapper never panics on damaged versions of the corpus's
//! real messages (`../shared/corpus/hl7v2`): segments dropped, repeated,
//! swapped or spliced in from another message; fields blanked, copied,
//! truncated or given stray delimiters and odd values; the message retyped,
//! so that each family's walk meets the others' segments. Whatever maps must
//! hold together: every entry has a type and an id, every reference inside
//! the bundle names an entry, and no element is empty (FHIR forbids empty
//! strings, objects and arrays). Found this way: an Appointment left without
//! a participant, an empty `valueString` from an NM of only subcomponents,
//! an empty mother's maiden name from an XPN of only a name type, and a
//! duration past FHIR's 32-bit integers;
//! tests/fhir_corpus.rs validates the corpus itself.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hl7_to_fhir::{Options, map_message_to_string};
use proptest::prelude::*;
use serde_json::Value;

/// Every corpus message, each as its segments.
fn corpus() -> &'static [Vec<String>] {
    static MESSAGES: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    MESSAGES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/hl7v2");
        let mut files = Vec::new();
        collect(&root, &mut files);
        files.sort();
        assert!(files.len() > 100, "the corpus at {}", root.display());
        files
            .iter()
            .map(|file| {
                String::from_utf8_lossy(&std::fs::read(file).expect("readable"))
                    .split(['\r', '\n'])
                    .filter(|segment| !segment.is_empty())
                    .map(String::from)
                    .collect()
            })
            .filter(|segments: &Vec<String>| segments.len() > 1)
            .collect()
    })
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the corpus directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "hl7") {
            files.push(path);
        }
    }
}

/// Text a damaged field may gain.
const ODD_TEXT: [&str; 12] = [
    "|",
    "^",
    "&",
    "~",
    "\\",
    "\"\"",
    "\\E\\",
    "20240101",
    "-1",
    "99999999999999999999",
    "é",
    "&33",
];

/// Message types a damaged message may claim, one or two of each family.
const TYPES: [&str; 15] = [
    "ADT^A01", "ADT^A40", "ORU^R01", "ORM^O01", "OML^O21", "VXU^V04", "OMP^O09", "RDE^O11",
    "RDS^O13", "PPR^PC1", "SIU^S12", "SIU^S15", "MDM^T02", "BAR^P01", "DFT^P03",
];

/// One way to damage a message; the numbers pick segments, fields and
/// places (modulo what there is).
#[derive(Debug, Clone)]
enum Damage {
    Drop(usize),
    Repeat(usize),
    Swap(usize, usize),
    Splice(usize, usize, usize),
    Blank(usize, usize),
    Copy(usize, usize, usize),
    Truncate(usize, usize),
    Insert(usize, usize, usize),
    Retype(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    let n = || 0..10_000usize;
    prop_oneof![
        n().prop_map(Damage::Drop),
        n().prop_map(Damage::Repeat),
        (n(), n()).prop_map(|(a, b)| Damage::Swap(a, b)),
        (n(), n(), n()).prop_map(|(a, b, c)| Damage::Splice(a, b, c)),
        (n(), n()).prop_map(|(a, b)| Damage::Blank(a, b)),
        (n(), n(), n()).prop_map(|(a, b, c)| Damage::Copy(a, b, c)),
        (n(), n()).prop_map(|(a, b)| Damage::Truncate(a, b)),
        (n(), n(), n()).prop_map(|(a, b, c)| Damage::Insert(a, b, c)),
        n().prop_map(Damage::Retype),
    ]
}

/// Applies `damage` to `segments`, leaving the MSH in place.
fn apply(segments: &mut Vec<String>, damage: &Damage) {
    let n = segments.len();
    if n < 2 {
        return;
    }
    // A segment after the MSH.
    let pick = |k: usize| 1 + k % (n - 1);
    let edit_field = |segment: &mut String, k: usize, edit: &dyn Fn(&mut Vec<String>, usize)| {
        let mut fields: Vec<String> = segment.split('|').map(String::from).collect();
        if fields.len() > 1 {
            let at = 1 + k % (fields.len() - 1);
            edit(&mut fields, at);
            *segment = fields.join("|");
        }
    };
    match *damage {
        Damage::Drop(a) => {
            segments.remove(pick(a));
        }
        Damage::Repeat(a) => {
            let copy = segments[pick(a)].clone();
            segments.insert(pick(a), copy);
        }
        Damage::Swap(a, b) => segments.swap(pick(a), pick(b)),
        Damage::Splice(a, m, s) => {
            let other = &corpus()[m % corpus().len()];
            let segment = other[1 + s % (other.len() - 1)].clone();
            segments.insert(pick(a), segment);
        }
        Damage::Blank(a, f) => {
            edit_field(&mut segments[pick(a)], f, &|fields, at| fields[at].clear());
        }
        Damage::Copy(a, f, g) => {
            edit_field(&mut segments[pick(a)], f, &|fields, at| {
                fields[at] = fields[1 + g % (fields.len() - 1)].clone();
            });
        }
        Damage::Truncate(a, k) => {
            let segment = &mut segments[pick(a)];
            let mut end = 3 + k % segment.len().max(1);
            while end < segment.len() && !segment.is_char_boundary(end) {
                end += 1;
            }
            segment.truncate(end.min(segment.len()));
        }
        Damage::Insert(a, k, t) => {
            let segment = &mut segments[pick(a)];
            let mut at = 3.min(segment.len()) + k % segment.len().saturating_sub(2).max(1);
            at = at.min(segment.len());
            while !segment.is_char_boundary(at) {
                at -= 1;
            }
            segment.insert_str(at, ODD_TEXT[t % ODD_TEXT.len()]);
        }
        Damage::Retype(t) => {
            let mut fields: Vec<&str> = segments[0].split('|').collect();
            if fields.len() > 8 {
                fields[8] = TYPES[t % TYPES.len()];
                segments[0] = fields.join("|");
            }
        }
    }
}

/// Why `bundle` does not hold together, if it does not.
fn flaw(bundle: &Value) -> Option<String> {
    let entries = bundle["entry"].as_array()?;
    let mut urls = HashSet::new();
    for entry in entries {
        let resource = &entry["resource"];
        if !resource["resourceType"].is_string() || !resource["id"].is_string() {
            return Some(format!("an entry without type or id: {resource}"));
        }
        urls.insert(entry["fullUrl"].as_str()?.to_string());
    }
    empty_or_dangling(bundle, &urls, "")
}

fn empty_or_dangling(value: &Value, urls: &HashSet<String>, path: &str) -> Option<String> {
    match value {
        Value::String(text) if text.is_empty() => Some(format!("an empty string at {path}")),
        Value::Array(items) if items.is_empty() => Some(format!("an empty array at {path}")),
        Value::Object(members) if members.is_empty() => Some(format!("an empty object at {path}")),
        Value::Array(items) => items
            .iter()
            .find_map(|item| empty_or_dangling(item, urls, &format!("{path}[]"))),
        Value::Object(members) => members.iter().find_map(|(key, member)| {
            let path = format!("{path}.{key}");
            match (key.as_str(), member.as_str()) {
                ("reference", Some(url)) if url.starts_with("urn:uuid:") && !urls.contains(url) => {
                    Some(format!("{path} names no entry: {url}"))
                }
                _ => empty_or_dangling(member, urls, &path),
            }
        }),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn damaged_messages_map_whole_or_fail_cleanly(
        message in any::<prop::sample::Index>(),
        damages in prop::collection::vec(damage(), 1..5),
    ) {
        let mut segments = message.get(corpus()).clone();
        for damage in &damages {
            apply(&mut segments, damage);
        }
        let raw = segments.join("\r");
        let zoned_us = serde_json::json!({ "default_timezone": "+01:00", "realm": "us" });
        let zoned_us = Options::from_json(&zoned_us).expect("valid options");
        for options in [Options::default(), zoned_us] {
            if let Ok(text) = map_message_to_string(&raw, &options) {
                let bundle: Value = serde_json::from_str(&text).expect("JSON");
                prop_assert_eq!(flaw(&bundle), None, "{}", raw);
            }
        }
    }
}

/// The flaws this test found, kept as plain cases.
#[test]
fn the_flaws_found_stay_fixed() {
    let schedule = "MSH|^~\\&|S|F|||20240102030405+0100||SIU^S12|M1|P|2.5.1\r\
        SCH|A1^S||||||||9999999999999999999960|s|^^^20240105100000+0100\r\
        SCH|A2^S|||||||||||^^^20240106100000+0100\r\
        PID|1||123^^^H&1.2.3&ISO^MR||DOE^JOHN\r";
    let bundle: Value =
        serde_json::from_str(&map_message_to_string(schedule, &Options::default()).unwrap())
            .unwrap();
    let appointments: Vec<&Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == "Appointment")
        .collect();
    assert_eq!(appointments.len(), 2);
    assert!(
        appointments[0].get("minutesDuration").is_none(),
        "past FHIR's 32-bit integers"
    );
    let first = &appointments[0]["participant"][0];
    assert_eq!(first["status"], "needs-action");
    assert_eq!(first["actor"]["extension"][0]["valueCode"], "unknown");
    assert!(
        appointments[1]["participant"][0]["actor"]["reference"].is_string(),
        "the patient takes part in the appointment before it"
    );

    let result = "MSH|^~\\&|L|F|||20240102030405+0100||ORU^R01|M2|P|2.5.1\r\
        PID|1||123^^^H&1.2.3&ISO^MR||DOE^JOHN|^^^^B\r\
        OBR|1|P1||24317-0^Hemogram^LN\r\
        OBX|1|NM|718-7^Hemoglobin^LN||&33|g/dL|||||F\r\
        OBX|2|ST|718-7^Hemoglobin^LN||&x|g/dL|||||F\r";
    let bundle: Value =
        serde_json::from_str(&map_message_to_string(result, &Options::default()).unwrap()).unwrap();
    assert_eq!(flaw(&bundle), None);
}

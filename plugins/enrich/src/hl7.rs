//! [`Hl7Rule`]: a rule on HL7 v2 messages, read and written through terser
//! paths on an [`OwnedMessage`].

use std::borrow::Cow;

use hl7wasm_plugin_sdk::Location;
use hl7wasm_plugin_sdk::hl7v2::{OwnedMessage, Path, PathError};

use crate::{Action, EnrichError, KeySource, Lookup, OnMissing, TableRef};

/// How `to_code` moves the original coding out of the first triplet: code,
/// text, system and version go to the alternate triplet's components.
const TO_ALTERNATE: [(usize, usize); 4] = [(1, 4), (2, 5), (3, 6), (7, 8)];

/// One checked HL7 v2 rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hl7Rule {
    /// The table it reads.
    pub table: TableRef,
    /// Where the key is read: a terser path, or the message's metadata.
    pub from: KeySource<String>,
    /// What it writes, at terser paths.
    pub action: Action<String>,
    /// Whether it runs on every occurrence of `from`'s segment rather than
    /// once on the paths as written.
    pub every_occurrence: bool,
}

impl Hl7Rule {
    /// Checks the paths of a rule.
    ///
    /// # Errors
    /// A message naming an invalid path, a write to MSH-1 or MSH-2, or a
    /// `to_code` that names a component rather than a field.
    pub fn new(
        table: TableRef,
        from: KeySource<String>,
        action: Action<String>,
    ) -> Result<Self, String> {
        let (target, codes) = match &action {
            Action::Set(to) => (to, false),
            Action::Code { at, .. } => (at, true),
        };
        let target_path = Path::parse(target).map_err(|e| e.to_string())?;
        if target_path.is_msh_literal() {
            return Err(PathError::ReadOnly.to_string());
        }
        if codes && target_path.component.is_some() {
            return Err(format!("to_code must name a field, not {target}"));
        }
        let every_occurrence = match &from {
            KeySource::Path(from) => {
                let source = Path::parse(from).map_err(|e| e.to_string())?;
                source.segment == target_path.segment
                    && !names_occurrence(from)
                    && !names_occurrence(target)
            }
            KeySource::Metadata(_) => false,
        };
        Ok(Hl7Rule {
            table,
            from,
            action,
            every_occurrence,
        })
    }

    /// Applies the rule; whether it changed the message.
    ///
    /// # Errors
    /// [`EnrichError::Missing`] for a key missing from a `reject` rule's table.
    pub fn apply(
        &self,
        message: &mut OwnedMessage,
        tables: &impl Lookup,
    ) -> Result<bool, EnrichError> {
        let occurrences = match &self.from {
            KeySource::Path(from) if self.every_occurrence => {
                let segment = parsed(from).segment;
                message
                    .segments()
                    .iter()
                    .filter(|s| s.id() == segment)
                    .count()
            }
            _ => 1,
        };
        let mut changed = false;
        for occurrence in 1..=occurrences {
            changed |= self.apply_at(message, occurrence, tables)?;
        }
        Ok(changed)
    }

    fn apply_at(
        &self,
        message: &mut OwnedMessage,
        occurrence: usize,
        tables: &impl Lookup,
    ) -> Result<bool, EnrichError> {
        let (key, from) = match &self.from {
            KeySource::Path(from) => {
                let from = self.at_occurrence(from, occurrence);
                (message.get(&from.to_string()), Some(from))
            }
            KeySource::Metadata(key) => (tables.metadata(*key).map(Cow::Owned), None),
        };
        let Some(key) = key.filter(|key| !key.is_empty()) else {
            return Ok(false);
        };
        let Some(value) = self.table.find(tables, [key.as_ref()]) else {
            return match self.table.on_missing {
                OnMissing::Keep => Ok(false),
                OnMissing::Reject => Err(self.missing(from.as_ref())),
            };
        };
        let written = match &self.action {
            Action::Set(to) => message
                .set(&self.at_occurrence(to, occurrence).to_string(), &value)
                .map(|()| true),
            Action::Code { at, system } => {
                code(message, &self.at_occurrence(at, occurrence), &value, system)
            }
        };
        match written {
            // A target segment the message lacks: nothing to write into.
            Err(PathError::NoSuchSegment(_)) => Ok(false),
            other => Ok(other?),
        }
    }

    /// `path` at the given occurrence of its segment when the rule runs on
    /// every occurrence, else as written.
    fn at_occurrence<'p>(&self, path: &'p str, occurrence: usize) -> Path<'p> {
        let path = parsed(path);
        if self.every_occurrence {
            Path {
                segment_repetition: occurrence,
                ..path
            }
        } else {
            path
        }
    }

    /// The rejection for a key not in the table, read at `from` in the
    /// message, or (`None`) from the metadata.
    fn missing(&self, from: Option<&Path<'_>>) -> EnrichError {
        let described = match (from, &self.from) {
            (Some(path), _) => path.to_string(),
            (None, KeySource::Metadata(key)) => key.to_string(),
            (None, KeySource::Path(path)) => path.clone(),
        };
        EnrichError::Missing {
            table: self.table.table.clone(),
            from: described,
            location: from.map(|from| Location {
                segment: from.segment.to_string(),
                sequence: u32::try_from(from.segment_repetition).ok(),
                field: u32::try_from(from.field).ok(),
                component: from.component.and_then(|c| u32::try_from(c).ok()),
            }),
        }
    }
}

/// A path that [`Hl7Rule::new`] checked.
fn parsed(path: &str) -> Path<'_> {
    Path::parse(path).expect("paths are checked when the rule is built")
}

/// Whether a path names its segment's occurrence (`OBX[2]-3`).
fn names_occurrence(path: &str) -> bool {
    path.split('-')
        .next()
        .is_some_and(|head| head.contains('['))
}

/// Makes `code^^system` the first triplet of the field repetition `at`,
/// moving the original to the alternate triplet; leaves a field unchanged
/// when it has that code already or its alternate triplet is taken.
fn code(
    message: &mut OwnedMessage,
    at: &Path<'_>,
    code: &str,
    system: &str,
) -> Result<bool, PathError> {
    let component = |n| {
        Path {
            component: Some(n),
            subcomponent: None,
            ..*at
        }
        .to_string()
    };
    let already_coded = message.get(&component(1)).as_deref() == Some(code)
        && message.get(&component(3)).as_deref() == Some(system);
    let alternate_taken = TO_ALTERNATE
        .iter()
        .any(|&(_, to)| message.get_raw(&component(to)).is_some());
    if already_coded || alternate_taken {
        return Ok(false);
    }
    for (from, to) in TO_ALTERNATE {
        if let Some(raw) = message.get_raw(&component(from)).map(str::to_string) {
            message.set_raw(&component(to), &raw)?;
            message.set_raw(&component(from), "")?;
        }
    }
    message.set(&component(1), code)?;
    message.set(&component(3), system)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::Enricher;
    use serde_json::json;

    const ORU: &str = "MSH|^~\\&|LAB|GENHOSP|||20240102030405||ORU^R01|MSG2|P|2.5.1\r\
PID|1||123456^^^GENHOSP^MR||DOE^JOHN\r\
OBR|1|P100||CBC^Blood count^L||||||||||||1234^SMITH\r\
OBX|1|NM|HGB^Hemoglobin^L||13.5|g/dL\r\
OBX|2|NM|GLU^Glucose^L||90|mg/dL\r\
OBX|3|NM|XYZ^Unknown^L||1\r\
OBX|4|NM|K^Potassium^L^K1^Potassium (alt)^99LOC||4.1\r";

    fn tables() -> HashMap<String, HashMap<String, String>> {
        let table = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        HashMap::from([
            ("facilities".into(), table(&[("GENHOSP", "General & Co")])),
            (
                "lab_to_loinc".into(),
                table(&[("HGB", "718-7"), ("GLU", "2345-7"), ("K", "2823-3")]),
            ),
            ("providers".into(), table(&[("1234", "ATTEND")])),
            ("senders".into(), table(&[("lab-analyzer", "LABSYS")])),
        ])
    }

    /// The tables, for a message from a client that presented a
    /// certificate named `.0` (none: not over mTLS).
    struct FromClient(Option<&'static str>);

    impl Lookup for FromClient {
        fn lookup(&self, table: &str, key: &str) -> Option<String> {
            tables().lookup(table, key)
        }

        fn metadata(&self, key: crate::MetadataKey) -> Option<String> {
            match key {
                crate::MetadataKey::PeerCertificateName => self.0.map(str::to_string),
                crate::MetadataKey::Channel => Some("lab".into()),
            }
        }
    }

    fn enrich(rules: serde_json::Value, er7: &str) -> Result<Option<String>, EnrichError> {
        Enricher::from_json(&rules)
            .unwrap()
            .enrich_hl7(er7, &tables())
    }

    fn segment(er7: &str, index: usize) -> &str {
        er7.split('\r').nth(index).unwrap()
    }

    #[test]
    fn sets_a_field_and_escapes_the_value() {
        let rules = json!({"rules": [{"table": "facilities", "from": "MSH-4.1", "to": "MSH-4.2"}]});
        let out = enrich(rules, ORU).unwrap().unwrap();
        assert!(
            segment(&out, 0).starts_with("MSH|^~\\&|LAB|GENHOSP^General \\T\\ Co|"),
            "{out}"
        );
    }

    #[test]
    fn codes_every_occurrence_and_keeps_the_local_code_as_alternate() {
        let rules = json!({"rules": [
            {"table": "lab_to_loinc", "from": "OBX-3.1", "to_code": "OBX-3", "system": "LN"}
        ]});
        let out = enrich(rules, ORU).unwrap().unwrap();
        assert_eq!(
            segment(&out, 3),
            "OBX|1|NM|718-7^^LN^HGB^Hemoglobin^L||13.5|g/dL"
        );
        assert_eq!(
            segment(&out, 4),
            "OBX|2|NM|2345-7^^LN^GLU^Glucose^L||90|mg/dL"
        );
        assert_eq!(
            segment(&out, 5),
            "OBX|3|NM|XYZ^Unknown^L||1",
            "unknown key: unchanged"
        );
        assert_eq!(
            segment(&out, 6),
            "OBX|4|NM|K^Potassium^L^K1^Potassium (alt)^99LOC||4.1",
            "alternate taken: unchanged"
        );
    }

    #[test]
    fn coding_twice_changes_nothing_the_second_time() {
        let rules = json!({"rules": [
            {"table": "lab_to_loinc", "from": "OBX-3.4", "to_code": "OBX-3", "system": "LN"}
        ]});
        let once =
            "MSH|^~\\&|A|B|||20240102||ORU^R01|1|P|2.5\rOBX|1|NM|718-7^^LN^HGB^Hemoglobin^L\r";
        assert_eq!(enrich(rules, once).unwrap(), None);
    }

    #[test]
    fn a_named_occurrence_runs_once() {
        let rules = json!({"rules": [
            {"table": "lab_to_loinc", "from": "OBX[2]-3.1", "to_code": "OBX[2]-3", "system": "LN"}
        ]});
        let out = enrich(rules, ORU).unwrap().unwrap();
        assert!(segment(&out, 3).starts_with("OBX|1|NM|HGB^"), "{out}");
        assert!(
            segment(&out, 4).starts_with("OBX|2|NM|2345-7^^LN^"),
            "{out}"
        );
    }

    #[test]
    fn stamps_the_sending_facility_from_the_client_certificate() {
        let enricher = Enricher::from_json(&json!({"rules": [
            {"table": "senders", "from_metadata": "peer_certificate_name", "to": "MSH-4.1",
             "on_missing": "reject"}
        ]}))
        .unwrap();
        let known = enricher.enrich_hl7(ORU, &FromClient(Some("lab-analyzer")));
        let out = known.unwrap().unwrap();
        assert!(
            segment(&out, 0).starts_with("MSH|^~\\&|LAB|LABSYS|"),
            "{out}"
        );

        let error = enricher
            .enrich_hl7(ORU, &FromClient(Some("stranger")))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "metadata peer_certificate_name: key not in lookup table `senders`"
        );
        assert!(matches!(error, EnrichError::Missing { location: None, .. }));

        let plain = enricher.enrich_hl7(ORU, &FromClient(None));
        assert_eq!(plain.unwrap(), None, "no certificate: nothing to look up");
    }

    #[test]
    fn nothing_found_forwards_the_original() {
        let rules = json!({"rules": [{"table": "providers", "from": "PV1-7.1", "to": "PV1-7.2"}]});
        assert_eq!(enrich(rules, ORU).unwrap(), None, "no PV1: nothing to read");
        let rules = json!({"rules": [{"table": "nope", "from": "MSH-4.1", "to": "MSH-4.2"}]});
        assert_eq!(enrich(rules, ORU).unwrap(), None, "unknown table");
    }

    #[test]
    fn a_missing_key_rejects_with_the_place_but_not_the_key() {
        let rules = json!({"on_missing": "reject", "rules": [
            {"table": "lab_to_loinc", "from": "OBX-3.1", "to_code": "OBX-3", "system": "LN"}
        ]});
        let error = enrich(rules, ORU).unwrap_err();
        assert_eq!(
            error.to_string(),
            "OBX[3]-3.1: key not in lookup table `lab_to_loinc`"
        );
        let EnrichError::Missing {
            location: Some(at), ..
        } = error
        else {
            panic!("{error:?}");
        };
        assert_eq!(
            (at.segment.as_str(), at.sequence, at.field),
            ("OBX", Some(3), Some(3))
        );
    }

    #[test]
    fn a_target_segment_the_message_lacks_is_skipped() {
        let rules = json!({"rules": [{"table": "providers", "from": "OBR-16.1", "to": "PV1-7.2"}]});
        assert_eq!(enrich(rules, ORU).unwrap(), None);
    }
}

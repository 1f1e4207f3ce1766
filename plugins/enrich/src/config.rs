//! The rule language: the channel's JSON config, checked and split into
//! [`Hl7Rule`]s and [`FhirRule`]s (see the crate docs for its meaning).

use serde::Deserialize;

use crate::{Enricher, FhirRule, Hl7Rule, Lookup};

/// What a rule does when its key is not in its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMissing {
    /// Leave the message unchanged (the default).
    #[default]
    Keep,
    /// Reject the message (ACK AR), naming the table and path.
    Reject,
}

/// The table a rule reads, and what a missing key means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRef {
    /// The table's name, as in the engine config's `[lookups.<table>]`.
    pub table: String,
    /// Keep or reject the message when the key is not in the table.
    pub on_missing: OnMissing,
}

impl TableRef {
    /// The value of the first of `keys` that the table holds.
    pub fn find<'k>(
        &self,
        tables: &impl Lookup,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Option<String> {
        keys.into_iter()
            .find_map(|key| tables.lookup(&self.table, key))
    }
}

/// An item of the message's metadata a rule can take its key from
/// (`from_metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataKey {
    /// The name in the sender's TLS client certificate, under mTLS.
    PeerCertificateName,
    /// The channel the message arrived on.
    Channel,
}

impl MetadataKey {
    /// The name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            MetadataKey::PeerCertificateName => "peer_certificate_name",
            MetadataKey::Channel => "channel",
        }
    }
}

/// Where a rejection says the key was read: `metadata peer_certificate_name`.
impl std::fmt::Display for MetadataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "metadata {}", self.as_str())
    }
}

/// Where a rule reads its key: a path of type `P` in the message (`from`),
/// or the message's metadata (`from_metadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource<P> {
    /// A path in the message.
    Path(P),
    /// An item of the message's metadata.
    Metadata(MetadataKey),
}

/// What a rule writes with the value it found, at a path of type `P`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<P> {
    /// Sets the value at the path (`to`).
    Set(P),
    /// Adds the value as a code of `system` to the coded value at the path
    /// (`to_code`).
    Code {
        /// The coded field (HL7 v2) or CodeableConcept (FHIR).
        at: P,
        /// The coding system: an HL7 table 0396 name (`LN`) for HL7 v2, a
        /// URI (`http://loinc.org`) for FHIR.
        system: String,
    },
}

/// The config as written; [`Enricher::from_json`] checks it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigSpec {
    #[serde(default)]
    on_missing: OnMissing,
    /// Read one by one, so that an error names its rule.
    #[serde(default)]
    rules: Vec<serde_json::Value>,
}

/// One rule as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    table: String,
    from: Option<String>,
    from_metadata: Option<MetadataKey>,
    resource: Option<String>,
    to: Option<String>,
    to_code: Option<String>,
    system: Option<String>,
    on_missing: Option<OnMissing>,
}

impl Enricher {
    /// Reads and checks the rules of the plugin's JSON config (`{}` gives
    /// no rules: every message passes unchanged).
    ///
    /// # Errors
    /// A message naming the rule (1-based) and its bad setting.
    pub fn from_json(config: &serde_json::Value) -> Result<Enricher, String> {
        let spec = ConfigSpec::deserialize(config).map_err(|e| format!("config: {e}"))?;
        let mut enricher = Enricher::default();
        for (index, rule) in spec.rules.into_iter().enumerate() {
            let context = |e: String| format!("rules[{}]: {e}", index + 1);
            let rule = RuleSpec::deserialize(rule).map_err(|e| context(e.to_string()))?;
            let action = rule.action().map_err(context)?;
            let from = rule.source().map_err(context)?;
            let table = TableRef {
                table: rule.table,
                on_missing: rule.on_missing.unwrap_or(spec.on_missing),
            };
            match rule.resource {
                Some(resource) => enricher
                    .fhir
                    .push(FhirRule::new(table, resource, from, action).map_err(context)?),
                None => enricher
                    .hl7
                    .push(Hl7Rule::new(table, from, action).map_err(context)?),
            }
        }
        Ok(enricher)
    }
}

impl RuleSpec {
    /// Exactly one of `from` and `from_metadata`.
    fn source(&self) -> Result<KeySource<String>, String> {
        match (&self.from, self.from_metadata) {
            (Some(from), None) => Ok(KeySource::Path(from.clone())),
            (None, Some(key)) => Ok(KeySource::Metadata(key)),
            (Some(_), Some(_)) => Err("give either from or from_metadata, not both".into()),
            (None, None) => Err("give from or from_metadata".into()),
        }
    }

    /// Exactly one of `to` and `to_code`; `system` with `to_code` only.
    fn action(&self) -> Result<Action<String>, String> {
        match (&self.to, &self.to_code, &self.system) {
            (Some(to), None, None) => Ok(Action::Set(to.clone())),
            (None, Some(at), Some(system)) => Ok(Action::Code {
                at: at.clone(),
                system: system.clone(),
            }),
            (None, Some(_), None) => Err("to_code needs a system".into()),
            (Some(_), None, Some(_)) => Err("system goes with to_code, not to".into()),
            (Some(_), Some(_), _) => Err("give either to or to_code, not both".into()),
            (None, None, _) => Err("give to or to_code".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_rules_by_content_type_and_inherits_on_missing() {
        let enricher = Enricher::from_json(&json!({
            "on_missing": "reject",
            "rules": [
                {"table": "facilities", "from": "MSH-4.1", "to": "MSH-4.2"},
                {"table": "loinc", "resource": "Observation", "from": "code.coding.code",
                 "to_code": "code", "system": "http://loinc.org", "on_missing": "keep"}
            ]
        }))
        .unwrap();
        assert_eq!(enricher.hl7.len(), 1);
        assert_eq!(enricher.hl7[0].table.on_missing, OnMissing::Reject);
        assert_eq!(enricher.fhir.len(), 1);
        assert_eq!(enricher.fhir[0].table.on_missing, OnMissing::Keep);
    }

    #[test]
    fn empty_config_has_no_rules() {
        assert_eq!(Enricher::from_json(&json!({})), Ok(Enricher::default()));
    }

    #[test]
    fn names_the_bad_rule_and_setting() {
        let bad = [
            (json!({"table": "t", "from": "MSH-4"}), "give to or to_code"),
            (
                json!({"table": "t", "from": "OBX-3.1", "to_code": "OBX-3"}),
                "needs a system",
            ),
            (
                json!({"table": "t", "from": "PID3", "to": "PID-5"}),
                "invalid path",
            ),
            (
                json!({"table": "t", "from": "MSH-4", "to": "MSH-2"}),
                "cannot be set",
            ),
            (
                json!({"table": "t", "from": "OBX-3", "to_code": "OBX-3.1", "system": "LN"}),
                "field",
            ),
            (
                json!({"table": "t", "resource": "Patient", "from": "a..b", "to": "c"}),
                "empty member",
            ),
            (
                json!({"table": "t", "to": "MSH-4"}),
                "give from or from_metadata",
            ),
            (
                json!({"table": "t", "from": "MSH-4", "from_metadata": "channel", "to": "MSH-5"}),
                "not both",
            ),
            (
                json!({"table": "t", "from_metadata": "peer_address", "to": "MSH-4"}),
                "unknown variant `peer_address`",
            ),
        ];
        for (rule, reason) in bad {
            let error = Enricher::from_json(
                &json!({"rules": [{"table": "ok", "from": "MSH-4", "to": "MSH-5"}, rule]}),
            )
            .unwrap_err();
            assert!(
                error.starts_with("rules[2]: ") && error.contains(reason),
                "{error}"
            );
        }
        let error = Enricher::from_json(&json!({"rules": [], "rule": []})).unwrap_err();
        assert!(error.contains("unknown field `rule`"), "{error}");
    }
}

//! [`FhirRule`]: a rule on FHIR JSON, read and written through dotted member
//! paths on each resource of one type.

use serde_json::{Map, Value, json};

use crate::{Action, EnrichError, KeySource, Lookup, OnMissing, TableRef};

/// One checked FHIR rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirRule {
    /// The table it reads.
    pub table: TableRef,
    /// The resource type it applies to, e.g. `Observation`.
    pub resource: String,
    /// Where the key is read: a member path, split at the dots, or the
    /// message's metadata.
    pub from: KeySource<Vec<String>>,
    /// What it writes, at member paths.
    pub action: Action<Vec<String>>,
}

impl FhirRule {
    /// Checks and splits the paths of a rule.
    ///
    /// # Errors
    /// A message naming a path with an empty member.
    pub fn new(
        table: TableRef,
        resource: String,
        from: KeySource<String>,
        action: Action<String>,
    ) -> Result<Self, String> {
        let action = match action {
            Action::Set(to) => Action::Set(members(&to)?),
            Action::Code { at, system } => Action::Code {
                at: members(&at)?,
                system,
            },
        };
        Ok(FhirRule {
            table,
            resource,
            from: match from {
                KeySource::Path(path) => KeySource::Path(members(&path)?),
                KeySource::Metadata(key) => KeySource::Metadata(key),
            },
            action,
        })
    }

    /// Applies the rule to every resource of its type in `document` (a
    /// Bundle's entries, or the document itself); whether it changed any.
    ///
    /// # Errors
    /// [`EnrichError::Missing`] for a key missing from a `reject` rule's table.
    pub fn apply(&self, document: &mut Value, tables: &impl Lookup) -> Result<bool, EnrichError> {
        let mut changed = false;
        if document["resourceType"] == "Bundle" {
            let entries = document.get_mut("entry").and_then(Value::as_array_mut);
            for entry in entries.into_iter().flatten() {
                if let Some(resource) = entry.get_mut("resource") {
                    changed |= self.apply_to(resource, tables)?;
                }
            }
        } else {
            changed = self.apply_to(document, tables)?;
        }
        Ok(changed)
    }

    fn apply_to(&self, resource: &mut Value, tables: &impl Lookup) -> Result<bool, EnrichError> {
        if resource["resourceType"] != self.resource.as_str() {
            return Ok(false);
        }
        let mut keys = Vec::new();
        let from_metadata;
        match &self.from {
            KeySource::Path(path) => strings(resource, path, &mut keys),
            KeySource::Metadata(key) => {
                from_metadata = tables.metadata(*key).filter(|key| !key.is_empty());
                keys.extend(from_metadata.as_deref());
            }
        }
        if keys.is_empty() {
            return Ok(false);
        }
        let Some(value) = self.table.find(tables, keys) else {
            return match self.table.on_missing {
                OnMissing::Keep => Ok(false),
                OnMissing::Reject => Err(EnrichError::Missing {
                    table: self.table.table.clone(),
                    from: match &self.from {
                        KeySource::Path(path) => format!("{}.{}", self.resource, path.join(".")),
                        KeySource::Metadata(key) => key.to_string(),
                    },
                    location: None,
                }),
            };
        };
        Ok(match &self.action {
            Action::Set(to) => set(resource, to, value),
            Action::Code { at, system } => add_coding(resource, at, system, value),
        })
    }
}

/// `a.b.c` as its member names.
fn members(path: &str) -> Result<Vec<String>, String> {
    let members: Vec<String> = path.split('.').map(str::to_string).collect();
    if members.iter().any(String::is_empty) {
        return Err(format!("path {path:?} has an empty member"));
    }
    Ok(members)
}

/// Every string at `path` under `value`, arrays fanned out.
fn strings<'v>(value: &'v Value, path: &[String], out: &mut Vec<&'v str>) {
    match (value, path.split_first()) {
        (Value::Array(items), _) => items.iter().for_each(|item| strings(item, path, out)),
        (Value::String(text), None) if !text.is_empty() => out.push(text),
        (Value::Object(object), Some((name, rest))) => {
            if let Some(next) = object.get(name) {
                strings(next, rest, out);
            }
        }
        _ => {}
    }
}

/// The member at `path` under `value`, created as needed, through the first
/// element of arrays; `None` when the path crosses a value that is neither
/// object nor array.
fn slot<'v>(value: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    let Some((name, rest)) = path.split_first() else {
        return Some(value);
    };
    let object = first_object(value)?;
    let next = object.entry(name.as_str()).or_insert_with(|| json!({}));
    slot(next, rest)
}

/// `value` itself when an object; the first element of an array (added when
/// the array is empty) when that is an object.
fn first_object(value: &mut Value) -> Option<&mut Map<String, Value>> {
    if let Value::Array(items) = value {
        if items.is_empty() {
            items.push(json!({}));
        }
        return items[0].as_object_mut();
    }
    value.as_object_mut()
}

/// Sets the string at `path`; whether it changed.
fn set(resource: &mut Value, path: &[String], value: String) -> bool {
    match slot(resource, path) {
        Some(target) if target.as_str() != Some(value.as_str()) => {
            *target = Value::String(value);
            true
        }
        _ => false,
    }
}

/// Adds `{system, code}` to the CodeableConcept at `path` unless it has it.
fn add_coding(resource: &mut Value, path: &[String], system: &str, code: String) -> bool {
    let Some(concept) = slot(resource, path).and_then(first_object) else {
        return false;
    };
    let Some(codings) = concept
        .entry("coding")
        .or_insert_with(|| json!([]))
        .as_array_mut()
    else {
        return false;
    };
    if codings
        .iter()
        .any(|c| c["system"] == system && c["code"] == code.as_str())
    {
        return false;
    }
    codings.push(json!({ "system": system, "code": code }));
    true
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::Enricher;

    fn tables() -> HashMap<String, HashMap<String, String>> {
        HashMap::from([
            (
                "facilities".to_string(),
                HashMap::from([("GENHOSP".to_string(), "General Hospital".to_string())]),
            ),
            (
                "providers".to_string(),
                HashMap::from([("1234".to_string(), "Dr Alice Attend".to_string())]),
            ),
            (
                "lab_to_loinc".to_string(),
                HashMap::from([("HGB".to_string(), "718-7".to_string())]),
            ),
        ])
    }

    fn bundle() -> Value {
        let entry = |resource: Value| json!({ "fullUrl": "urn:uuid:x", "resource": resource });
        json!({ "resourceType": "Bundle", "type": "transaction", "entry": [
            entry(json!({"resourceType": "Organization", "name": "GENHOSP"})),
            entry(json!({"resourceType": "Organization", "name": "ELSEWHERE"})),
            entry(json!({"resourceType": "Practitioner", "identifier": [{"value": "1234"}],
                         "name": [{"family": "ATTEND"}]})),
            entry(json!({"resourceType": "Observation", "code": {"coding": [
                {"system": "urn:oid:1.2.3", "code": "X"}, {"code": "HGB", "display": "Hemoglobin"}]}})),
        ]})
    }

    fn enrich(rules: Value, document: &Value) -> Result<Option<Value>, EnrichError> {
        let enricher = Enricher::from_json(&json!({ "rules": rules })).unwrap();
        let out = enricher.enrich_fhir(&document.to_string(), &tables())?;
        Ok(out.map(|text| serde_json::from_str(&text).unwrap()))
    }

    fn resource(bundle: &Value, index: usize) -> &Value {
        &bundle["entry"][index]["resource"]
    }

    #[test]
    fn sets_names_on_matching_resources_only() {
        let out = enrich(
            json!([
                {"table": "facilities", "resource": "Organization", "from": "name", "to": "name"},
                {"table": "providers", "resource": "Practitioner", "from": "identifier.value",
                 "to": "name.text"}
            ]),
            &bundle(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(resource(&out, 0)["name"], "General Hospital");
        assert_eq!(resource(&out, 1)["name"], "ELSEWHERE");
        assert_eq!(
            resource(&out, 2)["name"],
            json!([{"family": "ATTEND", "text": "Dr Alice Attend"}])
        );
    }

    #[test]
    fn adds_a_coding_once_for_any_matching_local_code() {
        let rule = json!([{"table": "lab_to_loinc", "resource": "Observation",
            "from": "code.coding.code", "to_code": "code", "system": "http://loinc.org"}]);
        let out = enrich(rule.clone(), &bundle()).unwrap().unwrap();
        let codings = &resource(&out, 3)["code"]["coding"];
        assert_eq!(
            codings[2],
            json!({"system": "http://loinc.org", "code": "718-7"})
        );
        assert_eq!(enrich(rule, &out).unwrap(), None, "already coded");
    }

    #[test]
    fn applies_to_a_lone_resource_and_creates_members() {
        let patient = json!({"resourceType": "Practitioner", "identifier": [{"value": "1234"}]});
        let rule = json!([{"table": "providers", "resource": "Practitioner",
            "from": "identifier.value", "to": "name.text"}]);
        let out = enrich(rule, &patient).unwrap().unwrap();
        assert_eq!(out["name"], json!({"text": "Dr Alice Attend"}));
    }

    #[test]
    fn a_missing_key_keeps_or_rejects_as_configured() {
        let rule = |on_missing: &str| {
            json!([{"table": "facilities", "resource": "Organization", "from": "name",
                "to": "alias", "on_missing": on_missing}])
        };
        let only_unknown = json!({"resourceType": "Organization", "name": "ELSEWHERE"});
        assert_eq!(enrich(rule("keep"), &only_unknown).unwrap(), None);
        let error = enrich(rule("reject"), &only_unknown).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Organization.name: key not in lookup table `facilities`"
        );
    }

    /// The tables, for a message that arrived on channel `lab`.
    struct OnChannelLab;

    impl Lookup for OnChannelLab {
        fn lookup(&self, table: &str, key: &str) -> Option<String> {
            let channels = HashMap::from([("lab".to_string(), "Lab results feed".to_string())]);
            (table == "channels").then(|| channels.get(key).cloned())?
        }

        fn metadata(&self, key: crate::MetadataKey) -> Option<String> {
            (key == crate::MetadataKey::Channel).then(|| "lab".to_string())
        }
    }

    #[test]
    fn takes_a_key_from_the_metadata() {
        let enricher = Enricher::from_json(&json!({"rules": [
            {"table": "channels", "resource": "MessageHeader", "from_metadata": "channel",
             "to": "source.name"},
            {"table": "channels", "resource": "Organization", "from_metadata":
             "peer_certificate_name", "to": "alias", "on_missing": "reject"}
        ]}))
        .unwrap();
        let header = json!({"resourceType": "MessageHeader", "source": {"endpoint": "x"}});
        let out = enricher.enrich_fhir(&header.to_string(), &OnChannelLab);
        let out: Value = serde_json::from_str(&out.unwrap().unwrap()).unwrap();
        assert_eq!(out["source"]["name"], "Lab results feed");
        // No certificate name: the rejecting rule has no key, and keeps.
        let organization = json!({"resourceType": "Organization", "name": "X"});
        let out = enricher.enrich_fhir(&organization.to_string(), &OnChannelLab);
        assert_eq!(out.unwrap(), None);
    }

    #[test]
    fn text_that_is_not_json_is_an_error() {
        let enricher = Enricher::from_json(&json!({"rules": [
            {"table": "t", "resource": "Patient", "from": "id", "to": "id"}]}))
        .unwrap();
        let error = enricher.enrich_fhir("MSH|", &tables()).unwrap_err();
        assert!(matches!(error, EnrichError::Json(_)), "{error}");
    }
}

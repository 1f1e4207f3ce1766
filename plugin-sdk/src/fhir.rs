//! Small helpers to build FHIR R4 JSON: bundles with deterministic ids,
//! references by `fullUrl`, and codings.

use serde_json::{Map, Value, json};

/// The namespace for [`deterministic_id`]: fixed so that ids stay the same
/// across plugin versions.
const ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6c1f_0d5e_2b1a_4d6e_9a3f_7c2b_8e4d_1a90);

/// A UUID (version 5) derived from `parts`: the same inputs always give the
/// same id, so resending a message yields the same resource ids.
pub fn deterministic_id(parts: &[&str]) -> String {
    let key = parts.join("\u{1f}");
    uuid::Uuid::new_v5(&ID_NAMESPACE, key.as_bytes()).to_string()
}

/// The kind of bundle to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleType {
    /// All entries succeed or fail together.
    Transaction,
    /// Entries are processed independently.
    Batch,
    /// A plain collection, without requests.
    Collection,
    /// A FHIR message (the first entry is a MessageHeader), without requests.
    Message,
}

impl BundleType {
    /// The FHIR code of this bundle type.
    pub fn code(self) -> &'static str {
        match self {
            BundleType::Transaction => "transaction",
            BundleType::Batch => "batch",
            BundleType::Collection => "collection",
            BundleType::Message => "message",
        }
    }

    fn has_requests(self) -> bool {
        matches!(self, BundleType::Transaction | BundleType::Batch)
    }
}

/// A bundle under construction.
#[derive(Debug, Clone)]
pub struct Bundle {
    kind: BundleType,
    id: String,
    entries: Vec<Value>,
}

impl Bundle {
    /// An empty bundle of `kind` with the given id.
    pub fn new(kind: BundleType, id: impl Into<String>) -> Self {
        Bundle {
            kind,
            id: id.into(),
            entries: Vec::new(),
        }
    }

    /// Adds `resource` (which must carry `resourceType` and `id`) and returns
    /// its `fullUrl` (`urn:uuid:<id>`) for references from other entries.
    ///
    /// In transaction and batch bundles the entry is a `PUT` of the resource
    /// by id, or a conditional update on `conditional_query` (for example
    /// `identifier=http://hospital|123`) when given.
    pub fn add(&mut self, resource: Value, conditional_query: Option<&str>) -> String {
        let resource_type = resource["resourceType"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let id = resource["id"].as_str().unwrap_or_default().to_string();
        let full_url = format!("urn:uuid:{id}");
        let mut entry = Map::new();
        entry.insert("fullUrl".into(), Value::String(full_url.clone()));
        entry.insert("resource".into(), resource);
        if self.kind.has_requests() {
            let url = match conditional_query {
                Some(query) => format!("{resource_type}?{query}"),
                None => format!("{resource_type}/{id}"),
            };
            entry.insert("request".into(), json!({ "method": "PUT", "url": url }));
        }
        self.entries.push(Value::Object(entry));
        full_url
    }

    /// The number of entries so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The finished bundle as JSON.
    pub fn into_json(self) -> Value {
        let mut bundle = json!({
            "resourceType": "Bundle",
            "id": self.id,
            "type": self.kind.code(),
        });
        // Moved in, not through `json!`, which would serialize (deep-copy)
        // every entry.
        bundle["entry"] = Value::Array(self.entries);
        bundle
    }
}

/// A reference to another bundle entry by its `fullUrl`.
pub fn reference(full_url: &str) -> Value {
    json!({ "reference": full_url })
}

/// A coding; `display` is left out when empty.
pub fn coding(system: &str, code: &str, display: Option<&str>) -> Value {
    let mut coding = json!({ "system": system, "code": code });
    if let Some(display) = display.filter(|d| !d.is_empty()) {
        coding["display"] = Value::String(display.into());
    }
    coding
}

/// The query of a conditional write on a business identifier:
/// `identifier=<system>|<value>`, both parts percent-encoded (the `|` that
/// separates them stays literal, as FHIR search expects).
///
/// Pass it to [`Bundle::add`] so that resending the same data updates the
/// resource the identifier names instead of creating a duplicate.
pub fn identifier_query(system: &str, value: &str) -> String {
    format!(
        "identifier={}|{}",
        percent_encode(system),
        percent_encode(value)
    )
}

/// Percent-encodes every byte outside the URL-safe set `A-Z a-z 0-9 - . _ ~ : /`.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_id_is_stable_and_input_sensitive() {
        assert_eq!(deterministic_id(&["a", "b"]), deterministic_id(&["a", "b"]));
        assert_ne!(deterministic_id(&["a", "b"]), deterministic_id(&["ab"]));
    }

    #[test]
    fn transaction_entries_carry_put_requests() {
        let mut bundle = Bundle::new(BundleType::Transaction, "b1");
        let url = bundle.add(
            json!({"resourceType": "Patient", "id": "p1"}),
            Some("identifier=x|1"),
        );
        assert_eq!(url, "urn:uuid:p1");
        let json = bundle.into_json();
        assert_eq!(json["entry"][0]["request"]["url"], "Patient?identifier=x|1");
        assert_eq!(json["type"], "transaction");
    }

    #[test]
    fn identifier_query_encodes_both_parts() {
        assert_eq!(
            identifier_query("urn:oid:1.2.3", "A 1&2|3"),
            "identifier=urn:oid:1.2.3|A%201%262%7C3"
        );
    }
}

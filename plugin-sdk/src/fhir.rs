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
    let id = uuid::Uuid::new_v5(&ID_NAMESPACE, key.as_bytes());
    id.hyphenated()
        .encode_lower(&mut uuid::Uuid::encode_buffer())
        .to_string()
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
///
/// [`Bundle::to_json_string`] writes it straight to compact JSON, the
/// resources serialised in place; [`Bundle::into_json`] gives the same
/// document as a [`Value`].
#[derive(Debug, Clone)]
pub struct Bundle {
    kind: BundleType,
    id: String,
    entries: Vec<Entry>,
}

/// One bundle entry: the resource, its `fullUrl` and, in transaction and
/// batch bundles, the `PUT` request's url.
#[derive(Debug, Clone)]
struct Entry {
    full_url: String,
    resource: Value,
    request_url: Option<String>,
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
        let resource_type = resource["resourceType"].as_str().unwrap_or_default();
        let id = resource["id"].as_str().unwrap_or_default();
        let full_url = ["urn:uuid:", id].concat();
        let request_url = self.kind.has_requests().then(|| match conditional_query {
            Some(query) => [resource_type, "?", query].concat(),
            None => [resource_type, "/", id].concat(),
        });
        self.entries.push(Entry {
            full_url: full_url.clone(),
            resource,
            request_url,
        });
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
        let entries = self.entries.into_iter().map(|entry| {
            let mut object = Map::new();
            object.insert("fullUrl".into(), Value::String(entry.full_url));
            object.insert("resource".into(), entry.resource);
            if let Some(url) = entry.request_url {
                object.insert("request".into(), json!({ "method": "PUT", "url": url }));
            }
            Value::Object(object)
        });
        let mut bundle = json!({
            "resourceType": "Bundle",
            "id": self.id,
            "type": self.kind.code(),
        });
        // Moved in, not through `json!`, which would serialize (deep-copy)
        // every entry.
        bundle["entry"] = Value::Array(entries.collect());
        bundle
    }

    /// The finished bundle as compact JSON text: the same text as
    /// `into_json().to_string()`, written without building the bundle's
    /// [`Value`] and with a fast path for the strings that need no escapes.
    /// `capacity` is a guess of the length, to size the buffer once.
    pub fn to_json_string(&self, capacity: usize) -> String {
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(br#"{"resourceType":"Bundle","id":"#);
        write_str(&mut out, &self.id);
        out.extend_from_slice(br#","type":"#);
        write_str(&mut out, self.kind.code());
        out.extend_from_slice(br#","entry":["#);
        for (n, entry) in self.entries.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"fullUrl":"#);
            write_str(&mut out, &entry.full_url);
            out.extend_from_slice(br#","resource":"#);
            write_value(&mut out, &entry.resource);
            if let Some(url) = &entry.request_url {
                out.extend_from_slice(br#","request":{"method":"PUT","url":"#);
                write_str(&mut out, url);
                out.push(b'}');
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        String::from_utf8(out).expect("JSON written from strings is UTF-8")
    }
}

/// Appends `value` as compact JSON, exactly as `serde_json` writes it.
fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(text) => write_str(out, text),
        Value::Object(map) => {
            out.push(b'{');
            for (n, (key, value)) in map.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_value(out, value);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(out, scalar).expect("a JSON scalar writes to memory"),
    }
}

/// Appends `text` as a JSON string: copied as is between quotes unless it
/// has a byte JSON escapes (a control character, `"` or `\`), which is left
/// to `serde_json`.
fn write_str(out: &mut Vec<u8>, text: &str) {
    // No early exit: the whole-string fold vectorises.
    let escapes = text.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if escapes {
        serde_json::to_writer(out, text).expect("a JSON string writes to memory");
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
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
    fn json_text_is_the_json_value_serialised() {
        for kind in [BundleType::Transaction, BundleType::Message] {
            let mut bundle = Bundle::new(kind, "b\"1");
            bundle.add(
                json!({
                    "resourceType": "Observation",
                    "id": "o1",
                    "valueQuantity": { "value": 38.4, "unit": "Cel" },
                    "note": [{ "text": "line\nnext \\ \"quoted\" \u{1} é" }],
                    "flags": [true, false, null, -3, 12_345_678_901_u64],
                    "empty": {},
                }),
                Some("identifier=x|1"),
            );
            bundle.add(json!({"resourceType": "Patient", "id": "p1"}), None);
            let text = bundle.to_json_string(0);
            assert_eq!(text, bundle.into_json().to_string());
        }
    }

    #[test]
    fn identifier_query_encodes_both_parts() {
        assert_eq!(
            identifier_query("urn:oid:1.2.3", "A 1&2|3"),
            "identifier=urn:oid:1.2.3|A%201%262%7C3"
        );
    }
}

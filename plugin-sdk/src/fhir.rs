//! Small helpers to build FHIR R4 JSON: bundles with deterministic ids,
//! references by `fullUrl`, and codings.

use std::rc::Rc;

use sha1::Digest as _;

use crate::json;
use crate::json::{Value, needs_escape, write_str};

/// The namespace for [`deterministic_id`] (UUID
/// `6c1f0d5e-2b1a-4d6e-9a3f-7c2b8e4d1a90`): fixed so that ids stay the same
/// across plugin versions.
const ID_NAMESPACE: [u8; 16] = 0x6c1f_0d5e_2b1a_4d6e_9a3f_7c2b_8e4d_1a90_u128.to_be_bytes();

/// A UUID (version 5) derived from `parts`: the same inputs always give the
/// same id, so resending a message yields the same resource ids.
///
/// The name hashed is the parts joined by U+001F; they are hashed one after
/// the other, without joining them first.
pub fn deterministic_id(parts: &[&str]) -> String {
    let mut name = IdName::new();
    for part in parts {
        name.part(part);
    }
    name.id()
}

/// The parts of a [`deterministic_id`] given one by one, each possibly in
/// pieces, hashed as they come: no text is joined, and a name that extends
/// another (a place within a place) is a clone of the shorter one extended.
#[derive(Clone)]
pub struct IdName {
    sha1: sha1::Sha1,
    /// Whether a part was given (the next one is preceded by U+001F).
    started: bool,
}

impl IdName {
    /// A name without parts yet.
    pub fn new() -> Self {
        let mut sha1 = sha1::Sha1::new();
        sha1.update(ID_NAMESPACE);
        IdName {
            sha1,
            started: false,
        }
    }

    /// Starts the next part with `text`.
    pub fn part(&mut self, text: &str) -> &mut Self {
        if self.started {
            self.sha1.update(b"\x1f");
        }
        self.started = true;
        self.extend(text)
    }

    /// Appends `text` to the current part.
    pub fn extend(&mut self, text: &str) -> &mut Self {
        self.sha1.update(text.as_bytes());
        self
    }

    /// The id of the name so far: [`deterministic_id`] of its parts.
    pub fn id(&self) -> String {
        let mut bytes = [0; 16];
        bytes.copy_from_slice(&self.sha1.clone().finalize()[..16]);
        // Version 5 and the RFC 4122 variant, as `uuid::Uuid::new_v5` sets them.
        bytes[6] = (bytes[6] & 0x0f) | 0x50;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        hyphenated(&bytes)
    }
}

impl Default for IdName {
    fn default() -> Self {
        IdName::new()
    }
}

/// A UUID's bytes as lower-case hyphenated text (`8-4-4-4-12` hex digits).
fn hyphenated(bytes: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b'-'; 36];
    let mut at = 0;
    for (n, byte) in bytes.iter().enumerate() {
        if matches!(n, 4 | 6 | 8 | 10) {
            at += 1;
        }
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 15)];
        at += 2;
    }
    String::from_utf8(text.to_vec()).expect("hex digits and hyphens")
}

/// The `fullUrl` of the resource with `id` in a bundle: `urn:uuid:<id>`,
/// shared by the many [`reference`]s to the resource.
pub fn full_url(id: &str) -> Rc<str> {
    const PREFIX: &str = "urn:uuid:";
    // Joined on the stack when short (ids are 36 characters): `Rc<str>`
    // copies its text anyway.
    let mut buffer = [0; 64];
    match buffer.get_mut(..PREFIX.len() + id.len()) {
        Some(url) => {
            let (prefix, rest) = url.split_at_mut(PREFIX.len());
            prefix.copy_from_slice(PREFIX.as_bytes());
            rest.copy_from_slice(id.as_bytes());
            Rc::from(std::str::from_utf8(url).expect("joined text"))
        }
        None => Rc::from([PREFIX, id].concat()),
    }
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
/// document as a `serde_json::Value`.
#[derive(Debug, Clone)]
pub struct Bundle<'a> {
    kind: BundleType,
    id: String,
    /// `identifier.value`: what identifies the source, e.g. a message's
    /// control id.
    identifier: Option<String>,
    /// `timestamp`: when the bundle's content was assembled, an instant.
    timestamp: Option<String>,
    entries: Vec<Entry<'a>>,
}

/// One bundle entry: the resource and the query of its conditional update.
#[derive(Debug, Clone)]
struct Entry<'a> {
    resource: Value<'a>,
    conditional_query: Option<String>,
}

impl Entry<'_> {
    /// The resource's id.
    fn id(&self) -> &str {
        self.resource["id"].as_str().unwrap_or_default()
    }

    /// The parts of the entry's `fullUrl` (see [`full_url`]).
    fn full_url(&self) -> [&str; 2] {
        ["urn:uuid:", self.id()]
    }

    /// The parts of the `PUT` request's url: by the conditional query when
    /// there is one, else by id.
    fn request_url(&self) -> [&str; 3] {
        let resource_type = self.resource["resourceType"].as_str().unwrap_or_default();
        match &self.conditional_query {
            Some(query) => [resource_type, "?", query],
            None => [resource_type, "/", self.id()],
        }
    }
}

impl<'a> Bundle<'a> {
    /// An empty bundle of `kind` with the given id.
    pub fn new(kind: BundleType, id: impl Into<String>) -> Self {
        Bundle {
            kind,
            id: id.into(),
            identifier: None,
            timestamp: None,
            entries: Vec::new(),
        }
    }

    /// Sets the bundle's `identifier` to `value` (with no system).
    pub fn set_identifier(&mut self, value: impl Into<String>) {
        self.identifier = Some(value.into());
    }

    /// Sets the bundle's `timestamp`, which must be a FHIR instant.
    pub fn set_timestamp(&mut self, instant: impl Into<String>) {
        self.timestamp = Some(instant.into());
    }

    /// Makes room for `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    /// Adds `resource` (which must carry `resourceType` and `id`); other
    /// entries refer to it by its [`full_url`].
    ///
    /// In transaction and batch bundles the entry is a `PUT` of the resource
    /// by id, or a conditional update on `conditional_query` (for example
    /// `identifier=http://hospital|123`) when given.
    pub fn add(&mut self, resource: Value<'a>, conditional_query: Option<String>) {
        self.entries.push(Entry {
            resource,
            conditional_query,
        });
    }

    /// The number of entries so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The finished bundle as a `serde_json::Value`.
    pub fn into_json(self) -> serde_json::Value {
        let requests = self.kind.has_requests();
        let entries = self.entries.into_iter().map(|entry| {
            let mut object = serde_json::Map::new();
            object.insert("fullUrl".into(), entry.full_url().concat().into());
            let url = requests.then(|| entry.request_url().concat());
            object.insert("resource".into(), entry.resource.into());
            if let Some(url) = url {
                object.insert(
                    "request".into(),
                    serde_json::json!({ "method": "PUT", "url": url }),
                );
            }
            serde_json::Value::Object(object)
        });
        let mut bundle = serde_json::json!({
            "resourceType": "Bundle",
            "id": self.id,
        });
        if let Some(value) = self.identifier {
            bundle["identifier"] = serde_json::json!({ "value": value });
        }
        bundle["type"] = self.kind.code().into();
        if let Some(instant) = self.timestamp {
            bundle["timestamp"] = instant.into();
        }
        // Moved in, not through `json!`, which would serialize (deep-copy)
        // every entry.
        bundle["entry"] = serde_json::Value::Array(entries.collect());
        bundle
    }

    /// The finished bundle as compact JSON text: the same text as
    /// `into_json().to_string()`, written without building the bundle's
    /// `serde_json::Value`.
    /// `capacity` is a guess of the length, to size the buffer once.
    pub fn to_json_string(&self, capacity: usize) -> String {
        let mut out = String::with_capacity(capacity);
        out.push_str(r#"{"resourceType":"Bundle","id":"#);
        write_str(&mut out, &self.id);
        if let Some(value) = &self.identifier {
            out.push_str(r#","identifier":{"value":"#);
            write_str(&mut out, value);
            out.push('}');
        }
        out.push_str(r#","type":"#);
        write_str(&mut out, self.kind.code());
        if let Some(instant) = &self.timestamp {
            out.push_str(r#","timestamp":"#);
            write_str(&mut out, instant);
        }
        out.push_str(r#","entry":["#);
        for (n, entry) in self.entries.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(r#"{"fullUrl":"#);
            write_joined(&mut out, &entry.full_url());
            out.push_str(r#","resource":"#);
            entry.resource.write(&mut out);
            if self.kind.has_requests() {
                out.push_str(r#","request":{"method":"PUT","url":"#);
                write_joined(&mut out, &entry.request_url());
                out.push('}');
            }
            out.push('}');
        }
        out.push_str("]}");
        out
    }
}

/// Appends the concatenation of `parts` as a JSON string, without
/// concatenating them first when none needs escapes.
fn write_joined(out: &mut String, parts: &[&str]) {
    if parts.iter().any(|part| needs_escape(part.as_bytes())) {
        write_str(out, &parts.concat());
    } else {
        out.push('"');
        for part in parts {
            out.push_str(part);
        }
        out.push('"');
    }
}

/// A reference to another bundle entry by its `fullUrl` (see [`full_url`]).
pub fn reference(full_url: Rc<str>) -> Value<'static> {
    json!({ "reference": full_url })
}

/// A coding; `display` is left out when empty.
pub fn coding<'a>(system: &'a str, code: &'a str, display: Option<&'a str>) -> Value<'a> {
    let mut coding = json!({ "system": system, "code": code });
    if let Some(display) = display.filter(|d| !d.is_empty()) {
        coding["display"] = Value::Str(display);
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
        let namespace = uuid::Uuid::from_bytes(ID_NAMESPACE);
        for parts in [&["a", "b"][..], &[], &["x"; 40]] {
            let id = uuid::Uuid::new_v5(&namespace, parts.join("\x1f").as_bytes());
            assert_eq!(deterministic_id(parts), id.hyphenated().to_string());
        }
    }

    #[test]
    fn a_name_given_in_pieces_is_its_parts_joined() {
        let mut name = IdName::new();
        name.part("Location").part("si=").extend("A");
        assert_eq!(name.id(), deterministic_id(&["Location", "si=A"]));
        let mut inner = name.clone();
        inner.part("wa=B");
        assert_eq!(inner.id(), deterministic_id(&["Location", "si=A", "wa=B"]));
    }

    #[test]
    fn transaction_entries_carry_put_requests() {
        let mut bundle = Bundle::new(BundleType::Transaction, "b1");
        bundle.add(
            json!({"resourceType": "Patient", "id": "p1"}),
            Some("identifier=x|1".into()),
        );
        let json = bundle.into_json();
        assert_eq!(json["entry"][0]["request"]["url"], "Patient?identifier=x|1");
        assert_eq!(json["type"], "transaction");
    }

    #[test]
    fn json_text_is_the_json_value_serialised() {
        for kind in [BundleType::Transaction, BundleType::Message] {
            let mut bundle = Bundle::new(kind, "b\"1");
            if kind == BundleType::Message {
                bundle.set_identifier("MSG\"1");
                bundle.set_timestamp("2024-01-02T03:04:05+01:00");
            }
            bundle.add(
                json!({
                    "resourceType": "Observation",
                    "id": "o1",
                    "valueQuantity": { "value": 38_u32, "unit": "Cel" },
                    "note": [{ "text": "line\nnext \\ \"quoted\" \u{1} é" }],
                    "flags": [true, false, null, -3_i64],
                    "empty": {},
                }),
                Some("identifier=x|1".into()),
            );
            bundle.add(json!({"resourceType": "Patient\n", "id": "p1"}), None);
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

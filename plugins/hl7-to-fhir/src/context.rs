//! [`Context`]: the state of one mapping — the message, the resources built so
//! far (mutable until the end, so that later segments can add to them), and
//! deterministic ids.

use std::collections::HashMap;

use hl7wasm_plugin_sdk::fhir::{self, Bundle, BundleType};
use hl7wasm_plugin_sdk::hl7v2::{Message, Segment};
use serde_json::{Map, Value, json};

use crate::datatypes::time;
use crate::{MapError, Options};

/// A resource added to the [`Context`]; stays valid for the whole mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle(usize);

/// One resource and how it is written.
struct Entry {
    resource: Value,
    conditional_query: Option<String>,
    /// `urn:uuid:<id>`, made once for the many references to the resource.
    full_url: String,
}

/// The state of one mapping.
pub struct Context<'m> {
    options: &'m Options,
    /// Identifies the message: MSH-3, MSH-4 and MSH-10, or the whole text
    /// when MSH-10 is missing.
    key: String,
    entries: Vec<Entry>,
    by_id: HashMap<String, Handle>,
}

impl<'m> Context<'m> {
    /// A context for `message`.
    pub fn new(message: &Message<'_>, options: &'m Options) -> Self {
        let header = message.header();
        let key = match header.control_id() {
            Some(control_id) => [
                header.sending_application().unwrap_or(""),
                header.sending_facility().unwrap_or(""),
                control_id,
            ]
            .join("|"),
            None => message.text().to_string(),
        };
        Context {
            options,
            key,
            entries: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    /// The offset for HL7 times without one (see [`Options`]).
    pub fn default_offset(&self) -> Option<i16> {
        self.options.default_offset_minutes
    }

    /// An id that is the same whenever the same message is mapped: derived
    /// from the message key and `parts` (for example a segment's position).
    pub fn message_id(&self, parts: &[&str]) -> String {
        let mut all = vec![self.key.as_str()];
        all.extend_from_slice(parts);
        fhir::deterministic_id(&all)
    }

    /// Adds `resource` (with `resourceType` and `id`); a resource whose id is
    /// already present is not added twice, and the first one's handle is
    /// returned.
    pub fn add(&mut self, resource: Value, conditional_query: Option<String>) -> Handle {
        let id = resource["id"].as_str().unwrap_or_default();
        if let Some(handle) = self.existing(id) {
            return handle;
        }
        let handle = Handle(self.entries.len());
        let full_url = ["urn:uuid:", id].concat();
        self.by_id.insert(id.to_string(), handle);
        self.entries.push(Entry {
            resource,
            conditional_query,
            full_url,
        });
        handle
    }

    /// The resource already added with `id`: a shared resource (a doctor,
    /// a place) met again need not be built again.
    pub fn existing(&self, id: &str) -> Option<Handle> {
        self.by_id.get(id).copied()
    }

    /// The resource behind `handle`, to add to it.
    pub fn resource_mut(&mut self, handle: Handle) -> &mut Value {
        &mut self.entries[handle.0].resource
    }

    /// A Reference to the resource behind `handle`, by its `fullUrl`.
    pub fn reference(&self, handle: Handle) -> Value {
        fhir::reference(&self.entries[handle.0].full_url)
    }

    /// Handles of every resource of `resource_type`, in order.
    pub fn handles_of(&self, resource_type: &str) -> Vec<Handle> {
        (0..self.entries.len())
            .map(Handle)
            .filter(|h| self.entries[h.0].resource["resourceType"] == resource_type)
            .collect()
    }

    /// Every handle so far, in order.
    pub fn handles(&self) -> Vec<Handle> {
        (0..self.entries.len()).map(Handle).collect()
    }

    /// The finished Bundle, its id derived from the message key.
    pub fn into_bundle(self, kind: BundleType) -> Bundle {
        let mut bundle = Bundle::new(kind, fhir::deterministic_id(&[&self.key, "Bundle"]));
        for entry in self.entries {
            bundle.add(entry.resource, entry.conditional_query.as_deref());
        }
        bundle
    }
}

/// A segment being mapped, with its repetition in the message for error
/// locations. Accessors return trimmed, unescaped, non-empty text; the HL7
/// null `""` counts as empty.
#[derive(Debug, Clone, Copy)]
pub struct Seg<'m> {
    /// The parsed segment.
    pub segment: Segment<'m>,
    /// 1-based repetition of this segment id within the message.
    pub sequence: u32,
}

impl<'m> Seg<'m> {
    /// The segment id, e.g. `PID`.
    pub fn id(&self) -> &'m str {
        self.segment.id()
    }

    /// The non-empty repetitions of field `n`.
    pub fn reps(&self, n: usize) -> Vec<Rep<'m>> {
        self.present_reps(n).collect()
    }

    /// The first non-empty repetition of field `n`.
    pub fn rep(&self, n: usize) -> Option<Rep<'m>> {
        self.present_reps(n).next()
    }

    /// The non-empty repetitions of field `n`, lazily.
    fn present_reps(&self, n: usize) -> impl Iterator<Item = Rep<'m>> + use<'m> {
        // A repetition of only separators (`^^^`) or HL7 nulls counts as empty.
        self.segment
            .field(n)
            .into_iter()
            .flat_map(|field| field.repetitions())
            .filter(|r| {
                r.components()
                    .any(|c| c.subcomponents().any(|s| present(&s.value()).is_some()))
            })
            .map(Rep)
    }

    /// Component 1 (first subcomponent) of the first repetition of field `n`.
    pub fn text(&self, n: usize) -> Option<String> {
        self.rep(n)?.get(1)
    }

    /// Component `c` (first subcomponent) of the first repetition of field `n`.
    pub fn component(&self, n: usize, c: usize) -> Option<String> {
        self.rep(n)?.get(c)
    }

    /// A [`MapError::Invalid`] at field `n` of this segment.
    pub fn error(&self, n: usize, reason: impl Into<String>) -> MapError {
        MapError::Invalid {
            segment: self.id().to_string(),
            sequence: self.sequence,
            field: n as u32,
            reason: reason.into(),
        }
    }

    /// Field `n` (TS/DTM, component 1) as a FHIR dateTime; `None` when empty
    /// or malformed (a malformed value is dropped, not guessed at).
    pub fn datetime(&self, n: usize, ctx: &Context<'_>) -> Option<String> {
        time::datetime(&self.text(n)?, ctx.default_offset())
    }

    /// Field `n` as a FHIR instant; `None` unless it has a time and a zone.
    pub fn instant(&self, n: usize, ctx: &Context<'_>) -> Option<String> {
        self.datetime(n, ctx).filter(|d| time::is_instant(d))
    }

    /// Field `n` as a FHIR date (the date part of a timestamp).
    pub fn date(&self, n: usize) -> Option<String> {
        time::date(&self.text(n)?)
    }
}

/// One repetition of a field: a datatype instance whose components are read
/// by number.
#[derive(Debug, Clone, Copy)]
pub struct Rep<'m>(pub hl7wasm_plugin_sdk::hl7v2::Repetition<'m>);

impl<'m> Rep<'m> {
    /// Component `c`'s first subcomponent.
    pub fn get(&self, c: usize) -> Option<String> {
        self.sub(c, 1)
    }

    /// Subcomponent `s` of component `c`.
    pub fn sub(&self, c: usize, s: usize) -> Option<String> {
        let sub = self.0.component(c)?.subcomponent(s)?;
        clean(&sub.value())
    }

    /// Component `c` as a nested datatype whose parts are subcomponents.
    pub fn nested(&self, c: usize) -> Nested<'m> {
        Nested(*self, c)
    }
}

/// A component used as a datatype of its own (for example CX-4, an HD), its
/// parts being subcomponents.
#[derive(Debug, Clone, Copy)]
pub struct Nested<'m>(Rep<'m>, usize);

/// A datatype instance whose parts are read by number: a field repetition
/// (parts are components) or a component (parts are subcomponents).
pub trait Parts {
    /// Part `n`, trimmed and unescaped; `None` when empty.
    fn part(&self, n: usize) -> Option<String>;
}

impl Parts for Rep<'_> {
    fn part(&self, n: usize) -> Option<String> {
        self.get(n)
    }
}

impl Parts for Nested<'_> {
    fn part(&self, n: usize) -> Option<String> {
        self.0.sub(self.1, n)
    }
}

/// Trimmed text, `None` when empty or the HL7 null `""`.
pub fn clean(text: &str) -> Option<String> {
    present(text).map(str::to_string)
}

/// [`clean`] without the copy.
fn present(text: &str) -> Option<&str> {
    let text = text.trim();
    (!text.is_empty() && text != "\"\"").then_some(text)
}

/// Sets `key` in `object` when `value` is present and not an empty array.
pub fn put(object: &mut Value, key: &str, value: Option<Value>) {
    match value {
        Some(Value::Array(items)) if items.is_empty() => {}
        Some(value) => object[key] = value,
        None => {}
    }
}

/// Appends `value` to the array `key` of `object`, creating it when needed.
pub fn push(object: &mut Value, key: &str, value: Value) {
    match object.get_mut(key).and_then(Value::as_array_mut) {
        Some(items) => items.push(value),
        None => object[key] = json!([value]),
    }
}

/// A new resource: `resourceType` and `id`, with room for the elements the
/// maps add (an object that need not grow as they are put in).
pub fn resource(resource_type: &str, id: String) -> Value {
    let mut resource = Map::with_capacity(16);
    resource.insert("resourceType".into(), Value::from(resource_type));
    resource.insert("id".into(), Value::String(id));
    Value::Object(resource)
}

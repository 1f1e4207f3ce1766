//! [`Context`]: the state of one mapping — the message, the resources built so
//! far (mutable until the end, so that later segments can add to them), and
//! deterministic ids.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use hl7wasm_plugin_sdk::fhir::{self, Bundle, BundleType};
use hl7wasm_plugin_sdk::hl7v2::{Delimiters, Field, Message, Segment, Subcomponent};
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::{Object, Value};

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
    by_id: HashMap<String, Handle, BuildHasherDefault<IdHasher>>,
}

/// A hasher for resource ids (UUIDs, already well spread): a multiply-rotate
/// over eight bytes at a time, much cheaper than the default SipHash, whose
/// flooding resistance ids derived by SHA-1 do not need.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
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
        // Room for the resources of a typical message.
        Context {
            options,
            key,
            entries: Vec::with_capacity(32),
            by_id: HashMap::with_capacity_and_hasher(32, Default::default()),
        }
    }

    /// The offset for HL7 times without one (see [`Options`]).
    pub fn default_offset(&self) -> Option<i16> {
        self.options.default_offset_minutes
    }

    /// An id that is the same whenever the same message is mapped: derived
    /// from the message key, `resource_type` and the `position` of the
    /// segment that made the resource.
    pub fn message_id(&self, resource_type: &str, position: usize) -> String {
        fhir::deterministic_id(&[
            &self.key,
            resource_type,
            itoa::Buffer::new().format(position),
        ])
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
        let full_url = fhir::full_url(id);
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
            bundle.add(entry.resource, entry.conditional_query);
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
    /// The message's delimiters.
    pub delimiters: &'m Delimiters,
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

    /// Field `n` when it is a single part, without repetition, component or
    /// subcomponent separators: for [`Seg::text`], the usual case, read
    /// without splitting.
    fn one_part(&self, n: usize) -> Option<Field<'m>> {
        let field = self.segment.field(n)?;
        let d = self.delimiters;
        let splits = |b: &u8| [d.repetition, d.component, d.subcomponent].contains(b);
        (!field.raw().as_bytes().iter().any(splits)).then_some(field)
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
        match self.one_part(n) {
            Some(field) => clean(&field.value()),
            None => self.rep(n)?.get(1),
        }
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

    /// The first `N` components (their first subcomponents), split out once:
    /// cheaper than [`Rep::get`] for a datatype read component by component,
    /// as each call finds its component anew.
    pub fn split<const N: usize>(&self) -> Split<'m, N> {
        let mut parts = [None; N];
        for (part, component) in parts.iter_mut().zip(self.0.components()) {
            *part = component.subcomponent(1);
        }
        Split(parts)
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

/// The first `N` components of a repetition (see [`Rep::split`]).
pub struct Split<'m, const N: usize>([Option<Subcomponent<'m>>; N]);

impl<const N: usize> Split<'_, N> {
    /// Component `n` as [`Rep::get`] gives it.
    ///
    /// # Panics
    /// When `n` is beyond the `N` parts split out.
    pub fn part(&self, n: usize) -> Option<String> {
        let part = self
            .0
            .get(n.checked_sub(1)?)
            .expect("a part within the split");
        clean(&(*part)?.value())
    }
}

/// Trimmed text, `None` when empty or the HL7 null `""`.
pub fn clean(text: &str) -> Option<String> {
    present(text).map(str::to_string)
}

/// [`clean`] without the copy.
fn present(text: &str) -> Option<&str> {
    let text = trim(text);
    (!text.is_empty() && text != "\"\"").then_some(text)
}

/// `text.trim()`, skipped when both ends are ASCII other than whitespace
/// (the usual case, and much cheaper to see than to trim).
fn trim(text: &str) -> &str {
    let plain = |b: &u8| b.is_ascii() && !matches!(b, b' ' | b'\t'..=b'\r');
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) if plain(first) && plain(last) => text,
        _ => text.trim(),
    }
}

/// Sets `key` in `object` when `value` is present and not an empty array.
pub fn put(object: &mut Value, key: &'static str, value: Option<Value>) {
    match value {
        Some(Value::Array(items)) if items.is_empty() => {}
        Some(value) => object[key] = value,
        None => {}
    }
}

/// Appends `value` to the array `key` of `object`, creating it when needed.
pub fn push(object: &mut Value, key: &'static str, value: Value) {
    match object.get_mut(key).and_then(Value::as_array_mut) {
        Some(items) => items.push(value),
        None => object[key] = json!([value]),
    }
}

/// A new resource: `resourceType` and `id`, with room for the elements the
/// maps add (an object that need not grow as they are put in).
pub fn resource(resource_type: &'static str, id: String) -> Value {
    let mut resource = Object::with_capacity(16);
    resource.insert("resourceType", Value::from(resource_type));
    resource.insert("id", Value::String(id));
    Value::Object(resource)
}

//! [`Context`]: the state of one mapping — the message, the resources built so
//! far (mutable until the end, so that later segments can add to them), and
//! deterministic ids.

use std::borrow::{Borrow, Cow};
use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::rc::Rc;

use hl7wasm_plugin_sdk::fhir::{self, Bundle, BundleType};
use hl7wasm_plugin_sdk::hl7v2::{Delimiters, Message, Repetition, Segment, unescape};
use hl7wasm_plugin_sdk::json::{Object, Value};

use crate::datatypes::time;
use crate::{Options, Realm};

/// A resource added to the [`Context`]; stays valid for the whole mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle(usize);

/// Text read from the message: borrowed unless unescaping changed it.
pub type Text<'m> = Cow<'m, str>;

/// One resource and how it is written.
struct Added<'m> {
    resource: Value<'m>,
    conditional_query: Option<String>,
    /// `urn:uuid:<id>`, made once for the many references to the resource.
    full_url: Rc<str>,
}

/// The state of one mapping of a message whose text lives for `'m`.
pub struct Context<'m> {
    options: &'m Options,
    /// Identifies the message: MSH-3, MSH-4 and MSH-10, or the whole text
    /// when MSH-10 is missing.
    key: String,
    entries: Vec<Added<'m>>,
    by_id: HashMap<IdKey, Handle, BuildHasherDefault<IdHasher>>,
    /// What [`Context::shared`] made: by datatype and raw text.
    made: Vec<(&'static str, &'m str, Option<Handle>)>,
    /// What [`Context::datetime`] made, by timestamp text: a message repeats
    /// its times (an OBR's in each of its OBX).
    datetimes: RefCell<Vec<(&'m str, Option<String>)>>,
}

/// A key of the resources by id: a resource's shared `fullUrl`, hashed and
/// compared by the id it ends with, so that the map is searched by id without
/// a copy of the id per resource.
struct IdKey {
    full_url: Rc<str>,
    /// Where the id starts in `full_url`.
    id_at: usize,
}

impl IdKey {
    fn id(&self) -> &str {
        &self.full_url[self.id_at..]
    }
}

impl Borrow<str> for IdKey {
    fn borrow(&self) -> &str {
        self.id()
    }
}

impl Hash for IdKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

impl PartialEq for IdKey {
    fn eq(&self, other: &IdKey) -> bool {
        self.id() == other.id()
    }
}

impl Eq for IdKey {}

/// A hasher for resource ids (UUIDs, already well spread): a multiply-rotate
/// over eight bytes at a time, much cheaper than the default SipHash, whose
/// flooding resistance ids derived by SHA-1 do not need.
#[derive(Default)]
struct IdHasher(u64);

impl IdHasher {
    /// Mixes in eight bytes.
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in words.by_ref() {
            self.mix(u64::from_le_bytes(word.try_into().expect("eight bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.mix(u64::from(byte));
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
            made: Vec::new(),
            datetimes: RefCell::default(),
        }
    }

    /// The offset for HL7 times without one (see [`Options`]).
    pub fn default_offset(&self) -> Option<i16> {
        self.options.default_offset_minutes
    }

    /// The realm whose profiles fill what the IG leaves open.
    pub fn realm(&self) -> Realm {
        self.options.realm
    }

    /// An HL7 timestamp as a FHIR dateTime (see [`time::datetime`]), made
    /// once per text of the message.
    pub fn datetime(&self, text: Text<'m>) -> Option<String> {
        let Cow::Borrowed(text) = text else {
            return time::datetime(&text, self.default_offset());
        };
        let known = self
            .datetimes
            .borrow()
            .iter()
            .find(|(t, _)| *t == text)
            .map(|(_, made)| made.clone());
        if let Some(made) = known {
            return made;
        }
        let made = time::datetime(text, self.default_offset());
        self.datetimes.borrow_mut().push((text, made.clone()));
        made
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
    pub fn add(&mut self, resource: Value<'m>, conditional_query: Option<String>) -> Handle {
        let id = resource["id"].as_str().unwrap_or_default();
        let full_url = fhir::full_url(id);
        let key = IdKey {
            full_url: Rc::clone(&full_url),
            id_at: full_url.len() - id.len(),
        };
        let handle = Handle(self.entries.len());
        match self.by_id.entry(key) {
            Entry::Occupied(known) => return *known.get(),
            Entry::Vacant(slot) => slot.insert(handle),
        };
        self.entries.push(Added {
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

    /// The shared resource that `make` makes of `rep`, an instance of
    /// `datatype`; made once for the same text met again (a doctor named in
    /// several fields), so `make` must depend on the text of `rep` only.
    pub fn shared(
        &mut self,
        datatype: &'static str,
        rep: Rep<'m>,
        make: impl FnOnce(&mut Self, Rep<'m>) -> Option<Handle>,
    ) -> Option<Handle> {
        let raw = rep.0.raw();
        let known = self
            .made
            .iter()
            .find(|(d, r, _)| *d == datatype && *r == raw);
        if let Some(&(_, _, made)) = known {
            return made;
        }
        let made = make(self, rep);
        self.made.push((datatype, raw, made));
        made
    }

    /// The resource behind `handle`, to add to it.
    pub fn resource_mut(&mut self, handle: Handle) -> &mut Value<'m> {
        &mut self.entries[handle.0].resource
    }

    /// A Reference to the resource behind `handle`, by its `fullUrl`.
    pub fn reference(&self, handle: Handle) -> Value<'m> {
        fhir::reference(Rc::clone(&self.entries[handle.0].full_url))
    }

    /// The resource that `reference` (as [`Context::reference`] makes it)
    /// names, when it is in this bundle.
    pub fn referenced(&self, reference: &Value<'_>) -> Option<Handle> {
        let url = reference["reference"].as_str()?;
        let at = self.entries.iter().position(|e| &*e.full_url == url)?;
        Some(Handle(at))
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

    /// The finished Bundle, its id derived from the message key. The
    /// MessageHeader comes first, as a message bundle needs (FHIR's bdl-12),
    /// though the Organizations it names were added before it.
    pub fn into_bundle(self, kind: BundleType) -> Bundle<'m> {
        let mut bundle = Bundle::new(kind, fhir::deterministic_id(&[&self.key, "Bundle"]));
        bundle.reserve(self.entries.len());
        let mut entries = self.entries;
        if let Some(header) = entries
            .iter()
            .position(|e| e.resource["resourceType"] == "MessageHeader")
        {
            entries[..=header].rotate_right(1);
        }
        for entry in entries {
            bundle.add(entry.resource, entry.conditional_query);
        }
        bundle
    }
}

/// A segment being mapped. Accessors return trimmed, unescaped, non-empty
/// text; the HL7 null `""` counts as empty.
#[derive(Debug, Clone, Copy)]
pub struct Seg<'m> {
    /// The parsed segment.
    pub segment: Segment<'m>,
    /// The message's delimiters.
    pub delimiters: &'m Delimiters,
}

impl<'m> Seg<'m> {
    /// The segment id, e.g. `PID`.
    pub fn id(&self) -> &'m str {
        self.segment.id()
    }

    /// The first non-empty repetition of field `n`.
    pub fn rep(&self, n: usize) -> Option<Rep<'m>> {
        self.reps(n).next()
    }

    /// The non-empty repetitions of field `n`, lazily.
    pub fn reps(&self, n: usize) -> impl Iterator<Item = Rep<'m>> + use<'m> {
        // A repetition of only separators (`^^^`) or HL7 nulls counts as empty.
        self.segment
            .field(n)
            .filter(|field| !field.is_empty())
            .into_iter()
            .flat_map(|field| field.repetitions())
            .filter(has_text)
            .map(Rep)
    }

    /// Component 1 (first subcomponent) of the first repetition of field `n`.
    pub fn text(&self, n: usize) -> Option<Text<'m>> {
        let field = self.segment.field(n)?;
        let (raw, d) = (field.raw().as_bytes(), self.delimiters);
        // The usual case, one repetition, read without splitting it: its
        // first component's first subcomponent is the text up to the first
        // separator (and is empty when the repetition is).
        let splits = |b: &u8| *b == d.repetition || *b == d.component || *b == d.subcomponent;
        let end = raw.iter().position(splits).unwrap_or(raw.len());
        if field.is_literal() || raw[end..].contains(&d.repetition) {
            return self.rep(n)?.get(1);
        }
        clean(unescape(&field.raw()[..end], d))
    }

    /// Component `c` (first subcomponent) of the first repetition of field `n`.
    pub fn component(&self, n: usize, c: usize) -> Option<Text<'m>> {
        self.rep(n)?.get(c)
    }

    /// Field `n` (TS/DTM, component 1) as a FHIR dateTime; `None` when empty
    /// or malformed (a malformed value is dropped, not guessed at).
    pub fn datetime(&self, n: usize, ctx: &Context<'m>) -> Option<String> {
        ctx.datetime(self.text(n)?)
    }

    /// Field `n` as a FHIR instant; `None` unless it has a time and a zone.
    pub fn instant(&self, n: usize, ctx: &Context<'m>) -> Option<String> {
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
pub struct Rep<'m>(pub Repetition<'m>);

impl<'m> Rep<'m> {
    /// Component `c`'s first subcomponent.
    pub fn get(&self, c: usize) -> Option<Text<'m>> {
        self.sub(c, 1)
    }

    /// Subcomponent `s` of component `c`.
    pub fn sub(&self, c: usize, s: usize) -> Option<Text<'m>> {
        let sub = self.0.component(c)?.subcomponent(s)?;
        clean(sub.value())
    }

    /// The first `N` components (their first subcomponents), split out once:
    /// cheaper than [`Rep::get`] for a datatype read component by component,
    /// as each call finds its component anew.
    pub fn split<const N: usize>(&self) -> Split<'m, N> {
        let (rep, raw) = (self.0, self.0.raw());
        let mut parts = [""; N];
        if rep.is_literal() {
            if let Some(first) = parts.first_mut() {
                *first = raw;
            }
            return Split { parts, rep };
        }
        // One pass: where each component starts, and where its first
        // subcomponent ends.
        let d = rep.delimiters();
        let (mut n, mut start, mut first_end) = (0, 0, None);
        for (i, &b) in raw.as_bytes().iter().enumerate() {
            if b == d.component {
                match parts.get_mut(n) {
                    Some(part) => *part = &raw[start..first_end.unwrap_or(i)],
                    None => return Split { parts, rep },
                }
                n += 1;
                (start, first_end) = (i + 1, None);
            } else if b == d.subcomponent && first_end.is_none() {
                first_end = Some(i);
            }
        }
        if let Some(part) = parts.get_mut(n) {
            *part = &raw[start..first_end.unwrap_or(raw.len())];
        }
        Split { parts, rep }
    }

    /// Whether some component of the repetition has subcomponents.
    pub fn has_subcomponents(&self) -> bool {
        let separator = self.0.delimiters().subcomponent;
        self.0.raw().as_bytes().contains(&separator)
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
pub trait Parts<'m> {
    /// Part `n`, trimmed and unescaped; `None` when empty.
    fn part(&self, n: usize) -> Option<Text<'m>>;
}

impl<'m> Parts<'m> for Rep<'m> {
    fn part(&self, n: usize) -> Option<Text<'m>> {
        self.get(n)
    }
}

impl<'m> Parts<'m> for Nested<'m> {
    fn part(&self, n: usize) -> Option<Text<'m>> {
        self.0.sub(self.1, n)
    }
}

/// The first `N` components of a repetition (see [`Rep::split`]).
pub struct Split<'m, const N: usize> {
    /// The raw first subcomponent of each component; empty when absent.
    parts: [&'m str; N],
    rep: Repetition<'m>,
}

impl<'m, const N: usize> Parts<'m> for Split<'m, N> {
    /// Component `n` as [`Rep::get`] gives it.
    ///
    /// # Panics
    /// When `n` is beyond the `N` parts split out.
    fn part(&self, n: usize) -> Option<Text<'m>> {
        let raw = *self
            .parts
            .get(n.checked_sub(1)?)
            .expect("a part within the split");
        if self.rep.is_literal() {
            return clean(Cow::Borrowed(raw));
        }
        clean(unescape(raw, self.rep.delimiters()))
    }
}

/// Whether some subcomponent of `rep` has text (see [`clean`]): a repetition
/// of only separators (`^^^`) or HL7 nulls has none. One pass over the text,
/// not a split into components and then subcomponents.
fn has_text(rep: &Repetition<'_>) -> bool {
    let raw = rep.raw();
    if rep.is_literal() {
        return present(raw).is_some();
    }
    let d = rep.delimiters();
    let mut start = 0;
    for (i, &b) in raw.as_bytes().iter().enumerate() {
        if b == d.component || b == d.subcomponent {
            if present(&unescape(&raw[start..i], d)).is_some() {
                return true;
            }
            start = i + 1;
        }
    }
    present(&unescape(&raw[start..], d)).is_some()
}

/// Trimmed text, `None` when empty or the HL7 null `""`; borrowed text stays
/// borrowed.
pub fn clean(text: Text<'_>) -> Option<Text<'_>> {
    match text {
        Cow::Borrowed(text) => present(text).map(Cow::Borrowed),
        Cow::Owned(text) => present(&text).map(|trimmed| Cow::Owned(trimmed.to_string())),
    }
}

/// Trimmed text, `None` when empty or the HL7 null `""`.
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
pub fn put<'m>(object: &mut Value<'m>, key: &'static str, value: Option<Value<'m>>) {
    match value {
        Some(Value::Array(items)) if items.is_empty() => {}
        Some(value) => object[key] = value,
        None => {}
    }
}

/// [`put`], unless `object` has `key` already: what an earlier segment or
/// field said stands.
pub fn put_new<'m>(object: &mut Value<'m>, key: &'static str, value: Option<Value<'m>>) {
    if object.get(key).is_none() {
        put(object, key, value);
    }
}

/// Appends `value` to the array `key` of `object`, creating it when needed
/// (with room for a few more: arrays built this way often grow).
pub fn push<'m>(object: &mut Value<'m>, key: &'static str, value: Value<'m>) {
    match object.get_mut(key).and_then(Value::as_array_mut) {
        Some(items) => items.push(value),
        None => {
            let mut items = Vec::with_capacity(4);
            items.push(value);
            object[key] = Value::Array(items);
        }
    }
}

/// An object whose first member is `key` set to `value`, with room for
/// `room` members: for an element that more members are put into (a `json!`
/// object has room for the members it is built with only).
pub fn object<'m>(room: usize, key: &'static str, value: impl Into<Value<'m>>) -> Value<'m> {
    let mut object = Object::with_capacity(room);
    object.insert(key, value.into());
    Value::Object(object)
}

/// A new resource: `resourceType` and `id`, with room for the elements the
/// maps add (an object that need not grow as they are put in).
pub fn resource(resource_type: &'static str, id: String) -> Value<'static> {
    let mut resource = Object::with_capacity(16);
    resource.insert("resourceType", Value::from(resource_type));
    resource.insert("id", Value::from(id));
    Value::Object(resource)
}

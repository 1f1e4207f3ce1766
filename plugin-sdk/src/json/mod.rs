//! A JSON tree for building output documents, cheaper than
//! `serde_json::Value`: object keys are `&'static str` kept in insertion
//! order in a `Vec` (no key allocation, no hashing, no index table), text can
//! be borrowed from the document it is mapped from, and [`Value::write`]
//! appends compact text exactly as `serde_json` writes it.
//!
//! Build values with [`json!`](crate::json!), which takes the syntax of
//! `serde_json::json!` (keys must be string literals); read and update them
//! by key as with `serde_json`: `value["key"]` is [`Value::Null`] when
//! absent, and `value["key"] = ...` replaces the member in place or appends it.

mod macros;
mod write;

use std::borrow::Cow;
use std::fmt;
use std::ops::{Index, IndexMut};
use std::rc::Rc;

pub use serde_json::Number;
pub(crate) use write::{needs_escape, write_str};

/// A JSON value whose borrowed text lives for `'a`.
///
/// Text is a [`Value::String`] or, when it outlives the value (a literal, a
/// slice of the message being mapped), a [`Value::Str`], which costs no
/// allocation, or a [`Value::Shared`] when many values hold the same text;
/// they compare equal when their text does.
#[derive(Debug, Clone, Default)]
pub enum Value<'a> {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` holds and writes it.
    Number(Number),
    /// A string.
    String(String),
    /// A borrowed string (see [`Value`]).
    Str(&'a str),
    /// A string shared with other values: cloned without copying the text.
    Shared(Rc<str>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object.
    Object(Object<'a>),
}

/// The members of an object, in insertion order; a key appears once. Keys
/// are names, written without escapes: one must not have a control
/// character, `"` or `\` (checked in debug builds). Two objects are equal
/// when they have equal members in the same order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object<'a>(Vec<(&'static str, Value<'a>)>);

/// What indexing a missing member gives.
const NULL: &Value<'static> = &Value::Null;

impl<'a> Object<'a> {
    /// An empty object with room for `capacity` members.
    pub fn with_capacity(capacity: usize) -> Self {
        Object(Vec::with_capacity(capacity))
    }

    /// An object of `members`, whose keys must differ (checked in debug
    /// builds): what [`json!`](crate::json!) builds, allocated once.
    #[doc(hidden)]
    pub fn from_members(members: Vec<(&'static str, Value<'a>)>) -> Self {
        debug_assert!(
            members.iter().enumerate().all(|(n, (key, _))| {
                !write::needs_escape(key.as_bytes())
                    && members[..n].iter().all(|(earlier, _)| earlier != key)
            }),
            "JSON keys must differ and need no escapes"
        );
        Object(members)
    }

    /// Sets `key` to `value`: in place when present, else appended.
    pub fn insert(&mut self, key: &'static str, value: Value<'a>) {
        *self.slot(key) = value;
    }

    /// The member `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.0
            .iter()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, v)| v)
    }

    /// The member `key`, mutably, if present.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value<'a>> {
        self.0
            .iter_mut()
            .find(|(k, _)| same_key(k, key))
            .map(|(_, v)| v)
    }

    /// Removes the member `key` and returns its value, if present.
    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        let at = self.0.iter().position(|(k, _)| same_key(k, key))?;
        Some(self.0.remove(at).1)
    }

    /// The members in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value<'a>)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    /// The member `key`, appended as `null` when absent.
    fn slot(&mut self, key: &'static str) -> &mut Value<'a> {
        let at = match self.0.iter().position(|(k, _)| same_key(k, key)) {
            Some(at) => at,
            None => {
                debug_assert!(
                    !write::needs_escape(key.as_bytes()),
                    "JSON key {key:?} needs escapes"
                );
                self.0.push((key, Value::Null));
                self.0.len() - 1
            }
        };
        &mut self.0[at].1
    }
}

/// Whether two keys are equal: by length first, then by address (keys are
/// mostly the same literals), then by text.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
}

impl<'a> Value<'a> {
    /// The member `key` of an object; `None` for a missing member or another
    /// kind of value.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(object) => object.get(key),
            _ => None,
        }
    }

    /// The member `key` of an object, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value<'a>> {
        match self {
            Value::Object(object) => object.get_mut(key),
            _ => None,
        }
    }

    /// Removes the member `key` of an object and returns its value; `None`
    /// for a missing member or another kind of value.
    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        match self {
            Value::Object(object) => object.remove(key),
            _ => None,
        }
    }

    /// A number that is a non-negative integer, as `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(number) => number.as_u64(),
            _ => None,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            Value::Str(text) => Some(text),
            Value::Shared(text) => Some(text),
            _ => None,
        }
    }

    /// Whether this is a string.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_) | Value::Str(_) | Value::Shared(_))
    }

    /// The items of an array.
    pub fn as_array(&self) -> Option<&Vec<Value<'a>>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The items of an array, mutably.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value<'a>>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

impl<'a> Index<&str> for Value<'a> {
    type Output = Value<'a>;

    /// The member `key` of an object; `null` when absent or not an object.
    fn index(&self, key: &str) -> &Value<'a> {
        self.get(key).unwrap_or(NULL)
    }
}

impl IndexMut<&'static str> for Value<'_> {
    /// The member `key`, added as `null` when absent; `null` itself first
    /// becomes an empty object.
    ///
    /// # Panics
    /// When the value is neither an object nor `null`.
    fn index_mut(&mut self, key: &'static str) -> &mut Self {
        if let Value::Null = self {
            *self = Value::Object(Object::default());
        }
        match self {
            Value::Object(object) => object.slot(key),
            other => panic!("cannot set key {key:?} of non-object JSON {other:?}"),
        }
    }
}

impl PartialEq for Value<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => a == b,
            (a, b) => a.is_string() && a.as_str() == b.as_str(),
        }
    }
}

impl PartialEq<str> for Value<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    /// A [`Value::Str`]: copy text that does not live as long with
    /// `String::from` first.
    fn from(text: &'a str) -> Self {
        Value::Str(text)
    }
}

impl From<String> for Value<'_> {
    fn from(text: String) -> Self {
        Value::String(text)
    }
}

impl<'a> From<Cow<'a, str>> for Value<'a> {
    /// A [`Value::Str`] when borrowed, else a [`Value::String`].
    fn from(text: Cow<'a, str>) -> Self {
        match text {
            Cow::Borrowed(text) => Value::Str(text),
            Cow::Owned(text) => Value::String(text),
        }
    }
}

impl From<Rc<str>> for Value<'_> {
    /// A [`Value::Shared`].
    fn from(text: Rc<str>) -> Self {
        Value::Shared(text)
    }
}

impl From<bool> for Value<'_> {
    fn from(flag: bool) -> Self {
        Value::Bool(flag)
    }
}

impl From<u32> for Value<'_> {
    fn from(number: u32) -> Self {
        Value::Number(number.into())
    }
}

impl From<i64> for Value<'_> {
    fn from(number: i64) -> Self {
        Value::Number(number.into())
    }
}

impl<'a> From<Vec<Value<'a>>> for Value<'a> {
    fn from(items: Vec<Value<'a>>) -> Self {
        Value::Array(items)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    /// `null` for `None`.
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

impl<'a> FromIterator<Value<'a>> for Value<'a> {
    fn from_iter<I: IntoIterator<Item = Value<'a>>>(items: I) -> Self {
        Value::Array(items.into_iter().collect())
    }
}

impl From<Value<'_>> for serde_json::Value {
    /// The same document as a `serde_json` value.
    fn from(value: Value<'_>) -> Self {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(flag) => serde_json::Value::Bool(flag),
            Value::Number(number) => serde_json::Value::Number(number),
            Value::String(text) => serde_json::Value::String(text),
            Value::Str(text) => serde_json::Value::String(text.into()),
            Value::Shared(text) => serde_json::Value::String(text.as_ref().into()),
            Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(Into::into).collect())
            }
            Value::Object(object) => serde_json::Value::Object(
                object
                    .0
                    .into_iter()
                    .map(|(key, value)| (key.to_string(), value.into()))
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Value<'_> {
    /// Compact JSON, as `serde_json` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn members_keep_their_place_when_set_again() {
        let mut value = json!({ "a": 1_u32, "b": "x" });
        value["a"] = Value::from("y");
        value["c"] = Value::Null;
        assert_eq!(value.to_string(), r#"{"a":"y","b":"x","c":null}"#);
        assert_eq!(value["missing"], Value::Null);
        assert_eq!(value["b"], "x");
    }

    #[test]
    fn a_removed_member_is_gone_and_given_back() {
        let mut value = json!({ "a": 1_u32, "b": "x" });
        assert_eq!(value.remove("a").and_then(|a| a.as_u64()), Some(1));
        assert_eq!(value.remove("a"), None);
        assert_eq!(value.to_string(), r#"{"b":"x"}"#);
        assert_eq!(Value::from("x").remove("a"), None);
    }

    #[test]
    fn writes_as_serde_json_does() {
        let value = json!({
            "text": "line\nnext \\ \"quoted\" \u{1} é",
            "numbers": [-3_i64, 12_u32, (Value::Number(Number::from_f64(38.4).unwrap()))],
            "flags": [true, false, null],
            "empty": {},
            "none": [],
            "maybe": (None::<String>),
        });
        let text = value.to_string();
        let serde: serde_json::Value = value.into();
        assert_eq!(text, serde.to_string());
    }
}

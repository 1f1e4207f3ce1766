//! [`OwnedSegment`]: one editable segment and the text surgery that `set` needs.

use crate::Delimiters;
use crate::path::Path;

/// One editable segment: its ID and raw (escaped) fields. For MSH, field 1 is the field
/// separator and field 2 the encoding characters, as in [`crate::Segment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSegment {
    id: String,
    fields: Vec<String>,
    pub(super) terminator: String,
}

impl OwnedSegment {
    pub(crate) fn from_parts(id: String, fields: Vec<String>, terminator: String) -> Self {
        OwnedSegment {
            id,
            fields,
            terminator,
        }
    }

    /// A segment with this ID and no fields.
    pub fn new(id: &str) -> Self {
        OwnedSegment::from_parts(id.to_string(), Vec::new(), String::new())
    }

    /// Splits one segment's ER7 text (without terminator) on `d.field`.
    pub fn parse(line: &str, d: &Delimiters) -> Self {
        let sep = char::from(d.field);
        let mut parts = line.split(sep);
        let id = parts.next().unwrap_or_default().to_string();
        let mut fields: Vec<String> = parts.map(str::to_string).collect();
        if id == "MSH" && !fields.is_empty() {
            fields.insert(0, sep.to_string());
        }
        OwnedSegment::from_parts(id, fields, String::new())
    }

    /// The segment ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The raw fields, field 1 first.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Field `n` (1-based), still escaped.
    pub fn field(&self, n: usize) -> Option<&str> {
        self.fields.get(n.checked_sub(1)?).map(String::as_str)
    }

    /// Sets field `n` (1-based) to raw ER7 text, adding empty fields before it if needed.
    pub fn set_field_raw(&mut self, n: usize, raw: &str) {
        let i = n.max(1) - 1;
        if self.fields.len() <= i {
            self.fields.resize(i + 1, String::new());
        }
        self.fields[i] = raw.to_string();
    }

    /// Sets one repetition, component or subcomponent of field `path.field` to raw text.
    pub(super) fn set_at(&mut self, path: &Path<'_>, raw: &str, d: &Delimiters) {
        let current = self.field(path.field).unwrap_or_default().to_string();
        let value = replace_part(&current, d.repetition, path.repetition, |rep| {
            let Some(c) = path.component else {
                return raw.to_string();
            };
            replace_part(rep, d.component, c, |comp| match path.subcomponent {
                None => raw.to_string(),
                Some(s) => replace_part(comp, d.subcomponent, s, |_| raw.to_string()),
            })
        });
        self.set_field_raw(path.field, &value);
    }

    /// Writes the segment as ER7 (without terminator).
    pub fn write_er7(&self, d: &Delimiters, out: &mut String) {
        out.push_str(&self.id);
        let mut fields = self.fields.iter();
        if self.id == "MSH" && !self.fields.is_empty() {
            // MSH-1 is the separator itself and MSH-2 follows it directly.
            out.extend(fields.next().map(String::as_str));
            out.extend(fields.next().map(String::as_str));
        }
        for field in fields {
            out.push(char::from(d.field));
            out.push_str(field);
        }
    }
}

/// Replaces part `n` (1-based) of `s` split on `sep`, adding empty parts if needed.
fn replace_part(s: &str, sep: u8, n: usize, f: impl FnOnce(&str) -> String) -> String {
    let sep = char::from(sep);
    let mut parts: Vec<&str> = s.split(sep).collect();
    let replaced = f(parts.get(n - 1).copied().unwrap_or_default());
    if parts.len() < n {
        parts.resize(n, "");
    }
    parts[n - 1] = &replaced;
    parts.join(sep.encode_utf8(&mut [0; 4]))
}

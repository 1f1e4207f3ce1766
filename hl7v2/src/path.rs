//! Terser-style paths: `PID-3[2].1`, `OBX[3]-5.2`, `PID-5.1.1`, `MSH-9.2`.
//!
//! Grammar: `SEG ['[' n ']'] '-' field ['[' n ']'] ['.' component ['.' subcomponent]]`.
//! Every number is 1-based; a missing segment or field repetition means the first.
//! A path without a component selects the whole repetition (components and all);
//! without a subcomponent, the whole component.

use std::fmt;

use thiserror::Error;

use crate::Delimiters;

/// A parsed path into a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path<'p> {
    /// Segment ID, e.g. `PID`.
    pub segment: &'p str,
    /// Which occurrence of the segment, 1-based.
    pub segment_repetition: usize,
    /// Field number, 1-based; for MSH, 1 is the field separator itself.
    pub field: usize,
    /// Field repetition, 1-based.
    pub repetition: usize,
    /// Component, 1-based, if selected.
    pub component: Option<usize>,
    /// Subcomponent, 1-based, if selected.
    pub subcomponent: Option<usize>,
}

/// A path that cannot be parsed, or cannot be applied to an owned message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// The text is not a valid path.
    #[error("invalid path {0:?}")]
    Syntax(String),
    /// The message has no such segment (occurrence).
    #[error("no segment for path {0:?}")]
    NoSuchSegment(String),
    /// MSH-1 and MSH-2 define the delimiters and cannot be set through a path.
    #[error("MSH-1 and MSH-2 cannot be set")]
    ReadOnly,
}

impl<'p> Path<'p> {
    /// Parses a path.
    ///
    /// # Errors
    /// [`PathError::Syntax`] when the text does not follow the grammar above.
    pub fn parse(text: &'p str) -> Result<Path<'p>, PathError> {
        parse_path(text).ok_or_else(|| PathError::Syntax(text.to_string()))
    }

    /// Whether this path names MSH-1 or MSH-2, whose values are taken literally.
    pub fn is_msh_literal(&self) -> bool {
        self.segment == "MSH" && self.field <= 2
    }
}

fn parse_path(text: &str) -> Option<Path<'_>> {
    let (head, rest) = text.split_once('-')?;
    let (segment, segment_repetition) = split_index(head)?;
    let valid_id = segment.len() == 3 && segment.bytes().all(|b| b.is_ascii_alphanumeric());
    if !valid_id {
        return None;
    }
    let mut parts = rest.split('.');
    let (field, repetition) = split_index(parts.next()?)?;
    let field = number(field)?;
    let mut next_number = || match parts.next() {
        Some(part) => number(part).map(Some),
        None => Some(None),
    };
    let component = next_number()?;
    let subcomponent = next_number()?;
    if next_number()?.is_some() {
        return None;
    }
    Some(Path {
        segment,
        segment_repetition,
        field,
        repetition,
        component,
        subcomponent,
    })
}

/// Splits `NAME[n]` into `NAME` and n (1 when there is no index).
fn split_index(text: &str) -> Option<(&str, usize)> {
    match text.split_once('[') {
        None => Some((text, 1)),
        Some((name, index)) => Some((name, number(index.strip_suffix(']')?)?)),
    }
}

/// A positive decimal number.
fn number(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&n| n > 0)
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.segment)?;
        if self.segment_repetition != 1 {
            write!(f, "[{}]", self.segment_repetition)?;
        }
        write!(f, "-{}", self.field)?;
        if self.repetition != 1 {
            write!(f, "[{}]", self.repetition)?;
        }
        for n in [self.component, self.subcomponent].into_iter().flatten() {
            write!(f, ".{n}")?;
        }
        Ok(())
    }
}

/// The `n`th (1-based) part of `raw` split on `sep`, borrowed.
pub(crate) fn nth_part(raw: &str, sep: u8, n: usize) -> Option<&str> {
    let bytes = raw.as_bytes();
    let mut start = 0;
    let mut seen = 1;
    for i in memchr::memchr_iter(sep, bytes) {
        if seen == n {
            return Some(&raw[start..i]);
        }
        seen += 1;
        start = i + 1;
    }
    (seen == n).then(|| &raw[start..])
}

/// Selects repetition, component and subcomponent of a field's raw text.
pub(crate) fn select<'f>(field: &'f str, d: &Delimiters, path: &Path<'_>) -> Option<&'f str> {
    if path.is_msh_literal() {
        let whole = path.repetition == 1 && path.component.unwrap_or(1) == 1;
        return (whole && path.subcomponent.unwrap_or(1) == 1).then_some(field);
    }
    let mut value = nth_part(field, d.repetition, path.repetition)?;
    if let Some(c) = path.component {
        value = nth_part(value, d.component, c)?;
    }
    if let Some(s) = path.subcomponent {
        value = nth_part(value, d.subcomponent, s)?;
    }
    Some(value)
}

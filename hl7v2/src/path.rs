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
    if n == 0 {
        return None;
    }
    let mut rest = raw;
    for _ in 1..n {
        rest = &rest[find_byte(sep, rest.as_bytes())? + 1..];
    }
    Some(&rest[..find_byte(sep, rest.as_bytes()).unwrap_or(rest.len())])
}

/// Texts shorter than this (the many small components and subcomponents) are
/// searched without `memchr`, whose setup costs more than such a search.
const SHORT: usize = 64;

/// The index of the first `byte` in `bytes`: [`SHORT`] texts eight bytes at a
/// time with the zero-byte test on words (Wasm has no SIMD), longer ones by
/// `memchr`.
pub(crate) fn find_byte(byte: u8, bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    if bytes.len() >= SHORT {
        return memchr::memchr(byte, bytes);
    }
    let pattern = ONES * u64::from(byte);
    let mut words = bytes.chunks_exact(8);
    for (n, chunk) in words.by_ref().enumerate() {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes")) ^ pattern;
        // The lowest flagged byte is the first zero one (flags above it may
        // be false).
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        if zeros != 0 {
            return Some(n * 8 + zeros.trailing_zeros() as usize / 8);
        }
    }
    let rest = words.remainder();
    let offset = bytes.len() - rest.len();
    rest.iter().position(|&b| b == byte).map(|i| offset + i)
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

#[cfg(test)]
mod tests {
    use super::{find_byte, nth_part};

    #[test]
    fn find_byte_finds_the_first() {
        for len in 0..80 {
            let mut text = vec![b'a'; len];
            assert_eq!(find_byte(b'^', &text), None);
            for at in (0..len).rev() {
                text[at] = b'^';
                assert_eq!(find_byte(b'^', &text), Some(at), "{len} {at}");
            }
            // A byte one above the one sought must not be taken for it.
            assert_eq!(find_byte(b']', &text), None);
            assert_eq!(find_byte(0, &text), None);
        }
    }

    #[test]
    fn nth_part_is_split_nth() {
        let long = format!("{}^b^^{}", "a".repeat(40), "c".repeat(40));
        for raw in ["", "a", "a^b", "^^", "a^b^c^", long.as_str()] {
            for n in 0..7_usize {
                let expected = n.checked_sub(1).and_then(|i| raw.split('^').nth(i));
                assert_eq!(nth_part(raw, b'^', n), expected, "{raw:?} {n}");
            }
        }
    }
}

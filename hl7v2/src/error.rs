//! The one error type for input that cannot be read as an HL7 v2 message.

use thiserror::Error;

/// Input that cannot be read as an HL7 v2 message, with where the problem was found.
///
/// `offset` is a byte offset into the raw input (including any BOM); `segment` is the
/// 0-based index of the segment concerned, when there is one (0 is MSH).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{kind} at byte {offset}{}", segment_suffix(*.segment))]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// Byte offset into the raw input.
    pub offset: usize,
    /// 0-based segment index, where relevant.
    pub segment: Option<usize>,
}

fn segment_suffix(segment: Option<usize>) -> String {
    segment.map_or_else(String::new, |s| format!(" (segment {s})"))
}

/// The kinds of malformed input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseErrorKind {
    /// Nothing but whitespace, NULs or a BOM.
    #[error("empty message")]
    Empty,
    /// The first segment is not MSH.
    #[error("no MSH segment")]
    NoMsh,
    /// MSH-1 is not a printable, non-alphanumeric ASCII character.
    #[error("invalid field separator {0:?} in MSH-1")]
    BadFieldSeparator(char),
    /// MSH-2 is not 4 or 5 distinct printable, non-alphanumeric ASCII characters
    /// (distinct from MSH-1 too). Holds MSH-2 as found.
    #[error("invalid encoding characters {0:?} in MSH-2")]
    BadEncodingCharacters(String),
    /// The input ends before MSH-1 and MSH-2 are complete (e.g. `MSH|^~` at the end).
    #[error("message truncated inside MSH-1/MSH-2")]
    Truncated,
    /// The bytes are not valid UTF-8 although MSH-18 declares UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// MSH-18 names a character set this crate does not decode. Holds MSH-18.
    #[error("unsupported character set {0:?} in MSH-18")]
    UnsupportedCharset(String),
    /// The input is larger than 4 GiB, the limit of the `u32` byte index.
    #[error("message larger than 4 GiB")]
    TooLarge,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, offset: usize, segment: Option<usize>) -> Self {
        ParseError {
            kind,
            offset,
            segment,
        }
    }
}

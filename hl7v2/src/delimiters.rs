//! The delimiters a message declares in MSH-1 and MSH-2.

use std::fmt;

/// The separators and escape character of one message, read from MSH-1 and MSH-2.
///
/// By default these are the standard `|^~\&` with no truncation character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delimiters {
    /// Field separator (MSH-1), usually `|`.
    pub field: u8,
    /// Component separator (MSH-2 character 1), usually `^`.
    pub component: u8,
    /// Repetition separator (MSH-2 character 2), usually `~`.
    pub repetition: u8,
    /// Escape character (MSH-2 character 3), usually `\`.
    pub escape: u8,
    /// Subcomponent separator (MSH-2 character 4), usually `&`.
    pub subcomponent: u8,
    /// Truncation character (MSH-2 character 5, v2.7 and later), usually absent or `#`.
    pub truncation: Option<u8>,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: b'|',
            component: b'^',
            repetition: b'~',
            escape: b'\\',
            subcomponent: b'&',
            truncation: None,
        }
    }
}

/// Why MSH-1 or MSH-2 cannot serve as delimiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DelimiterError {
    /// MSH-1 is not a printable, non-alphanumeric ASCII character.
    Field,
    /// MSH-2 is not 4 or 5 distinct printable, non-alphanumeric ASCII characters.
    Encoding,
}

/// Whether `b` may serve as a delimiter: printable ASCII, neither letter, digit nor space.
pub(crate) fn is_delimiter_byte(b: u8) -> bool {
    b.is_ascii_punctuation()
}

/// Whether `msh2` could begin valid encoding characters: delimiter bytes, pairwise
/// distinct and distinct from the field separator (its length is not checked).
pub(crate) fn valid_encoding_prefix(field: u8, msh2: &[u8]) -> bool {
    msh2.iter()
        .enumerate()
        .all(|(i, &b)| is_delimiter_byte(b) && b != field && !msh2[i + 1..].contains(&b))
}

impl Delimiters {
    /// Builds delimiters from the field separator and the MSH-2 bytes.
    ///
    /// All characters must be printable non-alphanumeric ASCII and pairwise distinct;
    /// MSH-2 holds 4 characters, or 5 when a truncation character is declared. A
    /// doubled escape character (`^~\\&`), which messages copied out of string
    /// literals carry, reads as one: the same character cannot be both the escape and
    /// the subcomponent separator, so no other reading exists.
    pub(crate) fn from_msh(field: u8, msh2: &[u8]) -> Result<Self, DelimiterError> {
        if !is_delimiter_byte(field) {
            return Err(DelimiterError::Field);
        }
        let undoubled;
        let msh2 = match msh2 {
            [component, repetition, escape, again, subcomponent] if escape == again => {
                undoubled = [*component, *repetition, *escape, *subcomponent];
                &undoubled[..]
            }
            _ => msh2,
        };
        if !(4..=5).contains(&msh2.len()) || !valid_encoding_prefix(field, msh2) {
            return Err(DelimiterError::Encoding);
        }
        Ok(Delimiters {
            field,
            component: msh2[0],
            repetition: msh2[1],
            escape: msh2[2],
            subcomponent: msh2[3],
            truncation: msh2.get(4).copied(),
        })
    }

    /// The MSH-2 text these delimiters encode to, e.g. `^~\&`.
    pub fn encoding_characters(&self) -> String {
        let mut s = String::with_capacity(5);
        for b in [
            self.component,
            self.repetition,
            self.escape,
            self.subcomponent,
        ] {
            s.push(char::from(b));
        }
        if let Some(t) = self.truncation {
            s.push(char::from(t));
        }
        s
    }

    /// Whether `b` is one of the separators, the escape or the truncation character.
    pub fn is_special(&self, b: u8) -> bool {
        b == self.field
            || b == self.component
            || b == self.repetition
            || b == self.escape
            || b == self.subcomponent
            || Some(b) == self.truncation
    }
}

impl fmt::Display for Delimiters {
    /// Writes MSH-1 followed by MSH-2, e.g. `|^~\&`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            char::from(self.field),
            self.encoding_characters()
        )
    }
}

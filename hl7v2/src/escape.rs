//! Escape sequences: decoded on read, encoded on write.
//!
//! Decoded: `\F\ \S\ \T\ \R\ \E\` (the delimiters), `\P\` (the truncation character,
//! when one is declared), `\Xhh..\` (hex bytes, read as UTF-8 when valid, otherwise
//! Latin-1) and `\.br\` (line break, decoded to `\n`). Every other sequence (`\H\`,
//! `\N\`, `\Zxx\`, `\Cxxyy\`, `\.sp\`, ...) and an escape character without a closing
//! one pass through untouched. The escape character is the message's, not always `\`.

use std::borrow::Cow;

use crate::Delimiters;
use crate::charset::latin1_to_string;
use crate::path::find_byte;

/// Decodes the escape sequences in `raw`; borrows when there are none.
pub fn unescape<'r>(raw: &'r str, d: &Delimiters) -> Cow<'r, str> {
    let bytes = raw.as_bytes();
    let Some(first) = find_byte(d.escape, bytes) else {
        return Cow::Borrowed(raw);
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..first]);
    let mut pos = first;
    while pos < raw.len() {
        let Some(close) = memchr::memchr(d.escape, &bytes[pos + 1..]).map(|i| pos + 1 + i) else {
            out.push_str(&raw[pos..]);
            break;
        };
        if !decode_sequence(&raw[pos + 1..close], d, &mut out) {
            out.push_str(&raw[pos..=close]);
        }
        pos = close + 1;
        let next = memchr::memchr(d.escape, &bytes[pos..]).map_or(raw.len(), |i| pos + i);
        out.push_str(&raw[pos..next]);
        pos = next;
    }
    Cow::Owned(out)
}

/// Appends the decoded form of one sequence (without its escape characters) to `out`;
/// returns false when the sequence is not one this crate decodes.
fn decode_sequence(seq: &str, d: &Delimiters, out: &mut String) -> bool {
    let delimiter = match seq {
        "F" => d.field,
        "S" => d.component,
        "T" => d.subcomponent,
        "R" => d.repetition,
        "E" => d.escape,
        "P" => match d.truncation {
            Some(t) => t,
            None => return false,
        },
        ".br" => b'\n',
        _ => return decode_hex(seq, out),
    };
    out.push(char::from(delimiter));
    true
}

/// Decodes `Xhh..` (an even, non-zero number of hex digits).
fn decode_hex(seq: &str, out: &mut String) -> bool {
    let Some(hex) = seq.strip_prefix('X') else {
        return false;
    };
    if hex.is_empty() || hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    match String::from_utf8(bytes) {
        Ok(s) => out.push_str(&s),
        Err(e) => out.push_str(&latin1_to_string(e.as_bytes())),
    }
    true
}

/// Encodes `text` for use as a field value: delimiters become `\F\ \S\ \T\ \R\ \E\`
/// (`\P\` for a declared truncation character), `\n` becomes `\.br\`, and other
/// ASCII control characters (including `\r`) become `\Xhh\`.
pub fn escape(text: &str, d: &Delimiters) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    escape_into(&mut out, text, d);
    out
}

/// [`escape`], appending to `out`: text with nothing to escape, the common
/// case, is copied in one piece.
pub fn escape_into(out: &mut String, text: &str, d: &Delimiters) {
    let needs = |b: u8| d.is_special(b) || b.is_ascii_control();
    if !text.bytes().any(needs) {
        out.push_str(text);
        return;
    }
    let esc = char::from(d.escape);
    for c in text.chars() {
        let Ok(b) = u8::try_from(c) else {
            out.push(c);
            continue;
        };
        let code = match b {
            _ if b == d.field => "F",
            _ if b == d.component => "S",
            _ if b == d.subcomponent => "T",
            _ if b == d.repetition => "R",
            _ if b == d.escape => "E",
            _ if Some(b) == d.truncation => "P",
            b'\n' => ".br",
            _ if b.is_ascii_control() => {
                out.push_str(&format!("{esc}X{b:02X}{esc}"));
                continue;
            }
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push(esc);
        out.push_str(code);
        out.push(esc);
    }
}

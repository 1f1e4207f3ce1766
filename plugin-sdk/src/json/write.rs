//! Compact JSON text, byte for byte as `serde_json` writes it.

use std::fmt::Write;

use super::Value;

impl Value<'_> {
    /// Appends this value as compact JSON.
    pub fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            // `Number`'s `Display` is its JSON text: the same integer and
            // shortest-float formatting as its serialisation (a `Number`
            // float is always finite).
            Value::Number(number) => write!(out, "{number}").expect("a String takes any text"),
            Value::String(text) => write_str(out, text),
            Value::Str(text) => write_str(out, text),
            Value::Shared(text) => write_str(out, text),
            Value::Array(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Value::Object(object) => {
                out.push('{');
                for (n, (key, value)) in object.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    // Keys need no escapes (see `Object::slot`).
                    out.push('"');
                    out.push_str(key);
                    out.push_str("\":");
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Appends `text` as a JSON string: copied as is between quotes unless it
/// has a byte JSON escapes (a control character, `"` or `\`), which is left
/// to `serde_json`.
pub(crate) fn write_str(out: &mut String, text: &str) {
    if needs_escape(text.as_bytes()) {
        out.push_str(&serde_json::to_string(text).expect("a JSON string writes to memory"));
    } else {
        out.reserve(text.len() + 2);
        out.push('"');
        out.push_str(text);
        out.push('"');
    }
}

/// Whether `bytes` has a control character, `"` or `\`: eight bytes at a
/// time, by the zero-byte test on words (Wasm has no SIMD by default).
pub(crate) fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    /// The high bit of bytes of `word` below `n` (at most 0x80) set, and
    /// none when there is no such byte (flags above a flagged byte may be
    /// false, which a yes-or-no test does not mind).
    const fn below(word: u64, n: u8) -> u64 {
        word.wrapping_sub(ONES * n as u64) & !word & HIGHS
    }
    /// One test of the three: a control byte, or one that is `"` or `\`
    /// (zero once xor-ed with it).
    fn needs(word: u64) -> bool {
        let quote = word ^ u64::from_ne_bytes([b'"'; 8]);
        let backslash = word ^ u64::from_ne_bytes([b'\\'; 8]);
        below(word, 0x20) | below(quote, 1) | below(backslash, 1) != 0
    }
    let mut words = bytes.chunks_exact(8);
    if words
        .by_ref()
        .any(|chunk| needs(u64::from_ne_bytes(chunk.try_into().expect("eight bytes"))))
    {
        return true;
    }
    // The last bytes as a word padded with spaces, which need no escape.
    let rest = words.remainder();
    let mut last = [b' '; 8];
    last[..rest.len()].copy_from_slice(rest);
    needs(u64::from_ne_bytes(last))
}

#[cfg(test)]
mod tests {
    use super::needs_escape;

    #[test]
    fn finds_every_byte_to_escape_at_every_place() {
        for len in 0..20 {
            let plain = vec![b'a'; len];
            assert!(!needs_escape(&plain));
            for at in 0..len {
                for bad in [0x00, 0x1f, b'"', b'\\'] {
                    let mut text = plain.clone();
                    text[at] = bad;
                    assert!(needs_escape(&text), "{len} {at} {bad}");
                }
                for good in [0x20, 0x7f, 0x80, 0xe0, 0xff, b'!', b'#', b'[', b']'] {
                    let mut text = plain.clone();
                    text[at] = good;
                    assert!(!needs_escape(&text), "{len} {at} {good}");
                }
            }
        }
    }
}

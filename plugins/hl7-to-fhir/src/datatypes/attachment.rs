//! ED (encapsulated data) → Attachment, with the base64 FHIR requires.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::Parts;

/// An ED (type of data 2, subtype 3, encoding 4, data 5) as an Attachment
/// whose data is base64: valid Base64 data is kept, Hex decoded and
/// re-encoded, anything else (`A`, plain text) encoded.
pub fn ed<'m>(ed: &impl Parts<'m>) -> Option<Value<'m>> {
    let data = ed.part(5)?;
    let encoding = ed.part(4).unwrap_or_default().to_ascii_uppercase();
    let compact: String = data.split_whitespace().collect();
    let base64 = match encoding.as_str() {
        "BASE64" if is_base64(&compact) => compact,
        "HEX" => encode(&hex_bytes(&data)?),
        // Text, or "Base64" data that is not (placeholders in samples): encode it.
        _ => encode(data.as_bytes()),
    };
    let content_type = media_type(ed.part(2).as_deref(), ed.part(3).as_deref());
    Some(json!({ "contentType": content_type, "data": base64 }))
}

/// Text as an Attachment of `text/plain` data.
pub fn text<'m>(text: &str) -> Value<'m> {
    json!({ "contentType": "text/plain", "data": encode(text.as_bytes()) })
}

/// A MIME type from an ED's type of data and subtype (`AP`/`PDF`,
/// `IM`/`JPEG`, `TEXT`/`HTML`, or a subtype that already is `type/subtype`).
pub fn media_type(kind: Option<&str>, subtype: Option<&str>) -> String {
    let subtype = subtype.unwrap_or_default();
    if subtype.contains('/') {
        return subtype.to_ascii_lowercase();
    }
    let known = match subtype.to_ascii_uppercase().as_str() {
        "PDF" => "application/pdf",
        "RTF" => "application/rtf",
        "HTML" => "text/html",
        "XML" => "application/xml",
        "JPEG" | "JPG" => "image/jpeg",
        "PNG" => "image/png",
        "GIF" => "image/gif",
        "TIFF" => "image/tiff",
        "DICOM" => "application/dicom",
        "OCTET-STREAM" => "application/octet-stream",
        _ => match kind.unwrap_or_default().to_ascii_uppercase().as_str() {
            "TEXT" | "TX" | "FT" | "ST" => "text/plain",
            "IM" | "IMAGE" => "image/*",
            _ => "application/octet-stream",
        },
    };
    known.to_string()
}

/// Whether `text` is padded standard base64.
fn is_base64(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    text.len().is_multiple_of(4)
        && text.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let text: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// Standard base64 with padding.
pub fn encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_base64_with_padding() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"f"), "Zg==");
        assert_eq!(encode(b"fo"), "Zm8=");
        assert_eq!(encode(b"foo"), "Zm9v");
        assert_eq!(encode(b"foob"), "Zm9vYg==");
    }
}

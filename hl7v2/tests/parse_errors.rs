//! Ensures that malformed input gives one error type with the right kind, byte offset
//! and segment index, and a readable message.

use hl7v2::{Message, ParseErrorKind};

fn kind(raw: &[u8]) -> ParseErrorKind {
    Message::parse(raw).unwrap_err().kind
}

#[test]
fn empty_and_junk_only() {
    for raw in [&b""[..], b"\r\n\r\n", b"\xEF\xBB\xBF", b"  \x00\t\n"] {
        assert_eq!(kind(raw), ParseErrorKind::Empty, "{raw:?}");
    }
}

#[test]
fn no_msh() {
    let err = Message::parse(b"\r\nPID|1|2\r").unwrap_err();
    assert_eq!(
        (err.kind.clone(), err.offset, err.segment),
        (ParseErrorKind::NoMsh, 2, None)
    );
    assert_eq!(err.to_string(), "no MSH segment at byte 2");
    assert_eq!(kind(b"FHS|^~\\&\rMSH|^~\\&\r"), ParseErrorKind::NoMsh);
    assert_eq!(kind(b"MSA|AA|1"), ParseErrorKind::NoMsh);
}

#[test]
fn truncated_inside_msh2() {
    for raw in [&b"M"[..], b"MS", b"MSH", b"MSH|", b"MSH|^", b"MSH|^~\\"] {
        let err = Message::parse(raw).unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::Truncated, "{raw:?}");
        assert_eq!(err.offset, raw.len());
    }
}

#[test]
fn bad_encoding_characters() {
    let cases: [(&[u8], &str); 7] = [
        (b"MSH|\r", ""),
        (b"MSH|^~\r", "^~"),
        (b"MSH|^~\\&$%|A\r", "^~\\&$%"),
        (b"MSH|^^\\&|A\r", "^^\\&"),
        (b"MSH|^~|&|A\r", "^~"),
        (b"MSH|ab\\&|A\r", "ab\\&"),
        (b"MSH|^~\\|\r", "^~\\"),
    ];
    for (raw, msh2) in cases {
        let err = Message::parse(raw).unwrap_err();
        let expected = ParseErrorKind::BadEncodingCharacters(msh2.to_string());
        assert_eq!(err.kind, expected, "{raw:?}");
        assert_eq!((err.offset, err.segment), (4, Some(0)));
    }
    let err = Message::parse(b"MSH|^~\r").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid encoding characters \"^~\" in MSH-2 at byte 4 (segment 0)"
    );
}

#[test]
fn bad_field_separator() {
    assert_eq!(kind(b"MSHA^~\\&"), ParseErrorKind::BadFieldSeparator('A'));
    assert_eq!(kind(b"MSH\r"), ParseErrorKind::BadFieldSeparator('\r'));
    assert_eq!(kind(b"MSH ^~\\&"), ParseErrorKind::BadFieldSeparator(' '));
}

#[test]
fn invalid_utf8_reports_byte_and_segment() {
    let raw = b"MSH|^~\\&|||||||ADT^A01|1|P|2.5||||||UNICODE UTF-8\rPID|1\rPV1|caf\xE9\r";
    let err = Message::parse(raw).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::InvalidUtf8);
    assert_eq!(err.offset, raw.len() - 2);
    assert_eq!(err.segment, Some(2));
}

#[test]
fn unsupported_charset() {
    let raw = b"MSH|^~\\&|||||||ADT^A01|1|P|2.5||||||8859/7\rPID|1\r";
    let err = Message::parse(raw).unwrap_err();
    assert_eq!(
        err.kind,
        ParseErrorKind::UnsupportedCharset("8859/7".to_string())
    );
    assert_eq!(err.offset, raw.iter().position(|&b| b == b'8').unwrap());
}

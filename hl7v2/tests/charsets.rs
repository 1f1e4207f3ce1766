//! Ensures that MSH-18 character sets decode to text while the raw bytes are kept, and
//! that mislabelled or undeclared encodings are handled as documented in `charset`.

use hl7v2::{Charset, Message, ParseErrorKind};

fn with_charset(charset: &str, pid5: &[u8]) -> Vec<u8> {
    let mut raw = format!("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5||||||{charset}\rPID|1||7||")
        .into_bytes();
    raw.extend_from_slice(pid5);
    raw.push(b'\r');
    raw
}

#[test]
fn latin1_bytes_are_transcoded_and_raw_kept() {
    let raw = with_charset("8859/1", b"Ren\xE9e^Zo\xEB");
    let m = Message::parse(&raw).unwrap();
    assert_eq!(m.charset(), Charset::Latin1);
    assert_eq!(m.header().declared_charset(), Some("8859/1"));
    assert_eq!(m.get("PID-5.1").as_deref(), Some("Renée"));
    assert_eq!(m.get("PID-5.2").as_deref(), Some("Zoë"));
    assert!(m.text().contains("Renée"));
    assert_eq!(m.raw(), &raw[..]);
    let owned = m.to_owned_message();
    assert_eq!(owned.to_bytes(), raw);
    assert!(owned.to_er7().contains("Renée"));
}

#[test]
fn utf8_labelled_as_latin1_is_read_as_utf8() {
    let raw = with_charset("8859/1", "Renée".as_bytes());
    let m = Message::parse(&raw).unwrap();
    assert_eq!(m.charset(), Charset::Utf8);
    assert_eq!(m.get("PID-5").as_deref(), Some("Renée"));
    assert_eq!(m.to_owned_message().to_bytes(), raw);
}

#[test]
fn utf8_declared() {
    for name in ["UNICODE UTF-8", "UTF-8", "unicode utf-8"] {
        let raw = with_charset(name, "Zoë µg †".as_bytes());
        let m = Message::parse(&raw).unwrap();
        assert_eq!(m.charset(), Charset::Utf8, "{name}");
        assert_eq!(m.get("PID-5").as_deref(), Some("Zoë µg †"));
    }
    let err = Message::parse(&with_charset("UNICODE UTF-8", b"Zo\xEB")).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::InvalidUtf8);
    assert_eq!(err.segment, Some(1));
}

#[test]
fn ascii_and_undeclared_fall_back_to_latin1_when_not_utf8() {
    for name in ["", "ASCII"] {
        let raw = with_charset(name, b"plain");
        let m = Message::parse(&raw).unwrap();
        let expected = if name.is_empty() {
            Charset::Utf8
        } else {
            Charset::Ascii
        };
        assert_eq!(m.charset(), expected, "{name:?}");
        let raw = with_charset(name, "Zoë".as_bytes());
        let m = Message::parse(&raw).unwrap();
        assert_eq!(
            (m.charset(), m.get("PID-5").unwrap().into_owned()),
            (Charset::Utf8, "Zoë".into())
        );
        let raw = with_charset(name, b"Zo\xEB");
        let m = Message::parse(&raw).unwrap();
        assert_eq!(
            (m.charset(), m.get("PID-5").unwrap().into_owned()),
            (Charset::Latin1, "Zoë".into())
        );
        assert_eq!(m.to_owned_message().to_bytes(), raw);
    }
}

#[test]
fn msh18_repetitions_and_unknown_sets() {
    let raw = with_charset("8859/1~UNICODE UTF-8", b"Ren\xE9e");
    let m = Message::parse(&raw).unwrap();
    assert_eq!(m.charset(), Charset::Latin1);
    let err = Message::parse(&with_charset("ISO IR87", b"x")).unwrap_err();
    assert_eq!(
        err.kind,
        ParseErrorKind::UnsupportedCharset("ISO IR87".into())
    );
    assert_eq!(Charset::from_msh18(" 8859/1 "), Ok(Some(Charset::Latin1)));
    assert_eq!(Charset::from_msh18(""), Ok(None));
    assert_eq!(Charset::Latin1.code(), "8859/1");
    assert_eq!(&*Charset::Latin1.encode("é€"), b"\xE9?");
}

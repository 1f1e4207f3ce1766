//! Ensures that segment terminators `\r`, `\n`, `\r\n` and mixes of them, a leading
//! BOM, blank lines and trailing junk are all accepted and kept for re-encoding.

use hl7v2::Message;

fn ids(raw: &[u8]) -> Vec<String> {
    let message = Message::parse(raw).unwrap();
    message.segments().map(|s| s.id().to_string()).collect()
}

#[test]
fn every_terminator_style_splits_segments() {
    for sep in ["\r", "\n", "\r\n"] {
        let raw = format!("MSH|^~\\&|A{sep}PID|1{sep}PV1|1{sep}");
        assert_eq!(ids(raw.as_bytes()), ["MSH", "PID", "PV1"], "{sep:?}");
        let m = Message::parse(raw.as_bytes()).unwrap();
        assert_eq!(m.terminator(), sep);
        assert_eq!(m.to_owned_message().to_er7(), raw);
    }
}

#[test]
fn mixed_terminators_blank_lines_and_junk() {
    let raw = b"\r\n  MSH|^~\\&|A\rPID|1\n\n\r\nPV1|1\r\n\r\nOBX|1|TX|x \r\n\t\x00 \x00\r\n";
    assert_eq!(ids(raw), ["MSH", "PID", "PV1", "OBX"]);
    let m = Message::parse(raw).unwrap();
    assert_eq!(m.get("OBX-3").as_deref(), Some("x "));
    assert_eq!(m.to_owned_message().to_bytes(), raw);
    let padded = b"MSH|^~\\&|A\rOBX|1|TX|x\x00\x00\x1c";
    let m = Message::parse(padded).unwrap();
    assert_eq!(m.get("OBX-3").as_deref(), Some("x"));
    assert_eq!(m.to_owned_message().to_bytes(), padded);
    let m = Message::parse(b"MSH|^~\\&|A\rOBX|1|\x00").unwrap();
    assert_eq!(m.segment("OBX").unwrap().field_count(), 2);
}

#[test]
fn bom_is_stripped_from_text_and_kept_in_bytes() {
    let raw = b"\xEF\xBB\xBFMSH|^~\\&|A\rPID|1";
    let m = Message::parse(raw).unwrap();
    assert!(m.has_bom());
    assert_eq!(m.text(), "MSH|^~\\&|A\rPID|1");
    assert_eq!(m.raw(), raw);
    assert_eq!(m.get("PID-1").as_deref(), Some("1"));
    assert_eq!(m.to_owned_message().to_bytes(), raw);
}

#[test]
fn no_final_terminator() {
    let raw = b"MSH|^~\\&|A\rPID|1|";
    let m = Message::parse(raw).unwrap();
    assert_eq!(m.segment("PID").unwrap().field_count(), 2);
    assert_eq!(m.segment("PID").unwrap().raw(), "PID|1|");
    assert_eq!(m.to_owned_message().to_bytes(), raw);
}

#[test]
fn single_segment_message_defaults_to_cr() {
    let m = Message::parse(b"MSH|^~\\&").unwrap();
    assert_eq!(m.segment_count(), 1);
    assert_eq!(m.terminator(), "\r");
    assert_eq!(m.get("MSH-2").as_deref(), Some("^~\\&"));
    assert_eq!(m.get("MSH-3"), None);
}

//! Ensures that the owned form edits through paths with escaping, adds and removes
//! segments, and re-encodes with the original delimiters and terminators.

use hl7v2::{Message, OwnedMessage, OwnedSegment, PathError};

const ADT: &[u8] = b"MSH|^~\\&|APP|FAC|EHR|HOSP|20240101||ADT^A01|1|P|2.5\r\nPID|1||123^^^MRN||DOE^JOHN\r\nPV1|1|I\r\n";

#[test]
fn set_escapes_and_pads() {
    let mut m = OwnedMessage::parse(ADT).unwrap();
    m.set("PID-5.1", "O'Brien|Smith").unwrap();
    assert_eq!(m.get_raw("PID-5.1"), Some("O'Brien\\F\\Smith"));
    assert_eq!(m.get("PID-5.1").as_deref(), Some("O'Brien|Smith"));
    m.set("PID-3[2].4.2", "2.16.840").unwrap();
    assert_eq!(m.get_raw("PID-3"), Some("123^^^MRN"));
    assert_eq!(
        m.segment("PID").unwrap().field(3),
        Some("123^^^MRN~^^^&2.16.840")
    );
    m.set("PID-8", "F").unwrap();
    assert_eq!(m.segment("PID").unwrap().field(7), Some(""));
    m.set("MSH-10", "42").unwrap();
    m.set_raw("PV1-3", "W^101^A").unwrap();
    let er7 = m.to_er7();
    assert!(er7.contains("|ADT^A01|42|P|"));
    assert!(er7.contains("PID|1||123^^^MRN~^^^&2.16.840||O'Brien\\F\\Smith^JOHN|||F\r\n"));
    assert!(er7.ends_with("PV1|1|I|W^101^A\r\n"));
    let reparsed = Message::parse(er7.as_bytes()).unwrap();
    assert_eq!(reparsed.get("PID-5.1").as_deref(), Some("O'Brien|Smith"));
}

#[test]
fn set_errors() {
    let mut m = OwnedMessage::parse(ADT).unwrap();
    assert_eq!(m.set("MSH-1", "#"), Err(PathError::ReadOnly));
    assert_eq!(m.set("MSH-2", "^~"), Err(PathError::ReadOnly));
    assert_eq!(
        m.set("OBX-5", "x"),
        Err(PathError::NoSuchSegment("OBX-5".into()))
    );
    assert_eq!(
        m.set("PID[2]-5", "x"),
        Err(PathError::NoSuchSegment("PID[2]-5".into()))
    );
    assert!(matches!(m.set("PID5", "x"), Err(PathError::Syntax(_))));
    assert_eq!(m.to_bytes(), ADT);
}

#[test]
fn add_and_remove_segments_keep_terminators() {
    let mut m = OwnedMessage::parse(ADT).unwrap();
    let mut obx = OwnedSegment::new("OBX");
    obx.set_field_raw(1, "1");
    obx.set_field_raw(5, "7.2");
    m.push_segment(obx);
    m.insert_segment(1, OwnedSegment::parse("EVN|A01|20240101", m.delimiters()));
    assert_eq!(m.get("OBX-5").as_deref(), Some("7.2"));
    let ids: Vec<&str> = m.segments().iter().map(|s| s.id()).collect();
    assert_eq!(ids, ["MSH", "EVN", "PID", "PV1", "OBX"]);
    assert!(m.to_er7().ends_with("PV1|1|I\r\nOBX|1||||7.2\r\n"));
    assert!(m.to_er7().contains("\r\nEVN|A01|20240101\r\nPID|"));
    assert_eq!(m.remove_segments("OBX"), 1);
    assert_eq!(m.remove_segment(1).unwrap().id(), "EVN");
    assert_eq!(m.to_bytes(), ADT);
}

#[test]
fn added_segment_after_unterminated_last_one() {
    let mut m = OwnedMessage::parse(b"MSH|^~\\&|A\nPID|1").unwrap();
    assert_eq!(m.terminator(), "\n");
    m.push_segment(OwnedSegment::parse("PV1|1", m.delimiters()));
    assert_eq!(m.to_er7(), "MSH|^~\\&|A\nPID|1\nPV1|1");
    m.remove_segment(2);
    assert_eq!(m.to_er7(), "MSH|^~\\&|A\nPID|1");
}

#[test]
fn custom_delimiters_survive_editing() {
    let raw = b"MSH#*@!%#APP\rPID#1##A*B\r";
    let mut m = OwnedMessage::parse(raw).unwrap();
    m.set("PID-3.2", "x#y*z").unwrap();
    assert_eq!(m.to_er7(), "MSH#*@!%#APP\rPID#1##A*x!F!y!S!z\r");
    assert_eq!(m.get("PID-3.2").as_deref(), Some("x#y*z"));
    let msh = OwnedSegment::parse("MSH#*@!%#APP", m.delimiters());
    assert_eq!(msh.field(1), Some("#"));
    assert_eq!(msh.field(2), Some("*@!%"));
    assert_eq!(msh.field(3), Some("APP"));
}

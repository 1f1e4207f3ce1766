//! Ensures that the deliberately broken corpus messages give the right error, with its
//! position, and that the odd-but-valid ones (batch without trailer, continuation
//! lines, missing MSH-10, BOM, mixed terminators) parse.

mod common;

use hl7v2::{Delimiters, Message, ParseErrorKind, split_batch};

fn corpus_file(suffix: &str) -> Vec<u8> {
    let all = common::corpus_messages();
    let (_, bytes) = all
        .into_iter()
        .find(|(path, _)| path.ends_with(suffix))
        .unwrap_or_else(|| panic!("{suffix} not in corpus"));
    bytes
}

#[test]
fn empty_file_is_empty() {
    let bytes = corpus_file("Test/Message/empty.hl7");
    let err = Message::parse(&bytes).unwrap_err();
    assert_eq!(err.kind, ParseErrorKind::Empty);
    assert_eq!(err.to_string(), "empty message at byte 0");
    assert_eq!(split_batch(&bytes).unwrap_err().kind, ParseErrorKind::Empty);
}

#[test]
fn msh_without_fields_has_bad_encoding_characters() {
    // `MSH|` then a line break: MSH-2 is empty, which is malformed rather than truncated.
    let bytes = corpus_file("msh_present_but_missing_all_fields.hl7");
    let err = Message::parse(&bytes).unwrap_err();
    assert_eq!(
        err.kind,
        ParseErrorKind::BadEncodingCharacters(String::new())
    );
    assert_eq!((err.offset, err.segment), (4, Some(0)));
}

#[test]
fn doubled_backslash_in_msh2_reads_as_one() {
    // LinuxForHealth's `^~\\&` (a Java escaping accident kept upstream) cannot make `\`
    // both the escape character and the subcomponent separator: the doubled escape
    // reads as one. LinuxForHealth's own tests convert these messages.
    for name in [
        "Hl7ORUMessageTest_L305_ORU-R01.hl7",
        "Hl7ORUMessageTest_L431_ORU-R01.hl7",
        "Hl7ORUMessageTest_L60_ORU-R01.hl7",
        "SegmentUtilTest_L321_ORU-R01.hl7",
    ] {
        let bytes = corpus_file(name);
        let message = Message::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(*message.delimiters(), Delimiters::default(), "{name}");
        assert_eq!(message.header().message_type().code, Some("ORU"), "{name}");
        assert_eq!(message.get("MSH-3").as_deref(), Some("SendTest1"), "{name}");
    }
    // Any other repeated character is still refused.
    let err = Message::parse(b"MSH|^~^&|A|B\r").unwrap_err();
    assert_eq!(
        err.kind,
        ParseErrorKind::BadEncodingCharacters("^~^&".to_string())
    );
}

#[test]
fn missing_control_id_still_parses() {
    let bytes = corpus_file("Test/Message/msh_present_but_missing_msh-10.hl7");
    let message = Message::parse(&bytes).unwrap();
    assert_eq!(message.header().control_id(), None);
    assert_eq!(message.header().message_type().code, Some("ORM"));
}

#[test]
fn batch_without_trailer_yields_its_message() {
    let bytes = corpus_file("Test/Results/005_AL_ORU_R01_NBS_Simplified_0_initial_message.hl7");
    assert_eq!(
        Message::parse(&bytes).unwrap_err().kind,
        ParseErrorKind::NoMsh
    );
    let batch = split_batch(&bytes).unwrap();
    assert!(batch.header.unwrap().starts_with(b"FHS|"));
    assert_eq!(batch.trailer, None);
    assert_eq!(batch.messages.len(), 1);
    let message = Message::parse(batch.messages[0]).unwrap();
    assert_eq!(message.header().control_id(), Some("858625"));
    assert_eq!(message.get("MSH-18").as_deref(), Some("UNICODE UTF-8"));
}

#[test]
fn continuation_lines_stay_in_the_message() {
    // Free-text lines ("Remap OBR with ...") are kept as segments with odd IDs rather
    // than rejected, so the message still round-trips and its real segments are read.
    let bytes = corpus_file("TN/001_TN_ORU_R01_LRI_annotated_for_transformation.hl7");
    let message = Message::parse(&bytes).unwrap();
    assert!(message.segments().any(|s| s.id().starts_with("Remap OBR")));
    assert_eq!(message.get("OBX[2]-1").as_deref(), Some("2"));
    assert_eq!(message.segments().filter(|s| s.id().is_empty()).count(), 0);
}

#[test]
fn bom_and_mixed_terminators_parse() {
    let bytes = corpus_file("fhir-converter/ADT01-23.hl7");
    let message = Message::parse(&bytes).unwrap();
    assert!(message.has_bom());
    assert!(message.text().starts_with("MSH|"));
    let mixed = corpus_file("HL7ADTMessageTest_L204_ADT-A03.hl7");
    let message = Message::parse(&mixed).unwrap();
    let ids: Vec<&str> = message.segments().map(|s| s.id()).collect();
    assert!(ids.iter().all(|id| id.len() == 3), "{ids:?}");
}

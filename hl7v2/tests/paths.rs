//! Ensures that terser-style paths select the right segment, field, repetition,
//! component and subcomponent, with MSH numbering and escapes decoded.

use std::borrow::Cow;

use hl7v2::{Message, Path, PathError};

const ORU: &str = "MSH|^~\\&|LAB^1.2.3^ISO|HOSP|EHR|HOSP|20240305102000+0100||ORU^R01^ORU_R01|MSG001|P|2.5.1\r\
PID|1||111^^^MRN~222^^^NPI&2.16.840&ISO||O\\T\\Brien^Pat\\S\\Ann^^^Dr.||19800101\r\
OBR|1|||CBC\r\
OBX|1|NM|A^First||1.5|mg\r\
OBX|2|NM|B^Second||2.5|mg\r\
OBX|3|CWE|C^Third||POS^Positive^SNOMED|\r\
NTE|1||Line one\\.br\\Line two \\F\\ \\H\\bold\\N\\\r";

fn message() -> Message<'static> {
    Message::parse(ORU.as_bytes()).unwrap()
}

#[test]
fn field_repetition_and_component() {
    let m = message();
    assert_eq!(m.get("PID-3[2].1").as_deref(), Some("222"));
    assert_eq!(m.get("PID-3.1").as_deref(), Some("111"));
    assert_eq!(m.get("PID-3[1].1").as_deref(), Some("111"));
    assert_eq!(m.get_raw("PID-3"), Some("111^^^MRN"));
    assert_eq!(m.get("PID-3[3].1"), None);
}

#[test]
fn segment_repetition() {
    let m = message();
    assert_eq!(m.get("OBX[3]-5.2").as_deref(), Some("Positive"));
    assert_eq!(m.get("OBX[2]-3.1").as_deref(), Some("B"));
    assert_eq!(m.get("OBX-3.1").as_deref(), Some("A"));
    assert_eq!(m.get("OBX[4]-1"), None);
    assert_eq!(m.segments_named("OBX").count(), 3);
}

#[test]
fn subcomponents() {
    let m = message();
    assert_eq!(m.get("PID-3[2].4.1").as_deref(), Some("NPI"));
    assert_eq!(m.get("PID-3[2].4.2").as_deref(), Some("2.16.840"));
    assert_eq!(m.get("PID-3[2].4.4"), None);
    assert_eq!(m.get("PID-5.1.1").as_deref(), Some("O&Brien"));
}

#[test]
fn msh_numbering() {
    let m = message();
    assert_eq!(m.get("MSH-1").as_deref(), Some("|"));
    assert_eq!(m.get("MSH-2").as_deref(), Some("^~\\&"));
    assert_eq!(m.get("MSH-2.2"), None);
    assert_eq!(m.get("MSH-3").as_deref(), Some("LAB^1.2.3^ISO"));
    assert_eq!(m.get("MSH-3.2").as_deref(), Some("1.2.3"));
    assert_eq!(m.get("MSH-9.2").as_deref(), Some("R01"));
    assert_eq!(m.get("MSH-10").as_deref(), Some("MSG001"));
    let msh = m.segment("MSH").unwrap();
    assert_eq!(msh.field(1).unwrap().raw(), "|");
    assert_eq!(msh.field(2).unwrap().components().count(), 1);
    assert_eq!(msh.field_count(), 12);
    assert_eq!(msh.fields().nth(8).unwrap().raw(), "ORU^R01^ORU_R01");
}

#[test]
fn escapes_are_decoded_by_get_and_kept_by_get_raw() {
    let m = message();
    assert_eq!(m.get("PID-5.1").as_deref(), Some("O&Brien"));
    assert_eq!(m.get_raw("PID-5.1"), Some("O\\T\\Brien"));
    assert_eq!(m.get("PID-5.2").as_deref(), Some("Pat^Ann"));
    assert_eq!(
        m.get("NTE-3").as_deref(),
        Some("Line one\nLine two | \\H\\bold\\N\\")
    );
    assert!(matches!(m.get("PID-3[2].1"), Some(Cow::Borrowed(_))));
}

#[test]
fn empty_absent_and_invalid_paths_give_none() {
    let m = message();
    assert_eq!(m.get("PID-2"), None);
    assert_eq!(m.get("PID-99"), None);
    assert_eq!(m.get("ZZZ-1"), None);
    assert_eq!(m.get("OBX[3]-7"), None);
    for bad in [
        "PID",
        "PID-0",
        "PID-3[0]",
        "PID-3.",
        "PID-x",
        "PIDX-1",
        "PID-1.1.1.1",
        "PID[a]-1",
    ] {
        assert_eq!(m.get(bad), None, "{bad}");
        assert!(
            matches!(Path::parse(bad), Err(PathError::Syntax(_))),
            "{bad}"
        );
    }
}

#[test]
fn views_walk_the_tree() {
    let m = message();
    let pid = m.segment("PID").unwrap();
    assert_eq!(pid.id(), "PID");
    let field = pid.field(3).unwrap();
    assert_eq!(field.repetitions().count(), 2);
    let second = field.repetition(2).unwrap();
    let authority = second.component(4).unwrap();
    let parts: Vec<_> = authority.subcomponents().map(|s| s.raw()).collect();
    assert_eq!(parts, ["NPI", "2.16.840", "ISO"]);
    assert_eq!(field.component(1).unwrap().value(), "111");
    assert_eq!(
        pid.field(5).unwrap().component(1).unwrap().value(),
        "O&Brien"
    );
    let path = Path::parse("OBX[3]-5[2].1.2").unwrap();
    assert_eq!(path.to_string(), "OBX[3]-5[2].1.2");
    assert_eq!((path.segment_repetition, path.repetition), (3, 2));
}

#[test]
fn custom_delimiters_are_honoured() {
    let raw = "MSH#*@!%#APP#FAC\rPID#1##A*B@C*D%E!T!X#\r";
    let m = Message::parse(raw.as_bytes()).unwrap();
    assert_eq!(m.get("MSH-1").as_deref(), Some("#"));
    assert_eq!(m.get("MSH-2").as_deref(), Some("*@!%"));
    assert_eq!(m.get("PID-3.2").as_deref(), Some("B"));
    assert_eq!(m.get("PID-3[2].2.2").as_deref(), Some("E%X"));
    assert_eq!(m.get("PID-3[2].2.1").as_deref(), Some("D"));
}

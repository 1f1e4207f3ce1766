//! Ensures that ACKs built by this crate are read as intended by an independent HL7
//! parser: the PyPI `hl7` package, driven by `tests/check_ack.py`.
//!
//! This test fails (it does not skip) when `python3` or the `hl7` package is missing;
//! CI installs it with `pip install hl7`.

use std::path::PathBuf;
use std::process::Command;

use hl7v2::Message;
use hl7v2::ack::{Ack, AckCode, AckContext, ErrDetail, ErrLocation, ErrorCode, Severity};

/// One ACK and what python-hl7 must read in it.
struct Case {
    name: &'static str,
    ack: String,
    segments: &'static [&'static str],
    fields: Vec<(&'static str, &'static str)>,
    unescaped: Vec<(&'static str, &'static str)>,
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_object(pairs: &[(&str, &str)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}: {}", json_string(k), json_string(v)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

impl Case {
    fn sidecar(&self) -> String {
        let segments: Vec<String> = self.segments.iter().map(|s| json_string(s)).collect();
        format!(
            "{{\"segments\": [{}], \"fields\": {}, \"unescaped\": {}}}",
            segments.join(", "),
            json_object(&self.fields),
            json_object(&self.unescaped)
        )
    }
}

fn context(raw: &str) -> AckContext {
    AckContext::from_message(&Message::parse(raw.as_bytes()).unwrap())
}

fn error(segment: &str, field: u32, code: ErrorCode, message: &str) -> ErrDetail {
    ErrDetail {
        location: Some(ErrLocation {
            segment: segment.into(),
            sequence: 1,
            field: Some(field),
            ..ErrLocation::default()
        }),
        code,
        severity: Severity::Error,
        message: message.into(),
    }
}

fn cases() -> Vec<Case> {
    let v25 = context("MSH|^~\\&|SND|SFAC|RCV|RFAC|20240101||ADT^A01^ADT_A01|MSG1|P|2.5.1\r");
    let enhanced = context("MSH|^~\\&|SND|SFAC|RCV|RFAC|20240101||ORU^R01|MSG2|T|2.6|||AL|NE\r");
    let v23 = context("MSH|^~\\&|SND|SFAC|RCV|RFAC|20240101||ADT^A04|MSG3|P|2.3\r");
    let broken =
        AckContext::from_raw(b"MSH|^~\\\\&|SND|SFAC|RCV|RFAC|2024||ADT^A08||P|2.4\r").unwrap();
    let name_missing = error(
        "PID",
        5,
        ErrorCode::RequiredFieldMissing,
        "Name | missing ^ here & there",
    );
    vec![
        Case {
            name: "original_v25_error",
            ack: Ack::build(
                &v25,
                AckCode::AE,
                std::slice::from_ref(&name_missing),
                "A1",
                "20240102030405",
            ),
            segments: &["MSH", "MSA", "ERR"],
            fields: vec![
                ("MSH.F3", "RCV"),
                ("MSH.F4", "RFAC"),
                ("MSH.F5", "SND"),
                ("MSH.F6", "SFAC"),
                ("MSH.F7", "20240102030405"),
                ("MSH.F9", "ACK^A01^ACK"),
                ("MSH.F10", "A1"),
                ("MSH.F11", "P"),
                ("MSH.F12", "2.5.1"),
                ("MSA.F1", "AE"),
                ("MSA.F2", "MSG1"),
                ("ERR.F2", "PID^1^5"),
                ("ERR.F3.R1.C1", "101"),
                ("ERR.F3.R1.C3", "HL70357"),
                ("ERR.F4", "E"),
            ],
            unescaped: vec![("ERR.F8", "Name | missing ^ here & there")],
        },
        Case {
            name: "enhanced_commit_accept",
            ack: Ack::build(
                &enhanced,
                enhanced.commit_code(hl7v2::ack::AckOutcome::Accept),
                &[],
                "C1",
                "2024",
            ),
            segments: &["MSH", "MSA"],
            fields: vec![
                ("MSH.F9", "ACK^R01^ACK"),
                ("MSH.F11", "T"),
                ("MSA.F1", "CA"),
                ("MSA.F2", "MSG2"),
            ],
            unescaped: vec![],
        },
        Case {
            name: "v23_err1",
            ack: Ack::build(
                &v23,
                AckCode::AR,
                &[error(
                    "PV1",
                    3,
                    ErrorCode::TableValueNotFound,
                    "Unknown ward",
                )],
                "R3",
                "2024",
            ),
            segments: &["MSH", "MSA", "ERR"],
            fields: vec![
                ("MSH.F9", "ACK^A04^ACK"),
                ("MSA.F1", "AR"),
                ("MSA.F2", "MSG3"),
                ("MSA.F3", "Unknown ward"),
                ("ERR.F1.R1.C1", "PV1"),
                ("ERR.F1.R1.C3", "3"),
                ("ERR.F1.R1.C4.S1", "103"),
                ("ERR.F1.R1.C4.S3", "HL70357"),
            ],
            unescaped: vec![],
        },
        Case {
            name: "broken_msh",
            ack: Ack::build(&broken, AckCode::AR, &[name_missing], "B1", "2024"),
            segments: &["MSH", "MSA", "ERR"],
            fields: vec![
                ("MSH.F2", "^~\\&"),
                ("MSH.F3", "RCV"),
                ("MSH.F9", "ACK^A08^ACK"),
                ("MSA.F1", "AR"),
                ("MSA.F2", ""),
                ("ERR.F1.R1.C4.S1", "101"),
            ],
            unescaped: vec![("MSA.F3", "Name | missing ^ here & there")],
        },
    ]
}

#[test]
fn python_hl7_reads_our_acks() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ack_python");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for case in cases() {
        std::fs::write(dir.join(format!("{}.hl7", case.name)), &case.ack).unwrap();
        std::fs::write(dir.join(format!("{}.json", case.name)), case.sidecar()).unwrap();
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/check_ack.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(&dir)
        .output()
        .expect("python3 is required for this test (and `pip install hl7`)");
    assert!(
        output.status.success(),
        "check_ack.py failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("checked 4 ACKs, 0 problems"));
}

//! Ensures that ACKs are built field by field as HL7 expects: swapped applications and
//! facilities, `ACK^<trigger>^ACK`, echoed MSH-11/MSH-12, MSA-2 = MSH-10, ERR segments in
//! the v2.5+ or pre-v2.5 form, escaped user text, and ACKs for broken MSH segments.

use hl7v2::Message;
use hl7v2::ack::{
    Ack, AckCode, AckContext, AckOutcome, ErrDetail, ErrLocation, ErrorCode, Severity,
};

fn context(raw: &str) -> AckContext {
    AckContext::from_message(&Message::parse(raw.as_bytes()).unwrap())
}

fn missing_name() -> ErrDetail {
    ErrDetail {
        location: Some(ErrLocation {
            segment: "PID".into(),
            sequence: 1,
            field: Some(5),
            ..ErrLocation::default()
        }),
        code: ErrorCode::RequiredFieldMissing,
        severity: Severity::Error,
        message: "Patient name missing".into(),
    }
}

fn internal(message: &str) -> ErrDetail {
    ErrDetail {
        location: None,
        code: ErrorCode::ApplicationInternalError,
        severity: Severity::Fatal,
        message: message.into(),
    }
}

#[test]
fn original_mode_v25_error() {
    let ctx = context(
        "MSH|^~\\&|SND^1.2^ISO|SFAC|RCV|RFAC|20240101||ADT^A01^ADT_A01|MSG1|P^T|2.5.1\rPID|1\r",
    );
    let code = ctx.commit_code(AckOutcome::Error);
    assert_eq!(code, AckCode::AE);
    assert!(ctx.should_send_commit_ack(AckOutcome::Error));
    let ack = Ack::build(&ctx, code, &[missing_name()], "ACK1", "20240102030405");
    let expected = "MSH|^~\\&|RCV|RFAC|SND^1.2^ISO|SFAC|20240102030405||ACK^A01^ACK|ACK1|P^T|2.5.1\r\
                    MSA|AE|MSG1\r\
                    ERR||PID^1^5|101^Required field missing^HL70357|E||||Patient name missing\r";
    assert_eq!(ack, expected);
    let parsed = Message::parse(ack.as_bytes()).unwrap();
    assert_eq!(parsed.get("MSA-2").as_deref(), Some("MSG1"));
    assert_eq!(parsed.get("ERR-2.3").as_deref(), Some("5"));
}

#[test]
fn enhanced_mode_commit_ack() {
    let ctx =
        context("MSH|^~\\&|SND|SFAC|RCV|RFAC|20240101||ORU^R01^ORU_R01|MSG2|P|2.5.1|||AL|NE\r");
    assert_eq!(ctx.commit_code(AckOutcome::Accept), AckCode::CA);
    assert_eq!(ctx.commit_code(AckOutcome::Error), AckCode::CE);
    assert_eq!(ctx.commit_code(AckOutcome::Reject), AckCode::CR);
    assert_eq!(
        AckContext::application_code(AckOutcome::Reject),
        AckCode::AR
    );
    assert!(ctx.should_send_commit_ack(AckOutcome::Accept));
    assert!(!ctx.should_send_application_ack(AckOutcome::Accept));
    let ack = Ack::build(&ctx, AckCode::CA, &[], "C1", "20240101");
    assert_eq!(
        ack,
        "MSH|^~\\&|RCV|RFAC|SND|SFAC|20240101||ACK^R01^ACK|C1|P|2.5.1\rMSA|CA|MSG2\r"
    );
}

#[test]
fn ack_conditions() {
    let ctx = |msh15: &str, msh16: &str| {
        context(&format!(
            "MSH|^~\\&|A|B|C|D|2024||ADT^A01|1|P|2.5|||{msh15}|{msh16}\r"
        ))
    };
    let er = ctx("ER", "SU");
    assert!(!er.should_send_commit_ack(AckOutcome::Accept));
    assert!(er.should_send_commit_ack(AckOutcome::Reject));
    assert!(er.should_send_application_ack(AckOutcome::Accept));
    assert!(!er.should_send_application_ack(AckOutcome::Error));
    let ne = ctx("NE", "");
    assert!(!ne.should_send_commit_ack(AckOutcome::Error));
    assert!(ne.should_send_application_ack(AckOutcome::Error));
    let original = ctx("", "");
    assert_eq!(original.commit_code(AckOutcome::Accept), AckCode::AA);
    assert!(original.should_send_commit_ack(AckOutcome::Accept));
    assert_eq!(AckCode::from_code(" ce "), Some(AckCode::CE));
    assert_eq!(AckCode::CR.outcome(), AckOutcome::Reject);
}

#[test]
fn v23_uses_err1_and_msa3() {
    let ctx = context("MSH|^~\\&|SND|SFAC|RCV|RFAC|20240101||ADT^A04|MSG3|P|2.3\r");
    let errors = [missing_name(), internal("Database down")];
    let ack = Ack::build(&ctx, AckCode::AE, &errors, "A3", "20240101");
    let expected = "MSH|^~\\&|RCV|RFAC|SND|SFAC|20240101||ACK^A04^ACK|A3|P|2.3\r\
                    MSA|AE|MSG3|Patient name missing; Database down\r\
                    ERR|PID^1^5^101&Required field missing&HL70357~^^^207&Application internal error&HL70357\r";
    assert_eq!(ack, expected);
}

#[test]
fn err8_text_is_escaped() {
    let ctx = context("MSH|^~\\&|S|F|R|G|2024||ADT^A01|X|P|2.5\r");
    let ack = Ack::build(
        &ctx,
        AckCode::AR,
        &[internal("bad | pipe ^ caret & amp ~ tilde \\ slash")],
        "1",
        "2024",
    );
    let err = ack.split('\r').nth(2).unwrap();
    assert_eq!(
        err,
        "ERR|||207^Application internal error^HL70357|F||||bad \\F\\ pipe \\S\\ caret \\T\\ amp \\R\\ tilde \\E\\ slash"
    );
    let parsed = Message::parse(ack.as_bytes()).unwrap();
    assert_eq!(
        parsed.get("ERR-8").as_deref(),
        Some("bad | pipe ^ caret & amp ~ tilde \\ slash")
    );
}

#[test]
fn broken_msh_still_gets_an_ack() {
    // MSH-2 is `^~^&` (rejected by the parser), MSH-10 is missing, no MSH-9 trigger.
    let raw = b"\xEF\xBB\xBFMSH|^~^&|SND|SFAC|RCV|RFAC|2024||ADT||P|2.5\rPID|1\r";
    assert!(Message::parse(raw).is_err());
    let ctx = AckContext::from_raw(raw).unwrap();
    assert_eq!(ctx.control_id, None);
    assert_eq!(ctx.trigger, None);
    let ack = Ack::build(
        &ctx,
        AckCode::AR,
        &[internal("Invalid MSH-2")],
        "R1",
        "2024",
    );
    assert_eq!(
        ack,
        "MSH|^~\\&|RCV|RFAC|SND|SFAC|2024||ACK|R1|P|2.5\rMSA|AR|\r\
         ERR|||207^Application internal error^HL70357|F||||Invalid MSH-2\r"
    );
    let truncated = AckContext::from_raw(b"junk\nMSH|^~").unwrap();
    assert_eq!(truncated.delimiters, hl7v2::Delimiters::default());
    let latin1 =
        AckContext::from_raw(b"MSH|^~\\&|Caf\xE9|F|R|G|2024||ADT^A01|9|P|2.5|||||UNICODE UTF-8\r")
            .unwrap();
    assert_eq!(
        (
            latin1.sending_application.as_str(),
            latin1.control_id.as_deref()
        ),
        ("Café", Some("9"))
    );
    assert_eq!(AckContext::from_raw(b"PID|1\r"), None);
    assert_eq!(AckContext::from_raw(b"PID|1|MSH|^~\\&|A\r"), None);
}

#[test]
fn an_ack_without_a_readable_msh11_or_msh12_says_p_and_2_5() {
    let blank = AckContext::from_raw(b"MSH|^~\\&|SND|SFAC|RCV|RFAC|2024||ADT^A01|9\r").unwrap();
    let unknown = AckContext::default();
    for ctx in [blank, unknown] {
        let ack = Ack::build(&ctx, AckCode::AR, &[], "R1", "2024");
        let msh = ack.split('\r').next().unwrap();
        let fields: Vec<&str> = msh.split('|').collect();
        assert_eq!((fields[10], fields[11]), ("P", "2.5"), "{msh}");
    }
}

#[test]
fn error_location_and_codes() {
    let ctx = context("MSH|^~\\&|S|F|R|G|2024||ADT^A01|X|P|2.7\r");
    let detail = ErrDetail {
        location: Some(ErrLocation {
            segment: "OBX".into(),
            sequence: 3,
            field: Some(5),
            repetition: Some(1),
            component: Some(2),
            subcomponent: None,
        }),
        code: ErrorCode::DataTypeError,
        severity: Severity::Warning,
        message: String::new(),
    };
    let ack = Ack::build(&ctx, AckCode::AE, &[detail], "1", "2024");
    assert!(ack.ends_with("MSA|AE|X\rERR||OBX^3^5^1^2|102^Data type error^HL70357|W||||\r"));
    assert_eq!(
        (
            ErrorCode::DuplicateKeyIdentifier.code(),
            ErrorCode::MessageAccepted.code()
        ),
        (205, 0)
    );
}

//! Ensures that HL7 timestamps parse at every precision, with and without UTC offsets,
//! write back unchanged, and convert to FHIR dateTime text keeping their precision.

use hl7v2::{Message, Precision, Timestamp, TimestampError};

#[test]
fn every_precision_parses_and_writes_back() {
    let cases = [
        ("2024", Precision::Year),
        ("202403", Precision::Month),
        ("20240305", Precision::Day),
        ("2024030510", Precision::Hour),
        ("202403051020", Precision::Minute),
        ("20240305102030", Precision::Second),
        ("20240305102030.1", Precision::Fraction),
        ("20240305102030.1234", Precision::Fraction),
        ("20240305102030.123456", Precision::Fraction),
        ("20240305102030.8343-0400", Precision::Fraction),
        ("2024030510+0100", Precision::Hour),
        ("20240305-0530", Precision::Day),
    ];
    for (text, precision) in cases {
        let ts = Timestamp::parse(text).unwrap();
        assert_eq!(ts.precision, precision, "{text}");
        assert_eq!(ts.to_string(), text);
    }
}

#[test]
fn parts_and_offsets() {
    let ts = Timestamp::parse("20240305102030.8343-0400").unwrap();
    assert_eq!((ts.year, ts.month, ts.day), (2024, 3, 5));
    assert_eq!((ts.hour, ts.minute, ts.second), (10, 20, 30));
    assert_eq!((ts.nanos, ts.fraction_digits), (834_300_000, 4));
    assert_eq!(ts.fraction_text(), "8343");
    assert_eq!(ts.offset_minutes, Some(-240));
    let ts = Timestamp::parse("202403").unwrap();
    assert_eq!(
        (ts.month, ts.day, ts.hour, ts.offset_minutes),
        (3, 1, 0, None)
    );
    assert_eq!(
        Timestamp::parse("20240305+0545").unwrap().offset_minutes,
        Some(345)
    );
}

#[test]
fn fhir_datetime_keeps_precision() {
    let fhir = |text: &str, default| Timestamp::parse(text).unwrap().to_fhir_datetime(default);
    assert_eq!(fhir("2024", None), "2024");
    assert_eq!(fhir("202403", Some(60)), "2024-03");
    assert_eq!(fhir("20240305", None), "2024-03-05");
    assert_eq!(fhir("20240305+0100", None), "2024-03-05");
    assert_eq!(fhir("2024030510+0100", None), "2024-03-05T10:00:00+01:00");
    assert_eq!(fhir("202403051020-0500", None), "2024-03-05T10:20:00-05:00");
    assert_eq!(
        fhir("20240305102030.12-0000", None),
        "2024-03-05T10:20:30.12+00:00"
    );
    // A time without an offset takes the default offset, or is truncated to the date:
    // FHIR forbids a time without a zone and this crate never invents one.
    assert_eq!(
        fhir("20240305102030", Some(60)),
        "2024-03-05T10:20:30+01:00"
    );
    assert_eq!(
        fhir("20240305102030", Some(-90)),
        "2024-03-05T10:20:30-01:30"
    );
    assert_eq!(fhir("20240305102030", None), "2024-03-05");
}

#[test]
fn malformed_and_out_of_range() {
    for bad in [
        "",
        "24",
        "20241",
        "2024030510203",
        "2024a305",
        "20240305.5",
        "20240305102030.",
        "2024+01",
        "2024-1",
        "20240305102030.1234567890",
    ] {
        assert!(
            matches!(Timestamp::parse(bad), Err(TimestampError::Syntax(_))),
            "{bad}"
        );
    }
    let range = |text| Timestamp::parse(text).unwrap_err();
    assert_eq!(range("202413"), TimestampError::OutOfRange("month"));
    assert_eq!(range("20230229"), TimestampError::OutOfRange("day"));
    assert_eq!(range("2024022924"), TimestampError::OutOfRange("hour"));
    assert_eq!(range("202402291060"), TimestampError::OutOfRange("minute"));
    assert_eq!(
        range("20240229105960"),
        TimestampError::OutOfRange("second")
    );
    assert!(Timestamp::parse("20240229").is_ok());
    assert!(Timestamp::parse("2024+2400").is_err());
}

#[test]
fn msh7_takes_component_one_of_ts() {
    let raw = b"MSH|^~\\&|A|B|C|D|20240305102030^S||ADT^A01|1|P|2.3\r";
    let ts = Message::parse(raw)
        .unwrap()
        .header()
        .timestamp()
        .unwrap()
        .unwrap();
    assert_eq!(ts.precision, Precision::Second);
    let raw = b"MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.3\r";
    assert!(Message::parse(raw).unwrap().header().timestamp().is_none());
    let raw = b"MSH|^~\\&|A|B|C|D|yesterday||ADT^A01|1|P|2.3\r";
    assert!(
        Message::parse(raw)
            .unwrap()
            .header()
            .timestamp()
            .unwrap()
            .is_err()
    );
}

//! Ensures that batch files (FHS/BHS ... BTS/FTS) split into their messages, with or
//! without trailers, and that a plain message is a batch of one.

use hl7v2::{Message, ParseErrorKind, split_batch, starts_batch};

const MSH: &str = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|";

fn message(id: u32) -> String {
    format!("{MSH}{id}|P|2.5\rPID|1||{id}\r")
}

#[test]
fn full_envelope_splits_into_messages() {
    let body: String = (1..=3).map(message).collect();
    let raw = format!("FHS|^~\\&|A\rBHS|^~\\&|A\r{body}BTS|3\rFTS|1\r");
    let batch = split_batch(raw.as_bytes()).unwrap();
    assert_eq!(batch.header, Some(&b"FHS|^~\\&|A\rBHS|^~\\&|A\r"[..]));
    assert_eq!(batch.trailer, Some(&b"BTS|3\rFTS|1\r"[..]));
    assert_eq!(batch.messages.len(), 3);
    for (i, raw) in batch.messages.iter().enumerate() {
        assert_eq!(*raw, message(i as u32 + 1).as_bytes());
        let id = Message::parse(raw)
            .unwrap()
            .header()
            .control_id()
            .map(str::to_string);
        assert_eq!(id, Some((i + 1).to_string()));
    }
}

#[test]
fn missing_trailer_and_lf_terminators() {
    let raw = format!(
        "FHS|^~\\&\nBHS|^~\\&\n{}\n{}",
        message(1).replace('\r', "\n"),
        message(2)
    );
    let batch = split_batch(raw.as_bytes()).unwrap();
    assert_eq!(batch.messages.len(), 2);
    assert_eq!(batch.trailer, None);
    assert!(Message::parse(batch.messages[1]).is_ok());
}

#[test]
fn plain_and_concatenated_messages() {
    let single = format!("\u{FEFF}{}", message(7));
    let batch = split_batch(single.as_bytes()).unwrap();
    assert_eq!((batch.header, batch.messages.len()), (None, 1));
    assert_eq!(batch.messages[0], single.as_bytes());
    let two = format!("{}\r\n{}", message(1), message(2));
    assert_eq!(split_batch(two.as_bytes()).unwrap().messages.len(), 2);
}

#[test]
fn nested_batches_and_empty_batch() {
    let raw = format!(
        "FHS|^~\\&\rBHS|^~\\&\r{}BTS|1\rBHS|^~\\&\r{}{}BTS|2\rFTS|2\r",
        message(1),
        message(2),
        message(3)
    );
    let batch = split_batch(raw.as_bytes()).unwrap();
    assert_eq!(batch.messages.len(), 3);
    assert_eq!(batch.trailer, Some(&b"BTS|2\rFTS|2\r"[..]));
    let empty = split_batch(b"FHS|^~\\&\rFTS|0\r").unwrap();
    assert!(empty.messages.is_empty());
}

#[test]
fn errors() {
    assert_eq!(split_batch(b"").unwrap_err().kind, ParseErrorKind::Empty);
    assert_eq!(
        split_batch(b" \r\n").unwrap_err().kind,
        ParseErrorKind::Empty
    );
    let err = split_batch(b"\nPID|1\rMSH|^~\\&\r").unwrap_err();
    assert_eq!((err.kind, err.offset), (ParseErrorKind::NoMsh, 1));
}

#[test]
fn a_batch_is_told_from_a_message_by_its_first_line() {
    assert!(starts_batch(b"\xEF\xBB\xBF\r\nBHS|^~\\&\r"));
    assert!(starts_batch(b"FHS|^~\\&\r"));
    assert!(!starts_batch(message(1).as_bytes()));
    assert!(!starts_batch(b"BHSX|^~\\&\r"));
    assert!(!starts_batch(b""));
}

#[test]
fn header_segments_are_found_by_id() {
    let raw = format!("FHS|^~\\&|FAPP\r\nBHS|^~\\&|BAPP\r{}", message(1));
    let batch = split_batch(raw.as_bytes()).unwrap();
    assert_eq!(batch.header_segment("FHS"), Some(&b"FHS|^~\\&|FAPP"[..]));
    assert_eq!(batch.header_segment("BHS"), Some(&b"BHS|^~\\&|BAPP"[..]));
    let only_batch = format!("BHS|^~\\&\r{}", message(1));
    let batch = split_batch(only_batch.as_bytes()).unwrap();
    assert_eq!(batch.header_segment("FHS"), None);
    let plain = message(1);
    let plain = split_batch(plain.as_bytes()).unwrap();
    assert_eq!(plain.header_segment("BHS"), None);
}

//! Ensures that the lenient MSH scan used for ACKs reads the same values as the parser
//! for every corpus message that parses, and answers every corpus file that has an MSH.

mod common;

use hl7v2::Message;
use hl7v2::ack::{Ack, AckCode, AckContext};

#[test]
fn lenient_scan_agrees_with_parser() {
    let compared = common::for_each_parsed(|path, raw, message| {
        let parsed = AckContext::from_message(message);
        assert_eq!(AckContext::from_raw(raw), Some(parsed), "{path}");
    });
    assert!(compared >= 217);
}

#[test]
fn every_file_with_msh_gets_an_ack() {
    for (path, bytes) in common::corpus_messages() {
        let Some(ctx) = AckContext::from_raw(&bytes) else {
            assert!(path.ends_with("empty.hl7"), "{path}: no context");
            continue;
        };
        let ack = Ack::build(&ctx, AckCode::AR, &[], "1", "20240101");
        let parsed = Message::parse(ack.as_bytes()).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(parsed.get("MSA-1").as_deref(), Some("AR"));
    }
}

//! Ensures that every message of the shared corpus splits and parses without a panic,
//! and that every one parses except the known broken ones.

mod common;

use hl7v2::{Message, split_batch};

/// Files that must not parse (see `corpus_errors.rs` for the expected errors).
const BROKEN: [&str; 2] = [
    "Test/Message/empty.hl7",
    "Test/Message/msh_present_but_missing_all_fields.hl7",
];

#[test]
fn every_corpus_message_parses_or_fails_cleanly() {
    let mut parsed = 0;
    let mut failures = Vec::new();
    for (path, bytes) in common::corpus_messages() {
        let outcome = std::panic::catch_unwind(|| {
            let batch = split_batch(&bytes)?;
            for message in &batch.messages {
                let message = Message::parse(message)?;
                assert!(message.segment_count() > 0);
                let _ = message.header().message_type();
            }
            Ok::<usize, hl7v2::ParseError>(batch.messages.len())
        });
        let broken = BROKEN.iter().any(|b| path.ends_with(b));
        match outcome {
            Err(_) => panic!("{path}: panicked"),
            Ok(Ok(n)) if !broken => parsed += n,
            Ok(Ok(_)) => failures.push(format!("{path}: parsed but is known broken")),
            Ok(Err(e)) if !broken => failures.push(format!("{path}: {e}")),
            Ok(Err(_)) => {}
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(parsed >= 221, "only {parsed} messages parsed");
}

/// Ensures that parsing only the MSH segment gives every corpus message the
/// same header as parsing all of it, and that it leaves the rest unindexed.
#[test]
fn the_header_alone_reads_as_in_the_whole_message() {
    let compared = common::for_each_parsed(|path, raw, whole| {
        let header = Message::parse_header(raw).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(header.segment_count(), 1, "{path}");
        for field in ["MSH-3", "MSH-4.1", "MSH-9", "MSH-10", "MSH-12", "MSH-18"] {
            assert_eq!(header.get(field), whole.get(field), "{path} {field}");
        }
    });
    assert!(compared >= 221, "only {compared} messages compared");
}

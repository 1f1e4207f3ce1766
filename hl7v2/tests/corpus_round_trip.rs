//! Ensures that every corpus message that parses re-encodes byte for byte, both through
//! the borrowed view and through the editable owned form.

mod common;

use hl7v2::{Message, split_batch};

#[test]
fn parsed_corpus_messages_re_encode_byte_exact() {
    let mut checked = 0;
    for (path, bytes) in common::corpus_messages() {
        let Ok(batch) = split_batch(&bytes) else {
            continue;
        };
        let mut rebuilt = batch.header.unwrap_or_default().to_vec();
        for raw in &batch.messages {
            rebuilt.extend_from_slice(raw);
            let Ok(message) = Message::parse(raw) else {
                continue;
            };
            assert_eq!(message.raw(), *raw, "{path}: raw()");
            let owned = message.to_owned_message();
            assert!(owned.to_bytes() == *raw, "{path}: owned to_bytes differs");
            let mut text = String::from(if message.has_bom() { "\u{FEFF}" } else { "" });
            text.push_str(message.text());
            assert_eq!(owned.to_er7(), text, "{path}: owned to_er7 differs");
            let segments: Vec<&str> = message.segments().map(|s| s.raw()).collect();
            let reread: Vec<String> = owned
                .segments()
                .iter()
                .map(|s| {
                    let mut line = String::new();
                    s.write_er7(owned.delimiters(), &mut line);
                    line
                })
                .collect();
            assert_eq!(segments, reread, "{path}: segments differ");
            checked += 1;
        }
        rebuilt.extend_from_slice(batch.trailer.unwrap_or_default());
        assert!(
            rebuilt == bytes,
            "{path}: batch parts do not add up to the file"
        );
    }
    assert!(checked >= 217, "only {checked} messages checked");
}

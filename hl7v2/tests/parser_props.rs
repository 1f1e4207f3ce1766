//! Ensures that the parser never panics on arbitrary or almost-valid input, that
//! whatever parses re-encodes byte for byte, that generated well-formed messages read
//! back every value, and that escaping round-trips.

use hl7v2::ack::AckContext;
use hl7v2::{Delimiters, Message, escape, split_batch, unescape};
use proptest::prelude::*;

/// Reads a parsed message every way the API allows, to shake out panics.
fn exercise(raw: &[u8]) {
    let _ = split_batch(raw);
    let _ = AckContext::from_raw(raw);
    let Ok(message) = Message::parse(raw) else {
        return;
    };
    for segment in message.segments() {
        for field in segment.fields() {
            for repetition in field.repetitions() {
                for component in repetition.components() {
                    for subcomponent in component.subcomponents() {
                        let _ = subcomponent.value();
                    }
                }
            }
        }
    }
    for path in [
        "MSH-1",
        "MSH-2",
        "MSH-9.2",
        "PID-3[2].1",
        "OBX[2]-5.1.2",
        "ZZZ-1",
    ] {
        let _ = message.get(path);
    }
    let header = message.header();
    let _ = (header.timestamp(), header.message_type(), header.version());
    assert_eq!(message.to_owned_message().to_bytes(), raw);
}

/// Bytes that are likely to matter to the parser.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(b'|'),
        Just(b'^'),
        Just(b'~'),
        Just(b'\\'),
        Just(b'&'),
        Just(b'\r'),
        Just(b'\n'),
        Just(0u8),
        Just(0xE9u8),
        Just(0xC3u8),
        b'A'..=b'Z',
        b'0'..=b'9',
        any::<u8>(),
    ]
}

/// A message-like text: an MSH prefix (sometimes damaged) and noisy lines.
fn almost_valid() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop_oneof![
        Just(b"MSH|^~\\&|".to_vec()),
        Just(b"\xEF\xBB\xBFMSH|^~\\&#|".to_vec()),
        Just(b"MSH|^~\\\\&|".to_vec()),
        Just(b"\r\nMSH#*@!%#".to_vec()),
        Just(b"FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&|".to_vec()),
        Just(b"MSH|".to_vec()),
    ];
    (
        prefix,
        proptest::collection::vec(interesting_byte(), 0..300),
    )
        .prop_map(|(mut prefix, body)| {
            prefix.extend(body);
            prefix
        })
}

/// A segment model: ID and fields of repetitions of components (unescaped text).
type SegmentModel = (String, Vec<Vec<Vec<String>>>);

fn segment_model() -> impl Strategy<Value = SegmentModel> {
    let text = "[ -~éü€\r\n\t\u{0}]{0,8}";
    let component = proptest::collection::vec(text, 1..4);
    let field = proptest::collection::vec(component, 1..3);
    ("(PID|OBX|NTE|ZZ1)", proptest::collection::vec(field, 0..6))
}

fn encode(segments: &[SegmentModel], d: &Delimiters, terminator: &str) -> String {
    let fs = char::from(d.field);
    let mut out = format!("MSH{d}{fs}A{fs}B{terminator}");
    for (id, fields) in segments {
        out.push_str(id);
        for field in fields {
            out.push(char::from(d.field));
            let reps: Vec<String> = field
                .iter()
                .map(|components| {
                    let escaped: Vec<String> = components.iter().map(|c| escape(c, d)).collect();
                    escaped.join(&char::from(d.component).to_string())
                })
                .collect();
            out.push_str(&reps.join(&char::from(d.repetition).to_string()));
        }
        out.push_str(terminator);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(2000)
    })]

    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..200)) {
        exercise(&raw);
    }

    #[test]
    fn almost_valid_messages_never_panic(raw in almost_valid()) {
        exercise(&raw);
    }

    #[test]
    fn generated_messages_read_back_and_round_trip(
        segments in proptest::collection::vec(segment_model(), 0..6),
        terminator in prop_oneof![Just("\r"), Just("\n"), Just("\r\n")],
        custom in any::<bool>(),
    ) {
        let d = if custom {
            Delimiters { field: b'#', component: b'*', repetition: b'@', escape: b'!', subcomponent: b'%', truncation: None }
        } else {
            Delimiters::default()
        };
        let raw = encode(&segments, &d, terminator);
        let message = Message::parse(raw.as_bytes()).unwrap();
        prop_assert_eq!(message.segment_count(), segments.len() + 1);
        prop_assert_eq!(message.to_owned_message().to_er7(), raw.clone());
        let mut seen = std::collections::HashMap::new();
        for (id, fields) in &segments {
            let occurrence = seen.entry(id.clone()).and_modify(|n| *n += 1).or_insert(1);
            for (f, field) in fields.iter().enumerate() {
                for (r, components) in field.iter().enumerate() {
                    for (c, text) in components.iter().enumerate() {
                        let path = format!("{id}[{occurrence}]-{}[{}].{}", f + 1, r + 1, c + 1);
                        let expected = (!text.is_empty()).then(|| text.clone());
                        prop_assert_eq!(message.get(&path).map(|v| v.into_owned()), expected, "{}", path);
                    }
                }
            }
        }
    }

    #[test]
    fn escape_round_trips(text in "\\PC*|[|^~\\\\&#\r\n\t\u{0}a-z]*", truncation in any::<bool>()) {
        let d = Delimiters { truncation: truncation.then_some(b'#'), ..Delimiters::default() };
        let escaped = escape(&text, &d);
        prop_assert!(!escaped.bytes().any(|b| b == b'|' || b == b'^' || b == b'~' || b == b'&' || b == b'\r' || b == b'\n'));
        prop_assert_eq!(unescape(&escaped, &d), text);
    }
}

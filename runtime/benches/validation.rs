//! What a conformance profile costs per message: parsing the 976-byte
//! ADT^A01 of `tests/data/adt_a01.hl7` alone, against parsing it and
//! checking it against a profile of twelve rules (type, version, two
//! segment counts, eight field rules: required, data types, a table,
//! lengths, repetitions), the work the ingest path adds when a channel
//! names a profile.
//!
//! Run: `cargo bench -p hl7wasm-runtime --bench validation`

use criterion::{Criterion, criterion_group, criterion_main};
use hl7wasm::validation::{Profile, ProfileConfig};

const ADT_A01: &str = include_str!("../../tests/data/adt_a01.hl7");

const PROFILE: &str = r#"
message_types = ["ADT^A01", "ADT^A04", "ADT^A08"]
versions = ["2.3", "2.4", "2.5", "2.5.1"]

[[segments]]
id = "PID"
min = 1
max = 1

[[segments]]
id = "PV1"
min = 1
max = 1

[[fields]]
path = "MSH-7"
required = true
type = "TS"

[[fields]]
path = "PID-3.1"
required = true
max_length = 20

[[fields]]
path = "PID-3"
max_repetitions = 5

[[fields]]
path = "PID-5.1"
required = true
max_length = 50

[[fields]]
path = "PID-7"
type = "TS"

[[fields]]
path = "PID-8"
values = ["F", "M", "O", "U", "A", "N"]

[[fields]]
path = "PV1-2"
required = true
values = ["E", "I", "O", "P", "R", "B", "C", "N", "U"]

[[fields]]
path = "PV1-44"
type = "TS"
"#;

fn profile_check(c: &mut Criterion) {
    let text = ADT_A01.replace("\r\n", "\r").replace('\n', "\r");
    let config: ProfileConfig = toml::from_str(PROFILE).expect("a valid profile");
    let profile = Profile::compile("bench", &config).expect("a sound profile");
    let message = hl7v2::Message::parse(text.as_bytes()).expect("the ADT parses");
    let findings = profile.check(&message);
    assert!(findings.details.is_empty(), "{}", findings.summary());

    let mut group = c.benchmark_group("validation");
    group.bench_function("parse", |b| {
        b.iter(|| {
            hl7v2::Message::parse(std::hint::black_box(text.as_bytes())).map(|m| m.segment_count())
        })
    });
    group.bench_function("parse_and_check_12_rules", |b| {
        b.iter(|| {
            let message = hl7v2::Message::parse(std::hint::black_box(text.as_bytes())).unwrap();
            profile.check(&message).total
        })
    });
    group.finish();
}

criterion_group!(benches, profile_check);
criterion_main!(benches);

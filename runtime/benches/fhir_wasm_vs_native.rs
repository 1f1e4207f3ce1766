//! The HL7 v2 → FHIR mapper in Wasm against the same crate compiled
//! natively: an ADT^A01 and an ORU^R01 with 20 OBX (tests/data/adt_a01.hl7,
//! tests/data/oru_r01_20_obx.hl7).
//!
//! Native: `hl7_to_fhir::map_message_to_string`, mapping and serialising as
//! the component does. Wasm: the built `hl7_to_fhir.wasm` through a
//! `PluginWorker` that reuses its instance (the default lifecycle), so each
//! message pays the copy into and out of the component but not instantiation
//! (bar the recycling of the instance every 10,000 messages, as in
//! production).
//!
//! Run: `cargo bench -p hl7wasm-runtime --bench fhir_wasm_vs_native`; after
//! criterion's report it prints µs/message for each side, the ratio and the
//! messages per second one core maps in Wasm.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Bencher, Criterion};
use hl7wasm::plugin::{
    EngineSettings, HL7_V2_CONTENT_TYPE, Message, Metadata, PluginEngine, PluginLimits,
    PluginVersion, PluginWorker, StageOutcome, StageSettings,
};

/// Criterion's samples per benchmark: its measurement calls are the last
/// this many, after the warm-up calls.
const SAMPLES: usize = 100;

/// Every call criterion made to one benchmark: iterations and time taken.
#[derive(Default)]
struct Tally {
    calls: Vec<(u64, Duration)>,
}

impl Tally {
    /// The mean over the measurement calls, warm-up left out.
    fn micros_per_message(&self) -> f64 {
        let measured = &self.calls[self.calls.len().saturating_sub(SAMPLES)..];
        let iterations: u64 = measured.iter().map(|(n, _)| n).sum();
        let elapsed: Duration = measured.iter().map(|(_, t)| *t).sum();
        elapsed.as_secs_f64() * 1e6 / iterations as f64
    }
}

/// Times `map` under criterion and records every call in `tally`.
fn timed(b: &mut Bencher<'_>, tally: &mut Tally, mut map: impl FnMut()) {
    b.iter_custom(|iterations| {
        let start = Instant::now();
        for _ in 0..iterations {
            map();
        }
        let elapsed = start.elapsed();
        tally.calls.push((iterations, elapsed));
        elapsed
    });
}

/// A sample message from `tests/data`.
fn sample(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn wasm_worker() -> PluginWorker {
    let bytes = std::fs::read(Path::new(hl7wasm::BUILT_PLUGINS_DIR).join("hl7_to_fhir.wasm"))
        .expect("built hl7-to-fhir plugin");
    let engine = PluginEngine::new(&EngineSettings::default()).unwrap();
    let version = PluginVersion::load(&engine, None, &bytes, &PluginLimits::default()).unwrap();
    let settings = StageSettings {
        config_json: "{}".into(),
        ..StageSettings::default()
    };
    PluginWorker::new(version, Arc::new(settings))
}

fn metadata() -> Metadata {
    Metadata {
        channel: "bench".into(),
        received_at_unix_ms: 0,
        peer_address: None,
        peer_certificate_name: None,
        control_id: None,
    }
}

/// Benchmarks one message both ways; returns the (native, Wasm) tallies.
fn compare(c: &mut Criterion, name: &str, body: &str) -> (Tally, Tally) {
    let options = hl7_to_fhir::Options::default();
    let mut native = Tally::default();
    let mut wasm = Tally::default();
    let mut group = c.benchmark_group(name);
    group.sample_size(SAMPLES);
    group.bench_function("native", |b| {
        timed(b, &mut native, || {
            let json = hl7_to_fhir::map_message_to_string(body, &options).expect("maps");
            std::hint::black_box(json);
        })
    });
    let mut worker = wasm_worker();
    let message = Message {
        content_type: HL7_V2_CONTENT_TYPE.into(),
        body: body.to_string(),
    };
    group.bench_function("wasm", |b| {
        timed(b, &mut wasm, || {
            let outcome = worker.transform(message.clone(), metadata());
            assert!(matches!(outcome, StageOutcome::Forward(_)), "{outcome:?}");
        })
    });
    group.finish();
    (native, wasm)
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let cases = [
        ("fhir_adt_a01", sample("adt_a01.hl7")),
        ("fhir_oru_r01_20_obx", sample("oru_r01_20_obx.hl7")),
    ];
    let results: Vec<(&str, Tally, Tally)> = cases
        .iter()
        .map(|(name, body)| {
            let (native, wasm) = compare(&mut criterion, name, body);
            (*name, native, wasm)
        })
        .collect();
    criterion.final_summary();
    println!("\nmessage              native µs   wasm µs   wasm/native   wasm msgs/s/core");
    // A filter on the command line may have skipped a message.
    for (name, native, wasm) in results {
        if native.calls.is_empty() || wasm.calls.is_empty() {
            continue;
        }
        let (native, wasm) = (native.micros_per_message(), wasm.micros_per_message());
        println!(
            "{name:<20} {native:>9.1} {wasm:>9.1} {:>13.2} {:>18.0}",
            wasm / native,
            1e6 / wasm
        );
    }
}

//! Times two builds of the hl7-to-fhir component against each other and
//! against the native mapper, in turns in one process, so that a change to
//! the guest, its build flags or the engine can be judged on a noisy
//! machine by ratios taken minutes apart at most.
//!
//! ```sh
//! cargo run --release -p hl7wasm-runtime --example mapper_ab -- A.wasm B.wasm MESSAGE [ROUNDS]
//! ```
//!
//! Each round maps the message 2,000 times natively, then in A, then in B
//! (one reused instance each, as a pipeline worker does). Prints the fastest
//! and the median round of each, in µs per message, with the ratios.

use std::sync::Arc;
use std::time::Instant;

use hl7wasm::plugin::{
    EngineSettings, HL7_V2_CONTENT_TYPE, Message, Metadata, PluginEngine, PluginLimits,
    PluginVersion, PluginWorker, StageSettings,
};

/// Messages per round and side.
const PER_ROUND: u32 = 2_000;

fn worker(path: &str) -> PluginWorker {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let engine = PluginEngine::new(&EngineSettings::default()).expect("an engine");
    let version = PluginVersion::load(&engine, None, &bytes, &PluginLimits::default())
        .unwrap_or_else(|e| panic!("{path} does not load: {e}"));
    let settings = StageSettings {
        config_json: "{}".into(),
        ..StageSettings::default()
    };
    PluginWorker::new(version, Arc::new(settings))
}

/// µs per message of `PER_ROUND` calls of `map`.
fn timed(mut map: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..PER_ROUND {
        map();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(PER_ROUND)
}

/// The fastest and the median of `rounds`.
fn fastest_and_median(mut rounds: Vec<f64>) -> (f64, f64) {
    rounds.sort_by(f64::total_cmp);
    (rounds[0], rounds[rounds.len() / 2])
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [a, b, file, rest @ ..] = args.as_slice() else {
        panic!("usage: mapper_ab A.wasm B.wasm MESSAGE [ROUNDS]");
    };
    let rounds: usize = rest.first().map_or(15, |r| r.parse().expect("ROUNDS"));
    let body = std::fs::read_to_string(file).expect("a readable message");
    let (mut a, mut b) = (worker(a), worker(b));
    let metadata = Metadata {
        channel: "bench".into(),
        received_at_unix_ms: 0,
        peer_address: None,
        peer_certificate_name: None,
        control_id: None,
    };
    let message = Message {
        content_type: HL7_V2_CONTENT_TYPE.into(),
        body: body.clone(),
    };
    let options = hl7_to_fhir::Options::default();
    let (mut native, mut in_a, mut in_b) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        native.push(timed(|| {
            let json = hl7_to_fhir::map_message_to_string(&body, &options).expect("maps");
            std::hint::black_box(json);
        }));
        for (worker, times) in [(&mut a, &mut in_a), (&mut b, &mut in_b)] {
            times.push(timed(|| {
                std::hint::black_box(worker.transform(message.clone(), metadata.clone()));
            }));
        }
    }
    let (native, in_a, in_b) = (
        fastest_and_median(native),
        fastest_and_median(in_a),
        fastest_and_median(in_b),
    );
    let rows = [
        ("fastest", native.0, in_a.0, in_b.0),
        ("median", native.1, in_a.1, in_b.1),
    ];
    for (label, n, a, b) in rows {
        println!(
            "{label:>7}: native {n:.1} µs, A {a:.1} µs, B {b:.1} µs; A/native {:.2}, B/native {:.2}, B/A {:.3}",
            a / n,
            b / n,
            b / a
        );
    }
}

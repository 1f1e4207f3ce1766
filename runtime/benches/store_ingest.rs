//! Store ingest throughput with real durability (every `ingest` waits for
//! its fsync): 1, 8 and 64 concurrent senders of a 1 KB message, which shows
//! what group commit buys.
//!
//! Run: `cargo bench -p hl7wasm-runtime --bench store_ingest`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hl7wasm::store::{DedupeKey, NewMessage, Store, StoreSettings};

/// A 1 KB ADT^A01.
fn raw() -> Vec<u8> {
    let mut raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/adt_a01.hl7"
    ))
    .expect("sample message");
    raw.resize(1024, b'x');
    raw
}

/// One sender: ingests `count` messages with fresh control ids, one at a
/// time, as an MLLP connection does.
async fn send(store: Store, raw: Arc<Vec<u8>>, next: Arc<AtomicU64>, count: u64) {
    for _ in 0..count {
        let control_id = next.fetch_add(1, Ordering::Relaxed).to_string();
        let message = NewMessage {
            channel: "adt",
            partition: 0,
            raw: &raw,
            received_at_ms: 1_700_000_000_000,
            peer: None,
            control_id: Some(&control_id),
            message_type: Some("ADT^A01"),
            dedupe_key: Some(DedupeKey {
                sending_application: "APP",
                sending_facility: "FAC",
                control_id: &control_id,
            }),
        };
        store.ingest(message).await.expect("ingest");
    }
}

fn ingest(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), StoreSettings::default()).expect("open store");
    let raw = Arc::new(raw());
    let next = Arc::new(AtomicU64::new(0));

    let mut group = c.benchmark_group("store_ingest");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(1));
    for senders in [1u64, 8, 64] {
        group.bench_function(BenchmarkId::new("senders", senders), |b| {
            b.iter_custom(|messages| {
                let per_sender = messages.div_ceil(senders);
                let started = Instant::now();
                runtime.block_on(async {
                    let tasks: Vec<_> = (0..senders)
                        .map(|_| {
                            let sender = send(store.clone(), raw.clone(), next.clone(), per_sender);
                            tokio::spawn(sender)
                        })
                        .collect();
                    for task in tasks {
                        task.await.expect("sender");
                    }
                });
                started.elapsed()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);

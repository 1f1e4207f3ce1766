//! Store ingest throughput with real durability (every `ingest` waits for
//! its fsync): 1, 8 and 64 concurrent senders of a 1 KB message, which shows
//! what group commit buys. Then how long opening a store takes with
//! [`REOPEN_MESSAGES`] messages in it, all processed or all still queued:
//! opening rebuilds the inbound queues, which live in memory. Last, what
//! the first start after a change of `partitions` adds: moving every
//! queued message to its new partition, or (no change, but nothing
//! recorded yet) checking each one's place.
//!
//! Run: `cargo bench -p hl7wasm-runtime --bench store_ingest`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hl7wasm::store::{
    DedupeKey, MessageState, MessageStatus, NewMessage, Processed, Store, StoreSettings,
};

/// Messages in the stores that the reopen benchmarks open.
const REOPEN_MESSAGES: u64 = 64 * 1_600;

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
            peer_certificate: None,
            control_id: Some(&control_id),
            message_type: Some("ADT^A01"),
            dedupe_key: Some(DedupeKey {
                sending_application: "APP",
                sending_facility: "FAC",
                control_id: &control_id,
            }),
            dedupe_window: None,
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

/// Stores [`REOPEN_MESSAGES`] messages in a new store in `dir` from 64
/// senders, processes them all if `process`, and closes the store.
fn prepare(runtime: &tokio::runtime::Runtime, dir: &std::path::Path, process: bool) {
    let store = Store::open(dir, StoreSettings::default()).expect("open store");
    let (raw, next) = (Arc::new(raw()), Arc::new(AtomicU64::new(0)));
    runtime.block_on(async {
        let senders: Vec<_> = (0..64)
            .map(|_| {
                tokio::spawn(send(
                    store.clone(),
                    raw.clone(),
                    next.clone(),
                    REOPEN_MESSAGES / 64,
                ))
            })
            .collect();
        for sender in senders {
            sender.await.expect("sender");
        }
    });
    if process {
        process_all(&store);
    }
}

/// Records every queued message of `adt`/0 as processed.
fn process_all(store: &Store) {
    loop {
        let batch = store.pending("adt", 0, 1024, |_| false).expect("pending");
        if batch.is_empty() {
            return;
        }
        let done: Vec<Processed> = batch
            .iter()
            .map(|message| Processed {
                message_id: message.id,
                received_at_ms: message.received_at_ms,
                control_id: None,
                message_type: None,
                status: MessageStatus::new(MessageState::Processed, 1_700_000_000_000),
                outputs: Vec::new(),
                dead_letter: None,
            })
            .collect();
        store.complete("adt", 0, &done).expect("complete");
    }
}

/// Copies a closed store's files.
fn copy_store(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("copy dir");
    for entry in std::fs::read_dir(from).expect("store dir") {
        let entry = entry.expect("store entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_store(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}

fn reopen(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let mut group = c.benchmark_group("store_reopen");
    group.sample_size(10);
    for (name, process) in [("all_processed", true), ("all_queued", false)] {
        let prepared = tempfile::tempdir().expect("temp dir");
        prepare(&runtime, prepared.path(), process);
        group.bench_function(BenchmarkId::new(name, REOPEN_MESSAGES), |b| {
            b.iter_custom(|opens| {
                let mut opening = Duration::ZERO;
                for _ in 0..opens {
                    let copy = tempfile::tempdir().expect("temp dir");
                    copy_store(prepared.path(), copy.path());
                    let started = Instant::now();
                    let store = Store::open(copy.path(), StoreSettings::default());
                    opening += started.elapsed();
                    let queued = store.expect("open").queue("adt", 0).expect("queue").len();
                    assert_eq!(queued as u64, if process { 0 } else { REOPEN_MESSAGES });
                }
                opening
            });
        });
    }
    group.finish();
}

/// The `adt` channel partitioned by PID-3.1 into `partitions`.
fn channel(partitions: u32) -> hl7wasm::config::ChannelConfig {
    let text = format!(
        "[[channels]]\nname = \"adt\"\npartition_by = \"PID-3.1\"\npartitions = {partitions}\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n"
    );
    let config = hl7wasm::config::parse(&text, "bench").expect("bench config");
    config.channels.into_iter().next().expect("one channel")
}

fn repartition(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let mut group = c.benchmark_group("store_repartition");
    group.sample_size(10);
    let prepared = tempfile::tempdir().expect("temp dir");
    prepare(&runtime, prepared.path(), false);
    // One partition: every message stays (a first start, checking each).
    // Four: the fixture's messages share one patient, whose PID-3.1 does
    // not hash to partition 0, so every message moves.
    for partitions in [1, 4] {
        let channel = channel(partitions);
        group.bench_function(BenchmarkId::new("queued", partitions), |b| {
            b.iter_custom(|runs| {
                let mut moving = Duration::ZERO;
                for _ in 0..runs {
                    let copy = tempfile::tempdir().expect("temp dir");
                    copy_store(prepared.path(), copy.path());
                    let store = Store::open(copy.path(), StoreSettings::default()).expect("open");
                    let started = Instant::now();
                    let moved = store
                        .repartition("adt", &channel.partitioning(), &[], partitions, |raw| {
                            channel.partition_of_raw(raw)
                        })
                        .expect("repartition")
                        .expect("a first start records the partitioning");
                    moving += started.elapsed();
                    let expected = if partitions == 1 { 0 } else { REOPEN_MESSAGES };
                    assert_eq!(moved.inbound as u64, expected);
                }
                moving
            });
        });
    }
    group.finish();
}

criterion_group!(benches, ingest, reopen, repartition);
criterion_main!(benches);

//! The store's sled writes in a loop, to weigh key layouts before building
//! one: per message an indexer thread inserts a 1 KB record, a dedupe entry
//! and a queue entry, and a pipeline thread reads the queue, the record,
//! writes a status and removes the queue entry, as `runtime/src/store`
//! did until the queues moved to memory. Variants: everything in one tree
//! (as the store was), one tree per key kind, no queue entries (the
//! pipeline told the ids in memory, as the store is now), both, and the
//! store as it is with a 48-byte record instead of the 1 KB one (the body
//! kept elsewhere, sled holding where), and the store as it is with the
//! records of 32 messages in one sled value (one entry per flush group).
//! Each prints msg/s and the CPU seconds it took. sled's cache is the
//! store's default, 64 MiB.
//!
//! Run: `cargo bench -p hl7wasm-runtime --bench sled_layout [-- MESSAGES]`
//! (default 100,000 per variant). The variants run in turns, twice.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

// The engine binary's allocator (see `runtime/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How the writes are laid out.
#[derive(Clone, Copy)]
struct Layout {
    name: &'static str,
    tree_per_kind: bool,
    queue_entries: bool,
    record_bytes: usize,
    /// How many messages' records share one sled value (a divisor of 64,
    /// the messages the pipeline is woken for).
    records_per_value: u64,
}

const LAYOUTS: [Layout; 6] = [
    Layout {
        name: "one tree with queue entries",
        tree_per_kind: false,
        queue_entries: true,
        record_bytes: 1024,
        records_per_value: 1,
    },
    Layout {
        name: "one tree per key kind",
        tree_per_kind: true,
        queue_entries: true,
        record_bytes: 1024,
        records_per_value: 1,
    },
    Layout {
        name: "no queue entries",
        tree_per_kind: false,
        queue_entries: false,
        record_bytes: 1024,
        records_per_value: 1,
    },
    Layout {
        name: "both",
        tree_per_kind: true,
        queue_entries: false,
        record_bytes: 1024,
        records_per_value: 1,
    },
    Layout {
        name: "no queue entries, body elsewhere",
        tree_per_kind: false,
        queue_entries: false,
        record_bytes: 48,
        records_per_value: 1,
    },
    Layout {
        name: "no queue entries, 32 records a value",
        tree_per_kind: false,
        queue_entries: false,
        record_bytes: 1024,
        records_per_value: 32,
    },
];

fn key(prefix: &[u8], id: u64) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

/// User plus system CPU time of this process so far, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn run(layout: Layout, messages: u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .flush_every_ms(None)
        .cache_capacity(64 << 20)
        .open()
        .unwrap();
    let tree = |name: &str| -> sled::Tree {
        if layout.tree_per_kind {
            db.open_tree(name).unwrap()
        } else {
            (*db).clone()
        }
    };
    let (records, dedupe, queue, statuses) = (tree("m"), tree("d"), tree("q"), tree("s"));
    let queue_prefix = b"q/\0\0\0\x05bench\0\0\0\0";
    // How many messages the indexer has written; the pipeline sleeps on it
    // as the store's worker sleeps until woken, so the CPU figure is the
    // work's and not a spinning thread's.
    let indexed = (Mutex::new(0u64), Condvar::new());
    let group = layout.records_per_value;
    let body = vec![b'x'; layout.record_bytes * group as usize];
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut done = 0;
            while done < messages {
                let upto = {
                    let (count, grew) = &indexed;
                    let count = count.lock().unwrap();
                    *grew.wait_while(count, |count| *count == done).unwrap()
                };
                let ids: Vec<u64> = if layout.queue_entries {
                    queue
                        .scan_prefix(queue_prefix)
                        .keys()
                        .take(64)
                        .map(|key| {
                            let key = key.unwrap();
                            u64::from_be_bytes(key[key.len() - 8..].try_into().unwrap())
                        })
                        .collect()
                } else {
                    (done..upto.min(done + 64)).collect()
                };
                for id in ids {
                    let value = records.get(key(b"m/", id / group * group)).unwrap();
                    assert!(value.is_some());
                    statuses
                        .insert(key(b"s/", id), &b"{\"state\":\"processed\"}"[..])
                        .unwrap();
                    if layout.queue_entries {
                        queue.remove(key(queue_prefix, id)).unwrap();
                    }
                    done += 1;
                }
            }
        });
        for id in 0..messages {
            if (id + 1) % group == 0 || id + 1 == messages {
                records
                    .insert(key(b"m/", id / group * group), &body[..])
                    .unwrap();
            }
            // Dedupe keys land all over the tree, as control ids do.
            let control_id = id.wrapping_mul(2_654_435_761) % 100_000_000;
            dedupe
                .insert(format!("d/bench/APP/FAC/{control_id:08}"), &[0u8; 16][..])
                .unwrap();
            if layout.queue_entries {
                queue.insert(key(queue_prefix, id), &[][..]).unwrap();
            }
            // Woken per 64 messages, as a batch of the store's worker.
            if (id + 1) % 64 == 0 || id + 1 == messages {
                *indexed.0.lock().unwrap() = id + 1;
                indexed.1.notify_one();
            }
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{:<38} {:>8.0} msg/s  {:>5.1} CPU s",
        layout.name,
        messages as f64 / seconds,
        cpu_seconds() - cpu_before
    );
}

fn main() {
    let messages = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(100_000);
    for _ in 0..2 {
        for layout in LAYOUTS {
            run(layout, messages);
        }
    }
}

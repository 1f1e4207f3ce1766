//! End to end through the engine: 64 MLLP sender connections → commit ACK →
//! the passthrough plugin → an MLLP receiving system and a file directory.
//! Prints the sustained rate (first send to last delivery) and the
//! ingest-to-delivery latency at the receiving system, then the same
//! pipeline with 1, 2, 4 and 8 partitions to show how partitions scale, and
//! last through a second channel (a `channel` destination) to the receiver.
//!
//! Run: `cargo bench -p hl7wasm-runtime --bench pipeline_e2e [-- MESSAGES]
//! [WORD]]` (default 20,000 messages per run; WORD keeps only the runs whose
//! label has it, such as `files` or `channel`). The engine, the senders and the
//! receiver share this machine's cores.

#[path = "../../tests/support/sink.rs"]
mod sink;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hl7wasm::config;
use hl7wasm::server::Server;
use sink::{Answer, Sink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 64;

// The engine binary's allocator (see `runtime/src/main.rs`), so that the
// engine measured here allocates as the shipped one does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

/// The sample ADT^A01 (1 KB) with MSH-10 carrying the send time in
/// microseconds and PID-3.1 spreading messages over 100 patients.
fn message(template: &str, sequence: usize) -> Vec<u8> {
    let control_id = format!("{}-{sequence}", now_micros());
    template
        .replacen("MSG00001", &control_id, 1)
        .replacen("123456^", &format!("PAT{:03}^", sequence % 100), 1)
        .into_bytes()
}

async fn sender(address: std::net::SocketAddr, template: String, first: usize, count: usize) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let mut buffer = vec![0u8; 4096];
    for sequence in first..first + count {
        let mut frame = vec![0x0b];
        frame.extend(message(&template, sequence));
        frame.extend([0x1c, 0x0d]);
        stream.write_all(&frame).await.unwrap();
        let mut read = 0;
        while !buffer[..read].ends_with(&[0x1c, 0x0d]) {
            read += stream.read(&mut buffer[read..]).await.unwrap();
        }
        assert!(
            buffer[..read].windows(4).any(|w| w == b"|AA|"),
            "AA expected"
        );
    }
}

struct Run {
    ingest_rate: f64,
    end_to_end_rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    files: usize,
}

/// Where the channel sends its messages.
#[derive(Clone, Copy, PartialEq)]
enum Route {
    /// To the MLLP sink.
    Sink,
    /// To the MLLP sink and to a file destination.
    SinkAndFiles,
    /// To a second channel (a `channel` destination), which sends them to
    /// the MLLP sink.
    ViaChannel,
}

async fn run(template: &str, messages: usize, partitions: u32, route: Route) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let out = dir.path().join("out");
    let to_sink = format!(
        "[[channels.destinations]]\nname = \"sink\"\nto = {{ type = \"mllp\", address = \"{}\" }}\n",
        sink.address
    );
    let destinations = match route {
        Route::Sink => to_sink,
        Route::SinkAndFiles => format!(
            "{to_sink}[[channels.destinations]]\nname = \"files\"\nto = {{ type = \"file\", dir = {out:?} }}\n"
        ),
        Route::ViaChannel => format!(
            "[[channels.destinations]]\nname = \"next\"\nto = {{ type = \"channel\", channel = \"second\" }}\n\n\
             [[channels]]\nname = \"second\"\npartition_by = \"PID-3.1\"\npartitions = {partitions}\n\
             [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n{to_sink}"
        ),
    };
    let text = format!(
        "[storage]\ndir = {:?}\n[plugins]\ndir = {:?}\ncache_dir = {:?}\n\n\
         [[channels]]\nname = \"bench\"\npartition_by = \"PID-3.1\"\npartitions = {partitions}\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\nmax_connections = 256\n\
         [[channels.pipeline]]\nplugin = \"passthrough\"\n{destinations}",
        dir.path().join("store"),
        dir.path().join("plugins"),
        dir.path().join("cache"),
    );
    let server = Server::start(config::parse(&text, "bench").unwrap())
        .await
        .unwrap();
    let address = server.address("bench").unwrap();
    let started = Instant::now();
    let per = messages / CONNECTIONS;
    let senders: Vec<_> = (0..CONNECTIONS)
        .map(|c| tokio::spawn(sender(address, template.to_string(), c * per, per)))
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    let ingested = started.elapsed();
    let total = per * CONNECTIONS;
    sink.wait_for(total, Duration::from_secs(600)).await;
    let delivered = started.elapsed();
    let latencies = sink_latencies(&sink);
    let files = if route == Route::SinkAndFiles {
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let count = std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0);
            if count >= total || Instant::now() > deadline {
                break count;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        0
    };
    let end = if files > 0 {
        started.elapsed()
    } else {
        delivered
    };
    server.shutdown().await;
    sink.stop();
    Run {
        ingest_rate: total as f64 / ingested.as_secs_f64(),
        end_to_end_rate: total as f64 / end.as_secs_f64(),
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        files,
    }
}

/// Milliseconds from each message's send (its MSH-10 prefix) to its
/// arrival at the sink, sorted.
fn sink_latencies(sink: &Sink) -> Vec<f64> {
    let state = sink.state.lock().unwrap();
    let mut latencies: Vec<f64> = state
        .accepted
        .iter()
        .zip(&state.accepted_at_us)
        .map(|(id, arrived)| {
            let sent: u128 = id.split('-').next().unwrap().parse().unwrap();
            arrived.saturating_sub(sent) as f64 / 1000.0
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    latencies
}

/// Waits for the kernel to write back what earlier runs left dirty (the
/// files run writes and deletes 40,000 files), so that no run pays for
/// the one before it.
fn settle_disk() {
    let synced = std::process::Command::new("sync").status();
    assert!(synced.is_ok_and(|status| status.success()), "sync failed");
    std::thread::sleep(Duration::from_millis(500));
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let messages: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(20_000);
    // A word that is not a number keeps only the runs whose label has it.
    let only = args
        .iter()
        .find(|a| a.parse::<usize>().is_err() && !a.starts_with('-'));
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/adt_a01.hl7"
    ))
    .unwrap();
    let runs = [
        ("MLLP sink + files, 8 partitions", 8, Route::SinkAndFiles),
        ("MLLP sink only, 1 partition(s)", 1, Route::Sink),
        ("MLLP sink only, 2 partition(s)", 2, Route::Sink),
        ("MLLP sink only, 4 partition(s)", 4, Route::Sink),
        ("MLLP sink only, 8 partition(s)", 8, Route::Sink),
        (
            "MLLP sink through a second channel, 4 partitions",
            4,
            Route::ViaChannel,
        ),
    ];
    // As `hl7wasm serve` does, so that the engine measured here grows its
    // heap as the shipped one does.
    hl7wasm::memory::opt_out_of_transparent_huge_pages().expect("THP opt-out");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        println!("{messages} messages, {CONNECTIONS} sync sender connections, passthrough plugin");
        for (label, partitions, route) in runs {
            if only.is_some_and(|word| !label.contains(word.as_str())) {
                continue;
            }
            settle_disk();
            let r = run(&template, messages, partitions, route).await;
            let files = match route {
                Route::SinkAndFiles => format!(", {} files", r.files),
                Route::Sink | Route::ViaChannel => String::new(),
            };
            println!(
                "{label}: ingest {:.0} msg/s, end to end {:.0} msg/s, latency p50 {:.1} ms p99 {:.1} ms{files}",
                r.ingest_rate, r.end_to_end_rate, r.p50_ms, r.p99_ms
            );
        }
    });
}

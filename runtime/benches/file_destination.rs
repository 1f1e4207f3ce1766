//! The file destination alone: 1 KB messages written as atomic files one at
//! a time (`FileConnector::deliver`, what every message cost before batches)
//! against batches of 64 (`Connector::deliver_batch`, what a delivery
//! worker with a backlog does). The two take turns in one run, as the disk
//! is shared and noisy, and the ratio is printed.
//!
//! Run: `cargo bench -p hl7wasm-runtime --bench file_destination [-- FILES]`
//! (default 3,200 files per turn, three turns each).

use std::time::Instant;

use hl7wasm::deliver::file::FileTargetConfig;
use hl7wasm::deliver::{Attempt, Connector, Delivery, TargetConfig};

const BATCH: usize = 64;
const TURNS: usize = 3;

fn connector(dir: &std::path::Path) -> Connector {
    Connector::new(&TargetConfig::File(FileTargetConfig {
        dir: dir.to_owned(),
        file_name: "{seq}.{ext}".to_owned(),
    }))
    .expect("a valid pattern")
}

fn delivery(body: &[u8], sequence: u64) -> Delivery<'_> {
    Delivery {
        channel: "bench",
        destination: "files",
        message_id: sequence,
        sequence,
        control_id: None,
        message_type: Some("ADT^A01"),
        content_type: "application/hl7-v2+er7",
        body,
    }
}

/// Writes `files` files into a fresh directory, `batch` at a time; returns
/// files per second.
async fn turn(files: usize, batch: usize, body: &[u8]) -> f64 {
    let dir = tempfile::tempdir_in(".").expect("a scratch directory");
    let mut connector = connector(dir.path());
    let start = Instant::now();
    for first in (0..files).step_by(batch) {
        let deliveries: Vec<Delivery<'_>> = (first..files.min(first + batch))
            .map(|sequence| delivery(body, sequence as u64))
            .collect();
        let attempts = connector.deliver_batch(&deliveries).await;
        assert!(attempts.iter().all(|a| *a == Attempt::Delivered));
        assert_eq!(attempts.len(), deliveries.len());
    }
    files as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let files: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(3_200);
    let body = vec![b'x'; 1024];
    println!("{files} files of 1 KB per turn, {TURNS} turns each, in ./ (the bench's directory)");
    let (mut single, mut batched) = (Vec::new(), Vec::new());
    for _ in 0..TURNS {
        single.push(turn(files, 1, &body).await);
        batched.push(turn(files, BATCH, &body).await);
    }
    let median = |rates: &mut Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let (single, batched) = (median(&mut single), median(&mut batched));
    println!("one at a time: {single:.0} files/s (median)");
    println!("batches of {BATCH}: {batched:.0} files/s (median)");
    println!("ratio: {:.2}x", batched / single);
}

//! The floor for durable commit ACKs on this machine: a minimal MLLP server
//! that writes each message to one log file, shares one `fdatasync` among
//! all the messages that arrived meanwhile (group commit), and answers AA
//! with MSA-2 set to MSH-10. Nothing else: no parsing beyond MSH-10, no
//! dedupe, no index, no queue, no metrics.
//!
//! ```sh
//! cargo run --release -p hl7wasm-runtime --example mllp_floor -- PORT LOG_FILE
//! ```
//!
//! `scripts/bench-ingest` runs `hl7wasm bench` against it at one and at 64
//! connections next to the engine, so that the engine's figures read as a
//! share of what the disk, the loopback round trips and the load generator
//! allow at that hour; `scripts/bench-ack-modes` uses it as a durable
//! receiving system.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The log's size: written once at the start, then overwritten in a ring,
/// as the engine's recycled log segments are, so that `fdatasync` has no
/// block allocation to commit.
const LOG_BYTES: u64 = 64 << 20;

/// Messages waiting for the next flush, and who waits for it.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    waiters: Vec<oneshot::Sender<()>>,
}

/// What the connections share with the flusher thread.
#[derive(Default)]
struct GroupCommit {
    pending: Mutex<Pending>,
    work: Condvar,
}

impl GroupCommit {
    /// Queues `message` for the next flush; the receiver fires once it is on
    /// disk.
    fn submit(&self, message: &[u8]) -> oneshot::Receiver<()> {
        let (done, flushed) = oneshot::channel();
        let mut pending = self.pending.lock().expect("no panics while locked");
        pending.bytes.extend_from_slice(message);
        pending.waiters.push(done);
        drop(pending);
        self.work.notify_one();
        flushed
    }

    /// Writes and syncs whatever is queued, for ever.
    fn run_flusher(&self, log: &File) -> std::io::Result<()> {
        let mut at = 0;
        loop {
            let Pending { bytes, waiters } = {
                let mut pending = self.pending.lock().expect("no panics while locked");
                while pending.waiters.is_empty() {
                    pending = self.work.wait(pending).expect("no panics while locked");
                }
                std::mem::take(&mut *pending)
            };
            if at + bytes.len() as u64 > LOG_BYTES {
                at = 0;
            }
            log.write_all_at(&bytes, at)?;
            at += bytes.len() as u64;
            log.sync_data()?;
            for waiter in waiters {
                let _ = waiter.send(());
            }
        }
    }
}

/// The ACK for `message`: AA with its MSH-10, framed.
fn ack(message: &[u8]) -> Vec<u8> {
    let header = message.split(|&b| b == b'\r').next().unwrap_or_default();
    let control_id = header.split(|&b| b == b'|').nth(9).unwrap_or_default();
    let mut ack = b"\x0bMSH|^~\\&|FLOOR|FLOOR|||20260101000000||ACK|".to_vec();
    ack.extend_from_slice(control_id);
    ack.extend_from_slice(b"|P|2.5\rMSA|AA|");
    ack.extend_from_slice(control_id);
    ack.extend_from_slice(b"\r\x1c\r");
    ack
}

/// Serves one sender: each frame is acknowledged once its flush is done.
async fn serve(mut stream: TcpStream, commit: Arc<GroupCommit>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buffered = Vec::with_capacity(8192);
    let mut chunk = vec![0; 65536];
    loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffered.extend_from_slice(&chunk[..read]);
        while let Some(end) = buffered.windows(2).position(|w| w == b"\x1c\r") {
            let frame: Vec<u8> = buffered.drain(..end + 2).collect();
            let start = frame.iter().position(|&b| b == 0x0b).map_or(0, |at| at + 1);
            let message = &frame[start.min(end)..end];
            commit
                .submit(message)
                .await
                .map_err(|_| std::io::Error::other("the flusher stopped"))?;
            stream.write_all(&ack(message)).await?;
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, path] = args.as_slice() else {
        panic!("usage: mllp_floor PORT LOG_FILE");
    };
    let port: u16 = port.parse().expect("PORT is a port number");
    let log = File::create(path)?;
    log.write_all_at(&vec![0; LOG_BYTES as usize], 0)?;
    log.sync_all()?;

    let commit = Arc::new(GroupCommit::default());
    let flusher = commit.clone();
    std::thread::spawn(move || {
        if let Err(error) = flusher.run_flusher(&log) {
            eprintln!("mllp_floor: the log failed: {error}");
            std::process::exit(1);
        }
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream, commit.clone()));
    }
}

//! Ensures that nothing ACKed is ever lost: the engine runs as a real child
//! process under concurrent senders (half of them pipelining eight messages
//! at a time) and is killed with SIGKILL at random moments, 20+ times,
//! while its channel also runs a plugin and delivers to a file destination. After each kill, every control ID that was ACKed AA
//! is in the store exactly once (resends after a restart are deduplicated)
//! and the queue keeps each sender's order. After the last restart, every
//! ACKed message reaches the destination (at least once: a delivery cut by
//! a kill is redone) and nothing was dead-lettered.

#[path = "support/process.rs"]
mod process;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hl7wasm::store::{DeadLetterFilter, Store, StoreSettings};
use process::{free_address, spawn_engine, wait_until_listening};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SENDERS: usize = 8;
const KILLS: usize = 22;

fn control_id(sender: usize, seq: u64) -> String {
    format!("S{sender}-{seq}")
}

fn message(control_id: &str) -> Vec<u8> {
    let body = format!(
        "MSH|^~\\&|CRASH|TEST|ENGINE|TEST|20240101||ADT^A01|{control_id}|P|2.5.1\rPID|1||{control_id}\r"
    );
    let mut framed = vec![0x0b];
    framed.extend_from_slice(body.as_bytes());
    framed.extend_from_slice(&[0x1c, 0x0d]);
    framed
}

/// Sends `control_ids` in one write (a pipelining sender, when there are
/// several) and returns MSA-1 of each ACK in order, up to the first
/// connection error.
async fn send(stream: &mut TcpStream, control_ids: &[String]) -> Vec<String> {
    let frames: Vec<u8> = control_ids.iter().flat_map(|id| message(id)).collect();
    if stream.write_all(&frames).await.is_err() {
        return Vec::new();
    }
    let mut codes = Vec::new();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    for control_id in control_ids {
        let end = loop {
            if let Some(end) = received.windows(2).position(|w| w == [0x1c, 0x0d]) {
                break end;
            }
            let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await;
            match read {
                Ok(Ok(read)) if read > 0 => received.extend_from_slice(&chunk[..read]),
                _ => return codes,
            }
        };
        let text = String::from_utf8_lossy(&received[1..end]).into_owned();
        received.drain(..end + 2);
        let ack = hl7v2::Message::parse(text.as_bytes()).expect("an HL7 ACK");
        assert_eq!(
            ack.get_raw("MSA-2"),
            Some(control_id.as_str()),
            "MSA-2 echoes the message's MSH-10, in order"
        );
        codes.push(ack.get_raw("MSA-1").unwrap_or_default().to_string());
    }
    codes
}

/// One sender: sends S<n>-0, S<n>-1, ... `window` at a time without
/// waiting for their ACKs (one at a time when `window` is 1); after any
/// error it reconnects and resends from the first message not ACKed, as a
/// real sender would.
async fn sender(
    index: usize,
    window: u64,
    address: SocketAddr,
    acked: Arc<Mutex<Vec<Vec<u64>>>>,
    stop: Arc<AtomicBool>,
) {
    let mut seq = 0u64;
    let mut connection: Option<TcpStream> = None;
    while !stop.load(Ordering::Relaxed) {
        let mut stream = match connection.take() {
            Some(stream) => stream,
            None => match TcpStream::connect(address).await {
                Ok(stream) => stream,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let ids: Vec<String> = (seq..seq + window).map(|n| control_id(index, n)).collect();
        let codes = send(&mut stream, &ids).await;
        for code in &codes {
            assert_eq!(code, "AA", "unexpected ACK code");
            acked.lock().unwrap()[index].push(seq);
            seq += 1;
        }
        if codes.len() == ids.len() {
            connection = Some(stream);
        }
    }
}

/// Opens the store of the killed engine and checks the guarantees.
fn verify(store_dir: &Path, acked: &[Vec<u64>]) -> usize {
    let store =
        Store::open(store_dir, StoreSettings::default()).expect("the store reopens after SIGKILL");
    let mut copies: HashMap<String, usize> = HashMap::new();
    let mut by_id = HashMap::new();
    for message in store.messages() {
        let message = message.expect("readable message");
        let control_id = message
            .control_id
            .clone()
            .expect("stored with its control id");
        *copies.entry(control_id.clone()).or_default() += 1;
        by_id.insert(message.id, control_id);
    }
    for (control_id, n) in &copies {
        assert_eq!(*n, 1, "{control_id} is stored {n} times");
    }
    for (sender, seqs) in acked.iter().enumerate() {
        for seq in seqs {
            let id = control_id(sender, *seq);
            assert!(
                copies.contains_key(&id),
                "{id} was ACKed AA but is not in the store"
            );
        }
    }
    // Ids are assigned in arrival order, so each sender's messages must
    // have increasing ids: checked over every stored message, since the
    // pipeline may already have taken some from the queue.
    let mut by_arrival: Vec<(&u64, &String)> = by_id.iter().collect();
    by_arrival.sort();
    let mut last_seq = [None; SENDERS];
    for (_, control_id) in by_arrival {
        let (sender, seq) = control_id[1..].split_once('-').unwrap();
        let (sender, seq): (usize, u64) = (sender.parse().unwrap(), seq.parse().unwrap());
        assert!(
            last_seq[sender] < Some(seq),
            "queue order broken at {control_id}"
        );
        last_seq[sender] = Some(seq);
    }
    copies.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_messages_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let out = dir.path().join("out");
    let address = free_address();
    let config = dir.path().join("crash.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\ndir = {store_dir:?}\n\n[plugins]\ndir = {:?}\ncache_dir = {:?}\n\n\
             [[channels]]\nname = \"crash\"\n\n[channels.source]\ntype = \"mllp\"\nlisten = \"{address}\"\n\
             [[channels.pipeline]]\nplugin = \"passthrough\"\n\
             [[channels.destinations]]\nname = \"files\"\nto = {{ type = \"file\", dir = {out:?}, file_name = \"{{control_id}}.{{ext}}\" }}\n",
            dir.path().join("plugins"),
            dir.path().join("plugin-cache"),
        ),
    )
    .unwrap();
    let log = dir.path().join("engine.log");

    let acked = Arc::new(Mutex::new(vec![Vec::new(); SENDERS]));
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS)
        .map(|index| {
            // Half the senders pipeline eight messages at a time.
            let window = if index % 2 == 0 { 1 } else { 8 };
            tokio::spawn(sender(index, window, address, acked.clone(), stop.clone()))
        })
        .collect();

    let started = Instant::now();
    let mut random = started.elapsed().as_nanos() as u64 | 1;
    let mut engine = spawn_engine(&config, Some(&log));
    for _ in 0..KILLS {
        wait_until_listening(address).await;
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        tokio::time::sleep(Duration::from_millis(50 + random % 400)).await;
        engine.kill().expect("SIGKILL the engine");
        engine.wait().unwrap();
        let snapshot = acked.lock().unwrap().clone();
        verify(&store_dir, &snapshot);
        engine = spawn_engine(&config, Some(&log));
    }
    wait_until_listening(address).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    let acked_ids: Vec<String> = acked
        .lock()
        .unwrap()
        .iter()
        .enumerate()
        .flat_map(|(sender, seqs)| seqs.iter().map(move |seq| control_id(sender, *seq)))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let missing = loop {
        let missing: Vec<&String> = acked_ids
            .iter()
            .filter(|id| !out.join(format!("{id}.hl7")).exists())
            .collect();
        if missing.is_empty() || Instant::now() > deadline {
            break missing.len();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    engine.kill().unwrap();
    engine.wait().unwrap();
    assert_eq!(missing, 0, "ACKed messages never delivered after the kills");
    let total_acked: usize = acked.lock().unwrap().iter().map(Vec::len).sum();
    let stored = verify(&store_dir, &acked.lock().unwrap());
    let store = Store::open(&store_dir, StoreSettings::default()).unwrap();
    let dead = store
        .dead_letters(&DeadLetterFilter::default(), 10)
        .unwrap();
    assert!(dead.is_empty(), "dead letters after the kills: {dead:?}");
    assert!(
        total_acked > KILLS * SENDERS,
        "too little traffic to mean anything: {total_acked} ACKed"
    );
    eprintln!(
        "{KILLS} kills in {:?}: {total_acked} messages ACKed AA, {stored} stored, none lost or duplicated, all delivered",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(240),
        "the test must stay bounded in time"
    );
}

//! An MLLP receiving system for destination tests: records every message it
//! gets and answers as the test says (AA, AE, AR, no answer), optionally
//! after a delay. Stands in for a hospital system outside the engine.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// MSA-1 = AA.
    Accept,
    /// MSA-1 = AE.
    Error,
    /// MSA-1 = AR.
    Reject,
}

/// What the sink shares with the test.
#[derive(Debug)]
pub struct SinkState {
    /// The answer it gives now.
    pub answer: Answer,
    /// The most random delay before each answer, in microseconds.
    pub max_delay_us: u64,
    /// The control id (MSH-10) of every message it answered AA, in arrival
    /// order. Only ids: keeping whole messages cost the end-to-end bench,
    /// which shares the engine's two cores, two copies of each.
    pub accepted: Vec<String>,
    /// When each of `accepted` arrived, in microseconds since the Unix
    /// epoch.
    pub accepted_at_us: Vec<u128>,
    /// How many messages it received in all.
    pub received: usize,
    /// How many connections it accepted.
    pub connections: usize,
    /// How many of them ended.
    pub closed: usize,
}

/// A running sink.
pub struct Sink {
    /// Its address.
    pub address: SocketAddr,
    /// Its state.
    pub state: Arc<Mutex<SinkState>>,
    task: JoinHandle<()>,
}

impl Sink {
    /// Listens on `address` (port 0 for any) and answers `answer`.
    pub async fn start(address: &str, answer: Answer) -> Sink {
        let listener = TcpListener::bind(address).await.expect("sink binds");
        let address = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(SinkState {
            answer,
            max_delay_us: 0,
            accepted: Vec::new(),
            accepted_at_us: Vec::new(),
            received: 0,
            connections: 0,
            closed: 0,
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                shared.lock().unwrap().connections += 1;
                let state = shared.clone();
                tokio::spawn(async move {
                    serve(stream, state.clone()).await;
                    state.lock().unwrap().closed += 1;
                });
            }
        });
        Sink {
            address,
            state,
            task,
        }
    }

    /// Changes the answer.
    pub fn answer(&self, answer: Answer) {
        self.state.lock().unwrap().answer = answer;
    }

    /// The control ids (MSH-10) it accepted, in order.
    pub fn accepted_ids(&self) -> Vec<String> {
        self.state.lock().unwrap().accepted.clone()
    }

    /// The sequences of the accepted messages whose control IDs read
    /// `<patient>-<sequence>`, by patient, in the order accepted.
    pub fn sequences_by_patient(&self) -> std::collections::HashMap<String, Vec<usize>> {
        let mut seen: std::collections::HashMap<String, Vec<usize>> = Default::default();
        for id in self.accepted_ids() {
            let (patient, sequence) = id.split_once('-').expect("<patient>-<sequence>");
            seen.entry(patient.to_string())
                .or_default()
                .push(sequence.parse().expect("a numeric sequence"));
        }
        seen
    }

    /// Waits until it has accepted `count` messages, or panics after `within`.
    pub async fn wait_for(&self, count: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.state.lock().unwrap().accepted.len() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the sink accepted {} of {count} messages within {within:?}",
                self.state.lock().unwrap().accepted.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops listening and drops open connections' acceptor.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// MSH-10 of a message.
pub fn control_id(message: &[u8]) -> String {
    hl7v2::Message::parse_header(message)
        .ok()
        .and_then(|m| m.header().control_id().map(str::to_string))
        .unwrap_or_default()
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<SinkState>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let Ok(read) = stream.read(&mut chunk).await else {
            return;
        };
        if read == 0 {
            return;
        }
        buffer.extend_from_slice(&chunk[..read]);
        while let Some(end) = buffer.windows(2).position(|w| w == [0x1c, 0x0d]) {
            let start = buffer[..end].iter().position(|&b| b == 0x0b).unwrap_or(0);
            let control_id = control_id(&buffer[start + 1..end]);
            buffer.drain(..end + 2);
            let (answer, delay) = {
                let mut state = state.lock().unwrap();
                state.received += 1;
                let delay = match state.max_delay_us {
                    0 => 0,
                    max => rand_below(max),
                };
                (state.answer, delay)
            };
            if delay > 0 {
                tokio::time::sleep(Duration::from_micros(delay)).await;
            }
            let code = match answer {
                Answer::Accept => "AA",
                Answer::Error => "AE",
                Answer::Reject => "AR",
            };
            if answer == Answer::Accept {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_micros();
                let mut state = state.lock().unwrap();
                state.accepted.push(control_id.clone());
                state.accepted_at_us.push(now);
            }
            let ack = format!(
                "\x0bMSH|^~\\&|SINK|SINK|||20240101||ACK|A{control_id}|P|2.5.1\rMSA|{code}|{control_id}\r\x1c\r",
            );
            if stream.write_all(ack.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

/// A random number below `bound` (xorshift on the clock; tests need
/// variety, not quality).
fn rand_below(bound: u64) -> u64 {
    use std::cell::Cell;
    thread_local!(static SEED: Cell<u64> = Cell::new(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    ));
    SEED.with(|seed| {
        let mut x = seed.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        seed.set(x);
        x % bound
    })
}

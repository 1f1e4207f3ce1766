//! The engine as a real child process: `hl7wasm serve` on a config file,
//! for tests that kill it or read what it writes.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

/// A loopback address nothing listens on.
pub fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Starts `hl7wasm serve --config <config>`, its stderr appended to `log`
/// (or dropped).
pub fn spawn_engine(config: &Path, log: Option<&Path>) -> Child {
    let stderr = match log {
        Some(log) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        ),
        None => Stdio::null(),
    };
    Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start hl7wasm serve")
}

/// Waits until something accepts connections on `address`, at most 30 s.
pub async fn wait_until_listening(address: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(address).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the engine did not start listening"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

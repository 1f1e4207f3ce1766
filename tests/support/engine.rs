//! Starting the engine in-process on 127.0.0.1:0, and talking MLLP to it.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::net::SocketAddr;
use std::time::Duration;

use hl7wasm::config;
use hl7wasm::server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A started engine with its store in a temporary directory.
pub struct TestEngine {
    /// The running server.
    pub server: Server,
    /// The demo channel's address.
    pub address: SocketAddr,
    /// The store directory, removed on drop.
    pub dir: tempfile::TempDir,
}

/// Starts the engine with one channel `test`, whose `[channels.source]`
/// table gets `source_extra` and whose `[[channels]]` table gets
/// `channel_extra` (TOML lines).
pub async fn start(channel_extra: &str, source_extra: &str) -> TestEngine {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[storage]\ndir = {:?}\n\n[[channels]]\nname = \"test\"\n{channel_extra}\n\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n{source_extra}\n",
        dir.path().join("store")
    );
    let config = config::parse(&text, "test config").expect("valid test config");
    let server = Server::start(config).await.expect("engine starts");
    let address = server.address("test").unwrap();
    TestEngine {
        server,
        address,
        dir,
    }
}

/// Wraps a payload in an MLLP block.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut framed = vec![0x0b];
    framed.extend_from_slice(payload);
    framed.extend_from_slice(&[0x1c, 0x0d]);
    framed
}

/// Reads one MLLP block's payload (or `None` when the server closed).
pub async fn read_block(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut block = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut byte))
            .await
            .expect("the server answers within 20 s")
            .ok()?;
        if read == 0 {
            return None;
        }
        block.push(byte[0]);
        if block.ends_with(&[0x1c, 0x0d]) {
            let start = block
                .iter()
                .position(|&b| b == 0x0b)
                .expect("a start block");
            return Some(block[start + 1..block.len() - 2].to_vec());
        }
    }
}

/// Sends one payload in a block and returns the reply block's text.
pub async fn exchange(stream: &mut TcpStream, payload: &[u8]) -> String {
    stream.write_all(&frame(payload)).await.unwrap();
    String::from_utf8(read_block(stream).await.expect("an ACK")).unwrap()
}

/// A field of an HL7 text, by terser path.
pub fn field(message: &str, path: &str) -> String {
    hl7v2::Message::parse(message.as_bytes())
        .expect("parsable ACK")
        .get(path)
        .map(|v| v.into_owned())
        .unwrap_or_default()
}

/// The control IDs of the stored messages, in store order.
pub fn stored_control_ids(server: &Server) -> Vec<String> {
    server
        .store
        .messages()
        .map(|message| message.unwrap().control_id.unwrap())
        .collect()
}

/// MSA-1 and MSA-2 of each ACK in a batch of ACKs.
pub fn batch_answers(batch: &hl7v2::Batch<'_>) -> Vec<(String, String)> {
    batch
        .messages
        .iter()
        .map(|ack| {
            let ack = std::str::from_utf8(ack).expect("a UTF-8 ACK");
            (field(ack, "MSA-1"), field(ack, "MSA-2"))
        })
        .collect()
}

/// A minimal message with the given control id and MSH-2 and extra MSH fields.
pub fn message(control_id: &str) -> String {
    format!(
        "MSH|^~\\&|SENDER|FAC|RECV|RFAC|20240101120000||ADT^A01^ADT_A01|{control_id}|P|2.5.1\rPID|1||42^^^H^MR||DOE^JANE\r"
    )
}

/// Starts the engine from `channels` (`[[channels]]` tables in TOML), with
/// its store, plugin directory and plugin cache inside `dir`. The address
/// is that of the channel named `test`.
pub async fn start_channels(dir: tempfile::TempDir, channels: &str) -> TestEngine {
    let config =
        config::parse(&config_text(&dir, channels), "test config").expect("valid test config");
    started(dir, config).await
}

/// As [`start_channels`], from a configuration file in `dir` (written by
/// [`write_config`]), which the engine can reload.
pub async fn start_from_file(dir: tempfile::TempDir, channels: &str) -> TestEngine {
    let path = write_config(&dir, channels);
    let config = config::load_file(&path).expect("valid test config");
    started(dir, config).await
}

/// Writes `dir`'s configuration file with `channels` and the store and
/// plugin directories inside `dir`; returns its path.
pub fn write_config(dir: &tempfile::TempDir, channels: &str) -> std::path::PathBuf {
    let path = dir.path().join("hl7wasm.toml");
    std::fs::write(&path, config_text(dir, channels)).unwrap();
    path
}

fn config_text(dir: &tempfile::TempDir, channels: &str) -> String {
    format!(
        "[storage]\ndir = {:?}\n\n[plugins]\ndir = {:?}\ncache_dir = {:?}\n\n{channels}",
        dir.path().join("store"),
        dir.path().join("plugins"),
        dir.path().join("plugin-cache"),
    )
}

async fn started(dir: tempfile::TempDir, config: config::Config) -> TestEngine {
    let server = Server::start(config).await.expect("engine starts");
    let address = server.address("test").expect("a channel named test");
    TestEngine {
        server,
        address,
        dir,
    }
}

/// Copies the plugin component at `path` into `dir`'s plugin directory.
pub fn install_plugin(dir: &tempfile::TempDir, path: &std::path::Path) {
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(path, plugins.join(path.file_name().unwrap())).unwrap();
}

impl TestEngine {
    /// Shuts the engine down and starts it again on the same directory.
    pub async fn restart(self, channels: &str) -> TestEngine {
        self.server.shutdown().await;
        start_channels(self.dir, channels).await
    }
}

/// Polls `condition` every 20 ms until it holds, or panics after `within`
/// with `what`.
pub async fn eventually(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

//! Ensures the plugin directory is watched: a rebuilt plugin dropped into
//! it while traffic flows becomes the version of every stage configured as
//! `latest`, and a broken file dropped next to it is refused while the
//! running version keeps working.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use engine::{TestEngine, eventually, exchange, field, message, start_channels};
use tokio::net::TcpStream;

const PATIENCE: Duration = Duration::from_secs(20);

/// Sends `id` and returns the sha256 of the plugin build that processed it.
async fn processed_by(engine: &TestEngine, id: &str) -> String {
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let ack = exchange(&mut stream, message(id).as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    let store = &engine.server.store;
    let stored = store
        .messages()
        .map(Result::unwrap)
        .find(|m| m.control_id.as_deref() == Some(id))
        .expect("stored");
    let mut status = None;
    eventually(PATIENCE, "the message is processed", || {
        status = store.status(stored.id).unwrap();
        status.is_some()
    })
    .await;
    status.unwrap().stages[0].sha256.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_build_goes_live_and_a_broken_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    let config = "[[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
                  [[channels.pipeline]]\nplugin = \"passthrough\"\n";
    let engine = start_channels(dir, config).await;
    // start_channels leaves the watch interval at its default: 2 s.
    let bundled = processed_by(&engine, "W1").await;

    let rebuilt = support::rebuilt(&support::plugin_bytes("passthrough"));
    let rebuilt_hash = hl7wasm::plugin::content_hash(&rebuilt);
    assert_ne!(rebuilt_hash, bundled);
    std::fs::write(plugins.join("broken.wasm"), b"\0asm not really").unwrap();
    std::fs::write(plugins.join("passthrough-rebuilt.wasm"), &rebuilt).unwrap();

    let mut sequence = 2;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let hash = processed_by(&engine, &format!("W{sequence}")).await;
        if hash == rebuilt_hash {
            break;
        }
        assert_eq!(hash, bundled, "only the two builds ever run");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dropped build never went live"
        );
        sequence += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let registry = engine.server.registry.clone().unwrap();
    assert_eq!(registry.versions("passthrough").len(), 2);
    assert!(
        registry.all().iter().all(|v| v.info.name != "broken"),
        "the broken file is not loaded"
    );
    let metrics = engine.server.metrics.encode();
    assert!(
        metrics.contains("hl7wasm_plugin_files_refused_total 1\n"),
        "the refusal is counted once:\n{metrics}"
    );
}

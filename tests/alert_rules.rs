//! Ensures that the alert rules raise and clear alerts in a running engine:
//! an AR rate over the threshold shows in the alert store and is POSTed to
//! the webhook as "raised", then as "cleared" once good messages bring the
//! rate down; a message stuck in an inbound queue, or held in a destination's
//! queue by an outage, raises `queue_age`; a channel that receives nothing
//! raises `inbound_silence`.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/mod.rs"]
mod support;
#[path = "support/webhook.rs"]
mod webhook;

use std::time::Duration;

use engine::{eventually, exchange, field, install_plugin, message, start_channels};
use tokio::net::TcpStream;
use webhook::{posted, webhook};

const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn ar_rate_over_ten_percent_is_raised_posted_and_cleared() {
    let (hook, posts) = webhook().await;
    let channels = format!(
        "[[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\n\
         [alerts]\ninterval_secs = 1\nwindow_secs = 3\nrate_min_events = 5\n\
         webhook_url = \"http://{hook}/hook\"\nwebhook_timeout_secs = 2\n"
    );
    let engine = start_channels(tempfile::tempdir().unwrap(), &channels).await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let alerts = &engine.server.alerts;
    let is_active = || {
        alerts
            .active()
            .iter()
            .any(|alert| alert.kind == "ack_reject_rate" && alert.channel == "test")
    };
    // Frames without MSH (each answered AR) until the evaluator, sampling
    // every second over a 3 s window, sees the rate: a fixed burst could
    // fall between its samples on a busy machine.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !is_active() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the AR rate alert is raised"
        );
        let ack = exchange(&mut stream, b"PID|1||42\rPV1|1|I\r").await;
        assert_eq!(field(&ack, "MSA-1"), "AR");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eventually(PATIENCE, "the webhook gets the raise", || {
        !posted(&posts, "ack_reject_rate", "raised").is_empty()
    })
    .await;
    let raised = &posted(&posts, "ack_reject_rate", "raised")[0];
    assert_eq!(raised["channel"], "test");
    assert!(raised["raised_at_ms"].as_u64().unwrap() > 0);
    assert!(
        raised["text"].as_str().unwrap().contains("were AR"),
        "{raised}"
    );

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut sent = 0;
    while posted(&posts, "ack_reject_rate", "cleared").is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no clear posted");
        let ack = exchange(&mut stream, message(&format!("GOOD-{sent}")).as_bytes()).await;
        assert_eq!(field(&ack, "MSA-1"), "AA");
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!is_active(), "the alert is cleared");
    let cleared = &posted(&posts, "ack_reject_rate", "cleared")[0];
    assert_eq!(cleared["raised_at_ms"], raised["raised_at_ms"]);
    engine.server.shutdown().await;
}

/// Waits until channel `test` has a `queue_age` alert that names `queue`.
async fn queue_age_raised(engine: &engine::TestEngine, queue: &str) {
    eventually(PATIENCE, "the queue age alert is raised", || {
        engine.server.alerts.active().iter().any(|alert| {
            alert.kind == "queue_age" && alert.channel == "test" && alert.text.contains(queue)
        })
    })
    .await;
}

#[tokio::test]
async fn a_message_stuck_in_the_inbound_queue_raises_queue_age() {
    let dir = tempfile::tempdir().unwrap();
    install_plugin(&dir, &support::plugin_path("hostile"));
    let channels = "[[channels]]\nname = \"test\"\n\
         retry = { initial_delay_ms = 100, max_delay_ms = 200, max_retries = 1000, jitter = 0.0 }\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.pipeline]]\nplugin = \"hostile\"\n\n\
         [alerts]\ninterval_secs = 1\nqueue_age_max_secs = 1\n";
    let engine = start_channels(dir, channels).await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let stuck = format!("{}NTE|1||HOSTILE:retry\r", message("STUCK-1"));
    let ack = exchange(&mut stream, stuck.as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    queue_age_raised(&engine, "in the inbound queue").await;
    engine.server.shutdown().await;
}

/// Ensures that a message held in a destination's queue by an outage (its
/// attempts cannot reach the destination, so they do not run out) raises
/// `queue_age` too.
#[tokio::test]
async fn a_message_held_by_an_unreachable_destination_raises_queue_age() {
    let nowhere = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let channels = format!(
        "[[channels]]\nname = \"test\"\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"down\"\n\
         to = {{ type = \"mllp\", address = \"{nowhere}\", connect_timeout_secs = 1 }}\n\
         retry = {{ initial_delay_ms = 50, max_delay_ms = 100, max_retries = 1, jitter = 0.0 }}\n\n\
         [alerts]\ninterval_secs = 1\nqueue_age_max_secs = 1\n"
    );
    let engine = start_channels(tempfile::tempdir().unwrap(), &channels).await;
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let ack = exchange(&mut stream, message("HELD-1").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    queue_age_raised(&engine, "in destination \"down\"'s queue").await;
    assert_eq!(
        engine
            .server
            .store
            .outbound_depth("test", "down", 0)
            .unwrap(),
        1,
        "the message waits for the destination"
    );
    engine.server.shutdown().await;
}

/// Ensures that a channel with `silence_alert_secs` that receives nothing
/// raises `inbound_silence`, that a message clears it, and that a channel
/// an administrator stopped does not raise it.
#[tokio::test]
async fn a_silent_feed_raises_inbound_silence_until_a_message_arrives() {
    let channels = "[[channels]]\nname = \"test\"\nsilence_alert_secs = 2\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels]]\nname = \"stopped\"\nsilence_alert_secs = 1\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels]]\nname = \"unwatched\"\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\n\
         [alerts]\ninterval_secs = 1\n";
    let dir = tempfile::tempdir().unwrap();
    // An administrator stopped this channel before the engine started.
    let store_dir = dir.path().join("store");
    let store = hl7wasm::store::Store::open(&store_dir, Default::default()).unwrap();
    store.set_channel_state("stopped", Some("stopped")).unwrap();
    drop(store);
    let engine = start_channels(dir, channels).await;
    let silent = |channel: &str| {
        engine
            .server
            .alerts
            .active()
            .iter()
            .any(|alert| alert.kind == "inbound_silence" && alert.channel == channel)
    };
    eventually(PATIENCE, "the silence alert is raised", || silent("test")).await;
    let text = engine
        .server
        .alerts
        .active()
        .into_iter()
        .find(|alert| alert.kind == "inbound_silence")
        .unwrap()
        .text;
    assert!(text.starts_with("no message received for "), "{text}");

    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let ack = exchange(&mut stream, message("AWAKE-1").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    eventually(PATIENCE, "a message clears the silence alert", || {
        !silent("test")
    })
    .await;
    assert!(!silent("stopped"), "a stopped channel is silent on purpose");
    assert!(!silent("unwatched"), "no threshold, no alert");
    engine.server.shutdown().await;
}

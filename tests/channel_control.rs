//! Ensures that an operator controls a channel over the admin API: a
//! paused channel still ACKs but delivers nothing until resumed, then
//! everything in order; a stopped channel refuses connections and closes
//! open ones, and takes messages again once started; a restart keeps the
//! state an operator left a channel in; the channel view shows the state
//! and rates; a viewer may not act; and the `channels pause` CLI does the
//! same.

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;
#[path = "support/sink.rs"]
mod sink;

use std::net::SocketAddr;
use std::time::Duration;

use admin::Api;
use engine::{TestEngine, exchange, field, message, read_block, start_channels};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sink::{Answer, Sink};
use tokio::net::TcpStream;

const PATIENCE: Duration = Duration::from_secs(20);
const VIEWER: &str = "viewer-token-0123456789";
const OPERATOR: &str = "operator-token-0123456789";

/// An engine with the admin API and a channel `test` delivering to `sink`.
async fn start(sink: SocketAddr) -> TestEngine {
    start_channels(tempfile::tempdir().unwrap(), &config(sink)).await
}

/// The configuration of [`start`].
fn config(sink: SocketAddr) -> String {
    format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntokens = [\n\
         {{ name = \"grafana\", token = \"{VIEWER}\", role = \"viewer\" }},\n\
         {{ name = \"oncall\", token = \"{OPERATOR}\", role = \"operator\" }},\n]\n\n\
         [[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"sink\"\n\
         to = {{ type = \"mllp\", address = \"{sink}\", ack_timeout_secs = 2, connect_timeout_secs = 1 }}\n\
         retry = {{ initial_delay_ms = 50, max_delay_ms = 200, max_retries = 5, jitter = 0.0 }}\n"
    )
}

/// POSTs `action` for channel `test` with `token`.
async fn act(api: &Api, action: &str, token: &str) -> (StatusCode, Value) {
    api.post(
        &format!("/api/v1/channels/test/{action}"),
        token,
        &json!({}),
    )
    .await
}

/// Sends each id as a message on one connection, each ACKed AA.
async fn send(address: SocketAddr, ids: &[&str]) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    for id in ids {
        let ack = exchange(&mut stream, message(id).as_bytes()).await;
        assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    }
}

/// Waits until a new connection to `address` is refused.
async fn until_refused(address: SocketAddr) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while TcpStream::connect(address).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connections still accepted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Connects to `address` once it accepts again.
async fn until_accepted(address: SocketAddr) -> TcpStream {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Ok(stream) = TcpStream::connect(address).await {
            return stream;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "connections still refused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_paused_channel_acks_and_delivers_in_order_once_resumed() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    let (status, body) = act(&api, "pause", OPERATOR).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["previous"].as_str(), body["state"].as_str()),
        (Some("running"), Some("paused"))
    );
    assert_eq!(
        api.ok("/api/v1/channels", VIEWER).await[0]["state"],
        "paused"
    );

    let ids = ["P1", "P2", "P3", "P4", "P5"];
    send(engine.address, &ids).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sink.state.lock().unwrap().received,
        0,
        "nothing delivered while paused"
    );
    let view = api.ok("/api/v1/channels/test", VIEWER).await;
    assert_eq!(view["state"], "paused");
    let rates = &view["rates"];
    assert!(rates["received"].as_f64().unwrap() > 0.0, "{view}");
    assert!(rates["acked"].as_f64().unwrap() > 0.0, "{view}");
    assert_eq!(rates["delivered"].as_f64(), Some(0.0), "{view}");
    assert!(rates["window_secs"].as_f64().unwrap() <= 60.0, "{view}");

    let (status, body) = act(&api, "resume", OPERATOR).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("running"))
    );
    sink.wait_for(ids.len(), PATIENCE).await;
    assert_eq!(sink.accepted_ids(), ids);
    let view = api.ok("/api/v1/channels/test", VIEWER).await;
    assert!(view["rates"]["delivered"].as_f64().unwrap() > 0.0, "{view}");
}

#[tokio::test]
async fn a_stopped_channel_refuses_connections_until_started() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    let mut open = TcpStream::connect(engine.address).await.unwrap();
    let ack = exchange(&mut open, message("S1").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    sink.wait_for(1, PATIENCE).await;

    let (status, body) = act(&api, "stop", OPERATOR).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("stopped")),
        "{body}"
    );
    until_refused(engine.address).await;
    assert_eq!(
        read_block(&mut open).await,
        None,
        "the open connection is closed"
    );
    assert_eq!(
        api.ok("/api/v1/channels/test", VIEWER).await["state"],
        "stopped"
    );
    let (status, body) = act(&api, "resume", OPERATOR).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("channel_stopped"))
    );

    let (status, body) = act(&api, "start", OPERATOR).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (StatusCode::OK, Some("running")),
        "{body}"
    );
    let mut stream = until_accepted(engine.address).await;
    let ack = exchange(&mut stream, message("S2").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    sink.wait_for(2, PATIENCE).await;
    assert_eq!(sink.accepted_ids(), ["S1", "S2"]);
}

#[tokio::test]
async fn a_restart_keeps_the_state_an_operator_left() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let (status, _) = act(&Api::of(&engine), "stop", OPERATOR).await;
    assert_eq!(status, StatusCode::OK);

    let engine = engine.restart(&config(sink.address)).await;
    let api = Api::of(&engine);
    assert_eq!(
        api.ok("/api/v1/channels/test", VIEWER).await["state"],
        "stopped"
    );
    until_refused(engine.address).await;

    let (status, _) = act(&api, "start", OPERATOR).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = act(&api, "pause", OPERATOR).await;
    assert_eq!(status, StatusCode::OK);
    let engine = engine.restart(&config(sink.address)).await;
    let api = Api::of(&engine);
    assert_eq!(
        api.ok("/api/v1/channels/test", VIEWER).await["state"],
        "paused"
    );
    send(engine.address, &["R1"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.accepted_ids().is_empty(), "paused: nothing delivered");

    let (status, _) = act(&api, "resume", OPERATOR).await;
    assert_eq!(status, StatusCode::OK);
    sink.wait_for(1, PATIENCE).await;
    let engine = engine.restart(&config(sink.address)).await;
    assert_eq!(
        Api::of(&engine).ok("/api/v1/channels/test", VIEWER).await["state"],
        "running"
    );
}

#[tokio::test]
async fn only_operators_control_channels() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    for action in ["stop", "start", "pause", "resume"] {
        let (status, body) = act(&api, action, VIEWER).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
    }
    assert_eq!(
        api.ok("/api/v1/channels/test", VIEWER).await["state"],
        "running"
    );
    let (status, _) = api
        .post("/api/v1/channels/nope/stop", OPERATOR, &json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    send(engine.address, &["V1"]).await;
    sink.wait_for(1, PATIENCE).await;
}

#[tokio::test]
async fn the_channels_cli_pauses_a_channel() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let url = Api::of(&engine).base;
    let run = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"));
        command
            .args(args)
            .args(["--api", &url, "--token", OPERATOR]);
        tokio::task::spawn_blocking(move || command.output().unwrap())
    };
    let output = run(&["channels", "pause", "test"]).await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["state"], "paused", "{answer}");
    let output = run(&["channels", "test"]).await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let view: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(view["state"], "paused", "{view}");
}

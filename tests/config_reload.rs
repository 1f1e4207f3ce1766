//! Ensures that `POST /api/v1/config/reload` applies what changed in the
//! configuration file's channels while the engine runs, over real HTTP,
//! MLLP and sled:
//!
//! - a new channel starts, a removed one stops (its queued work goes to
//!   the dead-letter queue as `not_configured`), changed ones (an MLLP and
//!   an HTTP source, on given ports) restart on the same ports with their
//!   new destinations, and an unchanged one keeps running: its sender's
//!   open connection goes on working;
//! - a file that does not load, a change to an engine-wide section, the
//!   first pipeline of an engine started without plugins and a
//!   destination that cannot be built change nothing, each with its own
//!   answer; a channel that cannot bind is reported, the rest is applied,
//!   and the next reload starts it;
//! - the admin API's tokens and the alert rules change by a reload
//!   without a restart of any channel: a replaced token is refused at
//!   once, its successor accepted, and lower thresholds raise their
//!   alerts (the dead-letter depth, checked by the channel, and the disk
//!   space, by the evaluator at its new interval), posted to a webhook
//!   the reload added;
//! - a reload whose pipelines would hold more plugin instances than the
//!   pool sized at start has room for asks for a restart;
//! - a reload does not wait out a destination that never answers: the
//!   message in flight is sent again by the restarted channel;
//! - a reload that would change partitions waits while a reprocess places
//!   messages by the partitioning in force;
//! - the embedded default has no file to reload;
//! - a dry run (`?dry_run=true`, `hl7wasm config reload --dry-run`) gives
//!   the report a reload would, and changes nothing;
//! - every reload is counted by its result in `/metrics`;
//! - `hl7wasm config reload` does the same as the API call.
//!
//! The receiving systems are outside the engine, so the tests stand them
//! in (support/sink.rs).

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;
#[path = "support/sink.rs"]
mod sink;
#[path = "support/webhook.rs"]
mod webhook;

use std::net::SocketAddr;
use std::time::Duration;

use admin::Api;
use engine::{
    TestEngine, eventually, exchange, field, message, start_channels, start_from_file, write_config,
};
use hl7wasm::running::ReloadError;
use hl7wasm::store::{DeadLetterFilter, DeadLetterReason};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sink::{Answer, Sink};
use tokio::net::TcpStream;

const PATIENCE: Duration = Duration::from_secs(20);
const VIEWER: &str = "viewer-token-0123456789";
const OPERATOR: &str = "operator-token-0123456789";

/// The admin section, the same in every version of the file.
fn admin() -> String {
    format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntokens = [\n\
         {{ name = \"grafana\", token = \"{VIEWER}\", role = \"viewer\" }},\n\
         {{ name = \"oncall\", token = \"{OPERATOR}\", role = \"operator\" }},\n]\n\n"
    )
}

/// An MLLP channel `name` on any port, delivering to `to`.
fn channel(name: &str, to: impl std::fmt::Display) -> String {
    format!(
        "[[channels]]\nname = \"{name}\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"out\"\n\
         to = {{ type = \"mllp\", address = \"{to}\", ack_timeout_secs = 2, connect_timeout_secs = 1 }}\n\
         retry = {{ initial_delay_ms = 50, max_delay_ms = 200, max_retries = 100000, jitter = 0.0 }}\n\n"
    )
}

/// `channel` listening on `address` instead of any port.
fn listening_on(address: SocketAddr, channel: String) -> String {
    channel.replacen("127.0.0.1:0", &address.to_string(), 1)
}

/// An HTTP source channel `name` on `address`, delivering to `to`.
fn http_channel(name: &str, address: SocketAddr, to: impl std::fmt::Display) -> String {
    listening_on(address, channel(name, to)).replacen("type = \"mllp\"", "type = \"http\"", 1)
}

/// Posts `control_id` to the HTTP source at `address`; the ACK must be AA.
async fn post_to(address: SocketAddr, control_id: &str) {
    let body = Some(("x-application/hl7-v2+er7", message(control_id).into_bytes()));
    let (status, ack) = Api::at(address)
        .call(reqwest::Method::POST, "/", None, body)
        .await;
    let ack = String::from_utf8(ack).unwrap();
    assert_eq!(status, StatusCode::OK, "{ack}");
    assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
}

/// A loopback address nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Sends `control_id` on `stream`; the ACK must be AA.
async fn send_on(stream: &mut TcpStream, control_id: &str) {
    let ack = exchange(stream, message(control_id).as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
}

/// Sends `control_id` to channel `name` on a new connection.
async fn send_to(engine: &TestEngine, name: &str, control_id: &str) {
    let address = engine.server.address(name).expect("the channel listens");
    send_on(&mut TcpStream::connect(address).await.unwrap(), control_id).await;
}

/// Sends message `S-<sent>` to channel `test`, which must still listen
/// where it did at start, and waits until the sink has `sent` messages.
async fn still_serves(engine: &TestEngine, sink: &Sink, sent: usize) {
    send_to(engine, "test", &format!("S-{sent}")).await;
    sink.wait_for(sent, PATIENCE).await;
    assert_eq!(engine.server.address("test"), Some(engine.address));
}

async fn reload(api: &Api, token: &str) -> (StatusCode, Value) {
    api.post("/api/v1/config/reload", token, &json!({})).await
}

fn channel_names(channels: &Value) -> Vec<&str> {
    let channels = channels.as_array().expect("a list of channels");
    channels
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_starts_stops_and_restarts_channels_and_leaves_the_rest_running() {
    let (first, second) = (
        Sink::start("127.0.0.1:0", Answer::Accept).await,
        Sink::start("127.0.0.1:0", Answer::Accept).await,
    );
    let (down, fixed, web) = (
        closed_port().await,
        closed_port().await,
        closed_port().await,
    );
    let before = admin()
        + &channel("test", first.address)
        + &listening_on(fixed, channel("changing", first.address))
        + &channel("leaving", down)
        + &http_channel("web", web, first.address);
    let engine = start_from_file(tempfile::tempdir().unwrap(), &before).await;
    let api = Api::of(&engine);

    let mut steady = TcpStream::connect(engine.address).await.unwrap();
    send_on(&mut steady, "T-1").await;
    send_to(&engine, "changing", "C-1").await;
    let leaving = engine.server.address("leaving").unwrap();
    send_to(&engine, "leaving", "L-1").await;
    send_to(&engine, "leaving", "L-2").await;
    post_to(web, "W-1").await;
    first.wait_for(3, PATIENCE).await;

    // Restarted channels listen where they did: the ports are given.
    let after = admin()
        + &channel("test", first.address)
        + &listening_on(fixed, channel("changing", second.address))
        + &channel("joining", second.address)
        + &http_channel("web", web, second.address);
    write_config(&engine.dir, &after);
    assert_eq!(reload(&api, VIEWER).await.0, StatusCode::FORBIDDEN);
    let expected = json!({
        "started": ["joining"],
        "restarted": ["changing", "web"],
        "stopped": ["leaving"],
        "unchanged": ["test"],
        "settings": [],
    });
    // A dry run says the same and changes nothing.
    let (status, preview) = api
        .post("/api/v1/config/reload?dry_run=true", OPERATOR, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview, expected);
    assert_eq!(engine.server.address("leaving"), Some(leaving));
    assert_eq!(engine.server.address("joining"), None);
    let (status, report) = reload(&api, OPERATOR).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report, expected);

    // The unchanged channel's sender never noticed.
    send_on(&mut steady, "T-2").await;
    assert_eq!(engine.server.address("changing"), Some(fixed));
    send_to(&engine, "changing", "C-2").await;
    send_to(&engine, "joining", "J-1").await;
    post_to(web, "W-2").await;
    first.wait_for(4, PATIENCE).await;
    second.wait_for(3, PATIENCE).await;
    let mut before = first.accepted_ids();
    before.sort();
    assert_eq!(before, ["C-1", "T-1", "T-2", "W-1"]);
    let mut moved = second.accepted_ids();
    moved.sort();
    assert_eq!(moved, ["C-2", "J-1", "W-2"]);

    // The removed channel no longer listens, and its queued work is a
    // dead letter.
    assert_eq!(engine.server.address("leaving"), None);
    assert!(TcpStream::connect(leaving).await.is_err());
    let letters = engine
        .server
        .store
        .dead_letters(&DeadLetterFilter::default(), usize::MAX)
        .unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}");
    for letter in &letters {
        assert_eq!(letter.header.channel, "leaving");
        assert_eq!(letter.header.reason, DeadLetterReason::NotConfigured);
    }

    let channels = api.ok("/api/v1/channels", VIEWER).await;
    assert_eq!(
        channel_names(&channels),
        ["test", "changing", "joining", "web"]
    );
    let config = api.ok("/api/v1/config", VIEWER).await;
    assert_eq!(config["channels"][2]["name"], "joining");
    engine.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_cannot_apply_changes_nothing_and_says_why() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let running = admin() + &channel("test", sink.address);
    let engine = start_from_file(tempfile::tempdir().unwrap(), &running).await;
    let api = Api::of(&engine);
    let path = engine.dir.path().join("hl7wasm.toml");

    let typo = running.replace("name = \"test\"", "name = \"test\"\npartitons = 2");
    write_config(&engine.dir, &typo);
    let (status, answer) = reload(&api, OPERATOR).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["code"], "invalid_config");
    let message = answer["message"].as_str().unwrap();
    for part in [path.display().to_string().as_str(), "\"test\"", "partitons"] {
        assert!(message.contains(part), "{message} names {part}");
    }
    still_serves(&engine, &sink, 1).await;

    let moved_store = std::fs::read_to_string(write_config(&engine.dir, &running))
        .unwrap()
        .replacen("dir = ", "dir = \"elsewhere\"\n# was: dir = ", 1);
    std::fs::write(&path, moved_store).unwrap();
    let (status, answer) = reload(&api, OPERATOR).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], "restart_required");
    assert!(answer["message"].as_str().unwrap().contains("[storage]"));
    still_serves(&engine, &sink, 2).await;

    let piped = running.replacen(
        "[channels.source]",
        "[[channels.pipeline]]\nplugin = \"passthrough\"\n[channels.source]",
        1,
    );
    write_config(&engine.dir, &piped);
    let (status, answer) = reload(&api, OPERATOR).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("first channel with a pipeline"),
        "{message}"
    );
    still_serves(&engine, &sink, 3).await;

    let unbuildable = running.replace(&sink.address.to_string(), "no-port-here");
    write_config(&engine.dir, &unbuildable);
    let (status, answer) = reload(&api, OPERATOR).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["code"], "channel_refused");
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("destination \"out\""), "{message}");
    still_serves(&engine, &sink, 4).await;

    // A channel whose port is taken: reported, the rest applied, and
    // started by the next reload once the port is free.
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let blocked = channel("blocked", sink.address).replace(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"{}\"", taken.local_addr().unwrap()),
    );
    write_config(
        &engine.dir,
        &(running.clone() + &blocked + &channel("other", sink.address)),
    );
    let (status, answer) = reload(&api, OPERATOR).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert_eq!(answer["code"], "channel_not_started");
    assert!(answer["message"].as_str().unwrap().contains("\"blocked\""));
    assert!(engine.server.address("blocked").is_none());
    assert!(engine.server.address("other").is_some(), "the rest applied");
    still_serves(&engine, &sink, 5).await;
    drop(taken);
    let (status, report) = reload(&api, OPERATOR).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["started"], json!(["blocked"]));
    send_to(&engine, "blocked", "B-1").await;
    sink.wait_for(6, PATIENCE).await;

    // `hl7wasm config reload` asks the same over the API; `--dry-run`
    // checks without applying.
    write_config(
        &engine.dir,
        &(running.clone() + &channel("planned", sink.address)),
    );
    let output = reload_cli(&api, &["--dry-run"]).await;
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["started"], json!(["planned"]));
    assert_eq!(report["stopped"], json!(["blocked", "other"]));
    assert!(engine.server.address("planned").is_none());
    assert!(engine.server.address("other").is_some());
    write_config(
        &engine.dir,
        &(running.clone() + &blocked + &channel("other", sink.address)),
    );
    let output = reload_cli(&api, &[]).await;
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["unchanged"], json!(["test", "blocked", "other"]));
    write_config(&engine.dir, &typo);
    let output = reload_cli(&api, &[]).await;
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("partitons"), "{error}");

    // Every reload is counted by its result; dry runs are not.
    let (status, metrics) = api
        .call(reqwest::Method::GET, "/metrics", Some(VIEWER), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let metrics = String::from_utf8(metrics).unwrap();
    for (result, count) in [
        ("invalid_config", 2),
        ("restart_required", 2),
        ("channel_refused", 1),
        ("channel_not_started", 1),
        ("applied", 1),
        ("unchanged", 1),
    ] {
        let line = format!("hl7wasm_config_reloads_total{{result=\"{result}\"}} {count}\n");
        assert!(metrics.contains(&line), "{line} in:\n{metrics}");
    }
    engine.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_changes_admin_tokens_and_alert_rules_without_a_restart() {
    const SUCCESSOR: &str = "successor-token-0123456789";
    const RULES: &str = "[alerts]\ninterval_secs = 3600\nstorage_min_free_percent = 0.0\n\n";
    let sink = Sink::start("127.0.0.1:0", Answer::Reject).await;
    let running = admin() + RULES + &channel("test", sink.address);
    let engine = start_from_file(tempfile::tempdir().unwrap(), &running).await;
    let api = Api::of(&engine);
    let mut steady = TcpStream::connect(engine.address).await.unwrap();
    send_on(&mut steady, "R-1").await;
    let store = engine.server.store.clone();
    let one_letter = || {
        store
            .dead_letter_count(&DeadLetterFilter::default())
            .unwrap()
            == 1
    };
    eventually(
        PATIENCE,
        "the rejected message is a dead letter",
        one_letter,
    )
    .await;
    let dead_letter_alert = || {
        let alerts = engine.server.alerts.active();
        alerts
            .iter()
            .any(|a| a.kind == "dead_letter_depth" && a.channel == "test")
    };
    assert!(
        !dead_letter_alert(),
        "one dead letter is below the default threshold"
    );
    assert!(engine.server.alerts.active().is_empty());

    // The operator's token is replaced; any dead letter now alerts, and so
    // does any disk, every second where it was every hour; alerts are
    // posted to a webhook.
    let (hook, posts) = webhook::webhook().await;
    let rules = format!(
        "[alerts]\ninterval_secs = 1\nstorage_min_free_percent = 100.0\n\
         storage_min_free_mb = 100000000\ndead_letter_max_depth = 0\n\
         webhook_url = \"http://{hook}/hook\"\n\n"
    );
    let rotated = running.replace(OPERATOR, SUCCESSOR).replace(RULES, &rules);
    write_config(&engine.dir, &rotated);
    let (status, report) = reload(&api, OPERATOR).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["unchanged"], json!(["test"]));
    assert_eq!(report["restarted"], json!([]));
    assert_eq!(report["settings"], json!(["admin.tokens", "alerts"]));

    assert_eq!(reload(&api, OPERATOR).await.0, StatusCode::UNAUTHORIZED);
    let (status, report) = reload(&api, SUCCESSOR).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["settings"], json!([]));
    assert_eq!(reload(&api, VIEWER).await.0, StatusCode::FORBIDDEN);
    eventually(
        PATIENCE,
        "the dead-letter alert is raised",
        dead_letter_alert,
    )
    .await;
    let storage_alert = || {
        let alerts = engine.server.alerts.active();
        alerts.iter().any(|a| a.kind == "storage_space")
    };
    eventually(PATIENCE, "the storage alert is raised", storage_alert).await;
    for kind in ["dead_letter_depth", "storage_space"] {
        let raised = || !webhook::posted(&posts, kind, "raised").is_empty();
        eventually(PATIENCE, "the webhook hears of the alert", raised).await;
    }

    // The channel never restarted: its sender's connection still works.
    send_on(&mut steady, "R-2").await;
    engine.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_does_not_wait_out_a_hung_destination_and_its_message_is_sent_again() {
    // A receiver that takes the message and never answers.
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_address = hung.local_addr().unwrap();
    let (read_tx, mut read_rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        let (mut stream, _) = hung.accept().await.unwrap();
        let mut buffer = [0u8; 4096];
        let read = tokio::io::AsyncReadExt::read(&mut stream, &mut buffer).await;
        read_tx.send(read.unwrap()).await.unwrap();
        tokio::time::sleep(Duration::from_secs(120)).await;
    });
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let waiting = |to: SocketAddr| {
        admin() + &channel("test", to).replace("ack_timeout_secs = 2", "ack_timeout_secs = 60")
    };
    let engine = start_from_file(tempfile::tempdir().unwrap(), &waiting(hung_address)).await;
    let api = Api::of(&engine);
    send_to(&engine, "test", "H-1").await;
    let read = tokio::time::timeout(PATIENCE, read_rx.recv())
        .await
        .unwrap();
    assert!(
        read.is_some_and(|bytes| bytes > 0),
        "the hung receiver got the message"
    );

    // The channel now points at a receiver that answers.
    write_config(&engine.dir, &waiting(sink.address));
    let began = std::time::Instant::now();
    let (status, report) = reload(&api, OPERATOR).await;
    let took = began.elapsed();
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["restarted"], json!(["test"]));
    assert!(took < Duration::from_secs(15), "the reload took {took:?}");
    sink.wait_for(1, PATIENCE).await;
    assert_eq!(sink.accepted_ids(), ["H-1"]);
    engine.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_waits_while_reprocessing_places_messages_by_partition() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let running = admin() + &channel("test", sink.address);
    let engine = start_from_file(tempfile::tempdir().unwrap(), &running).await;
    let api = Api::of(&engine);
    let partitioned = running.replace(
        "name = \"test\"\n",
        "name = \"test\"\npartition_by = \"PID-3.1\"\npartitions = 3\n",
    );
    write_config(&engine.dir, &partitioned);

    // What a reprocess holds while it places messages by the partitioning
    // of the channels as they run.
    let steady = engine.server.channels.steady().await;
    let reloading = tokio::spawn(async move { reload(&api, OPERATOR).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !reloading.is_finished(),
        "the reload waits for the reprocess"
    );
    send_to(&engine, "test", "W-1").await;
    drop(steady);
    let (status, report) = reloading.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["restarted"], json!(["test"]));
    sink.wait_for(1, PATIENCE).await;
    engine.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_needing_more_plugin_instances_than_the_pool_holds_asks_for_a_restart() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    // Every partition's worker holds an instance of each stage's plugin.
    let piped = |partitions: u32| {
        admin()
            + &channel("test", sink.address).replacen(
                "[channels.source]",
                &format!(
                    "partition_by = \"PID-3.1\"\npartitions = {partitions}\n\
                     [[channels.pipeline]]\nplugin = \"passthrough\"\n[channels.source]"
                ),
                1,
            )
    };
    // One instance at start: the pool takes its least size, 64, of which
    // 16 are kept for loading and checking versions.
    let engine = start_from_file(tempfile::tempdir().unwrap(), &piped(1)).await;
    let api = Api::of(&engine);
    let mut steady = TcpStream::connect(engine.address).await.unwrap();
    send_on(&mut steady, "P-1").await;
    sink.wait_for(1, PATIENCE).await;

    write_config(&engine.dir, &piped(49));
    let (status, answer) = reload(&api, OPERATOR).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], "restart_required");
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("49 plugin instances"), "{message}");
    assert!(message.contains("room for 48"), "{message}");
    send_on(&mut steady, "P-2").await;

    write_config(&engine.dir, &piped(48));
    let (status, report) = reload(&api, OPERATOR).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["restarted"], json!(["test"]));
    send_to(&engine, "test", "P-3").await;
    sink.wait_for(3, PATIENCE).await;
    engine.server.shutdown().await;
}

/// Runs `hl7wasm config reload` against `api` with the operator's token
/// and `extra` arguments.
async fn reload_cli(api: &Api, extra: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"));
    command
        .args(["config", "reload", "--api", &api.base])
        .args(["--token", OPERATOR])
        .args(extra);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_embedded_default_has_no_file_to_reload() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start_channels(tempfile::tempdir().unwrap(), &channel("test", sink.address)).await;
    assert!(matches!(
        engine.server.reload_config().await,
        Err(ReloadError::NoFile)
    ));
    engine.server.shutdown().await;
}

//! Ensures the admin API over real HTTP: tokens and roles (401/403),
//! channel statistics and queues after MLLP traffic, message search with
//! bodies for admins only, stored messages reprocessed through the
//! pipeline, dead letters listed, reprocessed exactly once and purged, plugin uploads good and bad, metrics, the OpenAPI document,
//! the refusal of an open address without tokens, and the `dlq` CLI.

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;
#[path = "support/sink.rs"]
mod sink;
#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use admin::Api;
use engine::{TestEngine, exchange, field, message, start_channels};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sink::{Answer, Sink};
use tokio::net::TcpStream;

const PATIENCE: Duration = Duration::from_secs(20);
const VIEWER: &str = "viewer-token-0123456789";
const OPERATOR: &str = "operator-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";

/// An engine with the admin API on 127.0.0.1:0, three tokens, and a
/// channel `test` that runs `passthrough` and delivers to `sink`.
async fn start(sink: SocketAddr) -> TestEngine {
    start_channels(tempfile::tempdir().unwrap(), &config(sink)).await
}

/// The configuration of [`start`].
fn config(sink: SocketAddr) -> String {
    format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntokens = [\n\
         {{ name = \"grafana\", token = \"{VIEWER}\", role = \"viewer\" }},\n\
         {{ name = \"oncall\", token = \"{OPERATOR}\", role = \"operator\" }},\n\
         {{ name = \"alice\", token = \"{ADMIN}\", role = \"admin\" }},\n]\n\n\
         [[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.pipeline]]\nplugin = \"passthrough\"\n\
         [[channels.destinations]]\nname = \"sink\"\n\
         to = {{ type = \"mllp\", address = \"{sink}\", ack_timeout_secs = 2, connect_timeout_secs = 1 }}\n\
         retry = {{ initial_delay_ms = 50, max_delay_ms = 200, max_retries = 5, jitter = 0.0 }}\n"
    )
}

/// Polls `path` until `condition` holds on its JSON.
async fn eventually(
    api: &Api,
    path: &str,
    what: &str,
    condition: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let body = api.ok(path, VIEWER).await;
        if condition(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends each id as a message, each ACKed AA.
async fn send(engine: &TestEngine, ids: &[&str]) {
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    for id in ids {
        let ack = exchange(&mut stream, message(id).as_bytes()).await;
        assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    }
}

#[tokio::test]
async fn tokens_and_roles_guard_the_api() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    assert_eq!(api.get("/api/v1/health", None).await.0, StatusCode::OK);
    assert_eq!(api.get("/api/v1/ready", None).await.0, StatusCode::OK);
    let (status, body) = api.get("/api/v1/channels", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "unauthorized", "{body}");
    let unknown = api
        .get("/api/v1/channels", Some("not-a-token-at-all"))
        .await;
    assert_eq!(unknown.0, StatusCode::UNAUTHORIZED);
    let (status, body) = api
        .post("/api/v1/dead-letters/purge", VIEWER, &json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "forbidden", "{body}");
    let (status, body) = api.get("/api/v1/nowhere", Some(VIEWER)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );

    let config = api.ok("/api/v1/config", VIEWER).await.to_string();
    assert!(
        config.contains("<redacted>") && config.contains("grafana"),
        "{config}"
    );
    for token in [VIEWER, OPERATOR, ADMIN] {
        assert!(!config.contains(token), "{config}");
    }
    // Engine-wide alerts (storage_space) depend on this machine's disk.
    let alerts = api.ok("/api/v1/alerts", VIEWER).await;
    let on_channels = alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["channel"] != "");
    assert_eq!(on_channels.count(), 0, "{alerts}");
}

#[tokio::test]
async fn channels_messages_and_metrics_follow_the_traffic() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    let before = api.ok("/api/v1/channels/test", VIEWER).await;
    assert_eq!(before["stats"]["last_received_unix_secs"], Value::Null);
    let sent_at = hl7wasm::hl7_input::now_unix_ms() / 1000;
    send(&engine, &["ADM1", "ADM2"]).await;
    sink.wait_for(2, PATIENCE).await;

    let channels = api.ok("/api/v1/channels", VIEWER).await;
    assert_eq!(channels[0]["name"], "test");
    assert_eq!(channels[0]["pipeline"], json!(["passthrough@latest"]));
    assert_eq!(channels[0]["destinations"][0]["type"], "mllp");
    assert_eq!(channels[0]["ack_mode"], "commit");
    assert_eq!(channels[0]["ack_destination"], Value::Null);
    let status = eventually(
        &api,
        "/api/v1/channels/test",
        "two deliveries counted",
        |b| b["stats"]["destinations"]["sink"]["attempts"]["delivered"] == 2,
    )
    .await;
    assert_eq!(status["stats"]["acks"]["AA"], 2, "{status}");
    let last = status["stats"]["last_received_unix_secs"].as_u64().unwrap();
    assert!((sent_at..=sent_at + 60).contains(&last), "{status}");
    assert_eq!(status["stats"]["processed"]["processed"], 2, "{status}");
    assert_eq!(status["dead_letters"], 0);
    let stage = &status["stages"][0];
    assert_eq!(stage["active"]["name"], "passthrough", "{status}");
    assert_eq!(stage["previous"], Value::Null, "never swapped: {status}");
    let queues = api.ok("/api/v1/channels/test/queues", VIEWER).await;
    assert_eq!(queues["inbound"][0]["depth"], 0, "{queues}");
    assert_eq!(queues["outbound"]["sink"][0]["depth"], 0, "{queues}");
    assert_eq!(
        api.get("/api/v1/channels/nope", Some(VIEWER)).await.0,
        StatusCode::NOT_FOUND
    );

    let found = api
        .ok("/api/v1/messages?control_id=ADM2&type=ADT", VIEWER)
        .await;
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["status"]["state"], "processed");
    assert!(found[0].get("raw").is_none() && found[0].get("body").is_none());
    let id = found[0]["id"].as_u64().unwrap();
    let one = api.ok(&format!("/api/v1/messages/{id}"), VIEWER).await;
    assert_eq!(one["control_id"], "ADM2");
    let body_path = format!("/api/v1/messages/{id}/body");
    for token in [VIEWER, OPERATOR] {
        let (status, _) = api
            .call(reqwest::Method::GET, &body_path, Some(token), None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, body) = api
        .call(reqwest::Method::GET, &body_path, Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, message("ADM2").as_bytes());
    let pending = api.ok("/api/v1/messages?status=pending", VIEWER).await;
    assert_eq!(pending, json!([]));
    let newest = api.ok("/api/v1/messages?limit=1", VIEWER).await;
    assert_eq!(newest.as_array().unwrap().len(), 1, "{newest}");
    assert_eq!(newest[0]["control_id"], "ADM2", "newest first");
    let both = api.ok("/api/v1/messages?type=ADT", VIEWER).await;
    let ids: Vec<&Value> = both
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["control_id"])
        .collect();
    assert_eq!(ids, [&json!("ADM2"), &json!("ADM1")], "{both}");
    let received = one["received_at_ms"].as_u64().unwrap();
    let since = |ms: u64| format!("/api/v1/messages?since_ms={ms}");
    let later = api.ok(&since(received + 1), VIEWER).await;
    assert_eq!(later.as_array().unwrap().len(), 0, "{later}");
    let from = api.ok(&since(received), VIEWER).await;
    assert_eq!(from[0]["control_id"], "ADM2", "{from}");

    let (status, metrics) = api
        .call(reqwest::Method::GET, "/metrics", Some(VIEWER), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let metrics = String::from_utf8(metrics).unwrap();
    assert!(metrics.contains("hl7wasm_acks_sent"), "{metrics}");
    assert!(
        metrics.contains("hl7wasm_channel_last_frame_timestamp_seconds{channel=\"test\"}"),
        "{metrics}"
    );
    assert_eq!(api.get("/metrics", None).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn dead_letters_are_listed_reprocessed_once_and_purged() {
    let sink = Sink::start("127.0.0.1:0", Answer::Reject).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    send(&engine, &["DL1", "DL2"]).await;
    let letters = eventually(
        &api,
        "/api/v1/dead-letters?channel=test&reason=rejected",
        "two dead letters",
        |b| b.as_array().is_some_and(|l| l.len() == 2),
    )
    .await;
    assert_eq!(letters[0]["control_id"], "DL1");
    assert_eq!(letters[0]["destination"], "sink");
    assert!(letters[0].get("body").is_none(), "{letters}");
    let first = letters[0]["sequence"].as_u64().unwrap();
    let path = format!("/api/v1/dead-letters/{first}");
    assert!(api.ok(&path, OPERATOR).await.get("body").is_none());
    assert_eq!(api.ok(&path, ADMIN).await["body"], message("DL1"));

    sink.answer(Answer::Accept);
    let (status, _) = api
        .post(
            "/api/v1/dead-letters/reprocess",
            VIEWER,
            &json!({ "sequence": first }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = api
        .post(
            "/api/v1/dead-letters/reprocess",
            OPERATOR,
            &json!({ "sequence": first }),
        )
        .await;
    assert_eq!(
        (status, &answer["requeued"]),
        (StatusCode::OK, &json!(1)),
        "{answer}"
    );
    sink.wait_for(1, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.accepted_ids(), ["DL1"], "delivered once");
    let (status, body) = api
        .post(
            "/api/v1/dead-letters/reprocess",
            OPERATOR,
            &json!({ "bogus": 1 }),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_request"))
    );

    let (status, answer) = api
        .post("/api/v1/dead-letters/purge", OPERATOR, &json!({}))
        .await;
    assert_eq!(
        (status, &answer["purged"]),
        (StatusCode::OK, &json!(1)),
        "{answer}"
    );
    assert_eq!(api.ok("/api/v1/dead-letters", VIEWER).await, json!([]));
    assert_eq!(
        api.get(&path, Some(VIEWER)).await.0,
        StatusCode::NOT_FOUND,
        "reprocessed letters are gone"
    );
}

#[tokio::test]
async fn plugin_uploads_load_good_components_and_refuse_bad_ones() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    let before = api.ok("/api/v1/plugins", VIEWER).await;
    assert!(
        before
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "passthrough"),
        "{before}"
    );

    let upload = |token: &'static str, bytes: Vec<u8>| {
        let api = &api;
        async move {
            let (status, body) = api.upload(token, bytes).await;
            (status, serde_json::from_slice::<Value>(&body).unwrap())
        }
    };
    let passthrough = support::plugin_bytes("passthrough");
    assert_eq!(
        upload(OPERATOR, passthrough.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = upload(ADMIN, passthrough).await;
    assert!(
        matches!(status, StatusCode::OK | StatusCode::CREATED),
        "{status} {body}"
    );
    assert_eq!(body["name"], "passthrough");
    assert_eq!(body["sha256"].as_str().unwrap().len(), 64);

    let (status, body) = upload(ADMIN, b"\0asm garbage".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "plugin_refused");
    assert!(!body["message"].as_str().unwrap().is_empty());
    assert_eq!(
        api.ok("/api/v1/plugins", VIEWER).await,
        before,
        "loaded versions untouched"
    );
}

/// Ensures the OpenAPI document parses and describes every route.
#[tokio::test]
async fn the_openapi_document_names_every_route() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let document = Api::of(&engine).get("/api/v1/openapi.json", None).await.1;
    assert_eq!(document["openapi"], "3.1.0");
    let router = include_str!("../runtime/src/admin/router.rs");
    for line in router
        .lines()
        .filter(|l| l.trim_start().starts_with(".route("))
    {
        let Some(path) = line.split('"').nth(1) else {
            continue;
        };
        let full = match path {
            "/metrics" => path.to_owned(),
            _ => format!("/api/v1{path}"),
        };
        assert!(
            document["paths"].get(&full).is_some(),
            "{full} is not in openapi.json"
        );
    }
    assert!(document["paths"].get("/api/v1/plugins").is_some());
}

#[tokio::test]
async fn an_open_address_without_tokens_is_refused() {
    let channel = "[[channels]]\nname = \"a\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n";
    let open = format!("[admin]\nlisten = \"0.0.0.0:0\"\n\n{channel}");
    let error = hl7wasm::config::parse(&open, "test.toml")
        .unwrap_err()
        .to_string();
    assert!(error.contains("admin.listen"), "{error}");

    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[storage]\ndir = {:?}\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n{channel}",
        dir.path().join("store")
    );
    let mut config = hl7wasm::config::parse(&text, "test.toml").unwrap();
    config.admin.listen = "0.0.0.0:0".into();
    let error = match hl7wasm::server::Server::start(config).await {
        Ok(_) => panic!("the engine must not start"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("admin.listen"), "{error}");
}

/// Ensures that `[admin] max_connections` and `request_timeout_secs`
/// apply: with one connection allowed, an idle client holds it until it is
/// cut after the timeout, and only then is the next caller served; a zero
/// limit is refused with its key.
#[tokio::test]
async fn the_admin_api_limits_its_connections_and_idle_clients() {
    use tokio::io::AsyncReadExt;

    let channel = "[[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n";
    let zero = format!("[admin]\nlisten = \"127.0.0.1:0\"\nmax_connections = 0\n\n{channel}");
    let error = hl7wasm::config::parse(&zero, "test.toml")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("key admin.max_connections: must be at least 1"),
        "{error}"
    );

    let admin =
        "[admin]\nlisten = \"127.0.0.1:0\"\nmax_connections = 1\nrequest_timeout_secs = 1\n\n";
    let engine = start_channels(tempfile::tempdir().unwrap(), &format!("{admin}{channel}")).await;
    let address = engine.server.admin_address().unwrap();
    let started = std::time::Instant::now();
    let mut idle = TcpStream::connect(address).await.unwrap();
    let api = Api::of(&engine);
    let status = tokio::time::timeout(PATIENCE, api.get("/api/v1/channels", None))
        .await
        .expect("served once the idle client is cut")
        .0;
    assert_eq!(status, StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "served before the idle client was cut"
    );
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut rest)).await;
    assert!(
        matches!(read, Ok(Ok(0))),
        "the idle client is cut: {read:?}"
    );
}

#[tokio::test]
async fn the_dlq_cli_lists_dead_letters_over_the_api() {
    let sink = Sink::start("127.0.0.1:0", Answer::Reject).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    send(&engine, &["CLI1"]).await;
    eventually(&api, "/api/v1/dead-letters", "a dead letter", |b| {
        b.as_array().is_some_and(|l| l.len() == 1)
    })
    .await;
    let url = api.base.clone();
    let run = |token: &'static str| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
                .args([
                    "dlq",
                    "list",
                    "--channel",
                    "test",
                    "--api",
                    &url,
                    "--token",
                    token,
                ])
                .output()
                .unwrap()
        })
    };
    let output = run(VIEWER).await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed[0]["control_id"], "CLI1", "{listed}");
    let refused = run("wrong-token-0123456789").await.unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("HL7WASM_TOKEN"));
}

/// Ensures that stored messages can be run through the pipeline again: a
/// processed one is delivered again, one still queued is skipped rather
/// than run twice, a requeued one survives a restart, and the CLI asks for
/// a filter or `--all`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_messages_are_reprocessed_once_each() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    send(&engine, &["REP1", "REP2"]).await;
    sink.wait_for(2, PATIENCE).await;
    eventually(
        &api,
        "/api/v1/messages?status=processed",
        "both processed",
        |b| b.as_array().is_some_and(|l| l.len() == 2),
    )
    .await;

    let reprocess = "/api/v1/messages/reprocess";
    let one = json!({ "control_id": "REP1" });
    assert_eq!(
        api.post(reprocess, VIEWER, &one).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, answer) = api.post(reprocess, OPERATOR, &one).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["requeued"].as_array().unwrap().len(), 1, "{answer}");
    assert_eq!(answer["skipped"], json!([]));
    sink.wait_for(3, PATIENCE).await;
    assert_eq!(sink.accepted_ids(), ["REP1", "REP2", "REP1"]);
    let bad = api
        .post(reprocess, OPERATOR, &json!({ "colour": "red" }))
        .await;
    assert_eq!(bad.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.1);
    assert!(bad.1["message"].as_str().unwrap().contains("colour"));

    // Paused, a requeued message waits in its queue: asked again, it is
    // skipped; a restart keeps it queued; resumed, it goes once.
    let (status, _) = api
        .post("/api/v1/channels/test/pause", OPERATOR, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let two = json!({ "control_id": "REP2" });
    let first = api.post(reprocess, OPERATOR, &two).await.1;
    let id = first["requeued"][0].as_u64().expect("REP2 requeued");
    let again = api.post(reprocess, OPERATOR, &two).await.1;
    assert_eq!(again, json!({ "requeued": [], "skipped": [id] }));
    let found = api.ok(&format!("/api/v1/messages?id={id}"), VIEWER).await;
    assert_eq!(found[0]["status"]["state"], "requeued", "{found}");

    let engine = engine.restart(&config(sink.address)).await;
    let api = Api::of(&engine);
    let (status, _) = api
        .post("/api/v1/channels/test/resume", OPERATOR, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    sink.wait_for(4, PATIENCE).await;
    eventually(
        &api,
        &format!("/api/v1/messages/{id}"),
        "REP2 processed",
        |b| b["status"]["state"] == "processed",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.accepted_ids(), ["REP1", "REP2", "REP1", "REP2"]);

    let url = api.base.clone();
    let cli = |args: &'static [&'static str]| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
                .args(["messages", "reprocess"])
                .args(args)
                .args(["--api", &url, "--token", OPERATOR])
                .output()
                .unwrap()
        })
    };
    let unfiltered = cli(&[]).await.unwrap();
    assert!(!unfiltered.status.success());
    assert!(String::from_utf8_lossy(&unfiltered.stderr).contains("--all"));
    let by_type = cli(&["--type", "ADT^A01", "--limit", "1"]).await.unwrap();
    assert!(
        by_type.status.success(),
        "{}",
        String::from_utf8_lossy(&by_type.stderr)
    );
    let answer: Value = serde_json::from_slice(&by_type.stdout).unwrap();
    assert_eq!(answer["requeued"], json!([id]), "the newest one: {answer}");
    sink.wait_for(5, PATIENCE).await;
}

/// Ensures that a destination queue whose oldest entry keeps failing says
/// why in `GET /api/v1/channels/{name}/queues`: its attempts, how many
/// could not reach the destination, since when, and the latest reason; and
/// that the entry outlives `max_retries` while the destination is down.
#[tokio::test]
async fn a_failing_destination_queue_says_why_it_waits() {
    let nowhere = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let engine = start(nowhere).await;
    let api = Api::of(&engine);
    send(&engine, &["WAIT1"]).await;
    let queues = eventually(
        &api,
        "/api/v1/channels/test/queues",
        "the oldest entry past max_retries",
        |b| b["outbound"]["sink"][0]["failing"]["attempts"].as_u64() > Some(6),
    )
    .await;
    let partition = &queues["outbound"]["sink"][0];
    assert_eq!(partition["depth"], 1, "{queues}");
    let failing = &partition["failing"];
    assert_eq!(
        failing["attempts"], failing["unreachable_attempts"],
        "{queues}"
    );
    assert!(failing["since_ms"].as_u64().unwrap() > 0, "{queues}");
    let reason = failing["last_error"].as_str().unwrap();
    assert!(
        reason.contains("cannot connect") || reason.contains("refused"),
        "{reason}"
    );
    assert!(queues["inbound"][0].get("failing").is_none(), "{queues}");
}

/// The control ids of a search's answer, in its order.
fn control_ids(found: &Value) -> Vec<String> {
    let found = found.as_array().unwrap().iter();
    found
        .map(|m| m["control_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Ensures that a search reads at most its `scan_limit` of stored
/// messages, newest first, and then names the `before_id` to search on
/// with, over the API and the CLI, so that a query matching little does
/// not read a large store whole.
#[tokio::test]
async fn a_search_stops_at_its_scan_limit_and_says_where_to_go_on() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    send(&engine, &["SCAN1", "SCAN2", "SCAN3", "SCAN4", "SCAN5"]).await;
    let search = |query: Value| {
        let api = &api;
        async move {
            let answer = api
                .post_raw("/api/v1/messages/search", VIEWER, &query)
                .await;
            assert_eq!(answer.status(), StatusCode::OK);
            let next = answer
                .headers()
                .get("hl7wasm-next-before-id")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            let found: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
            (control_ids(&found), next)
        }
    };
    // The oldest message, beyond a scan of two: nothing found yet, and
    // where to go on.
    let (ids, next) = search(json!({ "control_id": "SCAN1", "scan_limit": 2 })).await;
    assert!(ids.is_empty(), "{ids:?}");
    let next = next.expect("the scan stopped at its limit");
    let (ids, again) = search(json!({ "scan_limit": 2, "before_id": next })).await;
    assert_eq!(ids, ["SCAN3", "SCAN2"], "the next two, newest first");
    let (ids, last) = search(json!({ "control_id": "SCAN1", "before_id": again.unwrap() })).await;
    assert_eq!((ids.as_slice(), last), (&["SCAN1".to_owned()][..], None));
    // A scan that reaches the end, or its limit of matches, says nothing.
    let (ids, none) = search(json!({ "limit": 2, "scan_limit": 2 })).await;
    assert_eq!((ids.len(), none), (2, None));

    let url = api.base.clone();
    let cli = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
            .args(["messages", "search", "--control-id", "SCAN1"])
            .args(["--scan-limit", "2", "--api", &url, "--token", VIEWER])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let note = String::from_utf8_lossy(&cli.stderr);
    assert!(note.contains(&format!("--before-id {next}")), "{note}");
}

/// Ensures that the messages and dead letters of a channel no longer
/// configured are left alone rather than queued where no worker would
/// run them.
#[tokio::test]
async fn messages_of_a_removed_channel_are_not_reprocessed() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let refusing = Sink::start("127.0.0.1:0", Answer::Reject).await;
    let gone = format!(
        "[[channels]]\nname = \"gone\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"old\"\nto = {{ type = \"mllp\", address = \"{}\" }}\n",
        refusing.address
    );
    let engine = start_channels(
        tempfile::tempdir().unwrap(),
        &format!("{}\n{gone}", config(sink.address)),
    )
    .await;
    let mut stream = TcpStream::connect(engine.server.address("gone").unwrap())
        .await
        .unwrap();
    let ack = exchange(&mut stream, message("GONE1").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    drop(stream);
    let store = &engine.server.store;
    engine::eventually(PATIENCE, "GONE1 refused", || {
        store.dead_letter_count(&Default::default()).unwrap() == 1
    })
    .await;

    let engine = engine.restart(&config(sink.address)).await;
    let api = Api::of(&engine);
    let found = api.ok("/api/v1/messages?control_id=GONE1", VIEWER).await;
    let id = found[0]["id"].as_u64().expect("still stored");
    let (status, answer) = api
        .post(
            "/api/v1/messages/reprocess",
            OPERATOR,
            &json!({ "channel": "gone" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({ "requeued": [], "skipped": [id] }));
    let (status, answer) = api
        .post("/api/v1/dead-letters/reprocess", OPERATOR, &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["requeued"], 0, "{answer}");
    let letters = api.ok("/api/v1/dead-letters", VIEWER).await;
    assert_eq!(letters[0]["destination"], "old", "kept: {letters}");
}

/// Ensures that a web page elsewhere cannot use the API through the
/// browser of someone who can reach it: a cross-origin POST changes
/// nothing, even with a valid token, and a tokenless API does not answer
/// under a foreign host name (DNS rebinding).
#[tokio::test]
async fn other_web_sites_are_kept_out() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    let own = api.base.clone();
    let pause = "/api/v1/channels/test/pause";
    let bearer = format!("Bearer {OPERATOR}");
    let from = |origin: &'static str| [("authorization", bearer.as_str()), ("origin", origin)];
    let answer = api
        .raw_with(reqwest::Method::POST, pause, &from("http://evil.example"))
        .await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "cross_origin", "{body}");
    let marked = [
        ("authorization", bearer.as_str()),
        ("sec-fetch-site", "cross-site"),
    ];
    let answer = api.raw_with(reqwest::Method::POST, pause, &marked).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let status = api.ok("/api/v1/channels/test", VIEWER).await;
    assert_eq!(status["state"], "running", "nothing changed: {status}");
    let same = [("authorization", bearer.as_str()), ("origin", own.as_str())];
    let answer = api.raw_with(reqwest::Method::POST, pause, &same).await;
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "the dashboard's own requests"
    );

    let admin = start_channels(
        tempfile::tempdir().unwrap(),
        "[admin]\nlisten = \"127.0.0.1:0\"\n\n[[channels]]\nname = \"test\"\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n",
    )
    .await;
    let api = Api::of(&admin);
    let rebound = [("host", "evil.example:8080")];
    let answer = api
        .raw_with(reqwest::Method::GET, "/api/v1/channels", &rebound)
        .await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let body: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert_eq!(body["code"], "foreign_host", "{body}");
    let local = [("host", "localhost:8080")];
    let answer = api
        .raw_with(reqwest::Method::GET, "/api/v1/channels", &local)
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn admins_find_messages_by_a_fields_value() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address).await;
    let api = Api::of(&engine);
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    for (control_id, pid3) in [
        ("F1", "42^^^H^MR~999^^^SSA^SS"),
        ("F2", "77^^^H^MR"),
        ("F3", "A\\T\\B^^^H^MR"),
    ] {
        let text = format!(
            "MSH|^~\\&|SENDER|FAC|RECV|RFAC|20240101120000||ADT^A01^ADT_A01|{control_id}|P|2.5.1\r\
             PID|1||{pid3}||DOE^JANE\r"
        );
        let ack = exchange(&mut stream, text.as_bytes()).await;
        assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    }
    let found = |query: Value| {
        let api = &api;
        async move {
            let (status, body) = api.post("/api/v1/messages/search", ADMIN, &query).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            control_ids(&body)
        }
    };
    // Any repetition of the field, unless the path names one.
    assert_eq!(
        found(json!({"field": "PID-3.1", "value": "999"})).await,
        ["F1"]
    );
    assert_eq!(
        found(json!({"field": "PID-3[1].1", "value": "999"})).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(json!({"field": "PID-3[2].1", "value": "999"})).await,
        ["F1"]
    );
    assert_eq!(
        found(json!({"field": "PID-3.1", "value": "77"})).await,
        ["F2"]
    );
    // Values compare with escapes resolved (\T\ is &).
    assert_eq!(
        found(json!({"field": "PID-3.1", "value": "A&B", "channel": "test"})).await,
        ["F3"]
    );

    // The same as a JSON body, which keeps the value out of URLs.
    let posted = |token: &str| {
        let api = &api;
        let token = token.to_owned();
        async move {
            api.post(
                "/api/v1/messages/search",
                &token,
                &json!({ "field": "PID-3.1", "value": "77" }),
            )
            .await
        }
    };
    let (code, body) = posted(ADMIN).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(body[0]["control_id"], "F2", "{body}");
    assert_eq!(body.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(posted(VIEWER).await.0, StatusCode::FORBIDDEN);
    assert_eq!(posted(OPERATOR).await.0, StatusCode::FORBIDDEN);
    let refused = |query: Value| {
        let api = &api;
        async move { api.post("/api/v1/messages/search", ADMIN, &query).await }
    };
    let (code, body) = refused(json!({ "field": "PID-3.1" })).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    let (code, body) = refused(json!({ "field": "nonsense", "value": "1" })).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    // A value in a URL is refused: proxies log URLs.
    let (code, body) = api
        .get("/api/v1/messages?field=PID-3.1&value=77", Some(ADMIN))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("POST /api/v1/messages/search"),
        "{body}"
    );
    let (code, _) = api
        .post(
            "/api/v1/messages/reprocess",
            OPERATOR,
            &json!({ "field": "PID-3.1", "value": "77" }),
        )
        .await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    // The CLI searches the same way, with times as spans or dates.
    let search = |since: &'static str| {
        let url = api.base.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
                .args(["messages", "search", "--field", "PID-3.1", "--value", "77"])
                .args(["--since", since, "--api", &url, "--token", ADMIN])
                .output()
                .unwrap()
        })
    };
    let output = search("1h").await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer[0]["control_id"], "F2", "{answer}");
    let later = search("2999-01-01").await.unwrap();
    let answer: Value = serde_json::from_slice(&later.stdout).unwrap();
    assert_eq!(answer, json!([]), "nothing received since");
    let wrong = search("yesterday").await.unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("RFC 3339"));
}

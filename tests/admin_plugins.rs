//! Ensures the admin API's plugin and metrics features over real HTTP: a
//! version a stage runs cannot be deleted, an unused one is deleted with
//! its file and stays gone; an upload is kept only when its self-tests
//! pass, over HTTP and with the CLI; `/metrics` shows queue depths and plugin failures by cause; and
//! the API serves HTTPS with `[admin.tls]`, refusing plain HTTP.

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;
#[path = "support/pki.rs"]
mod pki;
#[path = "support/sink.rs"]
mod sink;
#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use admin::Api;
use engine::{TestEngine, exchange, field, install_plugin, message, start_channels};
use reqwest::StatusCode;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use sink::{Answer, Sink};
use tokio::net::TcpStream;

const PATIENCE: Duration = Duration::from_secs(20);
const ADMIN: &str = "admin-token-0123456789";
const ADMIN_SECTION: &str = "[admin]\nlisten = \"127.0.0.1:0\"\n\
     tokens = [{ name = \"alice\", token = \"admin-token-0123456789\", role = \"admin\" }]\n";

/// An engine with the admin API and a channel `test` that runs `plugin`
/// and delivers to `sink`; `hostile` is installed in the plugin directory.
async fn start(sink: SocketAddr, plugin: &str) -> TestEngine {
    let dir = tempfile::tempdir().unwrap();
    install_plugin(&dir, &support::plugin_path("hostile"));
    let text = format!(
        "{ADMIN_SECTION}\n[[channels]]\nname = \"test\"\npartitions = 2\n\
         [channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.pipeline]]\nplugin = \"{plugin}\"\n\
         [[channels.destinations]]\nname = \"sink\"\n\
         to = {{ type = \"mllp\", address = \"{sink}\", ack_timeout_secs = 2, connect_timeout_secs = 1 }}\n"
    );
    start_channels(dir, &text).await
}

/// The `.wasm` files in the engine's plugin directory.
fn plugin_files(engine: &TestEngine) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(engine.dir.path().join("plugins"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".wasm"))
        .collect();
    files.sort();
    files
}

/// The loaded versions' hashes.
async fn hashes(api: &Api) -> Vec<String> {
    let list = api.ok("/api/v1/plugins", ADMIN).await;
    let list = list.as_array().expect("a list");
    list.iter()
        .map(|v| v["sha256"].as_str().unwrap().to_owned())
        .collect()
}

/// POSTs `component` with self-tests as `multipart/form-data`.
async fn upload_checked(api: &Api, component: Vec<u8>, self_tests: Value) -> (StatusCode, Value) {
    let boundary = "hl7wasm-test-boundary-7d1f0c";
    let mut body = Vec::new();
    let parts = [
        ("component", component),
        ("self_tests", self_tests.to_string().into_bytes()),
    ];
    for (name, bytes) in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let (status, answer) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/plugins",
            Some(ADMIN),
            Some((&content_type, body)),
        )
        .await;
    (
        status,
        serde_json::from_slice(&answer).unwrap_or(Value::Null),
    )
}

// Two threads: the CLI runs as a blocking child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_version_no_stage_runs_is_deleted_and_it_stays_gone() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address, "passthrough").await;
    let api = Api::of(&engine);
    let running = support::plugin_bytes("passthrough");
    let rebuilt = support::rebuilt(&running);
    let (status, uploaded) = api.upload(ADMIN, rebuilt).await;
    assert_eq!(status, StatusCode::CREATED);
    let uploaded: Value = serde_json::from_slice(&uploaded).unwrap();
    let sha256 = uploaded["sha256"].as_str().unwrap().to_owned();
    let before = hashes(&api).await;
    assert!(before.contains(&sha256));
    assert_eq!(plugin_files(&engine).len(), 2, "hostile and the upload");

    let path = |sha: &str| format!("/api/v1/plugins/{sha}");
    let running_sha = hl7wasm::plugin::content_hash(&running);
    let (status, body) = api
        .call(
            reqwest::Method::DELETE,
            &path(&running_sha),
            Some(ADMIN),
            None,
        )
        .await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "in_use");
    assert!(
        body["message"].as_str().unwrap().contains("\"test\""),
        "{body}"
    );

    // The unused upload goes, through the CLI.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args(["plugins", "delete", &sha256])
        .args(["--api", &api.base, "--token", ADMIN])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(plugin_files(&engine), ["hostile.wasm"], "the file is gone");
    let after = hashes(&api).await;
    assert_eq!(after.len(), before.len() - 1);
    assert!(!after.contains(&sha256));

    // The directory watcher (every 2 s) does not bring it back.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(hashes(&api).await, after);
    let (status, _) = api
        .call(reqwest::Method::DELETE, &path(&sha256), Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// Two threads: the CLI runs as a blocking child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_kept_only_when_its_self_tests_pass() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address, "passthrough").await;
    let api = Api::of(&engine);
    // A hostile build not yet loaded, so keeping it shows.
    let hostile = support::rebuilt(&support::plugin_bytes("hostile"));
    let sha256 = hl7wasm::plugin::content_hash(&hostile);
    let plain = message("ST1");
    let rejected = format!("{}NTE|1||HOSTILE:reject\r", message("ST2"));

    let failing = json!([
        { "message": plain },
        { "message": rejected, "expect": "forward" },
    ]);
    let (status, body) = upload_checked(&api, hostile.clone(), failing).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "self_test_failed");
    let (_, metrics) = api
        .call(reqwest::Method::GET, "/metrics", Some(ADMIN), None)
        .await;
    let metrics = String::from_utf8(metrics).unwrap();
    let refused =
        "hl7wasm_admin_actions_total{action=\"plugin.upload\",result=\"self_test_failed\"} 1\n";
    assert!(metrics.contains(refused), "{refused} in:\n{metrics}");
    let text = body["message"].as_str().unwrap();
    assert!(
        text.contains("self-test 1") && text.contains("reject"),
        "{text}"
    );
    assert!(!hashes(&api).await.contains(&sha256), "not kept");
    assert_eq!(plugin_files(&engine), ["hostile.wasm"], "no file written");

    // The CLI, with message files as an editor saves them (line feeds).
    let files = tempfile::tempdir().unwrap();
    let component = files.path().join("hostile.wasm");
    std::fs::write(&component, &hostile).unwrap();
    for (name, text) in [("plain.hl7", &plain), ("rejected.hl7", &rejected)] {
        std::fs::write(files.path().join(name), text.replace('\r', "\n")).unwrap();
    }
    let upload = |expect: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
            .current_dir(files.path())
            .args([
                "plugins",
                "upload",
                "hostile.wasm",
                "--self-test",
                "plain.hl7",
            ])
            .args(["--self-test", &format!("rejected.hl7:{expect}")])
            .args(["--api", &api.base, "--token", ADMIN])
            .output()
            .unwrap()
    };
    let refused = upload("filter");
    assert!(!refused.status.success(), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("self-test 1 expected filter"), "{stderr}");
    assert!(!hashes(&api).await.contains(&sha256), "not kept");
    let kept = upload("reject");
    assert!(kept.status.success(), "{kept:?}");
    let answer: Value = serde_json::from_slice(&kept.stdout).unwrap();
    assert_eq!(answer["sha256"], sha256.as_str());
    assert!(hashes(&api).await.contains(&sha256));
}

#[tokio::test]
async fn metrics_show_queue_depths_dedupe_entries_and_plugin_failures() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let engine = start(sink.address, "hostile").await;
    let api = Api::of(&engine);
    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    let panics = format!("{}NTE|1||HOSTILE:panic\r", message("M1"));
    let ack = exchange(&mut stream, panics.as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");

    let failures =
        "hl7wasm_plugin_failures_total{channel=\"test\",plugin=\"hostile\",cause=\"trap\"} 1";
    let depths = [
        "hl7wasm_queue_depth{channel=\"test\",queue=\"inbound\",partition=\"0\"}",
        "hl7wasm_queue_depth{channel=\"test\",queue=\"inbound\",partition=\"1\"}",
        "hl7wasm_queue_depth{channel=\"test\",queue=\"sink\",partition=\"1\"}",
    ];
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (_, body) = api
            .call(reqwest::Method::GET, "/metrics", Some(ADMIN), None)
            .await;
        let text = String::from_utf8(body).unwrap();
        let remembered = text.contains("hl7wasm_dedupe_entries 1\n");
        if text.contains(failures) && depths.iter().all(|d| text.contains(d)) && remembered {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_admin_api_serves_https_and_refuses_plain_http() {
    let pki = pki::Pki::new();
    let text = format!(
        "{ADMIN_SECTION}[admin.tls]\ncert_file = {:?}\nkey_file = {:?}\n\n\
         [[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n",
        pki.path("server.pem"),
        pki.path("server.key"),
    );
    let engine = start_channels(tempfile::tempdir().unwrap(), &text).await;
    let address = engine.server.admin_address().unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(pki.path("ca.pem")).unwrap())
        .unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let https = client
        .get(format!(
            "https://localhost:{}/api/v1/plugins",
            address.port()
        ))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("HTTPS with the test CA works");
    assert_eq!(https.status(), StatusCode::OK);

    let plain = client
        .get(format!("http://{address}/api/v1/health"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered: {plain:?}");
}

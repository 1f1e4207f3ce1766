//! Ensures the web dashboard works in a DOM against the real engine: served
//! with its security headers, and driven in jsdom (`tests/dashboard/
//! drive.mjs`, which runs the page's own script) through a user's rounds:
//! token, channel pause and resume, a dead letter's payload and reprocess,
//! another's purge, message search (by control ID and by a field's value)
//! and reprocess, the alerts, plugin upload, activation and rollback, the
//! TLS certificates with their reload, and the configuration with a dry
//! run and a reload of its file, whose new signing policy the page then
//! shows the uploaded (unsigned) build to fail. What the page
//! did is then checked over the API and at the receiving system.

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
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use admin::Api;
use engine::{TestEngine, exchange, field, message, start_from_file, write_config};
use pki::Pki;
use reqwest::StatusCode;
use sink::{Answer, Sink};
use tokio::net::TcpStream;

const ADMIN: &str = "admin-token-0123456789";
const PATIENCE: Duration = Duration::from_secs(20);

/// The configuration of an engine with the admin API, a channel `test`
/// that runs `passthrough` and delivers ADT messages to `sink` and ORU
/// messages to `down`, which nothing answers at `nowhere`, and a channel
/// `secure` listening over TLS with `pki`'s server certificate; the
/// storage alert is off, so that this machine's disk cannot change the
/// alert count the page shows.
fn config(sink: &Sink, nowhere: SocketAddr, pki: &Pki) -> String {
    format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\
         tokens = [{{ name = \"alice\", token = \"{ADMIN}\", role = \"admin\" }}]\n\n\
         [alerts]\nstorage_min_free_percent = 0.0\n\n\
         [[channels]]\nname = \"test\"\ndead_letter_alert = 1\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.pipeline]]\nplugin = \"passthrough\"\n\
         [[channels.destinations]]\nname = \"sink\"\n\
         to = {{ type = \"mllp\", address = \"{}\", ack_timeout_secs = 2, connect_timeout_secs = 1 }}\n\
         filter = {{ message_types = [\"ADT\"] }}\n\
         retry = {{ initial_delay_ms = 50, max_delay_ms = 200, max_retries = 3, jitter = 0.0 }}\n\n\
         [[channels.destinations]]\nname = \"down\"\n\
         to = {{ type = \"mllp\", address = \"{nowhere}\", connect_timeout_secs = 1 }}\n\
         filter = {{ message_types = [\"ORU\"] }}\n\
         retry = {{ initial_delay_ms = 50, max_delay_ms = 200, max_retries = 3, jitter = 0.0 }}\n\n\
         [[channels]]\nname = \"secure\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [channels.source.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        sink.address,
        pki.path("server.pem"),
        pki.path("server.key"),
    )
}

/// The public key of a new signing key made in `dir` by `hl7wasm plugin
/// keygen`.
fn public_key(dir: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args(["plugin", "keygen", "--out"])
        .arg(dir.join("vendor.key"))
        .output()
        .expect("hl7wasm runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The engine of [`config`], started from its file.
async fn start(sink: &Sink, nowhere: SocketAddr, pki: &Pki) -> TestEngine {
    start_from_file(tempfile::tempdir().unwrap(), &config(sink, nowhere, pki)).await
}

/// An address nothing listens on.
async fn nowhere() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn the_dashboard_is_served_with_a_strict_policy() {
    let sink = Sink::start("127.0.0.1:0", Answer::Accept).await;
    let pki = Pki::new();
    let engine = start(&sink, nowhere().await, &pki).await;
    let api = Api::of(&engine);

    let root = api.raw("/").await;
    assert_eq!(root.status(), StatusCode::SEE_OTHER);
    assert_eq!(root.headers()["location"], "/dashboard/");

    let page = api.raw("/dashboard/").await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "no token needed for the files"
    );
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script src="app.js" defer></script>"#));
    let handler = html.split(" on").skip(1).any(|after| {
        let name: String = after.chars().take_while(char::is_ascii_lowercase).collect();
        !name.is_empty() && after[name.len()..].starts_with('=')
    });
    assert!(
        !html.contains("<script>") && !handler,
        "no inline script or handler, which the policy would block"
    );

    for (file, kind) in [("app.js", "text/javascript"), ("style.css", "text/css")] {
        let answer = api.raw(&format!("/dashboard/{file}")).await;
        assert_eq!(answer.status(), StatusCode::OK, "{file}");
        let content_type = answer.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{file}: {content_type}");
    }
    let missing = api.raw("/dashboard/nope.js").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_operates_the_engine_from_the_dashboard() {
    let sink = Sink::start("127.0.0.1:0", Answer::Reject).await;
    let pki = Pki::new();
    let down = nowhere().await;
    let engine = start(&sink, down, &pki).await;
    let api = Api::of(&engine);

    let mut stream = TcpStream::connect(engine.address).await.unwrap();
    // A result for `down`, which cannot be reached: it waits in its queue.
    let result = message("WAIT1").replace("ADT^A01^ADT_A01", "ORU^R01^ORU_R01");
    let ack = exchange(&mut stream, result.as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    for id in ["DASH1", "DASH2"] {
        let ack = exchange(&mut stream, message(id).as_bytes()).await;
        assert_eq!(field(&ack, "MSA-1"), "AA", "{ack}");
    }
    engine::eventually(PATIENCE, "DASH1 and DASH2 dead-lettered", || {
        engine
            .server
            .store
            .dead_letter_count(&Default::default())
            .unwrap()
            == 2
    })
    .await;
    sink.answer(Answer::Accept);
    // An alert rule and the signing policy change in the file; the page
    // checks and reloads it, and then flags the unsigned build it uploaded
    // as untrusted.
    let rules = "[alerts]\nqueue_age_max_secs = 601\n";
    let file = write_config(
        &engine.dir,
        &config(&sink, down, &pki).replace("[alerts]\n", rules),
    );
    let policy = format!(
        "[plugins]\nrequire_signed = true\ntrusted_keys = [\"{}\"]\n",
        public_key(engine.dir.path())
    );
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("[plugins]\n", &policy, 1)).unwrap();

    let build = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        build.path(),
        support::rebuilt(&support::plugin_bytes("passthrough")),
    )
    .unwrap();
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/dashboard");
    assert!(
        driver.join("node_modules/jsdom").is_dir(),
        "jsdom is missing: run `npm ci` in tests/dashboard (scripts/test-all does)"
    );
    let output = tokio::task::spawn_blocking({
        let (base, build) = (api.base.clone(), build.path().to_owned());
        move || {
            Command::new("node")
                .current_dir(&driver)
                .arg("drive.mjs")
                .args([&base, ADMIN, build.to_str().unwrap()])
                .output()
                .expect("node runs")
        }
    })
    .await
    .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    println!("{printed}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the dashboard driver failed");
    let summary: serde_json::Value = serde_json::from_str(printed.lines().last().unwrap()).unwrap();

    // What the page did, seen from outside it.
    sink.wait_for(2, PATIENCE).await;
    assert_eq!(
        sink.accepted_ids(),
        ["DASH1", "DASH1"],
        "delivered from the dead-letter queue, then reprocessed; DASH2 purged"
    );
    let status = api.ok("/api/v1/channels/test", ADMIN).await;
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["dead_letters"], 0, "{status}");
    assert_eq!(
        status["stages"][0]["active"]["sha256"], summary["activated"],
        "{status}"
    );
    let letters = api.ok("/api/v1/dead-letters", ADMIN).await;
    assert_eq!(letters, serde_json::json!([]));
    let config = api.ok("/api/v1/config", ADMIN).await;
    assert_eq!(config["alerts"]["queue_age_max_secs"], 601, "{config}");
}

//! Ensures that a renewed certificate takes effect without a restart: after
//! `POST /api/v1/tls/reload` (or SIGHUP to a real `hl7wasm serve`), new TLS
//! connections get the new certificate while open ones keep working, and a
//! destination presents its renewed client certificate from its next
//! delivery; files that do not load leave the old certificate in place and
//! are reported; and a certificate close to its end (a listener's or a
//! destination's) raises its channel's `certificate_expiry` until a renewed
//! one is loaded.

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;
#[path = "support/pki.rs"]
mod pki;
#[path = "support/process.rs"]
mod process;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use admin::Api;
use engine::{TestEngine, field, frame, message, start_channels};
use hl7wasm::metrics::count;
use pki::Pki;
use reqwest::StatusCode;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const VIEWER: &str = "viewer-token-0123456789";
const OPERATOR: &str = "operator-token-0123456789";
const PATIENCE: Duration = Duration::from_secs(20);

/// `[[channels]]` `test`: MLLP over TLS with `live.pem` and `live.key`.
fn channel(pki: &Pki) -> String {
    format!(
        "[[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [channels.source.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        pki.path("live.pem"),
        pki.path("live.key"),
    )
}

/// An engine whose channel `test` serves `live.{pem,key}`, with the admin
/// API (plain HTTP on loopback) and alerts judged every second.
async fn start(pki: &Pki) -> TestEngine {
    let config = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\ntokens = [\n\
         {{ name = \"grafana\", token = \"{VIEWER}\", role = \"viewer\" }},\n\
         {{ name = \"oncall\", token = \"{OPERATOR}\", role = \"operator\" }},\n]\n\n\
         [alerts]\ninterval_secs = 1\n\n{}",
        channel(pki)
    );
    start_channels(tempfile::tempdir().unwrap(), &config).await
}

/// Puts `<name>.{pem,key}` in place as `live.{pem,key}`, as a renewal
/// does.
fn install(pki: &Pki, name: &str) {
    for ext in ["pem", "key"] {
        std::fs::copy(
            pki.path(&format!("{name}.{ext}")),
            pki.path(&format!("live.{ext}")),
        )
        .unwrap();
    }
}

/// The SHA-256 of the certificate in `<name>.pem`, in hex.
fn fingerprint(pki: &Pki, name: &str) -> String {
    let der = CertificateDer::from_pem_file(pki.path(&format!("{name}.pem"))).unwrap();
    hex::encode(Sha256::digest(&der))
}

/// A TLS connection to `address` that trusts the test CA.
async fn connect(pki: &Pki, address: SocketAddr) -> TlsStream<TcpStream> {
    let config = hl7wasm::tls::client_config(&hl7wasm::tls::TlsClientSettings {
        ca_file: pki.path("ca.pem"),
        cert_file: None,
        key_file: None,
        server_name: None,
        min_version: Default::default(),
    })
    .unwrap();
    let tcp = TcpStream::connect(address).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .expect("the TLS handshake succeeds")
}

/// The SHA-256 of the certificate the server presented on `stream`.
fn presented(stream: &TlsStream<TcpStream>) -> String {
    let certificates = stream.get_ref().1.peer_certificates().unwrap();
    hex::encode(Sha256::digest(&certificates[0]))
}

/// Sends `control_id` as a message on `stream`; its ACK code.
async fn send(stream: &mut TlsStream<TcpStream>, control_id: &str) -> String {
    stream
        .write_all(&frame(message(control_id).as_bytes()))
        .await
        .unwrap();
    let mut reply = Vec::new();
    while !reply.ends_with(&[0x1c, 0x0d]) {
        let mut chunk = [0u8; 1024];
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .expect("an ACK in time")
            .unwrap();
        assert_ne!(read, 0, "the engine closed the connection");
        reply.extend_from_slice(&chunk[..read]);
    }
    let ack = String::from_utf8_lossy(&reply[1..reply.len() - 2]).into_owned();
    field(&ack, "MSA-1")
}

/// `POST /api/v1/tls/reload` as the operator: the one listener's report.
async fn reload(api: &Api) -> Value {
    let (status, body) = api.post("/api/v1/tls/reload", OPERATOR, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reports = body.as_array().expect("a list of reports");
    assert_eq!(reports.len(), 1, "{body}");
    reports[0].clone()
}

fn reloads(engine: &TestEngine, outcome: &str) -> u64 {
    let labels = vec![
        ("endpoint", "test".to_string()),
        ("outcome", outcome.to_string()),
    ];
    count(&engine.server.metrics.tls_reloads, &labels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let pki = Pki::new();
    install(&pki, "server");
    let renewal = time::OffsetDateTime::now_utc() + time::Duration::days(400);
    pki.issue_server("renewed", renewal);
    let engine = start(&pki).await;
    let api = Api::of(&engine);

    let mut open = connect(&pki, engine.address).await;
    assert_eq!(presented(&open), fingerprint(&pki, "server"));
    assert_eq!(send(&mut open, "BEFORE").await, "AA");

    // The renewal lands; nothing changes until the reload.
    install(&pki, "renewed");
    let unchanged = connect(&pki, engine.address).await;
    assert_eq!(presented(&unchanged), fingerprint(&pki, "server"));

    let report = reload(&api).await;
    assert_eq!(report["endpoint"], "test");
    assert_eq!(report["outcome"], "reloaded", "{report}");
    assert_eq!(
        report["certificate"]["sha256"],
        fingerprint(&pki, "renewed")
    );
    assert_eq!(
        report["certificate"]["not_after_unix"],
        renewal.unix_timestamp()
    );
    assert_eq!(report["certificate"]["subject"], "CN=hl7wasm");

    let mut renewed = connect(&pki, engine.address).await;
    assert_eq!(presented(&renewed), fingerprint(&pki, "renewed"));
    assert_eq!(send(&mut renewed, "AFTER").await, "AA");
    // The connection opened before the reload keeps its session.
    assert_eq!(send(&mut open, "OPEN").await, "AA");

    assert_eq!(reload(&api).await["outcome"], "unchanged");

    // A key that does not match the certificate (a half-done renewal):
    // refused, named, and the renewed certificate stays.
    std::fs::copy(pki.path("lab.key"), pki.path("live.key")).unwrap();
    let failed = reload(&api).await;
    assert_eq!(failed["outcome"], "failed", "{failed}");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("live.key"), "{error}");
    assert_eq!(
        failed["certificate"]["sha256"],
        fingerprint(&pki, "renewed")
    );
    let mut still = connect(&pki, engine.address).await;
    assert_eq!(presented(&still), fingerprint(&pki, "renewed"));
    assert_eq!(send(&mut still, "STILL").await, "AA");

    assert_eq!(
        (
            reloads(&engine, "reloaded"),
            reloads(&engine, "unchanged"),
            reloads(&engine, "failed")
        ),
        (1, 1, 1)
    );
    let listed = api.ok("/api/v1/tls", VIEWER).await;
    assert_eq!(listed[0]["endpoint"], "test");
    assert_eq!(
        listed[0]["certificate"]["sha256"],
        fingerprint(&pki, "renewed")
    );
    let (status, _) = api.post("/api/v1/tls/reload", VIEWER, &json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_near_its_end_raises_an_alert_until_renewed() {
    let pki = Pki::new();
    let soon = time::OffsetDateTime::now_utc() + time::Duration::days(5);
    pki.issue_server("short", soon);
    install(&pki, "short");
    let engine = start(&pki).await;
    let api = Api::of(&engine);
    let expiry_alerts = |alerts: &Value| -> Vec<Value> {
        let alerts = alerts.as_array().unwrap().iter();
        alerts
            .filter(|alert| alert["kind"] == "certificate_expiry")
            .cloned()
            .collect()
    };

    let deadline = tokio::time::Instant::now() + PATIENCE;
    let raised = loop {
        let alerts = expiry_alerts(&api.ok("/api/v1/alerts", VIEWER).await);
        if let Some(alert) = alerts.first() {
            break alert.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no expiry alert");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(raised["channel"], "test");
    let text = raised["text"].as_str().unwrap();
    // Five days less the seconds since the certificate was issued.
    assert!(
        ["expires in 4 day(s)", "expires in 5 day(s)"]
            .iter()
            .any(|days| text.contains(days)),
        "{text}"
    );
    assert!(text.contains(&fingerprint(&pki, "short")), "{text}");
    let gauge = engine
        .server
        .metrics
        .tls_certificate_expiry
        .get_or_create(&vec![("endpoint", "test".to_string())])
        .get();
    assert_eq!(gauge, soon.unix_timestamp());

    install(&pki, "server");
    let reloads = engine.server.reload_tls();
    assert_eq!(
        reloads[0].certificate.as_ref().unwrap().sha256,
        fingerprint(&pki, "server")
    );
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !expiry_alerts(&api.ok("/api/v1/alerts", VIEWER).await).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the expiry alert stayed after the renewal"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The real process, with TLS on the channel and on the admin API: SIGHUP
/// reloads both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_every_tls_listener_of_a_running_engine() {
    let pki = Pki::new();
    install(&pki, "server");
    pki.issue_server(
        "renewed",
        time::OffsetDateTime::now_utc() + time::Duration::days(400),
    );
    let dir = tempfile::tempdir().unwrap();
    let (mllp, admin) = (process::free_address(), process::free_address());
    let config = format!(
        "[storage]\ndir = {:?}\n\n[admin]\nlisten = \"{admin}\"\n\
         tokens = [{{ name = \"oncall\", token = \"{OPERATOR}\", role = \"operator\" }}]\n\
         [admin.tls]\ncert_file = {:?}\nkey_file = {:?}\n\n{}",
        dir.path().join("store"),
        pki.path("live.pem"),
        pki.path("live.key"),
        channel(&pki).replace("127.0.0.1:0", &mllp.to_string()),
    );
    let config_file = dir.path().join("engine.toml");
    std::fs::write(&config_file, config).unwrap();
    let mut child = process::spawn_engine(&config_file, None);
    process::wait_until_listening(mllp).await;
    process::wait_until_listening(admin).await;
    for address in [mllp, admin] {
        assert_eq!(
            presented(&connect(&pki, address).await),
            fingerprint(&pki, "server")
        );
    }

    install(&pki, "renewed");
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill takes no pointers; it signals our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
    for address in [mllp, admin] {
        let mut now = String::new();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while now != fingerprint(&pki, "renewed") {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{address} still presents the old certificate"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            now = presented(&connect(&pki, address).await);
        }
    }
    let mut stream = connect(&pki, mllp).await;
    assert_eq!(send(&mut stream, "AFTER-HUP").await, "AA");
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP stopped the engine"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// What the TLS receiving system saw: for each message, its control ID and
/// the SHA-256 of the client certificate of its connection.
type Seen = Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A receiving system over mTLS (clients signed by the test CA), standing
/// in for a hospital system outside the engine: answers AA to every
/// message, and counts the connections it accepted.
async fn mtls_sink(pki: &Pki) -> (SocketAddr, Seen, Arc<AtomicUsize>) {
    let settings = pki.mtls_settings(&[]);
    let acceptor = tokio_rustls::TlsAcceptor::from(hl7wasm::tls::server_config(&settings).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Seen::default();
    let shared = seen.clone();
    let connections = Arc::new(AtomicUsize::new(0));
    let accepted = connections.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let (acceptor, seen) = (acceptor.clone(), shared.clone());
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let client = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
                let client = hex::encode(Sha256::digest(&client));
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(read) = stream.read(&mut chunk).await {
                    if read == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..read]);
                    while let Some(end) = buffer.windows(2).position(|w| w == [0x1c, 0x0d]) {
                        let frame: Vec<u8> = buffer.drain(..end + 2).collect();
                        let start = frame.iter().position(|&b| b == 0x0b).unwrap() + 1;
                        let text = String::from_utf8_lossy(&frame[start..end]).into_owned();
                        let control_id = field(&text, "MSH-10");
                        seen.lock()
                            .unwrap()
                            .push((control_id.clone(), client.clone()));
                        let ack = format!(
                            "MSH|^~\\&|SINK|H|HL7WASM|H|20240101||ACK|A-{control_id}|P|2.5\rMSA|AA|{control_id}\r"
                        );
                        stream.write_all(&frame_of(&ack)).await.unwrap();
                    }
                }
            });
        }
    });
    (address, seen, connections)
}

fn frame_of(text: &str) -> Vec<u8> {
    frame(text.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destinations_renewed_client_certificate_is_used_after_a_reload() {
    let pki = Pki::new();
    let copy = |from: &str| {
        for ext in ["pem", "key"] {
            std::fs::copy(
                pki.path(&format!("{from}.{ext}")),
                pki.path(&format!("client.{ext}")),
            )
            .unwrap();
        }
    };
    copy("lab");
    let (sink, seen, connections) = mtls_sink(&pki).await;
    let config = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\
         tokens = [{{ name = \"oncall\", token = \"{OPERATOR}\", role = \"operator\" }}]\n\n\
         [[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"out\"\n\
         to = {{ type = \"mllp\", address = \"{sink}\", tls = {{ ca_file = {:?}, cert_file = {:?}, \
         key_file = {:?}, server_name = \"localhost\" }} }}\n",
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client.key"),
    );
    let engine = start_channels(tempfile::tempdir().unwrap(), &config).await;
    let api = Api::of(&engine);
    let delivered = |control_id: &'static str| {
        let seen = seen.clone();
        async move {
            let deadline = tokio::time::Instant::now() + PATIENCE;
            loop {
                if let Some((_, client)) =
                    seen.lock().unwrap().iter().find(|(id, _)| id == control_id)
                {
                    return client.clone();
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{control_id} not delivered"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let mut sender = TcpStream::connect(engine.address).await.unwrap();
    let ack = engine::exchange(&mut sender, message("OUT-1").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    assert_eq!(delivered("OUT-1").await, fingerprint(&pki, "lab"));

    // A reload with the same files keeps the destination's connection.
    let (status, body) = api.post("/api/v1/tls/reload", OPERATOR, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ack = engine::exchange(&mut sender, message("OUT-1B").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    assert_eq!(delivered("OUT-1B").await, fingerprint(&pki, "lab"));
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "the connection was kept"
    );

    copy("pharmacy");
    let (status, body) = api.post("/api/v1/tls/reload", OPERATOR, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["endpoint"] == "test/out")
        .cloned()
        .unwrap_or_else(|| panic!("no report for test/out: {body}"));
    assert_eq!(report["outcome"], "reloaded", "{report}");
    assert_eq!(
        report["certificate"]["sha256"],
        fingerprint(&pki, "pharmacy")
    );

    let ack = engine::exchange(&mut sender, message("OUT-2").as_bytes()).await;
    assert_eq!(field(&ack, "MSA-1"), "AA");
    assert_eq!(delivered("OUT-2").await, fingerprint(&pki, "pharmacy"));
    let listed = api.ok("/api/v1/tls", OPERATOR).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["endpoint"] == "test/out"
                && e["certificate"]["sha256"] == fingerprint(&pki, "pharmacy")),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_near_their_end_share_their_channels_alert() {
    let pki = Pki::new();
    let soon = time::OffsetDateTime::now_utc() + time::Duration::days(3);
    pki.issue_client_until("a", "lab-analyzer", soon);
    pki.issue_client_until("b", "lab-analyzer", soon);
    let (sink, _, _) = mtls_sink(&pki).await;
    let destination = |name: &str| {
        format!(
            "[[channels.destinations]]\nname = \"out-{name}\"\n\
             to = {{ type = \"mllp\", address = \"{sink}\", tls = {{ ca_file = {:?}, cert_file = {:?}, \
             key_file = {:?}, server_name = \"localhost\" }} }}\n",
            pki.path("ca.pem"),
            pki.path(&format!("{name}.pem")),
            pki.path(&format!("{name}.key")),
        )
    };
    let config = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\
         tokens = [{{ name = \"oncall\", token = \"{OPERATOR}\", role = \"operator\" }}]\n\n\
         [alerts]\ninterval_secs = 1\n\n\
         [[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n{}{}",
        destination("a"),
        destination("b"),
    );
    let engine = start_channels(tempfile::tempdir().unwrap(), &config).await;
    let api = Api::of(&engine);
    // The channel's certificate_expiry alert, once `holds` is true of it.
    let alert_text = |holds: fn(&str) -> bool| {
        let api = &api;
        async move {
            let deadline = tokio::time::Instant::now() + PATIENCE;
            loop {
                let alerts = api.ok("/api/v1/alerts", OPERATOR).await;
                let text = alerts
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["kind"] == "certificate_expiry" && a["channel"] == "test")
                    .map(|a| a["text"].as_str().unwrap().to_owned())
                    .unwrap_or_default();
                if holds(&text) {
                    return text;
                }
                assert!(tokio::time::Instant::now() < deadline, "alert: {text:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let both = alert_text(|t| t.contains("\"out-a\"") && t.contains("\"out-b\"")).await;
    assert!(both.contains("; "), "{both}");

    // out-a's certificate is renewed: after the reload only out-b is named.
    std::fs::copy(pki.path("lab.pem"), pki.path("a.pem")).unwrap();
    std::fs::copy(pki.path("lab.key"), pki.path("a.key")).unwrap();
    engine.server.reload_tls();
    alert_text(|t| !t.contains("\"out-a\"") && t.contains("\"out-b\"")).await;
}

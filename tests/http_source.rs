//! Ensures that an HL7-over-HTTP source takes one message (or a batch) per
//! POST through the same path as MLLP (durable store, dedupe, AA/AR in the
//! response),
//! refuses a missing token, a wrong content type, an oversized body and a
//! stopped channel with the right status, cuts off slow and idle clients,
//! and over mTLS lets in only an allowed client certificate; all with a
//! real HTTP client.

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;
#[path = "support/pki.rs"]
mod pki;

use std::sync::Arc;

use engine::{batch_answers, field, message, stored_control_ids};
use hl7wasm::config;
use hl7wasm::metrics::{channel, channel_and, count};
use hl7wasm::server::Server;
use hl7wasm::tls::TlsClientSettings;
use reqwest::StatusCode;
use serde_json::json;

const TOKEN: &str = "s3cret-sender-token";
const HL7: &str = "x-application/hl7-v2+er7";

async fn start(source: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[storage]\ndir = {:?}\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n\
         [[channels]]\nname = \"web\"\n[channels.source]\ntype = \"http\"\n\
         listen = \"127.0.0.1:0\"\npath = \"/hl7\"\n{source}\n",
        dir.path().join("store")
    );
    let server = Server::start(config::parse(&text, "test").unwrap())
        .await
        .unwrap();
    (server, dir)
}

fn http(tls: Option<rustls::ClientConfig>) -> reqwest::Client {
    let tls = tls.unwrap_or_else(|| {
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
    });
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_post_is_stored_and_answered_with_its_ack() {
    let (server, _dir) = start(&format!(
        "bearer_token = \"{TOKEN}\"\nmax_message_bytes = 4096"
    ))
    .await;
    let url = format!("http://{}/hl7", server.address("web").unwrap());
    let client = http(None);
    let post = |body: String, content_type: &'static str, token: Option<&'static str>| {
        let mut request = client
            .post(&url)
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let response = post(message("WEB-1"), HL7, Some(TOKEN)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], HL7);
    let ack = response.text().await.unwrap();
    assert_eq!(
        (field(&ack, "MSA-1"), field(&ack, "MSA-2")),
        ("AA".into(), "WEB-1".into())
    );
    let again = post(message("WEB-1"), HL7, Some(TOKEN)).await.unwrap();
    assert_eq!(field(&again.text().await.unwrap(), "MSA-1"), "AA");
    assert_eq!(
        server.store.messages().count(),
        1,
        "a resend is not stored twice"
    );
    assert_eq!(count(&server.metrics.duplicates, &channel("web")), 1);

    let response = post(message("WEB-2"), HL7, None).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let response = post(message("WEB-2"), HL7, Some("guess")).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = post(message("WEB-2"), "application/json", Some(TOKEN))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let large = format!("{}NTE|1||{}\r", message("WEB-3"), "x".repeat(8192));
    let response = post(large, HL7, Some(TOKEN)).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let refused = |reason: &str| {
        count(
            &server.metrics.frames_refused,
            &channel_and("web", "reason", reason),
        )
    };
    assert_eq!(refused("too_large"), 1);
    assert_eq!(refused("unauthorized"), 2);
    assert_eq!(refused("unsupported_content_type"), 1);

    let response = post("no message here".into(), "text/plain", Some(TOKEN))
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the HL7 answer is in the ACK"
    );
    assert_eq!(field(&response.text().await.unwrap(), "MSA-1"), "AR");
    assert_eq!(server.store.messages().count(), 1);

    let api = admin::Api::at(server.admin_address().unwrap());
    let (status, _) = api.post("/api/v1/channels/web/stop", "", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let response = post(message("WEB-4"), HL7, Some(TOKEN)).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "30");
    let (status, _) = api.post("/api/v1/channels/web/start", "", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let response = post(
        message("WEB-4"),
        "application/hl7-v2; charset=utf-8",
        Some(TOKEN),
    )
    .await
    .unwrap();
    assert_eq!(field(&response.text().await.unwrap(), "MSA-1"), "AA");
    assert_eq!(server.store.messages().count(), 2);

    // The command line sends to the same source.
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/adt_a01.hl7");
    let send = move |token: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"));
        command
            .args(["send", &url, file])
            .env_remove("HL7WASM_HTTP_TOKEN");
        if let Some(token) = token {
            command.env("HL7WASM_HTTP_TOKEN", token);
        }
        command.output().unwrap()
    };
    let sent = tokio::task::spawn_blocking(move || (send(Some(TOKEN)), send(None)))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&sent.0.stdout);
    assert!(sent.0.status.success(), "{stdout}");
    assert!(stdout.contains("adt_a01.hl7 message 1: AA"), "{stdout}");
    let stderr = String::from_utf8_lossy(&sent.1.stderr);
    assert!(!sent.1.status.success());
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    assert_eq!(server.store.messages().count(), 3);

    let requests = |status: &str| {
        count(
            &server.metrics.http_requests,
            &channel_and("web", "status", status),
        )
    };
    assert_eq!(
        [
            requests("200"),
            requests("401"),
            requests("413"),
            requests("415"),
            requests("503")
        ],
        [5, 3, 1, 1, 1]
    );
    let received = count(&server.metrics.frames_received, &channel("web"));
    assert_eq!(
        received, 6,
        "bodies that reached the intake, the oversized one too"
    );
    server.shutdown().await;
}

/// Ensures that a POST of an HL7 batch stores its messages in order and is
/// answered with one batch of their ACKs, as over MLLP.
#[tokio::test]
async fn a_posted_batch_is_answered_with_a_batch_of_acks() {
    let (server, _dir) = start("").await;
    let url = format!("http://{}/hl7", server.address("web").unwrap());
    let body = format!(
        "BHS|^~\\&|SENDER|FAC|RECV|RFAC|20240101120000||||B-9\r{}{}BTS|2\r",
        message("WB-1"),
        message("WB-2")
    );
    let response = http(None)
        .post(&url)
        .header("content-type", HL7)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let reply = response.text().await.unwrap();
    let batch = hl7v2::split_batch(reply.as_bytes()).expect("a batch");
    assert_eq!(batch.header_segment("FHS"), None, "{reply:?}");
    let bhs = String::from_utf8(batch.header_segment("BHS").unwrap().to_vec()).unwrap();
    assert_eq!(bhs.split('|').nth(11), Some("B-9"), "BHS-12: {bhs}");
    let aa = |id: &str| ("AA".to_string(), id.to_string());
    assert_eq!(batch_answers(&batch), [aa("WB-1"), aa("WB-2")]);
    assert_eq!(batch.trailer, Some(&b"BTS|2\r"[..]));
    assert_eq!(stored_control_ids(&server), ["WB-1", "WB-2"]);
    server.shutdown().await;
}

#[tokio::test]
async fn over_mtls_only_an_allowed_client_gets_in() {
    let pki = pki::Pki::new();
    let source = format!(
        "[channels.source.tls]\ncert_file = {:?}\nkey_file = {:?}\nclient_ca_file = {:?}\n\
         allowed_clients = [\"lab-analyzer\"]\n",
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem"),
    );
    let (server, _dir) = start(&source).await;
    let url = format!(
        "https://localhost:{}/hl7",
        server.address("web").unwrap().port()
    );
    let as_client = |name: &str| {
        let settings: TlsClientSettings = toml::from_str(&format!(
            "ca_file = {:?}\ncert_file = {:?}\nkey_file = {:?}\n",
            pki.path("ca.pem"),
            pki.path(&format!("{name}.pem")),
            pki.path(&format!("{name}.key")),
        ))
        .unwrap();
        let config = hl7wasm::tls::client_config(&settings).unwrap();
        http(Some(Arc::unwrap_or_clone(config)))
    };

    let response = as_client("lab")
        .post(&url)
        .header("content-type", HL7)
        .body(message("TLS-1"))
        .send()
        .await
        .expect("the allowed client gets in");
    assert_eq!(field(&response.text().await.unwrap(), "MSA-1"), "AA");
    for refused in ["pharmacy", "impostor"] {
        let result = as_client(refused)
            .post(&url)
            .body(message("TLS-2"))
            .send()
            .await;
        assert!(result.is_err(), "{refused} got in: {result:?}");
    }
    assert_eq!(server.store.messages().count(), 1);
    assert!(count(&server.metrics.tls_handshake_failures, &channel("web")) >= 2);

    // The command line over HTTPS, with the allowed client's certificate.
    let mut send = tokio::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"));
    send.arg("send")
        .arg("--tls-ca")
        .arg(pki.path("ca.pem"))
        .arg("--cert")
        .arg(pki.path("lab.pem"))
        .arg("--key")
        .arg(pki.path("lab.key"))
        .arg(&url)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/adt_a01.hl7"
        ));
    let output = send.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("message 1: AA"), "{stdout}");
    assert_eq!(server.store.messages().count(), 2);
    // Each message keeps the name in its sender's certificate.
    for stored in server.store.messages() {
        assert_eq!(
            stored.unwrap().peer_certificate.as_deref(),
            Some("lab-analyzer")
        );
    }
    server.shutdown().await;
}

/// Ensures that a client trickling its headers or body, or holding a
/// connection idle, is cut off after `request_timeout_secs`, and that
/// `max_connections` bounds how many are served at once: a second client
/// waits until the idle first one is cut.
#[tokio::test]
async fn slow_and_idle_clients_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    let (server, _dir) = start("max_connections = 1\nrequest_timeout_secs = 1").await;
    let address = server.address("web").unwrap();
    let body = message("SLOW-1");
    let head = format!(
        "POST /hl7 HTTP/1.1\r\nhost: x\r\ncontent-type: {HL7}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );

    // An idle connection holds the only slot until it is cut.
    let started = std::time::Instant::now();
    let mut idle = TcpStream::connect(address).await.unwrap();
    let response = http(None)
        .post(format!("http://{address}/hl7"))
        .header("content-type", HL7)
        .body(message("NEXT-1"))
        .send();
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(field(&response.text().await.unwrap(), "MSA-1"), "AA");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "served before the idle client was cut"
    );
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        idle.read_to_end(&mut rest),
    )
    .await;
    assert!(
        matches!(read, Ok(Ok(0))),
        "the idle connection is closed: {read:?}"
    );

    // Headers sent, then the body trickles: 408.
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body.as_bytes()[..10]).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let refused = channel_and("web", "reason", "slow_sender");
    assert_eq!(count(&server.metrics.frames_refused, &refused), 1);
    assert_eq!(server.store.messages().count(), 1);
    server.shutdown().await;
}

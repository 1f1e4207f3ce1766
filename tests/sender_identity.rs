//! Ensures that a message keeps the name in its sender's mTLS client
//! certificate: it is stored with the message, and plugins get it in the
//! message's metadata. The enrich plugin, keyed on it, stamps MSH-4 with
//! the facility the certificate belongs to and rejects a certificate its
//! table does not list, over a real mTLS MLLP connection; the admin API
//! shows the name and finds a sender's messages by it.

#[path = "support/admin.rs"]
mod admin;
#[path = "support/engine.rs"]
mod engine;
#[path = "support/pki.rs"]
mod pki;
#[path = "support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use admin::Api;
use engine::{eventually, field, install_plugin, start_channels};
use pki::Pki;
use serde_json::Value;

const VIEWER: &str = "viewer-token-0123456789";

/// An mTLS MLLP channel `test` (any client the CA signed) whose enrich
/// stage sets MSH-4.1 from the `senders` table, keyed by the client
/// certificate's name, and answers after the transform; outputs go to
/// files named by control ID in `out`.
fn channel(pki: &Pki, out: &Path) -> String {
    format!(
        r#"[admin]
listen = "127.0.0.1:0"
tokens = [{{ name = "grafana", token = "{VIEWER}", role = "viewer" }}]

[[channels]]
name = "test"
ack_mode = "after_transform"
[channels.source]
type = "mllp"
listen = "127.0.0.1:0"
[channels.source.tls]
cert_file = {server:?}
key_file = {key:?}
client_ca_file = {ca:?}

[[channels.pipeline]]
plugin = "enrich"
config = {{ rules = [{{ table = "senders", from_metadata = "peer_certificate_name", to = "MSH-4.1", on_missing = "reject" }}] }}

[[channels.destinations]]
name = "out"
to = {{ type = "file", dir = {out:?}, file_name = "{{control_id}}.hl7" }}

[lookups.senders]
lab-analyzer = "CENTRAL-LAB"
"#,
        server = pki.path("server.pem"),
        key = pki.path("server.key"),
        ca = pki.path("ca.pem"),
    )
}

/// `hl7wasm send` of `message` with client certificate `client`; its
/// output.
async fn send_as(pki: &Pki, address: std::net::SocketAddr, client: &str, message: &Path) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .arg("send")
        .arg("--tls-ca")
        .arg(pki.path("ca.pem"))
        .arg("--cert")
        .arg(pki.path(&format!("{client}.pem")))
        .arg("--key")
        .arg(pki.path(&format!("{client}.key")))
        .arg("--server-name")
        .arg("localhost")
        .arg(address.to_string())
        .arg(message)
        .output()
        .await
        .expect("run hl7wasm send");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_certificate_names_the_sender_to_plugins() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    install_plugin(&dir, &support::plugin_path("enrich"));
    let config = channel(&pki, &out);
    let engine = start_channels(dir, &config).await;
    let message = |control_id: &str| {
        let file = engine.dir.path().join(format!("{control_id}.in.hl7"));
        std::fs::write(&file, engine::message(control_id)).unwrap();
        file
    };

    // The lab's certificate (CN lab-analyzer) is in the table.
    let answer = send_as(&pki, engine.address, "lab", &message("LAB-1")).await;
    assert!(answer.contains("MSA|AA|LAB-1"), "{answer}");
    let delivered = out.join("LAB-1.hl7");
    eventually(
        Duration::from_secs(20),
        "the enriched message is written",
        || delivered.exists(),
    )
    .await;
    let written = std::fs::read_to_string(&delivered).unwrap();
    assert_eq!(field(&written, "MSH-4"), "CENTRAL-LAB", "{written}");

    // The pharmacy's certificate is trusted by the listener but not listed.
    let answer = send_as(&pki, engine.address, "pharmacy", &message("PHA-1")).await;
    assert!(answer.contains("MSA|AR|PHA-1"), "{answer}");
    assert!(
        answer.contains("metadata peer_certificate_name: key not in lookup table `senders`"),
        "{answer}"
    );
    assert!(!out.join("PHA-1.hl7").exists());

    // The store keeps each message's sender certificate name.
    let mut senders: Vec<(String, String)> = engine
        .server
        .store
        .messages()
        .map(|stored| {
            let stored = stored.unwrap();
            (
                stored.control_id.unwrap(),
                stored.peer_certificate.unwrap_or_default(),
            )
        })
        .collect();
    senders.sort();
    assert_eq!(
        senders,
        [
            ("LAB-1".to_string(), "lab-analyzer".to_string()),
            ("PHA-1".to_string(), "pharmacy".to_string()),
        ]
    );

    // The admin API shows it, and finds a sender's messages by it.
    let api = Api::of(&engine);
    let from_pharmacy = api
        .ok("/api/v1/messages?peer_certificate=pharmacy", VIEWER)
        .await;
    let found: Vec<&Value> = from_pharmacy.as_array().unwrap().iter().collect();
    assert_eq!(found.len(), 1, "{from_pharmacy}");
    assert_eq!(found[0]["control_id"], "PHA-1");
    assert_eq!(found[0]["peer_certificate"], "pharmacy");
    let id = found[0]["id"].as_u64().unwrap();
    let shown = api.ok(&format!("/api/v1/messages/{id}"), VIEWER).await;
    assert_eq!(shown["peer_certificate"], "pharmacy", "{shown}");
    let nobody = api
        .ok("/api/v1/messages?peer_certificate=stranger", VIEWER)
        .await;
    assert_eq!(nobody, serde_json::json!([]));
    let cli = tokio::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
        .args(["messages", "search", "--peer-certificate", "lab-analyzer"])
        .args(["--api", &api.base, "--token", VIEWER])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&cli.stdout);
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    assert!(
        stdout.contains("LAB-1") && !stdout.contains("PHA-1"),
        "{stdout}"
    );
    engine.server.shutdown().await;
}

//! Ensures that the engine's MLLP listener serves TLS with an mTLS
//! allow-list end to end: `hl7wasm send` with an allowed client certificate
//! gets AA, while a client without a certificate, a client not on the list
//! and a TLS 1.1 client are refused and counted as handshake failures.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/pki.rs"]
mod pki;

use std::process::Output;

use hl7wasm::metrics::{channel, count};
use pki::Pki;

async fn hl7wasm_send(pki: &Pki, address: std::net::SocketAddr, client: Option<&str>) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"));
    command.arg("send").arg("--tls-ca").arg(pki.path("ca.pem"));
    if let Some(client) = client {
        command
            .arg("--cert")
            .arg(pki.path(&format!("{client}.pem")))
            .arg("--key")
            .arg(pki.path(&format!("{client}.key")));
    }
    command
        .arg("--server-name")
        .arg("localhost")
        .arg(address.to_string())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/adt_a01.hl7"
        ));
    command.output().await.expect("run hl7wasm send")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_listener_accepts_allowed_clients_and_counts_refusals() {
    let pki = Pki::new();
    let tls = format!(
        "[channels.source.tls]\ncert_file = {:?}\nkey_file = {:?}\nclient_ca_file = {:?}\nallowed_clients = [\"lab-analyzer\"]",
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem")
    );
    let engine = engine::start("", &tls).await;
    let failures = || {
        count(
            &engine.server.metrics.tls_handshake_failures,
            &channel("test"),
        )
    };

    let allowed = hl7wasm_send(&pki, engine.address, Some("lab")).await;
    let stdout = String::from_utf8_lossy(&allowed.stdout);
    assert!(
        allowed.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    assert!(stdout.contains("MSA|AA|MSG00001"), "{stdout}");
    assert_eq!(engine.server.store.messages().count(), 1);
    assert_eq!(failures(), 0);

    let anonymous = hl7wasm_send(&pki, engine.address, None).await;
    assert!(!anonymous.status.success());
    let not_listed = hl7wasm_send(&pki, engine.address, Some("pharmacy")).await;
    assert!(!not_listed.status.success());
    let impostor = hl7wasm_send(&pki, engine.address, Some("impostor")).await;
    assert!(!impostor.status.success());
    assert_eq!(failures(), 3);

    let old = tokio::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &engine.address.to_string(),
            "-tls1_1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("openssl is installed (CI installs it)");
    assert!(!old.status.success(), "a TLS 1.1 client must be refused");
    assert_eq!(failures(), 4);
    assert_eq!(
        engine.server.store.messages().count(),
        1,
        "refused clients stored nothing"
    );
}

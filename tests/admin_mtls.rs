//! Ensures that the admin API knows callers by their client certificate
//! under mTLS (`client_roles`), as DESIGN asks ("a token or mTLS"): a
//! listed certificate gets its role, an unlisted one from the same CA gets
//! 401 unless it also sends a token, and a certificate from another CA does
//! not get through the handshake. Real TLS, real HTTP.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/pki.rs"]
mod pki;

use std::net::SocketAddr;

use engine::{TestEngine, start_channels};
use hl7wasm::tls::{TlsClientSettings, client_config};
use pki::Pki;
use reqwest::StatusCode;

const ADMIN: &str = "admin-token-0123456789";

async fn start(pki: &Pki) -> TestEngine {
    let config = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\
         tokens = [{{ name = \"alice\", token = \"{ADMIN}\", role = \"admin\" }}]\n\
         client_roles = [{{ name = \"PHARMACY\", role = \"operator\" }}]\n\
         [admin.tls]\ncert_file = {:?}\nkey_file = {:?}\nclient_ca_file = {:?}\n\n\
         [[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n",
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem"),
    );
    start_channels(tempfile::tempdir().unwrap(), &config).await
}

/// An HTTPS client presenting `client`'s certificate.
fn client(pki: &Pki, client: &str) -> reqwest::Client {
    let tls = client_config(&TlsClientSettings {
        ca_file: pki.path("ca.pem"),
        cert_file: Some(pki.path(&format!("{client}.pem"))),
        key_file: Some(pki.path(&format!("{client}.key"))),
        server_name: None,
        min_version: Default::default(),
    })
    .unwrap();
    reqwest::Client::builder()
        .tls_backend_preconfigured((*tls).clone())
        .build()
        .unwrap()
}

/// `method path` over HTTPS as `client`, with `token` if given: the status.
async fn call(
    client: &reqwest::Client,
    admin: SocketAddr,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> Result<StatusCode, reqwest::Error> {
    let mut request = client.request(method, format!("https://{admin}/api/v1{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.map(|response| response.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_carry_roles() {
    let pki = Pki::new();
    let engine = start(&pki).await;
    let admin = engine.server.admin_address().unwrap();
    let (get, post) = (reqwest::Method::GET, reqwest::Method::POST);

    // The pharmacy's certificate is an operator's (names match without
    // regard to case).
    let pharmacy = client(&pki, "pharmacy");
    let status = |method, path| call(&pharmacy, admin, method, path, None);
    assert_eq!(
        status(get.clone(), "/channels").await.unwrap(),
        StatusCode::OK
    );
    assert_eq!(
        status(post.clone(), "/channels/test/pause").await.unwrap(),
        StatusCode::OK
    );
    assert_eq!(
        status(get.clone(), "/messages/1/body").await.unwrap(),
        StatusCode::FORBIDDEN,
        "an operator reads no bodies"
    );

    // The lab's certificate is signed by the same CA but has no role: it
    // needs a token, which then decides.
    let lab = client(&pki, "lab");
    assert_eq!(
        call(&lab, admin, get.clone(), "/channels", None)
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(
            &lab,
            admin,
            post.clone(),
            "/channels/test/resume",
            Some(ADMIN)
        )
        .await
        .unwrap(),
        StatusCode::OK
    );
    // A wrong token is not saved by a good certificate.
    assert_eq!(
        call(
            &pharmacy,
            admin,
            get.clone(),
            "/channels",
            Some("wrong-token-0123456789")
        )
        .await
        .unwrap(),
        StatusCode::UNAUTHORIZED
    );

    // Another CA's certificate does not get through the handshake.
    let impostor = client(&pki, "impostor");
    assert!(
        call(&impostor, admin, get, "/channels", None)
            .await
            .is_err()
    );
    // The admin CLI presents a certificate the same way.
    let cli = |client: &str| {
        let api = format!("https://{admin}");
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_hl7wasm"))
            .args(["channels", "pause", "test", "--api", &api, "--tls-ca"])
            .arg(pki.path("ca.pem"))
            .arg("--cert")
            .arg(pki.path(&format!("{client}.pem")))
            .arg("--key")
            .arg(pki.path(&format!("{client}.key")))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    };
    let (paused, text) = cli("pharmacy");
    assert!(paused, "{text}");
    let (refused, text) = cli("lab");
    assert!(!refused, "{text}");
    assert!(text.contains("401") && text.contains("--cert"), "{text}");
}

#[test]
fn client_roles_need_a_client_ca_and_stand_in_for_tokens_beyond_loopback() {
    let check = |admin: &str| {
        toml::from_str::<hl7wasm::config::AdminConfig>(admin)
            .unwrap()
            .check()
    };
    let roles = "client_roles = [{ name = \"ops\", role = \"viewer\" }]\n";
    let error = check(&format!(
        "listen = \"0.0.0.0:8080\"\n{roles}[tls]\ncert_file = \"a.pem\"\nkey_file = \"a.key\"\n"
    ))
    .unwrap_err();
    assert!(
        error.contains("key admin.client_roles: needs admin.tls.client_ca_file"),
        "{error}"
    );
    let with_ca = format!(
        "listen = \"0.0.0.0:8080\"\n{roles}[tls]\ncert_file = \"a.pem\"\nkey_file = \"a.key\"\n\
         client_ca_file = \"ca.pem\"\n"
    );
    assert_eq!(check(&with_ca), Ok(()));
    let open = check("listen = \"0.0.0.0:8080\"\n").unwrap_err();
    assert!(
        open.contains("needs admin.tokens or admin.client_roles"),
        "{open}"
    );
}

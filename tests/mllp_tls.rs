//! Ensures that MLLP over TLS accepts TLS 1.3 and 1.2 only, enforces cipher suites and
//! the mTLS client CA and allow-list, and reports configuration mistakes clearly.
//!
//! The server here is a small stand-in for the listener: it accepts with
//! `server_config`, counts failed handshakes, records each peer's identity and echoes
//! MLLP frames back.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hl7wasm::mllp::{Connection, FrameEvent, MllpLimits};
use hl7wasm::tls::{
    TlsClientSettings, TlsServerSettings, client_config, peer_identity, protocol_version,
    server_config,
};
use rustls::ClientConfig;
use rustls::crypto::ring::{self, cipher_suite};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

#[path = "support/pki.rs"]
mod pki;

use pki::Pki;

const MESSAGE: &[u8] = b"MSH|^~\\&|LAB|HOSP|HL7WASM|HOSP|20240101||ORU^R01|42|P|2.5\r";

impl Pki {
    /// A client built by `client_config`, presenting the certificate `client` if given.
    fn client(&self, client: Option<&str>) -> Arc<ClientConfig> {
        client_config(&TlsClientSettings {
            ca_file: self.path("ca.pem"),
            cert_file: client.map(|c| self.path(&format!("{c}.pem"))),
            key_file: client.map(|c| self.path(&format!("{c}.key"))),
            server_name: None,
            min_version: Default::default(),
        })
        .unwrap()
    }

    /// A rustls client limited to `versions` and `suites`, without a client certificate.
    fn restricted_client(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
        suites: Vec<rustls::SupportedCipherSuite>,
    ) -> Arc<ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(self.path("ca.pem")).unwrap())
            .unwrap();
        let provider = rustls::crypto::CryptoProvider {
            cipher_suites: suites,
            ..ring::default_provider()
        };
        let config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

/// What the stand-in listener saw of one accepted peer.
#[derive(Debug, Clone, PartialEq)]
struct Peer {
    cn: Option<String>,
    version: Option<&'static str>,
}

/// The stand-in listener.
struct EchoServer {
    addr: SocketAddr,
    handshake_failures: Arc<AtomicUsize>,
    peers: Arc<Mutex<Vec<Peer>>>,
}

impl EchoServer {
    async fn start(settings: &TlsServerSettings) -> EchoServer {
        let acceptor = TlsAcceptor::from(server_config(settings).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = EchoServer {
            addr: listener.local_addr().unwrap(),
            handshake_failures: Arc::default(),
            peers: Arc::default(),
        };
        let (failures, peers) = (server.handshake_failures.clone(), server.peers.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, failures, peers) =
                    (acceptor.clone(), failures.clone(), peers.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        failures.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    let (_, session) = tls.get_ref();
                    let cn = peer_identity(session).and_then(|id| id.subject_cn);
                    let version = protocol_version(session);
                    peers.lock().unwrap().push(Peer { cn, version });
                    let mut connection = Connection::new(tls, MllpLimits::default());
                    while let Ok(Some(FrameEvent::Message(m))) = connection.read_frame().await {
                        connection.write_frame(&m).await.unwrap();
                    }
                });
            }
        });
        server
    }

    /// Sends one MLLP message over TLS with `config` and returns the echo.
    async fn exchange(&self, config: Arc<ClientConfig>) -> Result<Bytes, Box<dyn Error>> {
        let tcp = TcpStream::connect(self.addr).await?;
        let name = ServerName::try_from("localhost")?;
        let tls = TlsConnector::from(config).connect(name, tcp).await?;
        let mut connection = Connection::new(tls, MllpLimits::default());
        Ok(connection
            .request(MESSAGE, Duration::from_secs(5), |_| true)
            .await?)
    }

    /// Waits until the server has counted `count` failed handshakes.
    async fn expect_handshake_failures(&self, count: usize) {
        for _ in 0..100 {
            if self.handshake_failures.load(Ordering::SeqCst) >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(self.handshake_failures.load(Ordering::SeqCst), count);
    }

    fn peers(&self) -> Vec<Peer> {
        self.peers.lock().unwrap().clone()
    }
}

/// Ensures that a TLS 1.3 client and a TLS 1.2-only client both exchange an MLLP frame.
#[tokio::test]
async fn tls13_and_tls12_clients_exchange_mllp_frames() {
    let pki = Pki::new();
    let server = EchoServer::start(&pki.server_settings()).await;
    let tls12_only =
        pki.restricted_client(&[&rustls::version::TLS12], ring::ALL_CIPHER_SUITES.to_vec());
    assert_eq!(
        &server.exchange(pki.client(None)).await.unwrap()[..],
        MESSAGE
    );
    assert_eq!(&server.exchange(tls12_only).await.unwrap()[..], MESSAGE);
    let versions: Vec<_> = server.peers().iter().map(|p| p.version).collect();
    assert_eq!(versions, [Some("TLSv1.3"), Some("TLSv1.2")]);
    server.expect_handshake_failures(0).await;
}

/// Runs `openssl s_client` against `addr` with `args`; returns success and stdout.
async fn s_client(addr: SocketAddr, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("openssl must be installed to run this test");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// Ensures that OpenSSL clients limited to TLS 1.1 or TLS 1.0 are refused, while the same
/// tool succeeds with TLS 1.2.
#[tokio::test]
async fn openssl_tls11_and_tls10_are_refused() {
    let pki = Pki::new();
    let server = EchoServer::start(&pki.server_settings()).await;
    let ca = pki.path("ca.pem");
    let ca = ca.to_str().unwrap();
    let (ok, stdout) = s_client(
        server.addr,
        &["-tls1_2", "-CAfile", ca, "-servername", "localhost"],
    )
    .await;
    assert!(
        ok && stdout.contains("TLSv1.2"),
        "control with TLS 1.2 failed:\n{stdout}"
    );
    for (i, version) in ["-tls1_1", "-tls1"].into_iter().enumerate() {
        let (ok, stdout) =
            s_client(server.addr, &[version, "-cipher", "DEFAULT:@SECLEVEL=0"]).await;
        assert!(!ok, "{version} was accepted:\n{stdout}");
        server.expect_handshake_failures(i + 1).await;
    }
    assert_eq!(server.peers().len(), 1);
}

/// Ensures that with mTLS a client without a certificate is refused.
#[tokio::test]
async fn mtls_without_client_certificate_is_refused() {
    let pki = Pki::new();
    let server = EchoServer::start(&pki.mtls_settings(&[])).await;
    assert!(server.exchange(pki.client(None)).await.is_err());
    server.expect_handshake_failures(1).await;
}

/// Ensures that with mTLS a certificate from another CA is refused, even with an allowed CN.
#[tokio::test]
async fn mtls_with_unknown_ca_is_refused() {
    let pki = Pki::new();
    let server = EchoServer::start(&pki.mtls_settings(&["lab-analyzer"])).await;
    assert!(server.exchange(pki.client(Some("impostor"))).await.is_err());
    server.expect_handshake_failures(1).await;
}

/// Ensures that with mTLS a certificate from the right CA but not on the allow-list is refused.
#[tokio::test]
async fn mtls_with_client_not_allowed_is_refused() {
    let pki = Pki::new();
    let server = EchoServer::start(&pki.mtls_settings(&["lab-analyzer"])).await;
    assert!(server.exchange(pki.client(Some("pharmacy"))).await.is_err());
    server.expect_handshake_failures(1).await;
    assert!(server.peers().is_empty());
}

/// Ensures that with mTLS an allowed client is accepted and identified by its CN, and that
/// an empty allow-list accepts any client of the CA.
#[tokio::test]
async fn mtls_allowed_client_is_accepted_and_identified() {
    let pki = Pki::new();
    let server = EchoServer::start(&pki.mtls_settings(&["LAB-ANALYZER"])).await;
    assert_eq!(
        &server.exchange(pki.client(Some("lab"))).await.unwrap()[..],
        MESSAGE
    );
    let any_client = EchoServer::start(&pki.mtls_settings(&[])).await;
    assert!(
        any_client
            .exchange(pki.client(Some("pharmacy")))
            .await
            .is_ok()
    );
    let cn = |s: &EchoServer| s.peers().into_iter().map(|p| p.cn).collect::<Vec<_>>();
    assert_eq!(cn(&server), [Some("lab-analyzer".to_string())]);
    assert_eq!(cn(&any_client), [Some("pharmacy".to_string())]);
}

/// Ensures that a cipher suite restriction refuses a client offering only another suite.
#[tokio::test]
async fn cipher_suite_restriction_is_enforced() {
    let pki = Pki::new();
    let settings = TlsServerSettings {
        cipher_suites: Some(vec!["TLS13_AES_256_GCM_SHA384".into()]),
        ..pki.server_settings()
    };
    let server = EchoServer::start(&settings).await;
    let tls13 = [&rustls::version::TLS13];
    let matching = pki.restricted_client(&tls13, vec![cipher_suite::TLS13_AES_256_GCM_SHA384]);
    let other = pki.restricted_client(&tls13, vec![cipher_suite::TLS13_AES_128_GCM_SHA256]);
    assert!(server.exchange(matching).await.is_ok());
    assert!(server.exchange(other).await.is_err());
    server.expect_handshake_failures(1).await;
}

/// Ensures that a minimum version below TLS 1.2 is a config error that says what is allowed.
#[test]
fn min_version_below_1_2_is_a_config_error() {
    for version in ["1.1", "1.0"] {
        let text = format!("cert_file = 'a.pem'\nkey_file = 'a.key'\nmin_version = '{version}'");
        let error = toml::from_str::<TlsServerSettings>(&text)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!("TLS version \"{version}\" is not supported")),
            "{error}"
        );
        assert!(
            error.contains("min_version must be \"1.2\" or \"1.3\""),
            "{error}"
        );
    }
    let text = "cert_file = 'a.pem'\nkey_file = 'a.key'\nmin_version = '1.3'";
    assert!(toml::from_str::<TlsServerSettings>(text).is_ok());
}

/// Ensures that a missing certificate file and an unknown cipher suite are errors that name
/// the file and the suite.
#[test]
fn config_errors_name_the_culprit() {
    let pki = Pki::new();
    let missing = TlsServerSettings {
        cert_file: pki.path("nowhere.pem"),
        ..pki.server_settings()
    };
    let error = server_config(&missing).unwrap_err().to_string();
    assert!(
        error.contains(pki.path("nowhere.pem").to_str().unwrap()),
        "{error}"
    );
    let not_a_key = TlsServerSettings {
        key_file: pki.path("ca.pem"),
        ..pki.server_settings()
    };
    let error = server_config(&not_a_key).unwrap_err().to_string();
    assert!(error.contains("ca.pem holds no PEM private key"), "{error}");
    let unknown = TlsServerSettings {
        cipher_suites: Some(vec!["TLS_RSA_WITH_RC4_128_MD5".into()]),
        ..pki.server_settings()
    };
    let error = server_config(&unknown).unwrap_err().to_string();
    assert!(error.contains("TLS_RSA_WITH_RC4_128_MD5"), "{error}");
}

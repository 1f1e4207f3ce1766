//! Ensures that the destination connectors make one delivery attempt and classify it:
//! MLLP against a real listener (ACK codes, late ACKs, timeouts, refused connections,
//! TLS and mTLS), HTTP against a real axum server (statuses, Retry-After, headers,
//! HTTPS), and files (atomic writes, names that cannot leave their directory).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use hl7wasm::deliver::file::FileTargetConfig;
use hl7wasm::deliver::http::{BasicAuth, HttpTargetConfig, HttpTlsSettings};
use hl7wasm::deliver::mllp::MllpTargetConfig;
use hl7wasm::deliver::{Attempt, Connector, ConnectorError, Delivery, TargetConfig};
use hl7wasm::mllp::{Connection, FrameEvent, MllpLimits};
use hl7wasm::tls::{TlsClientSettings, TlsServerSettings, server_config};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

#[path = "support/pki.rs"]
mod pki;

use pki::Pki;

const HL7: &str = "application/hl7-v2+er7";
const FHIR: &str = "application/fhir+json";

/// An ADT^A01 with MSH-10 `control_id`.
fn adt(control_id: &str) -> Vec<u8> {
    adt_asking(control_id, "")
}

/// An ADT^A01 whose MSH-15 (accept acknowledgment type) is `accept_ack`.
fn adt_asking(control_id: &str, accept_ack: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|HL7WASM|HOSP|DEST|FAC|20240101||ADT^A01|{control_id}|P|2.5|||{accept_ack}\r\
         PID|1||123^^^HOSP^MR||DOE^JANE\r"
    )
    .into_bytes()
}

fn delivery<'a>(
    body: &'a [u8],
    control_id: Option<&'a str>,
    content_type: &'a str,
) -> Delivery<'a> {
    Delivery {
        channel: "adt",
        destination: "out",
        message_id: 7,
        sequence: 42,
        control_id,
        message_type: Some("ADT^A01"),
        content_type,
        body,
    }
}

async fn send(connector: &mut Connector, control_id: &str) -> Attempt {
    let body = adt(control_id);
    connector
        .deliver(&delivery(&body, Some(control_id), HL7))
        .await
}

fn assert_retry(attempt: &Attempt, needle: &str) {
    match attempt {
        Attempt::Retry { reason, .. } => assert!(reason.contains(needle), "{reason}"),
        other => panic!("expected a retry with {needle:?}, got {other:?}"),
    }
}

/// Whether `attempt` is a retry marked as not reaching the destination.
fn unreachable(attempt: &Attempt) -> bool {
    matches!(
        attempt,
        Attempt::Retry {
            unreachable: true,
            ..
        }
    )
}

fn assert_reject(attempt: &Attempt, needle: &str) {
    match attempt {
        Attempt::Reject { reason } => assert!(reason.contains(needle), "{reason}"),
        other => panic!("expected a rejection with {needle:?}, got {other:?}"),
    }
}

// ---------------------------------------------------------------- MLLP

/// An ACK with MSA-1 `code` and MSA-2 `acknowledged`.
fn ack(code: &str, acknowledged: &str, text: &str) -> Vec<u8> {
    format!(
        "MSH|^~\\&|DEST|FAC|HL7WASM|HOSP|20240101||ACK^A01|ACK-{acknowledged}|P|2.5\r\
         MSA|{code}|{acknowledged}|{text}\r"
    )
    .into_bytes()
}

/// What the test listener answers to a message, by its control id (and it closes the
/// connection after an id holding `BYE`): `SLOW…` gets no answer; `LATE…` first gets an AR for an earlier message, then its own AA; `STRAY…`
/// gets its AA followed by an AR for an earlier message; none (no MSH-10) gets an AR
/// for an earlier message, then AA with an empty MSA-2; anything else gets the ACK
/// code its first two letters name.
fn answers(control_id: &str) -> Vec<Vec<u8>> {
    if control_id.is_empty() {
        vec![ack("AR", "EARLIER", "late"), ack("AA", "", "")]
    } else if control_id.starts_with("SLOW") {
        Vec::new()
    } else if control_id.starts_with("LATE") {
        vec![ack("AR", "EARLIER", "late"), ack("AA", control_id, "")]
    } else if control_id.starts_with("STRAY") {
        vec![ack("AA", control_id, ""), ack("AR", "EARLIER", "stray")]
    } else {
        vec![ack(&control_id[..2], control_id, "Unknown patient")]
    }
}

/// A test MLLP listener, with TLS when `tls` is given; counts its connections.
async fn mllp_listener(tls: Option<TlsServerSettings>) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    (address, serve_mllp(listener, tls).opened)
}

/// How many connections a test listener accepted, and how many of them the
/// client closed.
struct Connections {
    opened: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

/// Answers MLLP on `listener`'s connections (see [`answers`]).
fn serve_mllp(listener: TcpListener, tls: Option<TlsServerSettings>) -> Connections {
    let acceptor = tls.map(|settings| TlsAcceptor::from(server_config(&settings).unwrap()));
    let (opened, closed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let counts = Connections {
        opened: opened.clone(),
        closed: closed.clone(),
    };
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            opened.fetch_add(1, Ordering::SeqCst);
            let (acceptor, closed) = (acceptor.clone(), closed.clone());
            tokio::spawn(async move {
                match acceptor {
                    None => answer_all(tcp).await,
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            answer_all(tls).await;
                        }
                    }
                }
                closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    counts
}

async fn answer_all<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(stream: S) {
    let mut connection = Connection::new(stream, MllpLimits::default());
    while let Ok(Some(event)) = connection.read_frame().await {
        let FrameEvent::Message(message) = event else {
            continue;
        };
        let message = hl7v2::Message::parse(&message).unwrap();
        let control_id = message.header().control_id().unwrap_or("").to_owned();
        for frame in answers(&control_id) {
            connection.write_frame(&frame).await.unwrap();
        }
        if control_id.contains("BYE") {
            return;
        }
    }
}

fn mllp_target(address: &str) -> MllpTargetConfig {
    toml::from_str(&format!("address = {address:?}\nack_timeout_secs = 1")).unwrap()
}

fn mllp_connector(config: MllpTargetConfig) -> Connector {
    Connector::new(&TargetConfig::Mllp(config)).unwrap()
}

/// Ensures that AA and CA are delivered, AE and CE retried and AR and CR rejected with
/// the ACK's text, all over one kept connection.
#[tokio::test]
async fn mllp_ack_codes_decide() {
    let (address, connections) = mllp_listener(None).await;
    let mut connector = mllp_connector(mllp_target(&address.to_string()));
    assert_eq!(send(&mut connector, "AA-1").await, Attempt::Delivered);
    assert_eq!(send(&mut connector, "CA-2").await, Attempt::Delivered);
    assert_retry(&send(&mut connector, "AE-3").await, "answered AE");
    assert_retry(&send(&mut connector, "CE-4").await, "answered CE");
    assert_reject(&send(&mut connector, "AR-5").await, "AR: Unknown patient");
    assert_reject(&send(&mut connector, "CR-6").await, "CR: Unknown patient");
    assert_retry(&send(&mut connector, "XX-7").await, "MSA-1");
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

/// Ensures that an ACK whose MSA-2 names an earlier message is discarded and the
/// message's own ACK decides; a stray ACK left on the connection is never taken for
/// the next message's.
#[tokio::test]
async fn mllp_late_ack_is_discarded() {
    let (address, connections) = mllp_listener(None).await;
    let mut connector = mllp_connector(mllp_target(&address.to_string()));
    assert_eq!(send(&mut connector, "LATE-1").await, Attempt::Delivered);
    assert_eq!(send(&mut connector, "STRAY-2").await, Attempt::Delivered);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(send(&mut connector, "AA-3").await, Attempt::Delivered);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

/// Ensures that a message without MSH-10 is sent, that an ACK naming another message
/// is not taken for its own, and that the ACK with an empty MSA-2 delivers it.
#[tokio::test]
async fn mllp_message_without_control_id_is_delivered() {
    let (address, _) = mllp_listener(None).await;
    let mut connector = mllp_connector(mllp_target(&address.to_string()));
    let body = adt("");
    let attempt = connector.deliver(&delivery(&body, None, HL7)).await;
    assert_eq!(attempt, Attempt::Delivered);
    assert_eq!(send(&mut connector, "AA-2").await, Attempt::Delivered);
}

/// Ensures that a message whose MSH-15 is NE or ER is delivered when the receiver
/// stays silent for `error_ack_wait_ms` (an enhanced-mode receiver), that an answer
/// within it decides (an original-mode receiver's AR refuses it), all on one
/// connection, and that a wait of 0 sends such messages without waiting.
#[tokio::test]
async fn mllp_honours_msh15_ne_and_er() {
    let (address, connections) = mllp_listener(None).await;
    let connector_waiting = |wait_ms: u64| {
        mllp_connector(
            toml::from_str(&format!(
                "address = {:?}\nack_timeout_secs = 30\nerror_ack_wait_ms = {wait_ms}",
                address.to_string()
            ))
            .unwrap(),
        )
    };
    let deliver = async |connector: &mut Connector, control_id: &str, accept_ack: &str| {
        let body = adt_asking(control_id, accept_ack);
        let started = std::time::Instant::now();
        let attempt = connector
            .deliver(&delivery(&body, Some(control_id), HL7))
            .await;
        (attempt, started.elapsed())
    };
    let mut connector = connector_waiting(300);
    for accept_ack in ["NE", "ER"] {
        let (attempt, took) =
            deliver(&mut connector, &format!("SLOW-{accept_ack}"), accept_ack).await;
        assert_eq!(attempt, Attempt::Delivered, "{accept_ack}: silence accepts");
        assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(5));
        let (attempt, took) =
            deliver(&mut connector, &format!("AR-{accept_ack}"), accept_ack).await;
        assert_reject(&attempt, "AR: Unknown patient");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
    assert_eq!(send(&mut connector, "AA-5").await, Attempt::Delivered);
    assert_eq!(connections.load(Ordering::SeqCst), 1);

    let mut hasty = connector_waiting(0);
    let (attempt, took) = deliver(&mut hasty, "AA-NE", "NE").await;
    assert_eq!(attempt, Attempt::Delivered);
    assert!(took < Duration::from_millis(300), "not waited on: {took:?}");
    assert_eq!(
        send(&mut hasty, "AA-7").await,
        Attempt::Delivered,
        "the AA for AA-NE is skipped"
    );
}

/// Ensures that a missing ACK is a retry that drops the connection, and that the next
/// attempt reconnects.
#[tokio::test]
async fn mllp_ack_timeout_retries_and_reconnects() {
    let (address, connections) = mllp_listener(None).await;
    let mut connector = mllp_connector(mllp_target(&address.to_string()));
    let late = send(&mut connector, "SLOW-1").await;
    assert_retry(&late, "no ACK within 1s");
    assert!(
        matches!(
            late,
            Attempt::Retry {
                timed_out: true,
                ..
            }
        ),
        "a timeout is marked as one: {late:?}"
    );
    assert!(!unreachable(&late), "the message reached it: {late:?}");
    assert_eq!(send(&mut connector, "AA-2").await, Attempt::Delivered);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

/// Ensures that a kept connection the peer closed while idle is replaced before the
/// next message is sent, without a failed attempt.
#[tokio::test]
async fn mllp_reconnects_after_idle_close() {
    let (address, connections) = mllp_listener(None).await;
    let mut connector = mllp_connector(mllp_target(&address.to_string()));
    assert_eq!(send(&mut connector, "AA-BYE-1").await, Attempt::Delivered);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(send(&mut connector, "AA-2").await, Attempt::Delivered);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

/// Ensures that a refused connection is a retry marked unreachable, and a body that is
/// not HL7 v2 is rejected unsent.
#[tokio::test]
async fn mllp_refused_connection_retries() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let mut connector = mllp_connector(mllp_target(&address));
    let refused = send(&mut connector, "AA-1").await;
    assert_retry(&refused, "cannot connect");
    assert!(unreachable(&refused), "{refused:?}");
    let bundle = br#"{"resourceType":"Bundle"}"#;
    let attempt = connector.deliver(&delivery(bundle, None, FHIR)).await;
    assert_reject(&attempt, "not an HL7 v2 message");
}

/// Ensures that a destination whose listener cannot be reached connects to its
/// backup, says why it skipped the primary, keeps the backup's connection, and
/// tries the primary again after `failback_secs`; with none reachable the
/// retry names every listener.
#[tokio::test]
async fn mllp_fails_over_to_a_backup_and_back() {
    let primary_address = closed_port().await;
    let (backup_address, backup_connections) = mllp_listener(None).await;
    let config = |backup: &str| -> MllpTargetConfig {
        toml::from_str(&format!(
            "address = {primary_address:?}\nbackup_addresses = [{backup:?}]\n\
             failback_secs = 1\nack_timeout_secs = 1\nconnect_timeout_secs = 1"
        ))
        .unwrap()
    };
    let mut connector = mllp_connector(config(&backup_address.to_string()));
    assert_eq!(send(&mut connector, "AA-1").await, Attempt::Delivered);
    let opened = connector.take_opened().expect("a connection was opened");
    assert_eq!(opened.address, backup_address.to_string());
    assert!(opened.backup);
    assert_eq!(opened.unreachable.len(), 1);
    assert!(
        opened.unreachable[0].contains(&primary_address),
        "{:?}",
        opened.unreachable
    );
    assert_eq!(send(&mut connector, "AA-2").await, Attempt::Delivered);
    assert_eq!(
        connector.take_opened(),
        None,
        "the backup's connection is kept"
    );
    assert_eq!(backup_connections.load(Ordering::SeqCst), 1);

    let primary = serve_mllp(TcpListener::bind(&primary_address).await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send(&mut connector, "AA-3").await, Attempt::Delivered);
    let opened = connector.take_opened().expect("failed back");
    assert_eq!(
        (opened.address.as_str(), opened.backup),
        (primary_address.as_str(), false)
    );
    assert_eq!(primary.opened.load(Ordering::SeqCst), 1);
    assert_eq!(primary.closed.load(Ordering::SeqCst), 0);

    let (nowhere, elsewhere) = (closed_port().await, closed_port().await);
    let mut unreachable = mllp_connector(MllpTargetConfig {
        address: nowhere.clone(),
        ..config(&elsewhere)
    });
    let attempt = send(&mut unreachable, "AA-4").await;
    assert_retry(&attempt, &format!("cannot connect to {nowhere}"));
    assert_retry(&attempt, &format!("cannot connect to {elsewhere}"));
    assert_eq!(unreachable.take_opened(), None);
}

/// A loopback address nothing listens on.
async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Ensures that a connection idle past `max_idle_secs` is closed, by the
/// worker's check or before the next message, and that a busy one is kept.
#[tokio::test]
async fn mllp_closes_an_idle_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let counts = serve_mllp(listener, None);
    let mut connector = mllp_connector(
        toml::from_str(&format!(
            "address = {address:?}\nmax_idle_secs = 1\nack_timeout_secs = 1"
        ))
        .unwrap(),
    );
    assert_eq!(send(&mut connector, "AA-1").await, Attempt::Delivered);
    connector.close_if_idle();
    assert_eq!(send(&mut connector, "AA-2").await, Attempt::Delivered);
    assert_eq!(
        counts.opened.load(Ordering::SeqCst),
        1,
        "a busy connection is kept"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    connector.close_if_idle();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while counts.closed.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle connection is closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(send(&mut connector, "AA-3").await, Attempt::Delivered);
    assert_eq!(counts.opened.load(Ordering::SeqCst), 2);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send(&mut connector, "AA-4").await, Attempt::Delivered);
    assert_eq!(
        counts.opened.load(Ordering::SeqCst),
        3,
        "an idle connection is not reused for the next message"
    );
}

/// Ensures that MLLP over TLS works with a test CA, with and without a client
/// certificate, and that an untrusted server is a retry.
#[tokio::test]
async fn mllp_over_tls_and_mtls() {
    let pki = Pki::new();
    let server = pki.mtls_settings(&["lab-analyzer"]);
    let (address, _) = mllp_listener(Some(server)).await;
    let client = |ca: &str, client: Option<&str>| MllpTargetConfig {
        tls: Some(TlsClientSettings {
            ca_file: pki.path(ca),
            cert_file: client.map(|c| pki.path(&format!("{c}.pem"))),
            key_file: client.map(|c| pki.path(&format!("{c}.key"))),
            server_name: Some("localhost".into()),
            min_version: Default::default(),
        }),
        ..mllp_target(&address.to_string())
    };
    let mut lab = mllp_connector(client("ca.pem", Some("lab")));
    assert_eq!(send(&mut lab, "AA-1").await, Attempt::Delivered);
    let mut pharmacy = mllp_connector(client("ca.pem", Some("pharmacy")));
    assert!(matches!(
        send(&mut pharmacy, "AA-2").await,
        Attempt::Retry { .. }
    ));
    let mut untrusting = mllp_connector(client("rogue-ca.pem", Some("lab")));
    assert_retry(&send(&mut untrusting, "AA-3").await, "TLS handshake");
}

/// Ensures that targets are read from TOML by `type`, with defaults, that unknown keys
/// and bad values are refused, and that a channel target has no connector.
#[test]
fn targets_read_from_toml() {
    let target: TargetConfig = toml::from_str("type = \"mllp\"\naddress = \"lab:2575\"").unwrap();
    let TargetConfig::Mllp(mllp) = &target else {
        panic!("{target:?}")
    };
    assert_eq!(
        (
            mllp.connect_timeout_secs,
            mllp.ack_timeout_secs,
            mllp.max_message_bytes
        ),
        (10, 30, 1024 * 1024)
    );
    let typo =
        toml::from_str::<TargetConfig>("type = \"mllp\"\naddress = \"a:1\"\nack_timeout = 5");
    assert!(typo.unwrap_err().to_string().contains("unknown field"));
    assert_eq!(
        (
            mllp.backup_addresses.len(),
            mllp.failback_secs,
            mllp.max_idle_secs,
            mllp.tcp_keepalive_secs
        ),
        (0, 300, None, 60)
    );
    let no_port: TargetConfig = toml::from_str("type = \"mllp\"\naddress = \"lab\"").unwrap();
    assert!(matches!(
        Connector::new(&no_port),
        Err(ConnectorError::InvalidAddress(_))
    ));
    let backup_without_port: TargetConfig =
        toml::from_str("type = \"mllp\"\naddress = \"lab:2575\"\nbackup_addresses = [\"lab-dr\"]")
            .unwrap();
    assert!(matches!(
        Connector::new(&backup_without_port),
        Err(ConnectorError::InvalidAddress(address)) if address == "lab-dr"
    ));
    for key in ["max_idle_secs", "failback_secs"] {
        let zero: TargetConfig = toml::from_str(&format!(
            "type = \"mllp\"\naddress = \"lab:2575\"\n{key} = 0"
        ))
        .unwrap();
        assert!(matches!(
            Connector::new(&zero),
            Err(ConnectorError::ZeroTimeout(named)) if named == key
        ));
    }
    let channel: TargetConfig = toml::from_str("type = \"channel\"\nchannel = \"lab\"").unwrap();
    assert!(matches!(
        Connector::new(&channel),
        Err(ConnectorError::ChannelTarget(name)) if name == "lab"
    ));
    let file: TargetConfig = toml::from_str("type = \"file\"\ndir = \"out\"").unwrap();
    let TargetConfig::File(file) = file else {
        panic!()
    };
    assert_eq!(file.file_name, "{channel}-{id}-{seq}.{ext}");
}

/// Ensures that a connector and its attempts can move between tasks, as a scheduler
/// that spawns one task per destination needs.
#[test]
fn connectors_are_send() {
    fn send_and_static<T: Send + 'static>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let root = tempfile::tempdir().unwrap();
    let mut connector = file_connector(root.path(), "{seq}");
    send_and_static(&connector);
    let body = adt("1");
    send(&connector.deliver(&delivery(&body, None, HL7)));
}

// ---------------------------------------------------------------- HTTP

/// What the test HTTP server received.
type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn record(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    received.lock().unwrap().push((headers, body));
    StatusCode::OK
}

fn router(received: Received) -> Router {
    Router::new()
        .route("/ok", post(record))
        .route("/created", post(|| async { StatusCode::CREATED }))
        .route(
            "/busy",
            post(|| async { (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "2")]) }),
        )
        .route("/limit", post(|| async { StatusCode::TOO_MANY_REQUESTS }))
        .route("/timeout", post(|| async { StatusCode::REQUEST_TIMEOUT }))
        .route("/bad", post(|| async { bad_request() }))
        .route(
            "/moved",
            post(|| async { (StatusCode::MOVED_PERMANENTLY, [("location", "/ok")]) }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                StatusCode::OK
            }),
        )
        .with_state(received)
}

fn bad_request() -> impl IntoResponse {
    let outcome = format!(
        r#"{{"resourceType":"OperationOutcome","issue":"{}"}}"#,
        "x".repeat(500)
    );
    (StatusCode::BAD_REQUEST, outcome)
}

/// A test HTTP server; its base URL and what it received.
async fn http_server() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let received = Received::default();
    let app = router(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, received)
}

fn http_target(url: String) -> HttpTargetConfig {
    toml::from_str(&format!("url = {url:?}\ntimeout_secs = 1")).unwrap()
}

fn http_connector(config: HttpTargetConfig) -> Connector {
    Connector::new(&TargetConfig::Http(config)).unwrap()
}

async fn post_bundle(connector: &mut Connector) -> Attempt {
    let bundle = br#"{"resourceType":"Bundle","type":"transaction"}"#;
    connector
        .deliver(&delivery(bundle, Some("MSG-1"), FHIR))
        .await
}

/// Ensures that each status class becomes the right attempt: 2xx delivered; 503 with
/// Retry-After, 429, 408 and a timeout retried (503 and 429 as an outage, which does
/// not count against the retry limit); 400 and 301 rejected with a reason.
#[tokio::test]
async fn http_statuses_decide() {
    let (base, _) = http_server().await;
    let attempt = |path: &str| {
        let mut connector = http_connector(http_target(format!("{base}{path}")));
        async move { post_bundle(&mut connector).await }
    };
    assert_eq!(attempt("/ok").await, Attempt::Delivered);
    assert_eq!(attempt("/created").await, Attempt::Delivered);
    assert_eq!(
        attempt("/busy").await,
        Attempt::Retry {
            reason: "HTTP 503 Service Unavailable".into(),
            after: Some(Duration::from_secs(2)),
            timed_out: false,
            unreachable: true,
        }
    );
    let limited = attempt("/limit").await;
    assert_retry(&limited, "HTTP 429");
    assert!(
        unreachable(&limited),
        "a rate limit is no fault of the message"
    );
    let timeout = attempt("/timeout").await;
    assert_retry(&timeout, "HTTP 408");
    assert!(!unreachable(&timeout), "{timeout:?}");
    let slow = attempt("/slow").await;
    assert_retry(&slow, "no response within 1s");
    assert!(!unreachable(&slow), "the request reached it: {slow:?}");
    let Attempt::Reject { reason } = attempt("/bad").await else {
        panic!("400 must reject");
    };
    assert!(reason.starts_with("HTTP 400 Bad Request: {\"resourceType\":\"OperationOutcome\""));
    assert!(reason.len() < 250, "{reason}");
    assert_reject(&attempt("/moved").await, "HTTP 301");
}

/// Ensures that the content type, the configured headers and the bearer token or basic
/// credentials are sent with the body.
#[tokio::test]
async fn http_sends_headers_and_credentials() {
    let (base, received) = http_server().await;
    let mut config = http_target(format!("{base}/ok"));
    config.headers = BTreeMap::from([("X-Source".into(), "hl7wasm".into())]);
    config.bearer_token = Some("s3cret".into());
    assert_eq!(
        post_bundle(&mut http_connector(config.clone())).await,
        Attempt::Delivered
    );
    config.bearer_token = None;
    config.basic_auth = Some(BasicAuth {
        username: "engine".into(),
        password: "pw".into(),
    });
    config
        .headers
        .insert("Content-Type".into(), "application/json".into());
    assert_eq!(
        post_bundle(&mut http_connector(config)).await,
        Attempt::Delivered
    );

    let received = received.lock().unwrap();
    let (headers, body) = &received[0];
    assert_eq!(headers["content-type"], FHIR);
    assert_eq!(headers["x-source"], "hl7wasm");
    assert_eq!(headers["authorization"], "Bearer s3cret");
    assert_eq!(
        &body[..],
        br#"{"resourceType":"Bundle","type":"transaction"}"#
    );
    let (headers, _) = &received[1];
    assert_eq!(headers["authorization"], "Basic ZW5naW5lOnB3");
    assert_eq!(headers["content-type"], "application/json");
}

/// Ensures that a refused connection is a retry and that bad settings are refused when
/// the connector is built.
#[tokio::test]
async fn http_refused_connection_and_bad_settings() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut connector = http_connector(http_target(format!("http://{address}/fhir")));
    let refused = post_bundle(&mut connector).await;
    assert_retry(&refused, "Connection refused");
    assert!(unreachable(&refused), "{refused:?}");

    let build = |config: HttpTargetConfig| Connector::new(&TargetConfig::Http(config)).unwrap_err();
    let base = http_target("http://localhost/fhir".into());
    let both = HttpTargetConfig {
        bearer_token: Some("t".into()),
        basic_auth: Some(BasicAuth {
            username: "u".into(),
            password: "p".into(),
        }),
        ..base.clone()
    };
    assert!(matches!(build(both), ConnectorError::ConflictingAuth));
    let tls_on_http = HttpTargetConfig {
        tls: Some(HttpTlsSettings {
            ca_file: None,
            cert_file: None,
            key_file: None,
            min_version: Default::default(),
        }),
        ..base.clone()
    };
    assert!(matches!(
        build(tls_on_http),
        ConnectorError::TlsWithoutHttps(_)
    ));
    let ftp = http_target("ftp://localhost/".into());
    assert!(matches!(build(ftp), ConnectorError::InvalidUrl { .. }));
    let header = HttpTargetConfig {
        headers: BTreeMap::from([("Bad Name".into(), "v".into())]),
        ..base
    };
    assert!(matches!(build(header), ConnectorError::InvalidHeader(_)));
}

/// An axum listener that completes a TLS handshake before handing a connection over.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, peer)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, peer);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Ensures that HTTPS works with a test CA and a client certificate, and that a server
/// the CA did not sign is a retry.
#[tokio::test]
async fn https_with_test_ca_and_client_certificate() {
    let pki = Pki::new();
    let server = pki.mtls_settings(&[]);
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(server_config(&server).unwrap());
    let received = Received::default();
    let app = router(received.clone());
    tokio::spawn(async move {
        axum::serve(TlsListener { tcp, acceptor }, app)
            .await
            .unwrap()
    });

    let https = |ca: &str| HttpTargetConfig {
        tls: Some(HttpTlsSettings {
            ca_file: Some(pki.path(ca)),
            cert_file: Some(pki.path("lab.pem")),
            key_file: Some(pki.path("lab.key")),
            min_version: Default::default(),
        }),
        ..http_target(format!("https://localhost:{port}/ok"))
    };
    assert_eq!(
        post_bundle(&mut http_connector(https("ca.pem"))).await,
        Attempt::Delivered
    );
    assert_eq!(received.lock().unwrap().len(), 1);
    let attempt = post_bundle(&mut http_connector(https("rogue-ca.pem"))).await;
    assert_retry(&attempt, "certificate");
}

// ---------------------------------------------------------------- files

fn file_connector(dir: &Path, file_name: &str) -> Connector {
    Connector::new(&TargetConfig::File(FileTargetConfig {
        dir: dir.to_owned(),
        file_name: file_name.to_owned(),
    }))
    .unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Ensures that a message is written whole under its pattern's name, into a directory
/// created on demand, with no temporary file left, and that a redelivery replaces it.
#[tokio::test]
async fn file_written_atomically_under_pattern_name() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out/fhir");
    let mut connector = file_connector(&dir, "{channel}-{id}-{seq}.{ext}");
    let bundle = br#"{"resourceType":"Bundle"}"#;
    let attempt = connector
        .deliver(&delivery(bundle, Some("MSG-1"), FHIR))
        .await;
    assert_eq!(attempt, Attempt::Delivered);
    assert_eq!(names(&dir), ["adt-7-42.json"]);
    assert_eq!(std::fs::read(dir.join("adt-7-42.json")).unwrap(), bundle);

    let again = br#"{"resourceType":"Bundle","id":"2"}"#;
    assert_eq!(
        connector
            .deliver(&delivery(again, Some("MSG-1"), FHIR))
            .await,
        Attempt::Delivered
    );
    assert_eq!(names(&dir), ["adt-7-42.json"]);
    assert_eq!(std::fs::read(dir.join("adt-7-42.json")).unwrap(), again);
}

/// Ensures that a control id cannot take a file out of its directory.
#[tokio::test]
async fn file_control_id_cannot_escape() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    let mut connector = file_connector(&dir, "{type}_{control_id}.{ext}");
    for control_id in ["../x", "..", "/etc/passwd"] {
        let body = adt("1");
        let attempt = connector
            .deliver(&delivery(&body, Some(control_id), HL7))
            .await;
        assert_eq!(attempt, Attempt::Delivered);
    }
    assert_eq!(
        names(&dir),
        [
            "ADT_A01__._x.hl7",
            "ADT_A01___.hl7",
            "ADT_A01__etc_passwd.hl7"
        ]
    );
    assert_eq!(names(root.path()), ["out"]);
}

/// Ensures that a batch of files is written in order up to the first failure: the
/// files before it are delivered, the failure is a retry naming its file, the files
/// after it are neither attempted nor written, and no temporary file is left.
#[tokio::test]
async fn file_batch_stops_at_the_first_failure() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    let mut connector = file_connector(&dir, "{control_id}.{ext}");
    assert_eq!(connector.batch_size(), 64);
    let bodies: Vec<Vec<u8>> = ["A", "B", "C", "D"].into_iter().map(adt).collect();
    let ids = ["A", "B", "C", "D"];
    let batch: Vec<Delivery<'_>> = bodies
        .iter()
        .zip(ids)
        .map(|(body, id)| delivery(body, Some(id), HL7))
        .collect();

    let attempts = connector.deliver_batch(&batch).await;
    assert_eq!(attempts, vec![Attempt::Delivered; 4]);
    assert_eq!(names(&dir), ["A.hl7", "B.hl7", "C.hl7", "D.hl7"]);
    assert_eq!(std::fs::read(dir.join("C.hl7")).unwrap(), bodies[2]);

    // A directory where C's file goes: its rename fails.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::create_dir_all(dir.join("C.hl7")).unwrap();
    let attempts = connector.deliver_batch(&batch).await;
    assert_eq!(attempts.len(), 3, "D is not attempted: {attempts:?}");
    assert_eq!(attempts[..2], [Attempt::Delivered, Attempt::Delivered]);
    assert_retry(&attempts[2], "C.hl7");
    assert_eq!(names(&dir), ["A.hl7", "B.hl7", "C.hl7"]);
    assert!(dir.join("C.hl7").is_dir(), "nothing replaced the directory");
}

/// Ensures that an unwritable directory is a retry marked unreachable that leaves
/// nothing behind, and that an invalid pattern is refused when the connector is
/// built.
#[tokio::test]
async fn file_io_error_retries_and_bad_pattern_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let blocker = root.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let mut connector = file_connector(&blocker.join("out"), "{seq}.{ext}");
    let body = adt("1");
    let blocked = connector.deliver(&delivery(&body, None, HL7)).await;
    assert_retry(&blocked, "cannot write");
    assert!(
        unreachable(&blocked),
        "the directory is at fault: {blocked:?}"
    );
    assert_eq!(names(root.path()), ["not-a-dir"]);

    let bad = TargetConfig::File(FileTargetConfig {
        dir: root.path().into(),
        file_name: "{nope}.{ext}".into(),
    });
    let error = Connector::new(&bad).unwrap_err();
    assert!(
        error.to_string().contains("unknown placeholder {nope}"),
        "{error}"
    );
}

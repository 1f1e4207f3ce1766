//! Ensures that an HTTP destination with `oauth` fetches a token with the
//! client credentials grant (a secret, or a JWT signed with the client's key
//! as SMART Backend Services ask), keeps it for many deliveries, fetches a
//! new one before it expires and when the server answers 401, and turns a
//! token that cannot be had into a retry whose reason names the cause but
//! not the endpoint's description.
//!
//! The token endpoint and the FHIR server are small axum servers started
//! here: the token endpoint stands in for an identity provider, outside the
//! engine.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hl7wasm::deliver::http::HttpTargetConfig;
use hl7wasm::deliver::{Attempt, Connector, ConnectorError, Delivery, TargetConfig};
use tokio::net::TcpListener;

#[path = "support/engine.rs"]
mod engine;

const CLIENT_ID: &str = "hl7wasm engine";
const SECRET: &str = "s3cr&t=1";
const BUNDLE: &[u8] = br#"{"resourceType":"Bundle","type":"transaction"}"#;

/// What the identity provider and the FHIR server saw and decide.
#[derive(Default)]
struct World {
    /// Token requests, as their decoded forms.
    token_requests: Vec<BTreeMap<String, String>>,
    /// `expires_in` of the next tokens, as JSON.
    expires_in: String,
    /// Tokens issued and not revoked.
    valid: BTreeSet<String>,
    /// The `Authorization` header of each request the FHIR server took.
    delivered_with: Vec<String>,
    /// The algorithm and public key of the client's signing key, when it
    /// signs assertions: `ES384` with the EC point, `RS384` with the
    /// PKCS#1 RSA public key.
    client_key: Option<(&'static str, Vec<u8>)>,
    /// The `jti` of every assertion seen: each must be new.
    assertion_ids: BTreeSet<String>,
}

type Shared = Arc<Mutex<World>>;

/// Whether `form` carries a JWT assertion (RFC 7523) signed by the client's
/// key, for this endpoint, unexpired, with a `jti` not seen before.
fn asserted(world: &mut World, form: &BTreeMap<String, String>) -> bool {
    use base64::Engine as _;
    let decode = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap()
    };
    let (Some((alg, key)), Some(jwt)) = (&world.client_key, form.get("client_assertion")) else {
        return false;
    };
    let alg = *alg;
    let parts: Vec<&str> = jwt.split('.').collect();
    let signed = format!("{}.{}", parts[0], parts[1]);
    let algorithm: &dyn ring::signature::VerificationAlgorithm = match alg {
        "ES384" => &ring::signature::ECDSA_P384_SHA384_FIXED,
        _ => &ring::signature::RSA_PKCS1_2048_8192_SHA384,
    };
    let verifier = ring::signature::UnparsedPublicKey::new(algorithm, key);
    if verifier
        .verify(signed.as_bytes(), &decode(parts[2]))
        .is_err()
    {
        return false;
    }
    let header: serde_json::Value = serde_json::from_slice(&decode(parts[0])).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&decode(parts[1])).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let exp = claims["exp"].as_u64().unwrap();
    let fresh = world
        .assertion_ids
        .insert(claims["jti"].as_str().unwrap().to_owned());
    form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        && header["alg"] == alg
        && header["kid"] == "key-2026"
        && claims["iss"] == CLIENT_ID
        && claims["sub"] == CLIENT_ID
        && claims["aud"].as_str().unwrap().ends_with("/oauth2/token")
        && exp > now
        && exp <= now + 300
        && fresh
}

/// The client's credentials as the token endpoint expects them: HTTP basic
/// with the form-encoded id and secret (RFC 6749 section 2.3.1), or in the
/// form.
fn authenticated(headers: &HeaderMap, form: &BTreeMap<String, String>) -> bool {
    use base64::Engine as _;
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(CLIENT_ID), encode(SECRET));
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    );
    let by_header = headers
        .get("authorization")
        .is_some_and(|v| v == basic.as_str());
    let by_form = form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(SECRET);
    by_header || by_form
}

async fn token(State(world): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let form: BTreeMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut world = world.lock().unwrap();
    world.token_requests.push(form.clone());
    let form_typed = headers["content-type"] == "application/x-www-form-urlencoded";
    if !form_typed || form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"error":"unsupported_grant_type"}"#,
        )
            .into_response();
    }
    if !authenticated(&headers, &form) && !asserted(&mut world, &form) {
        let refusal = r#"{"error":"invalid_client","error_description":"AADSTS7000215 secret s3cr wrong for tenant 42"}"#;
        return (StatusCode::UNAUTHORIZED, refusal).into_response();
    }
    let issued = format!("tok-{}", world.token_requests.len());
    world.valid.insert(issued.clone());
    let answer = format!(
        r#"{{"access_token":"{issued}","token_type":"Bearer","expires_in":{}}}"#,
        world.expires_in
    );
    ([("content-type", "application/json")], answer).into_response()
}

async fn fhir(State(world): State<Shared>, headers: HeaderMap) -> StatusCode {
    let mut world = world.lock().unwrap();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let known = auth
        .strip_prefix("Bearer ")
        .is_some_and(|token| world.valid.contains(token));
    if !known {
        return StatusCode::UNAUTHORIZED;
    }
    world.delivered_with.push(auth);
    StatusCode::OK
}

/// The two servers on one loopback port; the base URL and their state.
async fn servers(expires_in: &str) -> (String, Shared) {
    let world = Shared::default();
    world.lock().unwrap().expires_in = expires_in.to_owned();
    let app = Router::new()
        .route("/oauth2/token", post(token))
        .route("/fhir", post(fhir))
        .route("/denied", post(|| async { StatusCode::UNAUTHORIZED }))
        .with_state(world.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, world)
}

/// The destination as an administrator writes it; `extra` goes into the
/// `oauth` table.
fn target(base: &str, secret: &str, extra: &str) -> HttpTargetConfig {
    toml::from_str(&format!(
        "url = \"{base}/fhir\"\ntimeout_secs = 2\n[oauth]\ntoken_url = \"{base}/oauth2/token\"\n\
         client_id = {CLIENT_ID:?}\nclient_secret = {secret:?}\nscope = \"system/*.write\"\n{extra}"
    ))
    .unwrap()
}

fn connector(config: HttpTargetConfig) -> Connector {
    Connector::new(&TargetConfig::Http(config)).unwrap()
}

async fn deliver(connector: &mut Connector) -> Attempt {
    let delivery = Delivery {
        channel: "adt",
        destination: "fhir",
        message_id: 1,
        sequence: 1,
        control_id: Some("MSG-1"),
        message_type: Some("ADT^A01"),
        content_type: "application/fhir+json",
        body: BUNDLE,
    };
    connector.deliver(&delivery).await
}

fn retry_reason(attempt: Attempt) -> String {
    match attempt {
        Attempt::Retry { reason, .. } => reason,
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_is_kept_renewed_before_it_expires_and_replaced_after_a_401() {
    let (base, world) = servers("3600").await;
    let mut fhir = connector(target(&base, SECRET, ""));
    for _ in 0..3 {
        assert_eq!(deliver(&mut fhir).await, Attempt::Delivered);
    }
    {
        let world = world.lock().unwrap();
        assert_eq!(
            world.token_requests.len(),
            1,
            "one token for three messages"
        );
        let form = &world.token_requests[0];
        assert_eq!(form["scope"], "system/*.write");
        assert!(
            !form.contains_key("client_secret"),
            "basic: no secret in the form"
        );
        assert_eq!(world.delivered_with, ["Bearer tok-1"; 3]);
    }

    // The server revokes the token: the 401 is answered with a new token,
    // within the same attempt.
    world.lock().unwrap().valid.clear();
    assert_eq!(deliver(&mut fhir).await, Attempt::Delivered);
    assert_eq!(world.lock().unwrap().delivered_with[3], "Bearer tok-2");

    // A token that lives two seconds (as a string, as some servers send
    // it) is renewed before it ends, without a 401.
    let (base, world) = servers("\"2\"").await;
    let mut fhir = connector(target(&base, SECRET, ""));
    assert_eq!(deliver(&mut fhir).await, Attempt::Delivered);
    assert_eq!(deliver(&mut fhir).await, Attempt::Delivered);
    assert_eq!(world.lock().unwrap().token_requests.len(), 1);
    tokio::time::sleep(Duration::from_millis(1900)).await;
    assert_eq!(deliver(&mut fhir).await, Attempt::Delivered);
    let world = world.lock().unwrap();
    assert_eq!(world.token_requests.len(), 2, "renewed before the end");
    assert_eq!(
        world.delivered_with,
        ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    );
}

#[tokio::test]
async fn credentials_in_the_form_work_and_failures_are_clear_retries() {
    let (base, world) = servers("3600").await;
    let mut post = connector(target(
        &base,
        SECRET,
        "client_auth = \"post\"\n[oauth.parameters]\nresource = \"https://fhir.example.org\"\n",
    ));
    assert_eq!(deliver(&mut post).await, Attempt::Delivered);
    {
        let world = world.lock().unwrap();
        let form = &world.token_requests[0];
        assert_eq!(form["client_id"], CLIENT_ID);
        assert_eq!(form["client_secret"], SECRET);
        assert_eq!(form["resource"], "https://fhir.example.org");
    }

    // Wrong credentials: a retry naming the refusal's code, not its text.
    let mut wrong = connector(target(&base, "guess", ""));
    let reason = retry_reason(deliver(&mut wrong).await);
    assert_eq!(
        reason,
        "the token endpoint answered 401 Unauthorized (invalid_client)"
    );
    assert_eq!(world.lock().unwrap().delivered_with.len(), 1);

    // A token endpoint that is down is a retry too.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut config = target(&base, SECRET, "");
    config.oauth.as_mut().unwrap().token_url = format!("{down}/oauth2/token");
    let reason = retry_reason(deliver(&mut connector(config)).await);
    assert!(
        reason.starts_with("the token endpoint cannot be reached"),
        "{reason}"
    );

    // A 401 even with a fresh token is the server's refusal: rejected,
    // after one more token.
    let mut denied = target(&base, SECRET, "");
    denied.url = format!("{base}/denied");
    let tokens_before = world.lock().unwrap().token_requests.len();
    let attempt = deliver(&mut connector(denied)).await;
    assert!(
        matches!(&attempt, Attempt::Reject { reason } if reason.starts_with("HTTP 401")),
        "{attempt:?}"
    );
    let tokens = world.lock().unwrap().token_requests.len() - tokens_before;
    assert_eq!(tokens, 2, "a token, then a new one after the first 401");

    // One kind of credentials per destination.
    let mut both = target(&base, SECRET, "");
    both.bearer_token = Some("static".into());
    let error = Connector::new(&TargetConfig::Http(both)).unwrap_err();
    assert!(matches!(error, ConnectorError::ConflictingAuth), "{error}");
}

#[tokio::test]
async fn a_jwt_signed_with_the_clients_key_gets_the_token() {
    let (base, world) = servers("3600").await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("client.key");
    known_key(&world, &key_file);
    let config = signed_by(&base, &key_file);
    let mut fhir = connector(config.clone());
    assert_eq!(deliver(&mut fhir).await, Attempt::Delivered);
    world.lock().unwrap().valid.clear();
    assert_eq!(deliver(&mut fhir).await, Attempt::Delivered);
    {
        let world = world.lock().unwrap();
        assert_eq!(world.delivered_with, ["Bearer tok-1", "Bearer tok-2"]);
        assert_eq!(world.assertion_ids.len(), 2, "a new assertion each time");
        assert!(!world.token_requests[0].contains_key("client_secret"));
    }

    // Another key than the one the server knows: refused, a retry.
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    std::fs::write(&key_file, other.serialize_pem()).unwrap();
    let reason = retry_reason(deliver(&mut connector(config.clone())).await);
    assert!(reason.contains("(invalid_client)"), "{reason}");

    // Settings that do not fit together, or a key that cannot sign, are
    // refused when the connector is built.
    let build = |config: HttpTargetConfig| Connector::new(&TargetConfig::Http(config)).unwrap_err();
    let mut with_secret = config.clone();
    with_secret.oauth.as_mut().unwrap().client_secret = Some("also".into());
    assert!(matches!(
        build(with_secret),
        ConnectorError::OAuthCredentials(_)
    ));
    let p256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    std::fs::write(&key_file, p256.serialize_pem()).unwrap();
    let error = build(config.clone()).to_string();
    assert!(
        error.contains("client.key") && error.contains("RS384 or ES384"),
        "{error}"
    );
    let mut secretless: HttpTargetConfig = config;
    secretless.oauth.as_mut().unwrap().client_auth = Default::default();
    secretless.oauth.as_mut().unwrap().private_key_file = None;
    assert!(matches!(
        build(secretless),
        ConnectorError::OAuthCredentials(_)
    ));
}

/// Writes a new EC P-384 client key to `key_file` and gives the token
/// endpoint its public half.
fn known_key(world: &Shared, key_file: &std::path::Path) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    std::fs::write(key_file, key.serialize_pem()).unwrap();
    world.lock().unwrap().client_key = Some(("ES384", key.public_key_raw().to_vec()));
}

/// A destination that signs its assertions with the key in `key_file`.
fn signed_by(base: &str, key_file: &std::path::Path) -> HttpTargetConfig {
    toml::from_str(&format!(
        "url = \"{base}/fhir\"\n[oauth]\ntoken_url = \"{base}/oauth2/token\"\n\
         client_id = {CLIENT_ID:?}\nclient_auth = \"private_key_jwt\"\n\
         private_key_file = {key_file:?}\nkey_id = \"key-2026\"\n"
    ))
    .unwrap()
}

/// Runs `openssl` (installed by CI; rcgen and ring cannot make RSA keys).
fn openssl(args: &[&str]) {
    let output = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "openssl {args:?}: {stderr}");
}

#[tokio::test]
async fn rsa_keys_sign_rs384_in_pkcs8_and_pkcs1() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &path("pkcs8.pem"),
    ]);
    openssl(&[
        "rsa",
        "-in",
        &path("pkcs8.pem"),
        "-traditional",
        "-out",
        &path("pkcs1.pem"),
    ]);
    openssl(&[
        "rsa",
        "-in",
        &path("pkcs8.pem"),
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        &path("public.der"),
    ]);
    let public = std::fs::read(path("public.der")).unwrap();
    for key in ["pkcs8.pem", "pkcs1.pem"] {
        let text = std::fs::read_to_string(path(key)).unwrap();
        let header = if key == "pkcs8.pem" {
            "BEGIN PRIVATE KEY"
        } else {
            "BEGIN RSA PRIVATE KEY"
        };
        assert!(text.contains(header), "{key}: {text}");
        let (base, world) = servers("3600").await;
        world.lock().unwrap().client_key = Some(("RS384", public.clone()));
        let mut fhir = connector(signed_by(&base, &dir.path().join(key)));
        assert_eq!(deliver(&mut fhir).await, Attempt::Delivered, "{key}");
        assert_eq!(world.lock().unwrap().assertion_ids.len(), 1, "{key}");
    }
}

/// The engine as a whole: a rotated signing key is read again on a TLS
/// reload. The FHIR server revokes the old token at the same moment, so
/// only a connector that has read the new key gets a new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_signing_key_is_used_after_a_reload() {
    let (base, world) = servers("3600").await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("client.key");
    known_key(&world, &key_file);
    let config = format!(
        "[[channels]]\nname = \"test\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:0\"\n\
         [[channels.destinations]]\nname = \"fhir\"\n\
         retry = {{ initial_delay_ms = 20, max_delay_ms = 100, max_retries = 100, jitter = 0.0 }}\n\
         [channels.destinations.to]\ntype = \"http\"\nurl = \"{base}/fhir\"\n\
         [channels.destinations.to.oauth]\ntoken_url = \"{base}/oauth2/token\"\n\
         client_id = {CLIENT_ID:?}\nclient_auth = \"private_key_jwt\"\n\
         private_key_file = {key_file:?}\nkey_id = \"key-2026\"\n"
    );
    let engine = engine::start_channels(tempfile::tempdir().unwrap(), &config).await;
    let mut sender = tokio::net::TcpStream::connect(engine.address)
        .await
        .unwrap();
    let delivered = |count: usize| {
        let world = world.clone();
        engine::eventually(Duration::from_secs(20), "the delivery", move || {
            world.lock().unwrap().delivered_with.len() == count
        })
    };
    let ack = engine::exchange(&mut sender, engine::message("KEY-1").as_bytes()).await;
    assert_eq!(engine::field(&ack, "MSA-1"), "AA");
    delivered(1).await;

    known_key(&world, &key_file);
    world.lock().unwrap().valid.clear();
    let reloads = engine.server.reload_tls();
    let fhir = reloads
        .iter()
        .find(|r| r.endpoint.name() == "test/fhir")
        .unwrap();
    assert_eq!(
        fhir.outcome.as_str(),
        "unchanged",
        "no certificate, the key reread"
    );
    let ack = engine::exchange(&mut sender, engine::message("KEY-2").as_bytes()).await;
    assert_eq!(engine::field(&ack, "MSA-1"), "AA");
    delivered(2).await;
    assert_eq!(world.lock().unwrap().delivered_with[1], "Bearer tok-2");
}

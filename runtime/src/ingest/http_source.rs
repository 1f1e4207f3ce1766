//! A channel's HL7-over-HTTP source: each POST to the channel's path carries
//! one message, which goes through the same [`Intake`] as an MLLP frame; the
//! response carries its ACK.
//!
//! | request | response |
//! |---|---|
//! | a message, ACK due | 200, the ACK (`x-application/hl7-v2+er7`), AA/AE/AR as over MLLP |
//! | a message, no ACK due (`ack_mode = "none"`) | 204 |
//! | no or a wrong bearer token, when one is set | 401 |
//! | a body over `max_message_bytes` | 413 |
//! | a body slower than `request_timeout_secs` | 408 |
//! | another content type | 415 |
//! | the channel stopped | 503 with `Retry-After` |
//!
//! A malformed body still gets 200 with AR and an ERR segment, as it would
//! over MLLP: the HL7 answer is in the ACK.
//!
//! Connections are served by [`serve_http`]: at most `max_connections` at
//! once, each request's headers within `request_timeout_secs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use tokio::net::TcpListener;

use super::channel::ChannelRuntime;
use super::intake::Intake;
use crate::admin::auth::{bearer_token, constant_time_eq};
use crate::config::HttpSourceConfig;
use crate::events::FrameRefused;
use crate::metrics;
use crate::net::{ClientCertificate, HandshakeFailed, HttpLimits, serve_http};
use crate::pipeline::ChannelState;
use crate::tls::ServerTls;

/// The content type of an ACK, after the HL7-over-HTTP convention.
const HL7_CONTENT_TYPE: &str = "x-application/hl7-v2+er7";

/// Request content types taken as an HL7 v2 message.
const ACCEPTED_TYPES: [&str; 4] = [
    HL7_CONTENT_TYPE,
    "application/hl7-v2",
    "application/hl7-v2+er7",
    "text/plain",
];

/// A bound HTTP source, not yet serving.
pub struct HttpSource {
    tcp: TcpListener,
    tls: Option<Arc<ServerTls>>,
    app: Router,
    channel: Arc<ChannelRuntime>,
    limits: HttpLimits,
}

/// What each request handler shares.
#[derive(Clone)]
struct Receiver {
    channel: Arc<ChannelRuntime>,
    token: Option<Arc<str>>,
    max_message_bytes: usize,
    request_timeout: Duration,
}

impl HttpSource {
    /// Binds the listen address; with `tls`, each connection shakes hands
    /// with the configuration current when it arrives.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(
        channel: Arc<ChannelRuntime>,
        settings: &HttpSourceConfig,
        tls: Option<Arc<ServerTls>>,
    ) -> anyhow::Result<HttpSource> {
        let tcp = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let request_timeout = Duration::from_secs(settings.request_timeout_secs.max(1));
        let receiver = Receiver {
            channel: channel.clone(),
            token: settings.bearer_token.as_deref().map(Arc::from),
            max_message_bytes: settings.max_message_bytes,
            request_timeout,
        };
        let app = Router::new()
            .route(&settings.path, post(receive))
            .with_state(receiver);
        tracing::info!(channel = channel.name, address = %tcp.local_addr()?, path = settings.path, tls = tls.is_some(), "HTTP source started.");
        Ok(HttpSource {
            tcp,
            tls,
            app,
            channel,
            limits: HttpLimits {
                max_connections: settings.max_connections,
                header_timeout: request_timeout,
            },
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.tcp
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until the engine shuts down; failed TLS handshakes count as
    /// the channel's.
    pub async fn run(self) {
        let channel = self.channel.clone();
        let failed: HandshakeFailed =
            Arc::new(move |peer, reason: &str| channel.handshake_failed(peer, reason));
        let tls = self.tls.map(|tls| (tls, failed));
        let shutdown = self.channel.shutdown.clone();
        serve_http(self.tcp, tls, self.app, self.limits, shutdown).await;
    }
}

/// One POSTed message.
async fn receive(
    State(receiver): State<Receiver>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    certificate: Option<Extension<ClientCertificate>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let channel = &receiver.channel;
    let sender = Sender {
        address: peer.to_string(),
        certificate: certificate.map(|Extension(ClientCertificate(id))| id.name().to_owned()),
    };
    let response = answer(&receiver, &sender, &headers, body).await;
    let status = response.status();
    channel
        .metrics
        .http_requests
        .get_or_create(&metrics::channel_and(
            &channel.name,
            "status",
            status.as_str(),
        ))
        .inc();
    response
}

/// Who sent a request: its address, and the name in its client
/// certificate under mTLS.
#[derive(Clone)]
struct Sender {
    address: String,
    certificate: Option<String>,
}

impl Sender {
    fn intake<'a>(&'a self, channel: &'a ChannelRuntime) -> Intake<'a> {
        Intake {
            channel,
            peer: &self.address,
            peer_certificate: self.certificate.as_deref(),
        }
    }
}

async fn answer(receiver: &Receiver, sender: &Sender, headers: &HeaderMap, body: Body) -> Response {
    let channel = &receiver.channel;
    let peer = &sender.address;
    let refused = |reason: &str, detail: &str| {
        FrameRefused {
            channel: &channel.name,
            peer,
            reason,
            control_id: None,
            detail,
        }
        .emit(&channel.metrics);
    };
    if channel.control.state() == ChannelState::Stopped {
        let mut response = refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "The channel is stopped; send again later.",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        return response;
    }
    if let Some(token) = &receiver.token {
        let presented = bearer_token(headers).unwrap_or("");
        if !constant_time_eq(token, presented) {
            let why = if presented.is_empty() {
                "no bearer token"
            } else {
                "a wrong bearer token"
            };
            refused("unauthorized", why);
            let mut response = refusal(
                StatusCode::UNAUTHORIZED,
                "Send Authorization: Bearer <token>.",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    if !acceptable_content_type(headers) {
        let text = format!("Send the message as {}.", ACCEPTED_TYPES.join(", "));
        refused("unsupported_content_type", &text);
        return refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, &text);
    }
    let intake = sender.intake(channel);
    let reading = axum::body::to_bytes(body, receiver.max_message_bytes);
    let body = match tokio::time::timeout(receiver.request_timeout, reading).await {
        Ok(Ok(body)) => body,
        Err(_) => {
            intake.count_received();
            let detail = format!(
                "The body did not arrive within {} s.",
                receiver.request_timeout.as_secs()
            );
            refused("slow_sender", &detail);
            return refusal(StatusCode::REQUEST_TIMEOUT, &detail);
        }
        Ok(Err(_)) => {
            intake.count_received();
            let detail = format!("The body exceeds {} bytes.", receiver.max_message_bytes);
            refused("too_large", &detail);
            return refusal(StatusCode::PAYLOAD_TOO_LARGE, &detail);
        }
    };
    let received = Instant::now();
    // Answered on a task of its own: a client that hangs up cancels this
    // request, and a written message must still reach its worker.
    let answering = tokio::spawn({
        let (channel, sender) = (Arc::clone(channel), sender.clone());
        async move {
            let intake = sender.intake(&channel);
            if hl7v2::starts_batch(&body)
                && let Ok(batch) = hl7v2::split_batch(&body)
            {
                let answers = intake.ingest_batch(&batch.messages, received).await;
                return (intake.batch_reply(&batch, &answers), answers);
            }
            let answer = intake.finish(intake.begin(&body, received)).await;
            (answer.ack.clone(), vec![answer])
        }
    });
    let Ok((reply, answers)) = answering.await else {
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The engine failed while answering; send again.",
        );
    };
    for answer in answers.iter().filter(|answer| answer.ack.is_some()) {
        answer.sent(&channel.name, &channel.metrics);
    }
    match reply {
        Some(reply) => {
            let content_type = HeaderValue::from_static(HL7_CONTENT_TYPE);
            ([(header::CONTENT_TYPE, content_type)], reply).into_response()
        }
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// Whether the request's content type (ignoring parameters such as the
/// charset) is one taken as HL7 v2; a request without one is taken too.
fn acceptable_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let media_type = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    ACCEPTED_TYPES
        .iter()
        .any(|accepted| accepted.eq_ignore_ascii_case(media_type))
}

fn refusal(status: StatusCode, text: &str) -> Response {
    (status, format!("{text}\n")).into_response()
}

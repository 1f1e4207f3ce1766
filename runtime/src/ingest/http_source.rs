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
//! | another content type | 415 |
//! | the channel stopped | 503 with `Retry-After` |
//!
//! A malformed body still gets 200 with AR and an ERR segment, as it would
//! over MLLP: the HL7 answer is in the ACK.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::IncomingStream;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::channel::ChannelRuntime;
use super::intake::Intake;
use crate::admin::auth::{bearer_token, constant_time_eq};
use crate::config::HttpSourceConfig;
use crate::events::{FrameRefused, TlsHandshakeFailed};
use crate::metrics;
use crate::pipeline::ChannelState;
use crate::tls::{self, TlsListener};

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
    tls: Option<TlsAcceptor>,
    app: Router,
    channel: Arc<ChannelRuntime>,
}

/// A request's client address, over TCP or TLS alike.
#[derive(Debug, Clone, Copy)]
struct Peer(SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// What each request handler shares.
#[derive(Clone)]
struct Receiver {
    channel: Arc<ChannelRuntime>,
    token: Option<Arc<str>>,
    max_message_bytes: usize,
}

impl HttpSource {
    /// Binds the listen address and loads the TLS settings.
    ///
    /// # Errors
    /// When the address cannot be bound or the TLS files are unusable.
    pub async fn bind(
        channel: Arc<ChannelRuntime>,
        settings: &HttpSourceConfig,
    ) -> anyhow::Result<HttpSource> {
        let tls = settings
            .tls
            .as_ref()
            .map(|tls| tls::server_config(tls).map(TlsAcceptor::from))
            .transpose()
            .context("key source.tls")?;
        let tcp = TcpListener::bind(&settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let receiver = Receiver {
            channel: channel.clone(),
            token: settings.bearer_token.as_deref().map(Arc::from),
            max_message_bytes: settings.max_message_bytes,
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
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.tcp
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until the engine shuts down, finishing requests in flight.
    pub async fn run(self) {
        let HttpSource {
            tcp,
            tls,
            app,
            channel,
        } = self;
        let service = app.into_make_service_with_connect_info::<Peer>();
        let shutdown = channel.shutdown.clone().cancelled_owned();
        let served = match tls {
            None => {
                axum::serve(tcp, service)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
            Some(acceptor) => {
                let failed_channel = channel.clone();
                let failed = Arc::new(move |peer, reason: &str| {
                    TlsHandshakeFailed {
                        channel: &failed_channel.name,
                        peer,
                        reason,
                    }
                    .emit(&failed_channel.metrics);
                });
                let listener =
                    match TlsListener::spawn(tcp, acceptor, channel.shutdown.clone(), failed) {
                        Ok(listener) => listener,
                        Err(error) => {
                            tracing::error!(channel = channel.name, %error, "HTTP source failed.");
                            return;
                        }
                    };
                axum::serve(listener, service)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        };
        if let Err(error) = served {
            tracing::error!(channel = channel.name, %error, "HTTP source failed.");
        }
    }
}

/// One POSTed message.
async fn receive(
    State(receiver): State<Receiver>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let channel = &receiver.channel;
    let response = answer(&receiver, peer, &headers, body).await;
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

async fn answer(
    receiver: &Receiver,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let channel = &receiver.channel;
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
        return refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, &text);
    }
    let peer = peer.to_string();
    let intake = Intake {
        channel,
        peer: &peer,
    };
    let body = match axum::body::to_bytes(body, receiver.max_message_bytes).await {
        Ok(body) => body,
        Err(_) => {
            intake.count_received();
            let detail = format!("The body exceeds {} bytes.", receiver.max_message_bytes);
            FrameRefused {
                channel: &channel.name,
                peer: &peer,
                reason: "too_large",
                control_id: None,
                detail: &detail,
            }
            .emit(&channel.metrics);
            return refusal(StatusCode::PAYLOAD_TOO_LARGE, &detail);
        }
    };
    let answer = intake.ingest(&body, Instant::now()).await;
    match &answer.ack {
        Some(ack) => {
            answer.sent(&channel.name, &channel.metrics);
            let content_type = HeaderValue::from_static(HL7_CONTENT_TYPE);
            ([(header::CONTENT_TYPE, content_type)], ack.clone()).into_response()
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

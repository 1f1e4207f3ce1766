//! Accepting connections, for every listener the engine opens: MLLP
//! sources, HTTP sources and the admin API.
//!
//! HTTP is served with hyper's HTTP/1.1 server directly rather than
//! `axum::serve`, for what a server facing other systems needs and that
//! does not give: at most `max_connections` at once, and a deadline on each
//! request's headers (and on an idle kept-alive connection), so that a
//! client trickling bytes cannot hold a connection for good.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::tls::{PeerIdentity, ServerTls, peer_identity};

/// How long a client may take to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a listener that shuts down waits for its open connections to
/// finish what each is handling.
pub const DRAIN: Duration = Duration::from_secs(5);

/// Waits, up to [`DRAIN`], until all `max` of `permits` are back: every
/// connection that held one has ended.
pub async fn drain(permits: &Semaphore, max: usize) {
    let max = u32::try_from(max.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(DRAIN, permits.acquire_many(max)).await;
}

/// Accepts the next connection; on errors such as EMFILE, waits (1 ms
/// doubling to 1 s) instead of spinning.
pub async fn accept_with_backoff(tcp: &TcpListener) -> (TcpStream, SocketAddr) {
    let mut backoff = Duration::from_millis(1);
    loop {
        match tcp.accept().await {
            Ok(accepted) => return accepted,
            Err(error) => {
                tracing::warn!(%error, "Accept failed; backing off.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Completes a client's TLS handshake within [`HANDSHAKE_TIMEOUT`].
///
/// # Errors
/// Why the handshake failed (the TLS alert, or the timeout).
pub async fn tls_handshake(
    acceptor: &TlsAcceptor,
    socket: TcpStream,
) -> Result<TlsStream<TcpStream>, String> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("handshake timed out".to_string()),
    }
}

/// The names in the certificate a TLS client presented, in each request's
/// extensions (the admin API's callers may be known by it).
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub PeerIdentity);

/// Told of each failed TLS handshake: the client's address and why.
pub type HandshakeFailed = Arc<dyn Fn(SocketAddr, &str) + Send + Sync>;

/// How an HTTP server treats its clients.
#[derive(Clone)]
pub struct HttpLimits {
    /// The most connections served at once; more wait in the accept queue.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long
    /// a kept-alive connection may stay idle.
    pub header_timeout: Duration,
}

/// Serves `app` on `tcp` (over TLS with `tls`, each connection with the
/// configuration current when it arrives, whose failed handshakes go to
/// its callback) until `shutdown`; then waits (up to [`DRAIN`]) for the
/// requests in flight to finish.
/// Handlers can extract the client's `ConnectInfo<SocketAddr>`, and over TLS the
/// [`ClientCertificate`] it presented, if any.
pub async fn serve_http(
    tcp: TcpListener,
    tls: Option<(Arc<ServerTls>, HandshakeFailed)>,
    app: Router,
    limits: HttpLimits,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let (socket, peer) = tokio::select! {
            accepted = accept_with_backoff(&tcp) => accepted,
            () = shutdown.cancelled() => break,
        };
        let app = app.clone().layer(Extension(ConnectInfo(peer)));
        let (tls, timeout, shutdown) = (tls.clone(), limits.header_timeout, shutdown.clone());
        tokio::spawn(async move {
            let _ = socket.set_nodelay(true);
            match tls {
                None => serve_connection(socket, app, timeout, &shutdown).await,
                Some((tls, failed)) => match tls_handshake(&tls.acceptor(), socket).await {
                    Ok(stream) => {
                        let app = match peer_identity(stream.get_ref().1) {
                            Some(identity) => app.layer(Extension(ClientCertificate(identity))),
                            None => app,
                        };
                        serve_connection(stream, app, timeout, &shutdown).await
                    }
                    Err(reason) => failed(peer, &reason),
                },
            }
            drop(permit);
        });
    }
    drop(tcp);
    drain(&permits, limits.max_connections).await;
}

/// Serves HTTP/1.1 requests on `io` until the client closes, a request is
/// too slow in coming, or `shutdown` (after the request in flight).
async fn serve_connection<S>(io: S, app: Router, timeout: Duration, shutdown: &CancellationToken)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeout);
    let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "HTTP connection ended.");
    }
}

//! One channel's MLLP listener: accepts connections up to the channel's
//! limit, performs the TLS handshake when configured, and hands each
//! connection to a [`Handler`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use super::channel::ChannelRuntime;
use super::handler::Handler;
use crate::events::{ConnectionOpened, TlsHandshakeFailed};
use crate::mllp::Connection;
use crate::tls::{self, TlsServerSettings};

/// How long a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound listener, not yet accepting.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    channel: Arc<ChannelRuntime>,
    permits: Arc<Semaphore>,
}

impl Listener {
    /// Binds `address` and loads the TLS settings.
    ///
    /// # Errors
    /// When the address cannot be bound or the TLS files are unusable.
    pub async fn bind(
        channel: Arc<ChannelRuntime>,
        address: SocketAddr,
        tls_settings: Option<&TlsServerSettings>,
        max_connections: usize,
    ) -> anyhow::Result<Listener> {
        let tls = tls_settings
            .map(|settings| tls::server_config(settings).map(TlsAcceptor::from))
            .transpose()?;
        let tcp = TcpListener::bind(address).await?;
        tracing::info!(channel = channel.name, address = %tcp.local_addr()?, tls = tls.is_some(), "MLLP listener started.");
        Ok(Listener {
            tcp,
            tls,
            channel,
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.tcp
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Accepts connections until shutdown. A connection beyond the limit
    /// waits in the kernel's accept queue until a permit frees up.
    pub async fn run(self) {
        let shutdown = self.channel.shutdown.clone();
        loop {
            let permit = tokio::select! {
                permit = self.permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                () = shutdown.cancelled() => return,
            };
            let (socket, peer) = tokio::select! {
                accepted = accept_with_backoff(&self.tcp) => accepted,
                () = shutdown.cancelled() => return,
            };
            let channel = self.channel.clone();
            let tls = self.tls.clone();
            tokio::spawn(async move {
                serve(socket, peer, tls, channel).await;
                drop(permit);
            });
        }
    }
}

/// Accepts the next connection; on errors such as EMFILE, waits (1 ms
/// doubling to 1 s) instead of spinning.
async fn accept_with_backoff(tcp: &TcpListener) -> (TcpStream, SocketAddr) {
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

async fn serve(
    socket: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    channel: Arc<ChannelRuntime>,
) {
    // ACKs are small and latency-bound.
    let _ = socket.set_nodelay(true);
    let Some(acceptor) = tls else {
        ConnectionOpened {
            channel: &channel.name,
            peer,
            tls_version: None,
            client_subject: None,
        }
        .emit(&channel.metrics);
        let connection = Connection::new(socket, channel.limits);
        return Handler {
            connection,
            peer,
            channel,
        }
        .run()
        .await;
    };
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            let reason = error.to_string();
            TlsHandshakeFailed {
                channel: &channel.name,
                peer,
                reason: &reason,
            }
            .emit(&channel.metrics);
            return;
        }
        Err(_) => {
            TlsHandshakeFailed {
                channel: &channel.name,
                peer,
                reason: "handshake timed out",
            }
            .emit(&channel.metrics);
            return;
        }
    };
    let (_, session) = stream.get_ref();
    let identity = tls::peer_identity(session);
    let subject = identity.as_ref().map(|id| id.subject.clone());
    ConnectionOpened {
        channel: &channel.name,
        peer,
        tls_version: tls::protocol_version(session),
        client_subject: subject.as_deref(),
    }
    .emit(&channel.metrics);
    let connection = Connection::new(stream, channel.limits);
    Handler {
        connection,
        peer,
        channel,
    }
    .run()
    .await;
}

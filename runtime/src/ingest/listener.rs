//! One channel's MLLP listener: accepts connections up to the channel's
//! limit, performs the TLS handshake when configured, and hands each
//! connection to a [`Handler`]; closes while the channel is stopped.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::channel::ChannelRuntime;
use super::handler::Handler;
use crate::events::ConnectionOpened;
use crate::mllp::Connection;
use crate::net::{accept_with_backoff, drain, tls_handshake};
use crate::tls::{self, ServerTls};

/// A bound listener, not yet accepting.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<Arc<ServerTls>>,
    channel: Arc<ChannelRuntime>,
    permits: Arc<Semaphore>,
    max_connections: usize,
}

impl Listener {
    /// Binds `address`; with `tls`, each connection shakes hands with the
    /// configuration current when it arrives.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn bind(
        channel: Arc<ChannelRuntime>,
        address: SocketAddr,
        tls: Option<Arc<ServerTls>>,
        max_connections: usize,
    ) -> anyhow::Result<Listener> {
        let tcp = TcpListener::bind(address).await?;
        tracing::info!(channel = channel.name, address = %tcp.local_addr()?, tls = tls.is_some(), "MLLP listener started.");
        let max_connections = max_connections.max(1);
        Ok(Listener {
            tcp,
            tls,
            channel,
            permits: Arc::new(Semaphore::new(max_connections)),
            max_connections,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.tcp
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Accepts connections until shutdown, then waits (up to a few
    /// seconds) for the open connections to finish the message each is
    /// handling. A connection beyond the limit waits in the kernel's accept
    /// queue until a permit frees up.
    ///
    /// While the channel is stopped the listening socket is closed, so new
    /// connections are refused, and open connections close after their
    /// current message; when it starts again, the same address is bound
    /// anew.
    pub async fn run(self) {
        let Listener {
            tcp,
            tls,
            channel,
            permits,
            max_connections,
        } = self;
        let address = tcp.local_addr().expect("a bound listener has an address");
        let mut listening = Some(tcp);
        while let Some(tcp) = listening.take() {
            // The connections of this listening period close when it ends.
            let period = Arc::new(ChannelRuntime {
                shutdown: channel.shutdown.child_token(),
                ..ChannelRuntime::clone(&channel)
            });
            let stopped = accept_until_stopped(tcp, tls.as_ref(), &period, &permits).await;
            period.shutdown.cancel();
            if !stopped {
                drain(&permits, max_connections).await;
                return;
            }
            tracing::info!(channel = channel.name, %address, "MLLP listener closed: the channel stopped.");
            listening = rebind(&channel, address).await;
        }
    }
}

/// Accepts on `tcp` until the channel stops (`true`) or the engine shuts
/// down (`false`); the socket closes on return.
async fn accept_until_stopped(
    tcp: TcpListener,
    tls: Option<&Arc<ServerTls>>,
    channel: &Arc<ChannelRuntime>,
    permits: &Arc<Semaphore>,
) -> bool {
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = channel.control.stopped() => return true,
            () = channel.shutdown.cancelled() => return false,
        };
        let (socket, peer) = tokio::select! {
            accepted = accept_with_backoff(&tcp) => accepted,
            () = channel.control.stopped() => return true,
            () = channel.shutdown.cancelled() => return false,
        };
        let channel = channel.clone();
        let tls = tls.map(|tls| tls.acceptor());
        tokio::spawn(async move {
            serve(socket, peer, tls, channel).await;
            drop(permit);
        });
    }
}

/// Waits until the channel may listen again and binds `address`; retries
/// (100 ms doubling to 5 s) while the address is taken. `None` when the
/// engine shuts down first.
async fn rebind(channel: &ChannelRuntime, address: SocketAddr) -> Option<TcpListener> {
    let mut backoff = Duration::from_millis(100);
    tokio::select! {
        () = channel.control.listening() => {}
        () = channel.shutdown.cancelled() => return None,
    }
    loop {
        match TcpListener::bind(address).await {
            Ok(tcp) => {
                tracing::info!(channel = channel.name, %address, "MLLP listener started again.");
                return Some(tcp);
            }
            Err(error) => {
                tracing::warn!(channel = channel.name, %address, %error, "MLLP listener cannot bind; retrying.");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = channel.shutdown.cancelled() => return None,
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
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
            peer_certificate: None,
            channel,
        }
        .run()
        .await;
    };
    let Some(stream) = handshake(&acceptor, socket, peer, &channel).await else {
        return;
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
        peer_certificate: identity.map(|id| id.name().to_owned()),
        channel,
    }
    .run()
    .await;
}

/// Completes a client's TLS handshake; a failure is counted and logged for
/// the channel, and gives `None`.
async fn handshake(
    acceptor: &TlsAcceptor,
    socket: TcpStream,
    peer: SocketAddr,
    channel: &ChannelRuntime,
) -> Option<TlsStream<TcpStream>> {
    match tls_handshake(acceptor, socket).await {
        Ok(stream) => Some(stream),
        Err(reason) => {
            channel.handshake_failed(peer, &reason);
            None
        }
    }
}

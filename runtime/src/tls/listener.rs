//! HTTP over TLS (the admin API, HTTP sources): a listener that hands axum
//! connections whose handshake is done. Handshakes run in their own tasks,
//! each with a deadline, so a client that stalls in one holds up nobody
//! else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// How long a client may take to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Told of each failed handshake: the client's address and why.
pub type HandshakeFailed = Arc<dyn Fn(SocketAddr, &str) + Send + Sync>;

/// Accepted connections whose TLS handshake succeeded.
pub struct TlsListener {
    local: SocketAddr,
    handshaken: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Accepts on `tcp` and shakes hands with `acceptor` until `shutdown`;
    /// `failed` hears of each handshake that fails or times out.
    ///
    /// # Errors
    /// When the bound address cannot be read.
    pub fn spawn(
        mut tcp: TcpListener,
        acceptor: TlsAcceptor,
        shutdown: CancellationToken,
        failed: HandshakeFailed,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (sender, handshaken) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                // axum's accept retries errors such as EMFILE with a pause.
                let (socket, peer) = tokio::select! {
                    accepted = Listener::accept(&mut tcp) => accepted,
                    () = shutdown.cancelled() => return,
                };
                let (acceptor, sender, failed) = (acceptor.clone(), sender.clone(), failed.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
                        Ok(Ok(stream)) => drop(sender.send((stream, peer)).await),
                        Ok(Err(error)) => failed(peer, &error.to_string()),
                        Err(_) => failed(peer, "handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, handshaken })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.handshaken.recv().await {
            Some(connection) => connection,
            // The acceptor stopped for shutdown, which ends the server too.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

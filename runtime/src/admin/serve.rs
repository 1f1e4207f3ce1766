//! Binding the admin API's listener (plain or TLS) and serving the router
//! until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::serve::Listener;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::router::router;
use super::state::AdminState;
use crate::tls::TlsListener;

/// A running admin API.
pub struct AdminApi {
    /// The address it listens on (useful when the config asked for port 0).
    pub address: SocketAddr,
    /// What its handlers share.
    pub state: Arc<AdminState>,
}

impl AdminApi {
    /// Checks the `[admin]` section again (the config may have been changed
    /// since it was read), binds its address and spawns the server into
    /// `tasks`; it stops, finishing requests in flight, when `shutdown` is
    /// cancelled.
    ///
    /// # Errors
    /// When the section is unusable (an address other than loopback without
    /// tokens), the address cannot be bound or the TLS files are unusable;
    /// the error names `admin.listen` or `admin.tls`.
    pub async fn start(
        state: Arc<AdminState>,
        shutdown: &CancellationToken,
        tasks: &mut JoinSet<()>,
    ) -> anyhow::Result<AdminApi> {
        let settings = &state.settings;
        settings.check().map_err(anyhow::Error::msg)?;
        let listen = settings.listen_address().map_err(anyhow::Error::msg)?;
        let acceptor = settings
            .tls
            .as_ref()
            .map(|tls| crate::tls::server_config(tls).map(TlsAcceptor::from))
            .transpose()
            .context("key admin.tls")?;
        let tcp = TcpListener::bind(listen)
            .await
            .with_context(|| format!("key admin.listen: cannot listen on {listen}"))?;
        let address = tcp.local_addr()?;
        let app = router(state.clone());
        match acceptor {
            None => spawn(tasks, tcp, app, shutdown),
            Some(acceptor) => {
                let failed = Arc::new(|peer, error: &str| {
                    tracing::warn!(%peer, error, "Admin API TLS handshake failed.");
                });
                let tls = TlsListener::spawn(tcp, acceptor, shutdown.clone(), failed)?;
                spawn(tasks, tls, app, shutdown);
            }
        }
        tracing::info!(%address, tls = settings.tls.is_some(), "Admin API started.");
        Ok(AdminApi { address, state })
    }
}

/// Serves `app` on `listener` in a task of `tasks` until `shutdown`.
fn spawn<L>(tasks: &mut JoinSet<()>, listener: L, app: Router, shutdown: &CancellationToken)
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    let server =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    tasks.spawn(async move {
        match server.await {
            Ok(()) => tracing::info!("Admin API stopped."),
            Err(error) => tracing::error!(%error, "Admin API failed."),
        }
    });
}

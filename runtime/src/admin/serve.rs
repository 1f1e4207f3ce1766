//! Binding the admin API's listener (plain or TLS) and serving the router
//! until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::router::router;
use super::state::AdminState;
use crate::net::{HandshakeFailed, serve_http};
use crate::tls::TlsEndpoint;

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
        let tls = settings
            .tls
            .as_ref()
            .map(|tls| state.tls.load(TlsEndpoint::Admin, tls))
            .transpose()
            .context("key admin.tls")?;
        let tcp = TcpListener::bind(listen)
            .await
            .with_context(|| format!("key admin.listen: cannot listen on {listen}"))?;
        let address = tcp.local_addr()?;
        let app = router(state.clone());
        let failed: HandshakeFailed = Arc::new(|peer, error: &str| {
            tracing::warn!(%peer, error, "Admin API TLS handshake failed.");
        });
        let tls = tls.map(|tls| (tls, failed));
        let serving = serve_http(tcp, tls, app, settings.limits(), shutdown.clone());
        tasks.spawn(async move {
            serving.await;
            tracing::info!("Admin API stopped.");
        });
        tracing::info!(%address, tls = settings.tls.is_some(), "Admin API started.");
        Ok(AdminApi { address, state })
    }
}

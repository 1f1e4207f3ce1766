//! `GET /api/v1/tls`: the certificate each TLS listener presents, and each
//! destination's client certificate; `POST /api/v1/tls/reload`: an operator
//! has every listener and destination read its certificate, key and CA
//! files again after a renewal. Audited.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::audit;
use super::auth::Caller;
use super::error::ApiError;
use super::state::AdminState;
use crate::config::Role;
use crate::tls::{CertificateSummary, ReloadOutcome, TlsEndpoint, TlsReload};

/// A listener or destination and the certificate it presents.
#[derive(Debug, Serialize)]
pub struct EndpointCertificate {
    /// A channel's name (its listener), `(admin)` for the admin API, or
    /// `channel/destination`.
    pub endpoint: TlsEndpoint,
    /// The certificate.
    pub certificate: CertificateSummary,
}

/// `GET /api/v1/tls`: every certificate the engine presents; viewer role.
pub async fn list(
    _caller: Caller,
    State(state): State<Arc<AdminState>>,
) -> Json<Vec<EndpointCertificate>> {
    let certificates = state.tls.certificates().into_iter();
    Json(
        certificates
            .map(|(endpoint, certificate)| EndpointCertificate {
                endpoint,
                certificate,
            })
            .collect(),
    )
}

/// `POST /api/v1/tls/reload`: reloads every listener's and destination's
/// TLS files (see
/// [`crate::server::reload_tls`]) and answers how each went; operator role.
/// An endpoint whose files do not load keeps what it had and is reported
/// `failed`; the answer is still 200.
///
/// # Errors
/// 403 below operator.
pub async fn reload(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
) -> Result<Json<Vec<TlsReload>>, ApiError> {
    let result = match caller.require(Role::Operator) {
        // Reading files and building clients blocks: off the async workers.
        Ok(()) => {
            state
                .blocking(|state| Ok(crate::server::reload_tls(&state.tls, &state.metrics)))
                .await
        }
        Err(error) => Err(error),
    };
    let summary = result.as_ref().map(|reloads| {
        let count = |outcome| reloads.iter().filter(|r| r.outcome == outcome).count();
        format!(
            "{} reloaded, {} unchanged, {} failed",
            count(ReloadOutcome::Reloaded),
            count(ReloadOutcome::Unchanged),
            count(ReloadOutcome::Failed)
        )
    });
    audit::record(
        &state.metrics,
        &caller,
        "tls.reload",
        "every TLS endpoint",
        summary,
    );
    result.map(Json)
}

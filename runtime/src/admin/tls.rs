//! `GET /api/v1/tls`: the certificate each TLS listener presents, and
//! `POST /api/v1/tls/reload`: an operator has every listener read its
//! certificate, key and client CA files again after a renewal. Audited.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::audit;
use super::auth::Caller;
use super::error::ApiError;
use super::state::AdminState;
use crate::config::Role;
use crate::tls::{CertificateSummary, ReloadOutcome, TlsListener, TlsReload};

/// One TLS listener and the certificate it presents.
#[derive(Debug, Serialize)]
pub struct ListenerCertificate {
    /// A channel's name, or `(admin)` for the admin API.
    pub listener: TlsListener,
    /// The certificate.
    pub certificate: CertificateSummary,
}

/// `GET /api/v1/tls`: every TLS listener with its certificate; viewer
/// role.
pub async fn list(
    _caller: Caller,
    State(state): State<Arc<AdminState>>,
) -> Json<Vec<ListenerCertificate>> {
    let listeners = state.tls.all().into_iter();
    Json(
        listeners
            .map(|(listener, tls)| ListenerCertificate {
                listener,
                certificate: tls.certificate(),
            })
            .collect(),
    )
}

/// `POST /api/v1/tls/reload`: reloads every TLS listener (see
/// [`crate::server::reload_tls`]) and answers how each went; operator role.
/// A listener whose files do not load keeps its certificate and is
/// reported `failed`; the answer is still 200.
///
/// # Errors
/// 403 below operator.
pub async fn reload(
    caller: Caller,
    State(state): State<Arc<AdminState>>,
) -> Result<Json<Vec<TlsReload>>, ApiError> {
    let result = caller
        .require(Role::Operator)
        .map(|()| crate::server::reload_tls(&state.tls, &state.metrics));
    let summary = result.as_ref().map(|reloads| {
        let count = |outcome| reloads.iter().filter(|r| r.outcome == outcome).count();
        format!(
            "{} reloaded, {} unchanged, {} failed",
            count(ReloadOutcome::Reloaded),
            count(ReloadOutcome::Unchanged),
            count(ReloadOutcome::Failed)
        )
    });
    audit::record(&caller, "tls.reload", "every TLS listener", summary);
    result.map(Json)
}

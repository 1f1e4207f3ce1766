//! The admin API: HTTP (axum) on its own listener, under `/api/v1`, plus
//! Prometheus metrics at `/metrics` and a web dashboard at `/dashboard/`
//! built on the API alone (see `dashboard.rs`).
//!
//! ```text
//! GET  /api/v1/health                       no auth   the API answers
//! GET  /api/v1/ready                        no auth   every channel listens
//! GET  /api/v1/openapi.json                 no auth   this list, in OpenAPI 3
//! GET  /metrics                             viewer    Prometheus text
//! GET  /api/v1/channels                     viewer    configuration in brief, state
//! GET  /api/v1/channels/{name}              viewer    + counters, rates, dead letters,
//!                                                     the version each stage runs
//! POST /api/v1/channels/{name}/stop         operator  close the listener, hold work; audited
//! POST /api/v1/channels/{name}/start        operator  listen and run again; audited
//! POST /api/v1/channels/{name}/pause        operator  receive and ACK, hold work; audited
//! POST /api/v1/channels/{name}/resume       operator  run again; audited
//! GET  /api/v1/channels/{name}/queues       viewer    depth, oldest age per partition
//! GET  /api/v1/messages?control_id=&type=…  viewer    metadata + processing record
//! POST /api/v1/messages/search              viewer    the same, the query as JSON; by a
//!                                                     field's value (admin) only here, so
//!                                                     no value is in a URL; audited
//! GET  /api/v1/messages/{id}                viewer
//! GET  /api/v1/messages/{id}/body           admin     PHI; audited
//! POST /api/v1/messages/reprocess            operator  JSON query: through the pipeline
//!                                                     again; audited
//! GET  /api/v1/dead-letters?channel=&…      viewer    metadata only
//! GET  /api/v1/dead-letters/{sequence}      viewer    payload for admin only
//! POST /api/v1/dead-letters/reprocess       operator  JSON filter; audited
//! POST /api/v1/dead-letters/purge           operator  JSON filter; audited
//! GET  /api/v1/plugins                      viewer    versions, hashes, info
//! POST /api/v1/plugins                      admin     .wasm body, or multipart with
//!                                                     self-tests; audited
//! DELETE /api/v1/plugins/{sha256}           admin     a version no stage runs; audited
//! POST /api/v1/channels/{name}/stages/{i}/activate
//!                                           admin     {"version"}: hot swap; audited
//! POST /api/v1/channels/{name}/stages/{i}/rollback
//!                                           admin     back to the replaced version
//! GET  /api/v1/alerts                       viewer
//! GET  /api/v1/tls                          viewer    each TLS listener's certificate
//! POST /api/v1/tls/reload                   operator  read the TLS files again; audited
//! GET  /api/v1/config                       viewer    as written, secrets redacted
//! POST /api/v1/config/reload                operator  apply the file's channel changes; audited
//! GET  /dashboard/                           no auth   the web dashboard (`/` leads there)
//! ```
//!
//! Callers present `Authorization: Bearer <token>`, or under mTLS a client
//! certificate that `client_roles` names; each token and each such name
//! has a role, viewer < operator < admin. No or an unknown token (or
//! certificate) is 401, a role too low 403. Without tokens or client roles
//! the API serves loopback only and every caller is an operator (see
//! `settings.rs`). `/metrics`
//! asks for a token like the rest, since channel names are operational
//! detail; Prometheus sends one with `authorization: { credentials: … }`.
//!
//! Requests a browser marks as coming from another site may change
//! nothing, and a tokenless API answers only to a loopback `Host` (see
//! `browser_guard.rs`).
//!
//! Errors are JSON `{"code": "...", "message": "..."}`. Every action that
//! changes something or reveals PHI logs one line at target `audit` (see
//! `audit.rs`).

mod activate;
mod alerts;
mod audit;
pub(crate) mod auth;
mod browser_guard;
mod channels;
mod config_reload;
mod config_view;
mod control;
mod dashboard;
mod dead_letters;
mod error;
mod health;
mod messages;
mod openapi;
mod plugin_upload;
mod plugins;
mod queue_gauges;
mod queues;
mod rates;
mod router;
mod serve;
mod settings;
mod state;
mod stats;
mod tls;

pub use auth::Caller;
pub use config_view::redacted;
pub use error::ApiError;
pub use messages::NEXT_BEFORE_ID;
pub use openapi::DOCUMENT as OPENAPI_DOCUMENT;
pub use queue_gauges::refresh_queue_gauges;
pub use rates::{RateSamples, sample_rates};
pub use serve::AdminApi;
pub use settings::{AdminAccess, AdminClient, AdminConfig, AdminToken, Role};
pub use state::AdminState;

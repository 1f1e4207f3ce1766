//! The web dashboard: three static files under `/dashboard/`, built into the
//! binary, that show channels, queues, messages, dead letters, plugins and
//! alerts through the admin API alone. The files hold no data, so they are
//! served without a token; the page sends the token the user types with
//! each API call. A strict Content-Security-Policy allows only this
//! origin's script and style, no inline code and no framing.

use axum::Router;
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// Where the dashboard lives.
pub const PATH: &str = "/dashboard/";

const INDEX: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/style.css");

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The dashboard's routes: its files, and `/` and `/dashboard` sending
/// browsers to it.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(to_dashboard))
        .route("/dashboard", get(to_dashboard))
        .route(
            PATH,
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/dashboard/app.js",
            get(|| async { file("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/dashboard/style.css",
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
}

async fn to_dashboard() -> Redirect {
    Redirect::to(PATH)
}

/// One of the files, with headers that keep it from being framed, sniffed
/// or cached past an upgrade of the engine.
fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (CONTENT_TYPE, content_type),
        (CONTENT_SECURITY_POLICY, POLICY),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (X_FRAME_OPTIONS, "DENY"),
        (REFERRER_POLICY, "no-referrer"),
        (CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

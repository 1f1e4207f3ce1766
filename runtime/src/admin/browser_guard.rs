//! Keeps other web sites out of the admin API. A browser lets any page send
//! a simple POST to 127.0.0.1 (no preflight), which a tokenless loopback
//! API would take as an operator's: a page could stop a channel. And a
//! hostile name that resolves to 127.0.0.1 (DNS rebinding) would let a page
//! read the API's answers. So:
//!
//! - a request that changes something (any method but GET and HEAD) is
//!   refused when the browser says it comes from another site: an `Origin`
//!   that is not this API's own, or `Sec-Fetch-Site: cross-site` or
//!   `same-site`. Command-line clients send neither header;
//! - without tokens, every request must name the API by a loopback address
//!   or `localhost` in its `Host`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AdminState;

/// The middleware: refuses what [`check`] refuses, with 403.
pub async fn guard(State(state): State<Arc<AdminState>>, request: Request, next: Next) -> Response {
    let tokenless = !state.live.admin_access().authenticates();
    match check(request.method(), request.headers(), tokenless) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn check(method: &Method, headers: &HeaderMap, tokenless: bool) -> Result<(), ApiError> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let host = text(HOST.as_str());
    if tokenless && !host.is_some_and(is_loopback_host) {
        return Err(refused(
            "foreign_host",
            "without tokens the API answers only to a loopback Host (127.0.0.1, [::1] or localhost)",
        ));
    }
    if method == Method::GET || method == Method::HEAD {
        return Ok(());
    }
    if matches!(text("sec-fetch-site"), Some("cross-site" | "same-site")) {
        return Err(refused("cross_site", "a request from another site"));
    }
    if let Some(origin) = text(ORIGIN.as_str()) {
        let own = host.is_some_and(|host| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host)
        });
        if !own {
            return Err(refused(
                "cross_origin",
                "a request from another origin than this API's",
            ));
        }
    }
    Ok(())
}

fn refused(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, format!("refused: {message}"))
}

/// Whether a `Host` header names a loopback address or `localhost`, with or
/// without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn loopback_hosts_are_told_from_others() {
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "127.1.2.3",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:8080",
            "10.0.0.1:8080",
            "[2001:db8::1]:80",
            "localhost.evil.example",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    /// The refusal's code for these headers, or `None` when let through.
    fn refusal(
        method: Method,
        pairs: &[(&'static str, &str)],
        tokenless: bool,
    ) -> Option<&'static str> {
        check(&method, &headers(pairs), tokenless)
            .err()
            .map(|error| error.code)
    }

    #[test]
    fn another_site_may_read_nothing_new_and_change_nothing() {
        let own = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ];
        assert_eq!(refusal(Method::POST, &own, true), None);
        let cli = [("host", "127.0.0.1:8080")];
        assert_eq!(refusal(Method::POST, &cli, true), None);
        let foreign = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ];
        assert_eq!(refusal(Method::POST, &foreign, true), Some("cross_origin"));
        assert_eq!(refusal(Method::GET, &foreign, true), None, "no side effect");
        let marked = [("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")];
        assert_eq!(refusal(Method::DELETE, &marked, false), Some("cross_site"));
        let rebound = [("host", "evil.example:8080")];
        assert_eq!(refusal(Method::GET, &rebound, true), Some("foreign_host"));
        assert_eq!(
            refusal(Method::GET, &rebound, false),
            None,
            "tokens guard it"
        );
    }
}

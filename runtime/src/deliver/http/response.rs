//! What an HTTP answer means for a delivery: [`classify`] for a response, [`describe`]
//! for a request that got none.

use std::error::Error;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Response, StatusCode};

use crate::deliver::{Attempt, PEER_TEXT_BYTES, peer_text};

/// How much of a response body is read so that its connection can be reused; past this
/// the connection is closed instead.
const DRAIN_BYTES: usize = 64 * 1024;

/// 2xx is delivered; 408, 429 and 5xx retry after `Retry-After` (429, 502, 503 and
/// 504 as an outage); anything else rejects with the status and the start of the body.
pub(super) async fn classify(response: Response) -> Attempt {
    let status = response.status();
    let after = retry_after(response.headers(), SystemTime::now());
    let head = drain(response).await;
    if status.is_success() {
        Attempt::Delivered
    } else if is_retryable(status) {
        Attempt::Retry {
            reason: format!("HTTP {status}"),
            after,
            timed_out: false,
            unreachable: is_unavailable(status),
        }
    } else if status.is_redirection() {
        Attempt::reject(format!(
            "HTTP {status}: redirects are not followed; set url to the final address"
        ))
    } else {
        Attempt::reject(format!("HTTP {status}: {}", peer_text(&head)))
    }
}

/// Whether a failure status may clear: timeouts, rate limits and server errors.
fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// Whether a status says the server cannot take any request now, whatever
/// it holds: too many requests, a gateway without its server, the service
/// down for maintenance. Such a retry is an outage (see `Attempt::Retry`'s
/// `unreachable`); a 500 or a 408 may be this message's doing and counts.
fn is_unavailable(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    )
}

/// The delay a `Retry-After` header asks for, in seconds or as an HTTP date (a date
/// in the past is no delay); `None` without a valid header.
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Reads the body up to [`DRAIN_BYTES`], keeping its first [`PEER_TEXT_BYTES`].
async fn drain(mut response: Response) -> Vec<u8> {
    let mut head = Vec::new();
    let mut read = 0;
    while read < DRAIN_BYTES {
        let Ok(Some(chunk)) = response.chunk().await else {
            break;
        };
        read += chunk.len();
        let room = PEER_TEXT_BYTES.saturating_sub(head.len());
        head.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    head
}

/// A retry reason for a request that got no response: the error and its causes,
/// without the URL (which may hold credentials in its query).
pub(super) fn describe(error: reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no response within {}s", timeout.as_secs());
    }
    let error = error.without_url();
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(retry_after: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, retry_after.parse().unwrap());
        headers
    }

    /// Ensures that Retry-After is read as seconds or as an HTTP date, and that
    /// anything else is no delay.
    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let after = |value: &str| retry_after(&headers(value), now);
        assert_eq!(after("120"), Some(Duration::from_secs(120)));
        assert_eq!(after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(
            after("Sun, 06 Nov 1994 08:50:07 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(after("Sun, 06 Nov 1994 08:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(after("soon"), None);
        assert_eq!(after("-5"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    /// Ensures that 408, 429 and 5xx retry and other failures do not.
    #[test]
    fn retryable_statuses() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [400, 401, 403, 404, 409, 422] {
            assert!(!is_retryable(StatusCode::from_u16(code).unwrap()), "{code}");
        }
    }
}

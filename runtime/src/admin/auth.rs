//! Bearer-token and client-certificate authentication, and role checks.
//!
//! Every handler that needs a caller takes a [`Caller`] argument: a
//! missing or unknown token (or, without a token, a client certificate not
//! in `client_roles`) is refused with 401 before the handler runs,
//! and the handler asks [`Caller::require`] for the role its action needs
//! (403 when the caller's is lower). Tokens are compared in constant time.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use super::state::AdminState;
use crate::config::{AdminToken, Role};
use crate::net::ClientCertificate;

/// Who is calling: the token's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name (`local` for a tokenless loopback API, `cert:<name>`
    /// for a client certificate).
    pub name: String,
    /// What the caller may do.
    pub role: Role,
}

impl Caller {
    /// Refuses with 403 unless the caller's role is at least `role`.
    ///
    /// # Errors
    /// [`ApiError`] `forbidden`, naming the role needed.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this needs the {} role; the token {:?} has {}",
                role.as_str(),
                self.name,
                self.role.as_str()
            ),
        ))
    }
}

impl FromRequestParts<Arc<AdminState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AdminState>,
    ) -> Result<Self, Self::Rejection> {
        let access = state.live.admin_access();
        if !access.authenticates() {
            // Allowed only on loopback (checked with the config).
            return Ok(Caller {
                name: "local".into(),
                role: Role::Operator,
            });
        }
        if let Some(presented) = bearer_token(&parts.headers) {
            return find(&access.tokens, presented)
                .map(|token| Caller {
                    name: token.name.clone(),
                    role: token.role,
                })
                .ok_or_else(|| unauthorized("the token is not known"));
        }
        let certificate = parts.extensions.get::<ClientCertificate>();
        match certificate.map(|ClientCertificate(identity)| access.client_role(identity)) {
            Some(Some(client)) => Ok(Caller {
                name: format!("cert:{}", client.name),
                role: client.role,
            }),
            Some(None) => Err(unauthorized(
                "the client certificate is not in admin.client_roles; send Authorization: Bearer <token>",
            )),
            None => Err(unauthorized("send Authorization: Bearer <token>")),
        }
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// The token equal to `presented`; every token is compared in full so the
/// time taken does not tell how much of a guess was right.
fn find<'a>(tokens: &'a [AdminToken], presented: &str) -> Option<&'a AdminToken> {
    tokens.iter().fold(None, |found, token| {
        match constant_time_eq(&token.token, presented) {
            true => Some(token),
            false => found,
        }
    })
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
}

/// Whether two secrets are equal, in a time that depends only on their
/// lengths.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |difference, (x, y)| difference | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_tokens_matched_exactly() {
        let caller = Caller {
            name: "ops".into(),
            role: Role::Operator,
        };
        assert!(caller.require(Role::Viewer).is_ok());
        assert_eq!(
            caller.require(Role::Admin).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        let tokens = [AdminToken {
            name: "a".into(),
            token: "0123456789abcdef".into(),
            role: Role::Admin,
        }];
        assert!(find(&tokens, "0123456789abcdef").is_some());
        assert!(find(&tokens, "0123456789abcdeF").is_none());
        assert!(find(&tokens, "0123456789abcde").is_none());
    }
}

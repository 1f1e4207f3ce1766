//! `GET /api/v1/config`: the configuration file as written, before
//! `${NAME}` substitution (so secrets taken from the environment never
//! show), with every value under a secret-looking key redacted as well:
//! `token`, `password`, `secret`, `bearer_token`, and keys ending in
//! `_token`, `_password` or `_secret`. File paths (`key_file`) are shown.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::auth::Caller;
use super::state::AdminState;

/// What a redacted value reads as.
pub const REDACTED: &str = "<redacted>";

/// `GET /api/v1/config`.
pub async fn show(_caller: Caller, State(state): State<Arc<AdminState>>) -> Json<Value> {
    Json(state.channel_set().config_view.clone())
}

/// The JSON view of `table` with secrets redacted.
pub fn redacted(table: &toml::Table) -> Value {
    let mut view = serde_json::to_value(table).expect("TOML values convert to JSON");
    redact(&mut view);
    view
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if is_secret(key) {
                    *value = Value::from(REDACTED);
                } else {
                    redact(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    matches!(key.as_str(), "token" | "password" | "secret")
        || ["_token", "_password", "_secret"]
            .iter()
            .any(|suffix| key.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_paths_kept() {
        let table: toml::Table = toml::from_str(
            "[admin]\ntokens = [{ name = \"a\", token = \"s3cret-s3cret-s3cret\", role = \"admin\" }]\n\
             [http]\nbearer_token = \"abc\"\nbasic_auth = { username = \"u\", password = \"p\" }\n\
             [tls]\nkey_file = \"server.key\"\n",
        )
        .unwrap();
        let view = redacted(&table).to_string();
        for secret in ["s3cret", "\"abc\"", "\"p\""] {
            assert!(!view.contains(secret), "{view}");
        }
        assert!(
            view.contains("server.key") && view.contains("\"u\""),
            "{view}"
        );
    }
}

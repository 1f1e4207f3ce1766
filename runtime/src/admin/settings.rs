//! The `[admin]` section: where the admin API listens, who may call it and
//! with which role.
//!
//! ```toml
//! [admin]
//! listen = "127.0.0.1:8080"      # the default
//! enabled = true                 # the default once the table is present
//! tokens = [
//!   { name = "grafana", token = "${HL7WASM_VIEWER_TOKEN}", role = "viewer" },
//!   { name = "oncall", token = "${HL7WASM_OPERATOR_TOKEN}", role = "operator" },
//!   { name = "alice", token = "${HL7WASM_ADMIN_TOKEN}", role = "admin" },
//! ]
//! max_connections = 64           # the default; more wait to be accepted
//! request_timeout_secs = 30      # the default: headers, and idle keep-alive
//! client_roles = [               # optional: roles by client certificate (mTLS)
//!   { name = "ops-console", role = "operator" },
//! ]
//! [admin.tls]                    # optional, as for an MLLP listener
//! cert_file = "admin.pem"
//! key_file = "admin.key"
//! client_ca_file = "clients-ca.pem"   # needed by client_roles
//! ```
//!
//! A caller is known by its bearer token, or, without one, by the client
//! certificate it presented under mTLS: the first `client_roles` entry whose
//! name equals the certificate's subject CN or one of its DNS or URI names
//! (ignoring ASCII case) gives the role.
//!
//! A configuration without an `[admin]` table runs no admin API (so that
//! engines started from test or library configs open no port they did not
//! ask for); the embedded default configuration has the table, so
//! `hl7wasm serve` without a file serves the API on 127.0.0.1:8080.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::net::HttpLimits;
use crate::tls::{PeerIdentity, TlsServerSettings, check_allowed};

/// What a caller may do, from least to most: each role may do everything
/// the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read status, statistics and metadata; never a message body.
    Viewer,
    /// Also reprocess and purge dead letters.
    Operator,
    /// Also read message bodies (PHI) and upload plugins.
    Admin,
}

impl Role {
    /// The role's name as in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// One bearer token of the admin API.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminToken {
    /// Who holds it; the audit log names callers by it.
    pub name: String,
    /// The secret, sent as `Authorization: Bearer <token>`; use `${NAME}`
    /// to take it from the environment.
    pub token: String,
    /// What its holder may do.
    pub role: Role,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminToken")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .field("role", &self.role)
            .finish()
    }
}

/// A role given to the holder of a client certificate (mTLS).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminClient {
    /// The certificate's subject CN, or one of its DNS or URI names; the
    /// audit log names the caller `cert:<name>`.
    pub name: String,
    /// What its holder may do.
    pub role: Role,
}

/// The `[admin]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// The address of the admin API. By default `127.0.0.1:8080`. An
    /// address other than loopback needs `tokens`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Whether the admin API runs. By default on when the `[admin]` table
    /// is present, off when it is not.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// The bearer tokens callers present. Without any, only loopback
    /// callers are served, and they get the `operator` role (no message
    /// bodies, no plugin uploads).
    #[serde(default)]
    pub tokens: Vec<AdminToken>,
    /// Roles by client certificate, for callers without a token; needs
    /// `tls.client_ca_file`. By default none.
    #[serde(default)]
    pub client_roles: Vec<AdminClient>,
    /// TLS for the admin API. By default plain HTTP.
    pub tls: Option<TlsServerSettings>,
    /// The most connections served at once (operators, scrapers, the
    /// dashboard); more wait in the accept queue. By default 64.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how
    /// long a kept-alive connection may stay idle. By default 30 s.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
}

impl Default for AdminConfig {
    /// No `[admin]` table: the admin API does not run.
    fn default() -> Self {
        AdminConfig {
            listen: default_listen(),
            enabled: false,
            tokens: Vec::new(),
            client_roles: Vec::new(),
            tls: None,
            max_connections: default_max_connections(),
            request_timeout_secs: default_request_timeout_secs(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_max_connections() -> usize {
    64
}

fn default_request_timeout_secs() -> u64 {
    30
}

fn enabled() -> bool {
    true
}

/// Who may call the admin API: the part of `[admin]` that a configuration
/// reload changes while the engine runs (to add a token, or revoke one
/// that leaked).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminAccess {
    /// The bearer tokens callers present.
    pub tokens: Vec<AdminToken>,
    /// Roles by client certificate, for callers without a token.
    pub client_roles: Vec<AdminClient>,
}

impl AdminAccess {
    /// Whether callers must prove who they are (a token or a client
    /// certificate); otherwise the API serves loopback only, and every
    /// caller is an operator.
    pub fn authenticates(&self) -> bool {
        !self.tokens.is_empty() || !self.client_roles.is_empty()
    }

    /// The role for a client certificate with these names (subject CN, DNS
    /// and URI names): the first `client_roles` entry that matches.
    pub fn client_role<'a>(&'a self, identity: &PeerIdentity) -> Option<&'a AdminClient> {
        self.client_roles
            .iter()
            .find(|client| check_allowed(identity, std::slice::from_ref(&client.name)))
    }
}

impl AdminConfig {
    /// The section's credentials: its tokens and client roles.
    pub fn access(&self) -> AdminAccess {
        AdminAccess {
            tokens: self.tokens.clone(),
            client_roles: self.client_roles.clone(),
        }
    }

    /// How the admin API's server treats its clients.
    pub fn limits(&self) -> HttpLimits {
        HttpLimits {
            max_connections: self.max_connections,
            header_timeout: Duration::from_secs(self.request_timeout_secs),
        }
    }

    /// The listen address, parsed.
    ///
    /// # Errors
    /// When `listen` is not `IP:PORT`, naming the key.
    pub fn listen_address(&self) -> Result<SocketAddr, String> {
        self.listen.parse().map_err(|e| {
            format!(
                "key admin.listen: {:?} is not an IP:PORT address ({e})",
                self.listen
            )
        })
    }

    /// Checks the section: a parsable address, non-zero limits, tokens or
    /// client roles when the address is not loopback, unique, non-empty
    /// token names and secrets, and a client CA for client roles.
    ///
    /// # Errors
    /// What is wrong, naming the key.
    pub fn check(&self) -> Result<(), String> {
        if !self.enabled {
            return Ok(());
        }
        let listen = self.listen_address()?;
        if self.max_connections == 0 {
            return Err("key admin.max_connections: must be at least 1".into());
        }
        if self.request_timeout_secs == 0 {
            return Err("key admin.request_timeout_secs: must be at least 1".into());
        }
        let client_ca = self
            .tls
            .as_ref()
            .is_some_and(|tls| tls.client_ca_file.is_some());
        if !self.client_roles.is_empty() && !client_ca {
            return Err(
                "key admin.client_roles: needs admin.tls.client_ca_file, so that \
                        client certificates are asked for and verified"
                    .into(),
            );
        }
        if !listen.ip().is_loopback() && !self.access().authenticates() {
            return Err(format!(
                "key admin.listen: {listen} is reachable from other hosts, so the admin API needs admin.tokens or admin.client_roles (or listen on 127.0.0.1)"
            ));
        }
        for (index, client) in self.client_roles.iter().enumerate() {
            if client.name.trim().is_empty() {
                return Err(format!(
                    "key admin.client_roles[{index}].name: must be non-empty"
                ));
            }
        }
        let mut names = HashSet::new();
        let mut secrets = HashSet::new();
        for (index, token) in self.tokens.iter().enumerate() {
            let at =
                |key: &str, problem: &str| format!("key admin.tokens[{index}].{key}: {problem}");
            if token.name.trim().is_empty() || !names.insert(token.name.as_str()) {
                return Err(at("name", "must be non-empty and unique"));
            }
            if token.token.len() < 16 {
                return Err(at("token", "must be at least 16 characters"));
            }
            if !secrets.insert(token.token.as_str()) {
                return Err(at("token", "is the same as another token's"));
            }
        }
        Ok(())
    }
}

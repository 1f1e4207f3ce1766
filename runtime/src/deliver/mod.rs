//! Destination connectors: one delivery attempt of one outbound message over MLLP, HTTP
//! or to a file, and the classification of its result.
//!
//! A [`Connector`] is built once per destination from its `to` table ([`TargetConfig`])
//! and kept: it owns its connection (MLLP) or connection pool (HTTP). Each call to
//! [`Connector::deliver`] makes exactly one attempt and answers with an [`Attempt`]:
//!
//! - [`Attempt::Delivered`]: MLLP AA or CA; HTTP 2xx; the file is written.
//! - [`Attempt::Retry`]: MLLP AE, CE, NAK, no ACK in time, a connection error; HTTP
//!   408, 429, 5xx (with the `Retry-After` delay), no response in time, a connection
//!   error; any file IO error. One whose message never left because no connection
//!   could be made (or no OAuth token had, or the file destination's directory cannot
//!   take files) is marked `unreachable`: the scheduler retries it without counting it
//!   against the retry limit.
//! - [`Attempt::Reject`]: MLLP AR or CR, a body that is not HL7 v2; HTTP 3xx and the
//!   other 4xx.
//!
//! Backoff between attempts, the retry limit and the dead-letter queue belong to the
//! scheduler that calls the connectors; `channel` destinations belong to the store, so
//! [`Connector::new`] refuses [`TargetConfig::Channel`].
//!
//! No body reaches a log: connectors log the channel, the destination, the control id
//! and the outcome only. A [`Attempt::Retry`] reason holds no content from the peer
//! (it may be logged); an [`Attempt::Reject`] reason may hold the first
//! [`PEER_TEXT_BYTES`] bytes of the peer's answer, for the dead letter.

mod error;
pub mod file;
pub mod http;
pub mod mllp;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

pub use error::ConnectorError;

/// How many files a file destination writes with one directory flush.
const FILE_BATCH: usize = 64;

/// How many bytes of a peer's answer (an HTTP response body, an ACK's text) a
/// [`Attempt::Reject`] reason keeps.
pub const PEER_TEXT_BYTES: usize = 200;

/// One message to deliver. Its `Debug` output shows the body's length only.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    /// The channel the message came in on, for logs and file names.
    pub channel: &'a str,
    /// The destination's name, for logs and file names.
    pub destination: &'a str,
    /// The store id of the inbound message.
    pub message_id: u64,
    /// The unique id of this outbound entry.
    pub sequence: u64,
    /// MSH-10 of the original message, when it has one.
    pub control_id: Option<&'a str>,
    /// The original message's type, such as `ADT^A01`.
    pub message_type: Option<&'a str>,
    /// The body's media type, such as `application/hl7-v2+er7` or `application/fhir+json`.
    pub content_type: &'a str,
    /// The bytes to deliver.
    pub body: &'a [u8],
}

impl fmt::Debug for Delivery<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("channel", &self.channel)
            .field("destination", &self.destination)
            .field("message_id", &self.message_id)
            .field("sequence", &self.sequence)
            .field("control_id", &self.control_id)
            .field("message_type", &self.message_type)
            .field("content_type", &self.content_type)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The destination accepted the message.
    Delivered,
    /// May succeed later (AE, 5xx, 408, 429, timeout, connection refused or reset).
    Retry {
        /// Why, without content from the peer.
        reason: String,
        /// The delay the destination asked for (HTTP `Retry-After`), if any.
        after: Option<Duration>,
        /// Whether the destination did not answer in time (MLLP: no ACK
        /// within the ACK timeout), which the ACK-timeout alert counts.
        timed_out: bool,
        /// Whether the message never reached the destination, which could
        /// not be reached at all (no connection, no OAuth token): an
        /// outage, which says nothing about the message, so the attempt
        /// does not count against the retry limit.
        unreachable: bool,
    },
    /// Never will (AR, 4xx other than 408 and 429, undeliverable content): dead-letter now.
    Reject {
        /// Why, with up to [`PEER_TEXT_BYTES`] of the peer's answer.
        reason: String,
    },
}

impl Attempt {
    /// A retry without a requested delay.
    pub fn retry(reason: impl Into<String>) -> Attempt {
        Attempt::Retry {
            reason: reason.into(),
            after: None,
            timed_out: false,
            unreachable: false,
        }
    }

    /// A retry because the destination could not be reached (see
    /// [`Attempt::Retry`]'s `unreachable`).
    pub fn unreachable(reason: impl Into<String>) -> Attempt {
        Attempt::Retry {
            reason: reason.into(),
            after: None,
            timed_out: false,
            unreachable: true,
        }
    }

    /// A rejection.
    pub fn reject(reason: impl Into<String>) -> Attempt {
        Attempt::Reject {
            reason: reason.into(),
        }
    }
}

/// The `to` table of a destination, tagged by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TargetConfig {
    /// An MLLP listener, over TCP or TLS.
    Mllp(mllp::MllpTargetConfig),
    /// An HTTP or HTTPS endpoint, such as a FHIR server.
    Http(http::HttpTargetConfig),
    /// Files in a directory.
    File(file::FileTargetConfig),
    /// Another channel of this engine, fed through the store.
    Channel(ChannelTargetConfig),
}

impl TargetConfig {
    /// Whether the target reads files that a TLS reload reads again: a CA,
    /// a client certificate, or an OAuth signing key.
    pub fn has_reloadable_files(&self) -> bool {
        !self.reloadable_files().is_empty()
    }

    /// The files a TLS reload reads again for this target: its CA, client
    /// certificate and key, and its OAuth CA and signing key.
    pub fn reloadable_files(&self) -> Vec<&Path> {
        let (tls, oauth) = match self {
            TargetConfig::Mllp(mllp) => {
                let tls = mllp.tls.as_ref();
                let ca = tls.map(|t| t.ca_file.as_path());
                (
                    vec![
                        ca,
                        tls.and_then(|t| t.cert_file.as_deref()),
                        tls.and_then(|t| t.key_file.as_deref()),
                    ],
                    None,
                )
            }
            TargetConfig::Http(http) => {
                let tls = http.tls.as_ref();
                let files = vec![
                    tls.and_then(|t| t.ca_file.as_deref()),
                    tls.and_then(|t| t.cert_file.as_deref()),
                    tls.and_then(|t| t.key_file.as_deref()),
                ];
                (files, http.oauth.as_ref())
            }
            TargetConfig::File(_) | TargetConfig::Channel(_) => (Vec::new(), None),
        };
        let oauth = oauth
            .into_iter()
            .flat_map(|o| [o.ca_file.as_deref(), o.private_key_file.as_deref()]);
        tls.into_iter().chain(oauth).flatten().collect()
    }

    /// The client certificate file the target presents (mTLS), if any.
    pub fn client_certificate_file(&self) -> Option<&Path> {
        match self {
            TargetConfig::Mllp(mllp) => mllp.tls.as_ref()?.cert_file.as_deref(),
            TargetConfig::Http(http) => http.tls.as_ref()?.cert_file.as_deref(),
            TargetConfig::File(_) | TargetConfig::Channel(_) => None,
        }
    }
}

/// A destination that feeds another channel of this engine.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelTargetConfig {
    /// The name of the channel that receives the message. Required.
    pub channel: String,
}

/// A destination's connector, built once from its config and kept.
#[derive(Debug)]
pub enum Connector {
    /// Delivers over MLLP.
    Mllp(mllp::MllpConnector),
    /// Delivers over HTTP.
    Http(http::HttpConnector),
    /// Writes files.
    File(file::FileConnector),
}

impl Connector {
    /// Builds the connector for `target`: reads TLS files, checks addresses, URLs and
    /// file name patterns. Nothing is connected yet.
    ///
    /// # Errors
    ///
    /// A [`ConnectorError`] naming the setting at fault, and
    /// [`ConnectorError::ChannelTarget`] for a `channel` target, which the store
    /// delivers itself.
    pub fn new(target: &TargetConfig) -> Result<Connector, ConnectorError> {
        match target {
            TargetConfig::Mllp(config) => Ok(Connector::Mllp(mllp::MllpConnector::new(config)?)),
            TargetConfig::Http(config) => Ok(Connector::Http(http::HttpConnector::new(config)?)),
            TargetConfig::File(config) => Ok(Connector::File(file::FileConnector::new(config)?)),
            TargetConfig::Channel(config) => {
                Err(ConnectorError::ChannelTarget(config.channel.clone()))
            }
        }
    }

    /// Makes one attempt to deliver `delivery`.
    pub async fn deliver(&mut self, delivery: &Delivery<'_>) -> Attempt {
        match self {
            Connector::Mllp(connector) => connector.deliver(delivery).await,
            Connector::Http(connector) => connector.deliver(delivery).await,
            Connector::File(connector) => connector.deliver(delivery).await,
        }
    }

    /// The connection an MLLP connector opened since the last call, if any.
    pub fn take_opened(&mut self) -> Option<mllp::OpenedConnection> {
        match self {
            Connector::Mllp(connector) => connector.take_opened(),
            Connector::Http(_) | Connector::File(_) => None,
        }
    }

    /// Closes an MLLP connector's kept connection when it has idled past its
    /// `max_idle_secs`.
    pub fn close_if_idle(&mut self) {
        if let Connector::Mllp(connector) = self {
            connector.close_if_idle();
        }
    }

    /// How many messages [`Connector::deliver_batch`] takes at a time: files are
    /// written together; MLLP and HTTP deliver one at a time (one message in flight).
    pub fn batch_size(&self) -> usize {
        match self {
            Connector::File(_) => FILE_BATCH,
            Connector::Mllp(_) | Connector::Http(_) => 1,
        }
    }

    /// Makes one attempt for each of `deliveries`, in order, up to the first that
    /// is not delivered: the answer has an attempt for each message attempted, and
    /// is shorter than `deliveries` when one failed before the end.
    pub async fn deliver_batch(&mut self, deliveries: &[Delivery<'_>]) -> Vec<Attempt> {
        if let Connector::File(connector) = self {
            return connector.deliver_batch(deliveries).await;
        }
        let mut attempts = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let attempt = self.deliver(delivery).await;
            let delivered = attempt == Attempt::Delivered;
            attempts.push(attempt);
            if !delivered {
                break;
            }
        }
        attempts
    }
}

/// At most [`PEER_TEXT_BYTES`] of `text` as lossy UTF-8, for a rejection reason.
fn peer_text(text: &[u8]) -> String {
    let text = &text[..text.len().min(PEER_TEXT_BYTES)];
    String::from_utf8_lossy(text).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(toml_text: &str) -> TargetConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn targets_with_files_to_reload_are_known() {
        let plain = target("type = \"mllp\"\naddress = \"lab:2575\"");
        assert!(!plain.has_reloadable_files());
        let mtls = target(
            "type = \"mllp\"\naddress = \"lab:2575\"\n\
             tls = { ca_file = \"ca.pem\", cert_file = \"c.pem\", key_file = \"c.key\" }",
        );
        assert!(mtls.has_reloadable_files());
        assert_eq!(mtls.client_certificate_file(), Some(Path::new("c.pem")));
        let https = target("type = \"http\"\nurl = \"https://fhir\"");
        assert!(!https.has_reloadable_files());
        let jwt = target(
            "type = \"http\"\nurl = \"https://fhir\"\n\
             oauth = { token_url = \"https://idp/token\", client_id = \"c\", \
             client_auth = \"private_key_jwt\", private_key_file = \"k.pem\" }",
        );
        assert!(jwt.has_reloadable_files(), "the signing key is read again");
        assert_eq!(jwt.client_certificate_file(), None);
        let file = target("type = \"file\"\ndir = \"out\"");
        assert!(!file.has_reloadable_files());
    }
}

//! Everything the ingest path logs and counts, one struct per event. An
//! event's fields are all that reaches the log, so no message body and no
//! patient name can: PHI stays out by construction. Connection and message
//! events go to target `audit`, and so to the audit log (`crate::logging`).

use std::net::SocketAddr;
use std::time::Duration;

use crate::logging::AUDIT_TARGET;
use crate::metrics::{self, Metrics};
use crate::store::Ingested;
use crate::tls::TlsReload;
use crate::validation::Findings;

/// A connection was accepted (after its TLS handshake, if any).
pub struct ConnectionOpened<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The sender's address.
    pub peer: SocketAddr,
    /// The negotiated TLS version, for TLS connections.
    pub tls_version: Option<&'a str>,
    /// The client certificate's subject, under mTLS.
    pub client_subject: Option<&'a str>,
}

impl ConnectionOpened<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        metrics
            .connections
            .get_or_create(&metrics::channel(self.channel))
            .inc();
        tracing::info!(
            target: AUDIT_TARGET,
            channel = self.channel,
            peer = %self.peer,
            tls_version = self.tls_version,
            client_subject = self.client_subject,
            "Connection opened."
        );
    }
}

/// A connection ended.
pub struct ConnectionClosed<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The sender's address.
    pub peer: SocketAddr,
    /// Why, when it was not a clean close by the sender: for example
    /// `idle_timeout`, `frame_timeout`, `truncated`, `io`.
    pub error: Option<&'a str>,
    /// Frames received on the connection.
    pub frames: u64,
}

impl ConnectionClosed<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        match self.error {
            None => {
                tracing::info!(target: AUDIT_TARGET, channel = self.channel, peer = %self.peer, frames = self.frames, "Connection closed.")
            }
            Some(reason) => {
                metrics
                    .connection_errors
                    .get_or_create(&metrics::channel_and(self.channel, "reason", reason))
                    .inc();
                tracing::warn!(target: AUDIT_TARGET, channel = self.channel, peer = %self.peer, frames = self.frames, reason, "Connection closed on an error.");
            }
        }
    }
}

/// A TLS handshake failed or the client was not on the allow-list.
pub struct TlsHandshakeFailed<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The client's address.
    pub peer: SocketAddr,
    /// What went wrong, for example the TLS alert or `not allowed`.
    pub reason: &'a str,
}

impl TlsHandshakeFailed<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        metrics
            .tls_handshake_failures
            .get_or_create(&metrics::channel(self.channel))
            .inc();
        tracing::warn!(target: AUDIT_TARGET, channel = self.channel, peer = %self.peer, reason = self.reason, "TLS handshake failed.");
    }
}

/// A listener's or destination's TLS files were read again (on SIGHUP or
/// an admin call).
pub struct TlsReloaded<'a> {
    /// How it went.
    pub reload: &'a TlsReload,
}

impl TlsReloaded<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        let TlsReload {
            endpoint,
            outcome,
            certificate,
            error,
        } = self.reload;
        let endpoint = endpoint.name();
        let labels = vec![
            ("endpoint", endpoint.clone()),
            ("outcome", outcome.as_str().to_string()),
        ];
        metrics.tls_reloads.get_or_create(&labels).inc();
        let sha256 = certificate.as_ref().map(|c| c.sha256.as_str());
        match error {
            None => {
                let subject = certificate.as_ref().map(|c| c.subject.as_str());
                let not_after_unix = certificate.as_ref().map(|c| c.not_after_unix);
                tracing::info!(target: AUDIT_TARGET, endpoint, outcome = outcome.as_str(), subject, not_after_unix, sha256, "TLS files reloaded.")
            }
            Some(error) => {
                tracing::error!(target: AUDIT_TARGET, endpoint, error, sha256, "TLS files not reloaded; the old ones stay in use.")
            }
        }
    }
}

/// Bytes arrived before a start block and were skipped.
pub struct JunkSkipped<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The sender's address.
    pub peer: SocketAddr,
    /// How many bytes.
    pub bytes: usize,
}

impl JunkSkipped<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        metrics
            .junk_bytes
            .get_or_create(&metrics::channel(self.channel))
            .inc_by(self.bytes as u64);
        tracing::warn!(channel = self.channel, peer = %self.peer, bytes = self.bytes, "Bytes before the MLLP start block skipped.");
    }
}

/// A frame was refused (AR) without being stored.
pub struct FrameRefused<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The sender: its address, or the file.
    pub peer: &'a str,
    /// A stable reason: `too_large`, `no_msh`, `bad_encoding_characters`, ...
    pub reason: &'a str,
    /// MSH-10, when it could be read.
    pub control_id: Option<&'a str>,
    /// The parser's description, with the byte position.
    pub detail: &'a str,
}

impl FrameRefused<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        metrics
            .frames_refused
            .get_or_create(&metrics::channel_and(self.channel, "reason", self.reason))
            .inc();
        tracing::warn!(
            target: AUDIT_TARGET,
            channel = self.channel,
            peer = %self.peer,
            reason = self.reason,
            control_id = self.control_id,
            detail = self.detail,
            "Frame refused."
        );
    }
}

/// A message was stored durably, or recognised as a resend.
pub struct MessageAccepted<'a> {
    /// The channel.
    pub channel: &'a str,
    /// MSH-10.
    pub control_id: Option<&'a str>,
    /// MSH-9 as `TYPE^TRIGGER`.
    pub message_type: Option<&'a str>,
    /// What the store made of it.
    pub ingested: Ingested,
}

impl MessageAccepted<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        let labels = || metrics::channel(self.channel);
        match self.ingested {
            Ingested::Duplicate { original_id } => {
                metrics.duplicates.get_or_create(&labels()).inc();
                tracing::info!(
                    target: AUDIT_TARGET,
                    channel = self.channel,
                    control_id = self.control_id,
                    id = original_id,
                    "Duplicate message acknowledged again, not stored."
                );
            }
            Ingested::Reused { id, earlier_id } => {
                metrics.channel_series(self.channel).messages_stored.inc();
                metrics.control_id_reuses.get_or_create(&labels()).inc();
                tracing::warn!(
                    target: AUDIT_TARGET,
                    channel = self.channel,
                    control_id = self.control_id,
                    message_type = self.message_type,
                    id,
                    earlier_id,
                    "Control id reused: same sender and MSH-10 as an earlier message within \
                     the dedupe window, other content. Stored as a new message."
                );
            }
            Ingested::Stored { id } => {
                metrics.channel_series(self.channel).messages_stored.inc();
                tracing::debug!(
                    target: AUDIT_TARGET,
                    channel = self.channel,
                    control_id = self.control_id,
                    message_type = self.message_type,
                    id,
                    "Message stored."
                );
            }
        }
    }
}

/// A channel's conformance profile found breaches in a message: refused
/// when any is an error, otherwise accepted with warnings.
pub struct MessageChecked<'a> {
    /// The channel.
    pub channel: &'a str,
    /// MSH-10.
    pub control_id: Option<&'a str>,
    /// MSH-9 as `TYPE^TRIGGER`.
    pub message_type: Option<&'a str>,
    /// The profile's name.
    pub profile: &'a str,
    /// What it found (codes and places only, never values).
    pub findings: &'a Findings,
}

impl MessageChecked<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        for detail in &self.findings.details {
            let mut labels =
                metrics::channel_and(self.channel, "code", &detail.code.code().to_string());
            labels.push(("severity", detail.severity.code().to_string()));
            metrics.validation_findings.get_or_create(&labels).inc();
        }
        let summary = self.findings.summary();
        // tracing's level must be known where the event is written: one
        // line, two levels.
        macro_rules! checked {
            ($level:ident, $text:literal) => {
                tracing::$level!(
                    target: AUDIT_TARGET,
                    channel = self.channel,
                    control_id = self.control_id,
                    message_type = self.message_type,
                    profile = self.profile,
                    findings = summary,
                    $text
                )
            };
        }
        if self.findings.refuses() {
            metrics
                .messages_invalid
                .get_or_create(&metrics::channel(self.channel))
                .inc();
            checked!(
                warn,
                "Message refused by the conformance profile, not stored."
            );
        } else {
            checked!(info, "Message accepted with conformance warnings.");
        }
    }
}

/// A file source read a file and moved it on.
pub struct FileRead<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The file's name.
    pub file: &'a str,
    /// How many messages it held.
    pub messages: usize,
    /// How many of them were refused.
    pub refused: usize,
    /// `done`, `deleted`, `error` or `retry` (see `FileOutcome`).
    pub outcome: &'a str,
    /// How long the file took.
    pub elapsed: Duration,
}

impl FileRead<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        metrics
            .files_read
            .get_or_create(&metrics::channel_and(self.channel, "outcome", self.outcome))
            .inc();
        tracing::info!(
            target: AUDIT_TARGET,
            channel = self.channel,
            file = self.file,
            messages = self.messages,
            refused = self.refused,
            outcome = self.outcome,
            elapsed_ms = self.elapsed.as_millis() as u64,
            "File read."
        );
    }
}

/// A file source could not read a file, store its messages, or move it on.
pub struct FileFailed<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The file's name.
    pub file: &'a str,
    /// `retry`, `unreadable` or `unmovable` (see `FileOutcome`).
    pub outcome: &'a str,
    /// What went wrong.
    pub reason: &'a str,
}

impl FileFailed<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        metrics
            .files_read
            .get_or_create(&metrics::channel_and(self.channel, "outcome", self.outcome))
            .inc();
        tracing::warn!(
            target: AUDIT_TARGET,
            channel = self.channel,
            file = self.file,
            outcome = self.outcome,
            reason = self.reason,
            "File not read through."
        );
    }
}

/// Storage failed, so the sender gets AE.
pub struct StorageFailed<'a> {
    /// The channel.
    pub channel: &'a str,
    /// MSH-10.
    pub control_id: Option<&'a str>,
    /// The store's explanation.
    pub reason: &'a str,
}

impl StorageFailed<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        metrics
            .storage_failures
            .get_or_create(&metrics::channel(self.channel))
            .inc();
        tracing::error!(
            target: AUDIT_TARGET,
            channel = self.channel,
            control_id = self.control_id,
            reason = self.reason,
            "Message not stored: storage failed; answered AE."
        );
    }
}

/// An ACK went out.
pub struct AckSent<'a> {
    /// The channel.
    pub channel: &'a str,
    /// MSA-2: the control id of the message answered, when it had one.
    pub control_id: Option<&'a str>,
    /// MSA-1.
    pub code: &'a str,
    /// From the end of the frame to the ACK.
    pub latency: Duration,
}

impl AckSent<'_> {
    /// Counts the event and logs it at `debug`, for the audit log (ACKs are
    /// too frequent for the default stderr level).
    pub fn emit(&self, metrics: &Metrics) {
        let series = metrics.channel_series(self.channel);
        if self.code == "AA" {
            series.acks_accepted.inc();
        } else {
            metrics
                .acks
                .get_or_create(&metrics::channel_and(self.channel, "code", self.code))
                .inc();
        }
        series.ack_latency.observe(self.latency.as_secs_f64());
        tracing::debug!(
            target: AUDIT_TARGET,
            channel = self.channel,
            control_id = self.control_id,
            code = self.code,
            latency_ms = self.latency.as_millis() as u64,
            "ACK sent."
        );
    }
}

//! One channel's settings.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::destination::{DestinationConfig, RetryPolicy};
use super::pipeline::StageConfig;
use crate::mllp::MllpLimits;
use crate::tls::TlsServerSettings;

/// When the sender gets its ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AckMode {
    /// AA only once the message is durable on disk (the default).
    #[default]
    Commit,
    /// Store the message, run the pipeline, then answer with its result: AA
    /// when it was forwarded or filtered, AR (with the plugin's ERR detail)
    /// when a plugin rejected it, AE when it will be retried or the pipeline
    /// did not finish within `transform_ack_timeout_secs`.
    AfterTransform,
    /// Store the message, run the pipeline and deliver to `ack_destination`,
    /// then answer with the destination's verdict: AA once it accepted the
    /// message (or the pipeline filtered it or routed it elsewhere), AR when
    /// it went to the dead-letter queue, AE while delivery is retried past
    /// `delivery_ack_timeout_secs`.
    AfterDelivery,
    /// Store the message but send no ACK.
    None,
}

impl AckMode {
    /// Whether the sender waits for the pipeline (and perhaps a
    /// destination) before it gets its ACK, so that the channel's work must
    /// not linger for more to gather.
    pub fn sender_waits(self) -> bool {
        matches!(self, AckMode::AfterTransform | AckMode::AfterDelivery)
    }
}

/// What a failing message does to the messages behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Ordering {
    /// A message being retried blocks its partition: order holds (the
    /// default).
    #[default]
    Ordered,
    /// A message being retried is parked and the rest of the partition goes
    /// on.
    Unordered,
}

/// Where a channel's messages come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceConfig {
    /// An MLLP listener over TCP, optionally TLS.
    Mllp(MllpSourceConfig),
    /// A directory polled for message files, single messages or batches.
    File(FileSourceConfig),
    /// HL7 over HTTP: a message per POST, its ACK in the response.
    Http(HttpSourceConfig),
}

impl SourceConfig {
    /// The source in brief, for example `mllp 0.0.0.0:2575` or
    /// `file /var/spool/hl7 (*.hl7)`.
    pub fn describe(&self) -> String {
        match self {
            SourceConfig::Mllp(source) => format!("mllp {}", source.listen),
            SourceConfig::File(source) => {
                format!("file {} ({})", source.dir.display(), source.pattern)
            }
            SourceConfig::Http(source) => format!("http {}{}", source.listen, source.path),
        }
    }

    /// The limits on one message: an MLLP source's own, or for the other
    /// sources their `max_message_bytes` (time limits do not apply to them).
    pub fn limits(&self) -> MllpLimits {
        let max_message_bytes = match self {
            SourceConfig::Mllp(source) => return source.limits,
            SourceConfig::Http(source) => source.max_message_bytes,
            SourceConfig::File(source) => source.max_message_bytes,
        };
        MllpLimits {
            max_message_bytes,
            ..MllpLimits::default()
        }
    }

    /// The TLS settings of a listening source.
    pub fn tls(&self) -> Option<&TlsServerSettings> {
        match self {
            SourceConfig::Mllp(source) => source.tls.as_ref(),
            SourceConfig::Http(source) => source.tls.as_ref(),
            SourceConfig::File(_) => None,
        }
    }

    /// The address a listening source binds.
    ///
    /// # Errors
    /// When `listen` is not `IP:PORT`.
    pub fn listen_address(&self) -> Option<Result<SocketAddr, String>> {
        let listen = match self {
            SourceConfig::Mllp(source) => &source.listen,
            SourceConfig::Http(source) => &source.listen,
            SourceConfig::File(_) => return None,
        };
        Some(parse_listen(listen))
    }
}

/// An HL7-over-HTTP listener's settings: each POST to `path` carries one
/// message (`Content-Type: x-application/hl7-v2+er7`, or
/// `application/hl7-v2`, `text/plain`), and the response carries its ACK.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSourceConfig {
    /// The address to listen on, for example `0.0.0.0:8443`.
    pub listen: String,
    /// The request path messages are posted to. By default `/`.
    #[serde(default = "default_http_path")]
    pub path: String,
    /// TLS (and optionally mTLS) for this listener.
    pub tls: Option<TlsServerSettings>,
    /// When set, a request must carry `Authorization: Bearer <token>`.
    pub bearer_token: Option<String>,
    /// The largest message accepted, in bytes; a larger body gets 413. By
    /// default 1 MiB.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// The most connections served at once; more wait in the accept queue.
    /// By default 256.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and again
    /// its body, in seconds; a slower one is cut off (a slow body gets
    /// 408). An idle kept-alive connection is closed after as long. By
    /// default 30.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
}

fn default_request_timeout_secs() -> u64 {
    30
}

fn default_http_path() -> String {
    "/".into()
}

fn parse_listen(listen: &str) -> Result<SocketAddr, String> {
    listen
        .parse()
        .map_err(|e| format!("{listen:?} is not an IP:PORT address ({e})"))
}

/// A directory the channel reads message files from. A file holds one
/// message, several, or a batch (FHS/BHS … BTS/FTS). Once every message of
/// a file is stored durably, the file moves to `done_dir` (or is deleted);
/// a file with a refused message moves to `error_dir` with a report beside
/// it. A crash before the move reads the file again, and the dedupe index
/// keeps its stored messages from being stored twice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// The directory read.
    pub dir: PathBuf,
    /// Which file names are read, as a glob. By default `*`. Names that
    /// start with `.` are never read: writers use them while they write.
    /// Only regular files are read; symbolic links and directories are
    /// left alone.
    #[serde(default = "default_file_pattern")]
    pub pattern: String,
    /// How often the directory is listed, in milliseconds. By default 1000.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// A file is read once it has not changed for this long, in
    /// milliseconds, so that a file still being written is left alone. By
    /// default 1000.
    #[serde(default = "default_poll_interval_ms")]
    pub min_age_ms: u64,
    /// What happens to a file whose messages were all accepted.
    #[serde(default)]
    pub after_read: AfterRead,
    /// Where read files go. By default `<dir>/done`.
    pub done_dir: Option<PathBuf>,
    /// Where files with a refused message (or that cannot be read as HL7)
    /// go, each with a `<name>.errors.txt` report. By default `<dir>/error`.
    pub error_dir: Option<PathBuf>,
    /// The largest file read, in bytes; a larger one goes to `error_dir`. By
    /// default 64 MiB.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// The largest message in a file. By default 1 MiB.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Whether the audit log, and the sender recorded with each message
    /// (`file:NAME`), name files as they are called. Senders often build
    /// file names from the patient's name or record number, so by default
    /// (false) a file goes by a reference instead: `#` and the first 12 hex
    /// digits of the SHA-256 of its name (also written in its
    /// `.errors.txt` report).
    #[serde(default)]
    pub show_file_names: bool,
}

impl FileSourceConfig {
    /// Where read files go.
    pub fn done_dir(&self) -> PathBuf {
        self.done_dir
            .clone()
            .unwrap_or_else(|| self.dir.join("done"))
    }

    /// Where files with a refused message go.
    pub fn error_dir(&self) -> PathBuf {
        self.error_dir
            .clone()
            .unwrap_or_else(|| self.dir.join("error"))
    }
}

/// What happens to a file whose messages were all accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterRead {
    /// Moved to `done_dir` (the default).
    #[default]
    Move,
    /// Deleted.
    Delete,
}

fn default_file_pattern() -> String {
    "*".into()
}

fn default_poll_interval_ms() -> u64 {
    1000
}

fn default_max_file_bytes() -> u64 {
    64 << 20
}

fn default_max_message_bytes() -> usize {
    MllpLimits::default().max_message_bytes
}

/// An MLLP listener's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MllpSourceConfig {
    /// The address to listen on, for example `0.0.0.0:2575`.
    pub listen: String,
    /// TLS (and optionally mTLS) for this listener.
    pub tls: Option<TlsServerSettings>,
    /// The most connections served at once; more wait in the accept queue.
    /// By default 256.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Send MLLP release 2 commit acknowledgements (a `<VT><ACK><FS><CR>`
    /// block once the message is durable). By default off.
    #[serde(default)]
    pub mllp_release2: bool,
    /// Size and time limits on frames.
    #[serde(default)]
    pub limits: MllpLimits,
}

impl MllpSourceConfig {
    /// The listen address, parsed.
    ///
    /// # Errors
    /// When `listen` is not `IP:PORT`.
    pub fn listen_address(&self) -> Result<SocketAddr, String> {
        parse_listen(&self.listen)
    }
}

fn default_max_connections() -> usize {
    256
}

/// One channel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// A unique name: letters, digits, `-` and `_`.
    pub name: String,
    /// When the sender gets its ACK.
    #[serde(default)]
    pub ack_mode: AckMode,
    /// A field path (for example `PID-3.1`) whose value picks the partition;
    /// order is kept within a partition. By default the whole channel is one
    /// partition.
    pub partition_by: Option<String>,
    /// How many partitions `partition_by` hashes into. By default 1.
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// Whether a message being retried blocks its partition.
    #[serde(default)]
    pub ordering: Ordering,
    /// Where messages come from.
    pub source: SourceConfig,
    /// The plugins each message runs through, in order. By default none:
    /// messages go to the destinations as received.
    #[serde(default)]
    pub pipeline: Vec<StageConfig>,
    /// Retries of a message a plugin answered with `retry`.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Where messages go. By default nowhere: they are only stored.
    #[serde(default)]
    pub destinations: Vec<DestinationConfig>,
    /// A dead-letter queue deeper than this raises an alert. By default 100.
    #[serde(default = "default_dead_letter_alert")]
    pub dead_letter_alert: u64,
    /// No frame received for this many seconds raises `inbound_silence`
    /// (a feed that stopped sending), unless an administrator stopped the
    /// channel. By default none: only the feed's owner knows its rhythm.
    pub silence_alert_secs: Option<u64>,
    /// With `ack_mode = "after_transform"`, how long a sender waits for the
    /// pipeline before it gets AE. By default 30.
    #[serde(default = "default_transform_ack_timeout")]
    pub transform_ack_timeout_secs: u64,
    /// With `ack_mode = "after_delivery"`, the destination whose verdict the
    /// sender gets.
    pub ack_destination: Option<String>,
    /// With `ack_mode = "after_delivery"`, how long a sender waits for the
    /// pipeline and the delivery before it gets AE. By default 30.
    #[serde(default = "default_transform_ack_timeout")]
    pub delivery_ack_timeout_secs: u64,
    /// How long a resend (same MSH-3, MSH-4 and MSH-10) is recognised on
    /// this channel, at most `[storage] dedupe_window_secs` (how long the
    /// store remembers messages); 0 turns deduplication off, for a sender
    /// that reuses control IDs. By default the storage's window.
    pub dedupe_window_secs: Option<u64>,
    /// The conformance profile (a name under `[profiles]`) every message
    /// must meet before it is stored. By default none.
    pub validation_profile: Option<String>,
}

impl ChannelConfig {
    /// Whether resends are recognised on this channel.
    pub fn dedupes(&self) -> bool {
        self.dedupe_window_secs != Some(0)
    }

    /// This channel's dedupe window, when it sets its own.
    pub fn dedupe_window(&self) -> Option<Duration> {
        self.dedupe_window_secs.map(Duration::from_secs)
    }
}

fn default_partitions() -> u32 {
    1
}

fn default_dead_letter_alert() -> u64 {
    100
}

fn default_transform_ack_timeout() -> u64 {
    30
}

impl ChannelConfig {
    /// The partition of a message: the hash of its `partition_by` value
    /// modulo `partitions`, or 0.
    pub fn partition_of(&self, message: &hl7v2::Message<'_>) -> u32 {
        let Some(path) = self.partition_by.as_ref().filter(|_| self.is_partitioned()) else {
            return 0;
        };
        let key = message.get(path).unwrap_or_default();
        // FNV-1a: stable across runs and releases, unlike std's hasher.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        (hash % u64::from(self.partitions)) as u32
    }

    /// The partition of a message as received: [`Self::partition_of`], or
    /// 0 for a message that is not HL7 v2 (handed over from another
    /// channel after a transform).
    pub fn partition_of_raw(&self, raw: &[u8]) -> u32 {
        if !self.is_partitioned() {
            // One partition: nothing to parse for.
            return 0;
        }
        hl7v2::Message::parse(raw).map_or(0, |message| self.partition_of(&message))
    }

    /// The channels this one's `channel` destinations feed.
    pub fn fed_channels(&self) -> impl Iterator<Item = &str> {
        self.destinations.iter().filter_map(|d| match &d.to {
            crate::deliver::TargetConfig::Channel(target) => Some(target.channel.as_str()),
            _ => None,
        })
    }

    /// Whether messages spread over more than one partition: `partition_by`
    /// set and `partitions` above 1.
    pub fn is_partitioned(&self) -> bool {
        self.partition_by.is_some() && self.partitions > 1
    }

    /// What decides this channel's partitions, as text that changes when
    /// they would: `partitions` and `partition_by`.
    pub fn partitioning(&self) -> String {
        match &self.partition_by {
            Some(path) if self.is_partitioned() => format!("{} by {path}", self.partitions),
            _ => "1".to_owned(),
        }
    }
}

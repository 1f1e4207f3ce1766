//! The engine's metrics, in a Prometheus registry. Events (see `events`)
//! are the only writers; tests and the admin API read them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

/// Label pairs, for example `[("channel", "adt"), ("code", "AA")]`.
pub type Labels = Vec<(&'static str, String)>;

type Counters = Family<Labels, Counter>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;
type Gauges = Family<Labels, Gauge>;

/// Every metric the engine keeps.
pub struct Metrics {
    registry: Registry,
    /// Messages received by a channel's source (MLLP frames, HTTP bodies,
    /// messages in files), by channel, whatever became of them.
    pub frames_received: Counters,
    /// When a channel's source last received a message (as counted in
    /// `frames_received`), in seconds since the Unix epoch, by channel;
    /// absent before the first since the engine started.
    pub last_frame: Gauges,
    /// Bytes skipped before a start block, by channel.
    pub junk_bytes: Counters,
    /// Inputs a source refused before storing them (malformed, too large,
    /// slow, unauthorized), by channel and reason.
    pub frames_refused: Counters,
    /// Connections accepted, by channel.
    pub connections: Counters,
    /// Connections closed on an error, by channel and reason.
    pub connection_errors: Counters,
    /// TLS handshakes that failed, by channel and reason.
    pub tls_handshake_failures: Counters,
    /// Reloads of TLS files, by endpoint (a channel's name for its
    /// listener, `(admin)`, or `channel/destination`) and outcome
    /// (`reloaded`, `unchanged`, `failed`).
    pub tls_reloads: Counters,
    /// Configuration reloads, by result: `applied`, `unchanged`, or why
    /// nothing (or not all) was applied, as the API's error code
    /// (`invalid_config`, `restart_required`, ...).
    pub config_reloads: Counters,
    /// Admin API actions that the audit log records, by action (such as
    /// `plugin.upload`) and result: `done`, or the answer's error code
    /// (`forbidden`, `plugin_refused`, ...).
    pub admin_actions: Counters,
    /// Plugin files refused at start or by the directory watcher (not a
    /// component, failing its checks, unsigned where signatures are
    /// required, ...).
    pub plugin_files_refused: Counters,
    /// When each certificate the engine presents expires (a listener's, or
    /// a destination's client certificate), in seconds since the Unix
    /// epoch, by endpoint; set at each alert evaluation.
    pub tls_certificate_expiry: Gauges,
    /// ACKs sent, by channel and code.
    pub acks: Counters,
    /// Messages stored, by channel.
    pub messages_stored: Counters,
    /// Resends recognised as duplicates, by channel.
    pub duplicates: Counters,
    /// Messages stored although an earlier one within the dedupe window had
    /// the same sender and MSH-10: other content, a reused control id.
    pub control_id_reuses: Counters,
    /// Messages answered AE because storage failed, by channel.
    pub storage_failures: Counters,
    /// Messages refused by the channel's conformance profile, by channel.
    pub messages_invalid: Counters,
    /// Conformance profile findings, by channel, HL7 error code and
    /// severity (`E` or `W`).
    pub validation_findings: Counters,
    /// Files a file source read, by channel and outcome (`done`,
    /// `deleted`, `error`, `retry`, `unreadable`, `unmovable`).
    pub files_read: Counters,
    /// Requests to HTTP sources, by channel and response status.
    pub http_requests: Counters,
    /// Seconds from a frame's last byte to its ACK, by channel.
    pub ack_latency_seconds: Histograms,
    /// Messages through the pipeline, by channel and resulting state.
    pub messages_processed: Counters,
    /// Delivery attempts, by channel, destination and result.
    pub deliveries: Counters,
    /// Messages dead-lettered, by channel, destination and reason.
    pub dead_letters: Counters,
    /// MLLP delivery attempts that got no ACK in time, by channel and
    /// destination.
    pub ack_timeouts: Counters,
    /// Connections MLLP destinations opened, by channel, destination and
    /// the listener's address (a backup's when the primary was unreachable).
    pub destination_connections: Counters,
    /// Seconds per plugin call, by channel and plugin.
    pub plugin_latency_seconds: Histograms,
    /// Plugin calls that failed a message, by channel, plugin and cause
    /// (`FailureCause::as_str`: `trap`, `timeout`, `memory_limit`, …;
    /// `plugin_error` when the plugin itself refused the message).
    pub plugin_failures: Counters,
    /// Entries waiting, by channel, queue (`inbound` or a destination's
    /// name) and partition; refreshed every few seconds while the admin API
    /// runs (see `admin/queue_gauges.rs`).
    pub queue_depth: Gauges,
    /// Dedupe entries the store holds in memory (those of the messages
    /// within its dedupe window); refreshed with `queue_depth`.
    pub dedupe_entries: Gauge,
    /// Bytes available to the engine on the store's file system; set at
    /// each alert evaluation (see `alerting`).
    pub storage_available_bytes: Gauge,
    /// The size of the store's file system in bytes, set with
    /// `storage_available_bytes`.
    pub storage_total_bytes: Gauge,
    /// Seconds from receipt to delivery, by channel and destination.
    pub delivery_latency_seconds: Histograms,
    /// Each channel's [`ChannelSeries`], looked up once.
    channel_series: RwLock<HashMap<String, Arc<ChannelSeries>>>,
}

/// The series a channel updates for every message it takes in and
/// processes, found once: finding a series by its labels allocates and
/// hashes them, which cost about 2% of the engine's time end to end when
/// done for each message (docs/BENCHMARKS.md). Each is the series of its
/// family under the channel's label, so both read the same value.
#[derive(Debug)]
pub struct ChannelSeries {
    /// `frames_received`.
    pub frames_received: Counter,
    /// `last_frame`.
    pub last_frame: Gauge,
    /// `messages_stored`.
    pub messages_stored: Counter,
    /// `acks` with code AA.
    pub acks_accepted: Counter,
    /// `ack_latency_seconds`.
    pub ack_latency: Histogram,
    /// `messages_processed` in state `processed`.
    pub processed: Counter,
}

/// The series a destination's delivery worker updates for every delivery,
/// found once when the worker starts (see [`ChannelSeries`]).
#[derive(Debug, Clone)]
pub struct DestinationSeries {
    /// `deliveries` with result `delivered`.
    pub delivered: Counter,
    /// `delivery_latency_seconds`.
    pub latency: Histogram,
}

/// Registers `metric` under `name` and returns the handle the engine
/// updates (a clone shares its value).
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 26 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

impl Metrics {
    /// A registry with every metric registered at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hl7wasm");
        let mut counter = |name: &str, help: &str| {
            let family = Counters::default();
            registry.register(name, help, family.clone());
            family
        };
        let frames_received = counter(
            "messages_received",
            "Messages received by a source: MLLP frames, HTTP bodies, messages in files",
        );
        let junk_bytes = counter(
            "mllp_junk_bytes",
            "Bytes skipped before an MLLP start block",
        );
        let frames_refused = counter(
            "inputs_refused",
            "Inputs a source refused before storing them (malformed, too large, slow, unauthorized), by reason",
        );
        let connections = counter("mllp_connections", "MLLP connections accepted");
        let connection_errors = counter(
            "mllp_connection_errors",
            "MLLP connections closed on an error",
        );
        let tls_handshake_failures = counter("tls_handshake_failures", "Failed TLS handshakes");
        let tls_reloads = counter(
            "tls_reloads",
            "Reloads of TLS files, by endpoint and outcome",
        );
        let config_reloads = counter("config_reloads", "Configuration reloads, by result");
        let admin_actions = counter("admin_actions", "Audited admin API actions, by result");
        let plugin_files_refused = counter("plugin_files_refused", "Plugin files refused");
        let acks = counter("acks_sent", "ACKs sent, by code");
        let messages_stored = counter("messages_stored", "Messages stored durably");
        let duplicates = counter("duplicates", "Resends recognised as duplicates");
        let control_id_reuses = counter(
            "control_id_reuses",
            "Messages stored under a control id an earlier message with other content had",
        );
        let storage_failures = counter(
            "storage_failures",
            "Messages answered AE because storage failed",
        );
        let messages_processed = counter(
            "messages_processed",
            "Messages through the plugin pipeline, by resulting state",
        );
        let deliveries = counter("deliveries", "Delivery attempts, by result");
        let dead_letters = counter("dead_letters", "Messages dead-lettered, by reason");
        let ack_timeouts = counter(
            "delivery_ack_timeouts",
            "MLLP delivery attempts that got no ACK in time",
        );
        let destination_connections = counter(
            "destination_connections",
            "Connections MLLP destinations opened, by the listener's address",
        );
        let plugin_failures = counter(
            "plugin_failures",
            "Plugin calls that failed a message, by cause",
        );
        let messages_invalid = counter(
            "messages_invalid",
            "Messages refused by the channel's conformance profile",
        );
        let validation_findings = counter(
            "validation_findings",
            "Conformance profile findings, by HL7 error code and severity",
        );
        let files_read = counter("files_read", "Files a file source read, by outcome");
        let http_requests = counter(
            "http_source_requests",
            "Requests to HTTP sources, by response status",
        );
        let queue_depth = registered(
            &mut registry,
            "queue_depth",
            "Entries waiting, by queue and partition",
            Gauges::default(),
        );
        let last_frame = registered(
            &mut registry,
            "channel_last_frame_timestamp_seconds",
            "When a channel's source last received a message, in Unix seconds",
            Gauges::default(),
        );
        let tls_certificate_expiry = registered(
            &mut registry,
            "tls_certificate_expiry_timestamp_seconds",
            "When a certificate the engine presents expires, in Unix seconds",
            Gauges::default(),
        );
        let dedupe_entries = registered(
            &mut registry,
            "dedupe_entries",
            "Dedupe entries the store holds in memory, those within its dedupe window",
            Gauge::default(),
        );
        let storage_available_bytes = registered(
            &mut registry,
            "storage_available_bytes",
            "Bytes available on the store's file system",
            Gauge::default(),
        );
        let storage_total_bytes = registered(
            &mut registry,
            "storage_total_bytes",
            "Size of the store's file system in bytes",
            Gauge::default(),
        );
        let mut histogram = |name: &str, help: &str| {
            let family = Histograms::new_with_constructor(latency_histogram as fn() -> Histogram);
            registry.register(name, help, family.clone());
            family
        };
        let ack_latency_seconds = histogram(
            "ack_latency_seconds",
            "Time from the end of a frame to its ACK",
        );
        let plugin_latency_seconds = histogram("plugin_latency_seconds", "Time per plugin call");
        let delivery_latency_seconds =
            histogram("delivery_latency_seconds", "Time from receipt to delivery");
        Metrics {
            registry,
            frames_received,
            last_frame,
            junk_bytes,
            frames_refused,
            connections,
            connection_errors,
            tls_handshake_failures,
            tls_reloads,
            config_reloads,
            admin_actions,
            plugin_files_refused,
            tls_certificate_expiry,
            acks,
            messages_stored,
            duplicates,
            control_id_reuses,
            storage_failures,
            messages_invalid,
            validation_findings,
            files_read,
            http_requests,
            ack_latency_seconds,
            messages_processed,
            deliveries,
            dead_letters,
            ack_timeouts,
            destination_connections,
            plugin_latency_seconds,
            plugin_failures,
            queue_depth,
            dedupe_entries,
            storage_available_bytes,
            storage_total_bytes,
            delivery_latency_seconds,
            channel_series: RwLock::default(),
        }
    }

    /// The series `channel` updates for every message.
    pub fn channel_series(&self, channel: &str) -> Arc<ChannelSeries> {
        if let Some(series) = self
            .channel_series
            .read()
            .expect("not poisoned")
            .get(channel)
        {
            return Arc::clone(series);
        }
        let labels = self::channel(channel);
        let series = ChannelSeries {
            frames_received: self.frames_received.get_or_create(&labels).clone(),
            last_frame: self.last_frame.get_or_create(&labels).clone(),
            messages_stored: self.messages_stored.get_or_create(&labels).clone(),
            acks_accepted: self
                .acks
                .get_or_create(&channel_and(channel, "code", "AA"))
                .clone(),
            ack_latency: self.ack_latency_seconds.get_or_create(&labels).clone(),
            processed: self
                .messages_processed
                .get_or_create(&channel_and(channel, "state", "processed"))
                .clone(),
        };
        let mut all = self.channel_series.write().expect("not poisoned");
        Arc::clone(
            all.entry(channel.to_owned())
                .or_insert_with(|| Arc::new(series)),
        )
    }

    /// The series `destination` of `channel` updates for every delivery.
    pub fn destination_series(&self, channel: &str, destination: &str) -> DestinationSeries {
        DestinationSeries {
            delivered: self
                .deliveries
                .get_or_create(&destination_and(
                    channel,
                    destination,
                    "result",
                    "delivered",
                ))
                .clone(),
            latency: self
                .delivery_latency_seconds
                .get_or_create(&channel_and(channel, "destination", destination))
                .clone(),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String");
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The labels for a channel.
pub fn channel(channel: &str) -> Labels {
    vec![("channel", channel.to_string())]
}

/// The labels for a channel and one more dimension.
pub fn channel_and(channel: &str, key: &'static str, value: &str) -> Labels {
    vec![("channel", channel.to_string()), (key, value.to_string())]
}

/// The labels for a channel's destination and one more dimension.
pub fn destination_and(channel: &str, destination: &str, key: &'static str, value: &str) -> Labels {
    vec![
        ("channel", channel.to_string()),
        ("destination", destination.to_string()),
        (key, value.to_string()),
    ]
}

/// The current value of a counter, zero when never incremented.
pub fn count(family: &Counters, labels: &Labels) -> u64 {
    family.get(labels).map_or(0, |counter| counter.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that the series found once are their families' series: what
    /// the engine counts through them is what the registry exposes.
    #[test]
    fn series_found_once_count_in_their_families() {
        let metrics = Metrics::new();
        let series = metrics.channel_series("adt");
        assert!(Arc::ptr_eq(&series, &metrics.channel_series("adt")));
        series.frames_received.inc();
        series.acks_accepted.inc();
        series.processed.inc();
        assert_eq!(count(&metrics.frames_received, &channel("adt")), 1);
        assert_eq!(count(&metrics.acks, &channel_and("adt", "code", "AA")), 1);
        let processed = channel_and("adt", "state", "processed");
        assert_eq!(count(&metrics.messages_processed, &processed), 1);
        assert_eq!(count(&metrics.frames_received, &channel("orm")), 0);

        let destination = metrics.destination_series("adt", "ehr");
        destination.delivered.inc();
        let delivered = destination_and("adt", "ehr", "result", "delivered");
        assert_eq!(count(&metrics.deliveries, &delivered), 1);
        assert!(metrics.encode().contains(
            "hl7wasm_deliveries_total{channel=\"adt\",destination=\"ehr\",result=\"delivered\"} 1"
        ));
    }
}

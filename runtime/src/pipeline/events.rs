//! Everything the pipeline and the delivery workers log and count, one
//! struct per event. Fields are ids, names and reasons only: no message
//! body reaches the log. All go to target `audit`, and so to the audit log
//! (`crate::logging`).

use prometheus_client::metrics::counter::Counter;

use crate::deliver::mllp::OpenedConnection;
use crate::logging::AUDIT_TARGET;
use crate::metrics::{self, Metrics};
use crate::store::{DeadLetterReason, MessageState};

/// The pipeline recorded a message's result.
pub struct MessageProcessed<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The message's store id.
    pub message_id: u64,
    /// MSH-10.
    pub control_id: Option<&'a str>,
    /// Its state now.
    pub state: MessageState,
    /// Destination entries queued.
    pub routed: usize,
}

impl MessageProcessed<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        let state = self.state.name();
        if self.state == MessageState::Processed {
            metrics.channel_series(self.channel).processed.inc();
        } else {
            metrics
                .messages_processed
                .get_or_create(&metrics::channel_and(self.channel, "state", state))
                .inc();
        }
        tracing::debug!(
            target: AUDIT_TARGET,
            channel = self.channel,
            id = self.message_id,
            control_id = self.control_id,
            state,
            routed = self.routed,
            "Message processed."
        );
    }
}

/// Every result of a delivery attempt, as [`DeliveryAttempted`] counts
/// them: `unreachable` is a retry whose attempt could not reach the
/// destination (an outage, which does not use up the message's retries).
pub const DELIVERY_RESULTS: [&str; 4] = ["delivered", "retry", "unreachable", "rejected"];

/// A delivery attempt ended.
pub struct DeliveryAttempted<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The destination.
    pub destination: &'a str,
    /// MSH-10 of the inbound message.
    pub control_id: Option<&'a str>,
    /// One of [`DELIVERY_RESULTS`].
    pub result: &'static str,
    /// Attempts so far, this one included.
    pub attempt: u32,
    /// Why it failed, when it did.
    pub reason: Option<&'a str>,
}

impl DeliveryAttempted<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        self.emit_counted(&metrics.deliveries.get_or_create(&metrics::destination_and(
            self.channel,
            self.destination,
            "result",
            self.result,
        )));
    }

    /// Logs the event and counts it on `counter`, its channel's,
    /// destination's and result's series, found beforehand.
    pub fn emit_counted(&self, counter: &Counter) {
        counter.inc();
        match self.reason {
            None => tracing::debug!(
                target: AUDIT_TARGET,
                channel = self.channel,
                destination = self.destination,
                control_id = self.control_id,
                "Delivered."
            ),
            Some(reason) => tracing::warn!(
                target: AUDIT_TARGET,
                channel = self.channel,
                destination = self.destination,
                control_id = self.control_id,
                result = self.result,
                attempt = self.attempt,
                reason,
                "Delivery failed."
            ),
        }
    }
}

/// An MLLP destination opened a connection.
pub struct DestinationConnected<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The destination.
    pub destination: &'a str,
    /// The partition whose worker connected.
    pub partition: u32,
    /// The connection.
    pub opened: &'a OpenedConnection,
}

impl DestinationConnected<'_> {
    /// Logs and counts the event: a warning when the connection reached a
    /// backup listener.
    pub fn emit(&self, metrics: &Metrics) {
        let address = self.opened.address.as_str();
        metrics
            .destination_connections
            .get_or_create(&metrics::destination_and(
                self.channel,
                self.destination,
                "address",
                address,
            ))
            .inc();
        let unreachable = self.opened.unreachable.join("; ");
        if self.opened.backup {
            tracing::warn!(
                target: AUDIT_TARGET,
                channel = self.channel,
                destination = self.destination,
                partition = self.partition,
                address,
                unreachable,
                "Destination connected to a backup listener."
            );
        } else {
            tracing::info!(
                target: AUDIT_TARGET,
                channel = self.channel,
                destination = self.destination,
                partition = self.partition,
                address,
                "Destination connected."
            );
        }
    }
}

/// A message went to the dead-letter queue.
pub struct DeadLettered<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The destination, or `None` for the pipeline.
    pub destination: Option<&'a str>,
    /// MSH-10 of the inbound message.
    pub control_id: Option<&'a str>,
    /// Why.
    pub reason: DeadLetterReason,
    /// The error text (from the plugin or the destination; never a body).
    pub error: &'a str,
}

impl DeadLettered<'_> {
    /// Logs and counts the event.
    pub fn emit(&self, metrics: &Metrics) {
        let destination = self.destination.unwrap_or(crate::store::PIPELINE);
        metrics
            .dead_letters
            .get_or_create(&metrics::destination_and(
                self.channel,
                destination,
                "reason",
                self.reason.as_str(),
            ))
            .inc();
        tracing::warn!(
            target: AUDIT_TARGET,
            channel = self.channel,
            destination,
            control_id = self.control_id,
            reason = self.reason.as_str(),
            error = self.error,
            "Message dead-lettered."
        );
    }
}

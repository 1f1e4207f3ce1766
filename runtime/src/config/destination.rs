//! A channel's destinations: where its messages go, which ones, and how
//! failed deliveries are retried.

use std::time::Duration;

use serde::Deserialize;

use crate::deliver::TargetConfig;

/// One destination of a channel.
///
/// ```toml
/// [[channels.destinations]]
/// name = "ehr"
/// to = { type = "mllp", address = "10.0.0.5:2575" }
/// filter = { message_types = ["ADT"], sending_facilities = ["LAB"] }
/// retry = { initial_delay_ms = 1000, multiplier = 2.0, max_delay_ms = 60000, max_retries = 5 }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationConfig {
    /// A name unique within the channel: letters, digits, `-` and `_`.
    pub name: String,
    /// Where messages are delivered.
    pub to: TargetConfig,
    /// Which messages go here. By default all of them.
    #[serde(default)]
    pub filter: RouteFilter,
    /// How failed deliveries are retried.
    #[serde(default)]
    pub retry: RetryPolicy,
}

/// Which messages a destination takes. Each list that is not empty must
/// match; an empty list matches everything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteFilter {
    /// Message types, as `ADT` (any trigger) or `ADT^A01`.
    pub message_types: Vec<String>,
    /// Trigger events, for example `A01`.
    pub trigger_events: Vec<String>,
    /// Sending facilities (MSH-4, first component).
    pub sending_facilities: Vec<String>,
    /// Content types of the pipeline's output, for example
    /// `application/fhir+json`.
    pub content_types: Vec<String>,
}

/// What routing knows of one output message.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteFacts<'a> {
    /// MSH-9.1 of the inbound message.
    pub message_code: Option<&'a str>,
    /// MSH-9.2 of the inbound message.
    pub trigger_event: Option<&'a str>,
    /// MSH-4.1 of the inbound message.
    pub sending_facility: Option<&'a str>,
    /// The output's content type.
    pub content_type: &'a str,
}

impl RouteFilter {
    /// Whether a message with these facts goes to the destination.
    pub fn matches(&self, facts: &RouteFacts<'_>) -> bool {
        let code = facts.message_code.unwrap_or("");
        let trigger = facts.trigger_event.unwrap_or("");
        let type_matches = |wanted: &String| super::message_type::matches(wanted, code, trigger);
        let listed = |list: &[String], value: &str| {
            list.is_empty() || list.iter().any(|item| item.eq_ignore_ascii_case(value))
        };
        (self.message_types.is_empty() || self.message_types.iter().any(type_matches))
            && listed(&self.trigger_events, trigger)
            && listed(
                &self.sending_facilities,
                facts.sending_facility.unwrap_or(""),
            )
            && listed(&self.content_types, facts.content_type)
    }

    /// Checks the entries' syntax.
    ///
    /// # Errors
    /// Names the entry that cannot match anything.
    pub fn check(&self) -> Result<(), String> {
        for wanted in &self.message_types {
            super::message_type::check(wanted).map_err(|e| format!("message_types: {e}"))?;
        }
        Ok(())
    }
}

/// Exponential backoff for one destination's queue (or a channel's
/// pipeline), with the defaults of the design: 1 s, ×2, at most 60 s, 5
/// retries, ±20 % jitter.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// The delay before the first retry, in milliseconds. By default 1000.
    pub initial_delay_ms: u64,
    /// Each further delay is the previous one times this. By default 2.0.
    pub multiplier: f64,
    /// The longest delay, in milliseconds. By default 60000.
    pub max_delay_ms: u64,
    /// Retries after the first attempt before the message is dead-lettered.
    /// By default 5. At a destination, attempts that could not reach it
    /// (an outage) do not count: they go on for as long as it lasts.
    pub max_retries: u32,
    /// Each delay is moved randomly by up to this fraction of itself, so
    /// many failing queues do not retry in lockstep. By default 0.2.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_delay_ms: 1000,
            multiplier: 2.0,
            max_delay_ms: 60_000,
            max_retries: 5,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 for the first), given a
    /// uniform random sample in `[0, 1)` for the jitter.
    pub fn delay(&self, retry: u32, sample: f64) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = (self.initial_delay_ms as f64 * self.multiplier.powi(exponent))
            .min(self.max_delay_ms as f64);
        let jittered = base * (1.0 + self.jitter * (2.0 * sample - 1.0));
        Duration::from_millis(jittered.clamp(0.0, self.max_delay_ms as f64) as u64)
    }

    /// Whether another retry is allowed after `attempts` failed attempts.
    pub fn allows_retry(&self, attempts: u32) -> bool {
        attempts <= self.max_retries
    }

    /// Checks the values.
    ///
    /// # Errors
    /// Names the key whose value cannot work.
    pub fn check(&self) -> Result<(), String> {
        if !(self.multiplier >= 1.0 && self.multiplier.is_finite()) {
            return Err("multiplier: must be at least 1.0".into());
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err("jitter: must be between 0.0 and 1.0".into());
        }
        if self.initial_delay_ms > self.max_delay_ms {
            return Err("initial_delay_ms: must not exceed max_delay_ms".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures delays grow by the multiplier up to the cap, and jitter stays
    /// within its fraction.
    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let delays: Vec<u64> = (1..=8)
            .map(|retry| policy.delay(retry, 0.5).as_millis() as u64)
            .collect();
        assert_eq!(delays, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
        let jittery = RetryPolicy::default();
        assert_eq!(jittery.delay(1, 0.0), Duration::from_millis(800));
        assert_eq!(jittery.delay(1, 0.999_999), Duration::from_millis(1199));
        assert!(jittery.allows_retry(5) && !jittery.allows_retry(6));
    }

    /// Ensures each filter list narrows the match and `ADT` covers every
    /// trigger while `ADT^A01` covers one.
    #[test]
    fn filters_match_type_trigger_facility_and_content_type() {
        let facts = RouteFacts {
            message_code: Some("ADT"),
            trigger_event: Some("A01"),
            sending_facility: Some("LAB"),
            content_type: "application/fhir+json",
        };
        let filter = |text: &str| -> RouteFilter { toml::from_str(text).unwrap() };
        assert!(filter("").matches(&facts));
        assert!(filter("message_types = [\"ADT\"]").matches(&facts));
        assert!(filter("message_types = [\"adt^a01\"]").matches(&facts));
        assert!(!filter("message_types = [\"ADT^A08\"]").matches(&facts));
        assert!(!filter("message_types = [\"ORU\"]").matches(&facts));
        assert!(filter("trigger_events = [\"A01\", \"A04\"]").matches(&facts));
        assert!(!filter("sending_facilities = [\"ER\"]").matches(&facts));
        assert!(!filter("content_types = [\"application/hl7-v2+er7\"]").matches(&facts));
        assert!(filter("message_types = [\"^A01\"]").check().is_err());
    }
}

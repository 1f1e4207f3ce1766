//! The `[alerts]` section: how often the rules run, over what window, and
//! each rule's threshold.

use serde::Deserialize;

/// The `[alerts]` section. Every key has a default, so the section may be
/// left out.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// How often the rules are evaluated, in seconds. By default 60.
    pub interval_secs: u64,
    /// The sliding window the ACK reject and ACK timeout rates are taken
    /// over, in seconds. By default 300 (5 minutes).
    pub window_secs: u64,
    /// A channel's inbound frames in one interval above this percentage of
    /// its baseline raise `inbound_volume`. By default 200.
    pub volume_max_percent: f64,
    /// The baseline is an exponentially weighted average of the per-interval
    /// frame counts with weight 2 / (N + 1) for the newest, N being this; it
    /// counts as warmed up after N intervals. By default 60 (an hour at the
    /// default interval).
    pub volume_baseline_intervals: u32,
    /// Intervals with fewer frames than this never raise `inbound_volume`,
    /// so that a quiet channel's small bursts stay quiet. By default 10.
    pub volume_min_frames: u64,
    /// ACK timeouts above this percentage of a channel's MLLP delivery
    /// attempts in the window raise `ack_timeout_rate`. By default 5.
    pub ack_timeout_max_percent: f64,
    /// ACKs sent with code AR above this percentage of all ACKs a channel
    /// sent in the window raise `ack_reject_rate`. By default 10.
    pub ack_reject_max_percent: f64,
    /// A rate rule is only judged when the window holds at least this many
    /// attempts or ACKs; below, it clears. By default 20.
    pub rate_min_events: u64,
    /// More failed TLS handshakes than this on a channel in the last hour
    /// raise `tls_handshake_failures`. By default 10.
    pub tls_failures_max_per_hour: u64,
    /// A dead-letter queue deeper than this raises `dead_letter_depth`. By
    /// default each channel's `dead_letter_alert` (itself 100 by default).
    pub dead_letter_max_depth: Option<u64>,
    /// More files than this moved to a file source's error directory within
    /// the window raise `refused_files`. By default 0: any one does.
    pub refused_files_max: u64,
    /// A message waiting in a channel's inbound queue, or in one of its
    /// destinations' queues (an unreachable destination holds them), for
    /// longer than this raises `queue_age`, in seconds. By default 600 (10
    /// minutes).
    pub queue_age_max_secs: u64,
    /// Less room left on the store's file system than this percentage of
    /// its size, and than `storage_min_free_mb`, raises `storage_space`. By
    /// default 10.
    pub storage_min_free_percent: f64,
    /// Less room left on the store's file system than this many MiB, and
    /// than `storage_min_free_percent`, raises `storage_space`: on a large
    /// disk a tenth is more than a warning needs. By default 10240 (10 GiB).
    pub storage_min_free_mb: u64,
    /// A certificate the engine presents (a TLS listener's, or a
    /// destination's client certificate) that expires within this many days
    /// (or has expired) raises `certificate_expiry`. By default 14.
    pub certificate_expiry_days: u64,
    /// Where each raise and clear is POSTed as JSON `{kind, channel, text,
    /// raised_at_ms, state}` with `state` "raised" or "cleared"; failures are
    /// logged, not retried. By default none.
    pub webhook_url: Option<String>,
    /// How long one webhook request may take, in seconds. By default 10.
    pub webhook_timeout_secs: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            interval_secs: 60,
            window_secs: 300,
            volume_max_percent: 200.0,
            volume_baseline_intervals: 60,
            volume_min_frames: 10,
            ack_timeout_max_percent: 5.0,
            ack_reject_max_percent: 10.0,
            rate_min_events: 20,
            tls_failures_max_per_hour: 10,
            dead_letter_max_depth: None,
            queue_age_max_secs: 600,
            storage_min_free_percent: 10.0,
            storage_min_free_mb: 10 * 1024,
            refused_files_max: 0,
            certificate_expiry_days: 14,
            webhook_url: None,
            webhook_timeout_secs: 10,
        }
    }
}

impl AlertsConfig {
    /// The dead-letter depth threshold of a channel whose
    /// `dead_letter_alert` is `channel_default`.
    pub fn dead_letter_threshold(&self, channel_default: u64) -> u64 {
        self.dead_letter_max_depth.unwrap_or(channel_default)
    }

    /// Checks the values.
    ///
    /// # Errors
    /// Names the `alerts` key at fault.
    pub fn check(&self) -> Result<(), String> {
        let fail = |key: &str, problem: &str| Err(format!("key alerts.{key}: {problem}"));
        if self.interval_secs == 0 {
            return fail("interval_secs", "must be at least 1");
        }
        if self.window_secs == 0 {
            return fail("window_secs", "must be at least 1");
        }
        if self.volume_baseline_intervals == 0 {
            return fail("volume_baseline_intervals", "must be at least 1");
        }
        if self.webhook_timeout_secs == 0 {
            return fail("webhook_timeout_secs", "must be at least 1");
        }
        for (key, value) in [
            ("volume_max_percent", self.volume_max_percent),
            ("ack_timeout_max_percent", self.ack_timeout_max_percent),
            ("ack_reject_max_percent", self.ack_reject_max_percent),
        ] {
            if !value.is_finite() || value < 0.0 {
                return fail(key, "must be a number of at least 0");
            }
        }
        if !(0.0..=100.0).contains(&self.storage_min_free_percent) {
            return fail("storage_min_free_percent", "must be a number from 0 to 100");
        }
        if let Some(url) = &self.webhook_url {
            match reqwest::Url::parse(url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                Ok(_) => return fail("webhook_url", "the scheme must be http or https"),
                Err(error) => return fail("webhook_url", &error.to_string()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_the_check() {
        assert_eq!(AlertsConfig::default().check(), Ok(()));
    }

    #[test]
    fn zero_interval_and_bad_urls_are_refused() {
        let zero = AlertsConfig {
            interval_secs: 0,
            ..AlertsConfig::default()
        };
        assert!(zero.check().unwrap_err().contains("alerts.interval_secs"));
        let ftp = AlertsConfig {
            webhook_url: Some("ftp://example.org/".into()),
            ..AlertsConfig::default()
        };
        assert!(ftp.check().unwrap_err().contains("alerts.webhook_url"));
        let negative = AlertsConfig {
            ack_reject_max_percent: -1.0,
            ..AlertsConfig::default()
        };
        assert!(negative.check().is_err());
    }

    #[test]
    fn dead_letter_threshold_defaults_to_the_channel_setting() {
        assert_eq!(AlertsConfig::default().dead_letter_threshold(7), 7);
        let set = AlertsConfig {
            dead_letter_max_depth: Some(3),
            ..AlertsConfig::default()
        };
        assert_eq!(set.dead_letter_threshold(7), 3);
    }
}

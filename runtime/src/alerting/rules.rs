//! The alert rules as pure functions of counter deltas, ages and the
//! volume baseline: each answers the alert's text when it holds and `None`
//! when it does not (the alert is then cleared).

use super::config::AlertsConfig;
use crate::plugin::UntrustedVersion;
use crate::store::DiskSpace;
use crate::tls::CertificateSummary;

/// `inbound_volume`: a burst of inbound frames.
pub const INBOUND_VOLUME: &str = "inbound_volume";
/// `ack_timeout_rate`: MLLP destinations that do not ACK in time.
pub const ACK_TIMEOUT_RATE: &str = "ack_timeout_rate";
/// `ack_reject_rate`: many inbound messages answered AR.
pub const ACK_REJECT_RATE: &str = "ack_reject_rate";
/// `tls_handshake_failures`: many failed (m)TLS handshakes.
pub const TLS_HANDSHAKE_FAILURES: &str = "tls_handshake_failures";
/// `refused_files`: files a file source moved to its error directory.
pub const REFUSED_FILES: &str = "refused_files";
/// `queue_age`: an inbound message waiting too long.
pub const QUEUE_AGE: &str = "queue_age";
/// `inbound_silence`: a channel that received nothing for too long.
pub const INBOUND_SILENCE: &str = "inbound_silence";
/// `storage_space`: the store's file system nearly full (engine-wide: the
/// alert names no channel).
pub const STORAGE_SPACE: &str = "storage_space";

/// `certificate_expiry`: a certificate the engine presents (a listener's, or
/// a destination's client certificate) expires soon or has expired (the
/// admin API's alert names no channel).
pub const CERTIFICATE_EXPIRY: &str = "certificate_expiry";

/// `plugin_untrusted`: loaded plugin versions that the signing policy in
/// force would refuse (engine-wide: the alert names no channel).
pub const PLUGIN_UNTRUSTED: &str = "plugin_untrusted";

/// A channel's counters at one moment, or their growth over a span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// MLLP frames received.
    pub frames: u64,
    /// ACKs sent, every code.
    pub acks: u64,
    /// ACKs sent with code AR.
    pub ack_rejects: u64,
    /// Failed TLS handshakes.
    pub tls_failures: u64,
    /// Delivery attempts to MLLP destinations, every result.
    pub mllp_attempts: u64,
    /// Of those, attempts that got no ACK in time.
    pub ack_timeouts: u64,
    /// Files a file source moved to its error directory.
    pub files_refused: u64,
}

impl Counts {
    /// The growth from `earlier` to `self`; a counter that went down (never,
    /// for Prometheus counters) counts as zero.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            frames: self.frames.saturating_sub(earlier.frames),
            acks: self.acks.saturating_sub(earlier.acks),
            ack_rejects: self.ack_rejects.saturating_sub(earlier.ack_rejects),
            tls_failures: self.tls_failures.saturating_sub(earlier.tls_failures),
            mllp_attempts: self.mllp_attempts.saturating_sub(earlier.mllp_attempts),
            ack_timeouts: self.ack_timeouts.saturating_sub(earlier.ack_timeouts),
            files_refused: self.files_refused.saturating_sub(earlier.files_refused),
        }
    }
}

/// A channel's usual frames per interval: an exponentially weighted moving
/// average.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Baseline {
    mean: f64,
    samples: u32,
}

impl Baseline {
    /// The average so far (zero before the first interval).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Whether `intervals` intervals have been seen.
    pub fn warmed_up(&self, intervals: u32) -> bool {
        self.samples >= intervals
    }

    /// Folds in one interval's count with weight 2 / (`intervals` + 1); the
    /// first count becomes the average.
    pub fn observe(&mut self, count: u64, intervals: u32) {
        let count = count as f64;
        self.mean = match self.samples {
            0 => count,
            _ => self.mean + (count - self.mean) * 2.0 / (f64::from(intervals) + 1.0),
        };
        self.samples = self.samples.saturating_add(1);
    }
}

/// `inbound_volume` holds when the baseline is warmed up, the interval had
/// at least `volume_min_frames` frames and more than `volume_max_percent`
/// of the baseline. `baseline` is the one before this interval is folded in.
pub fn inbound_volume(frames: u64, baseline: &Baseline, config: &AlertsConfig) -> Option<String> {
    if !baseline.warmed_up(config.volume_baseline_intervals) || frames < config.volume_min_frames {
        return None;
    }
    let limit = baseline.mean() * config.volume_max_percent / 100.0;
    (frames as f64 > limit).then(|| {
        format!(
            "{frames} frames in {}s, over {}% of the baseline {:.1}",
            config.interval_secs,
            config.volume_max_percent,
            baseline.mean()
        )
    })
}

/// `ack_timeout_rate` holds when the window's MLLP delivery attempts number
/// at least `rate_min_events` and more than `ack_timeout_max_percent` of
/// them timed out.
pub fn ack_timeout_rate(window: &Counts, config: &AlertsConfig) -> Option<String> {
    let percent = percent_over(
        window.ack_timeouts,
        window.mllp_attempts,
        config.ack_timeout_max_percent,
        config.rate_min_events,
    )?;
    Some(format!(
        "{percent:.1}% of {} MLLP delivery attempts got no ACK in {}s (threshold {}%)",
        window.mllp_attempts, config.window_secs, config.ack_timeout_max_percent
    ))
}

/// `ack_reject_rate` holds when the window's ACKs number at least
/// `rate_min_events` and more than `ack_reject_max_percent` of them were AR.
pub fn ack_reject_rate(window: &Counts, config: &AlertsConfig) -> Option<String> {
    let percent = percent_over(
        window.ack_rejects,
        window.acks,
        config.ack_reject_max_percent,
        config.rate_min_events,
    )?;
    Some(format!(
        "{percent:.1}% of {} ACKs in {}s were AR (threshold {}%)",
        window.acks, config.window_secs, config.ack_reject_max_percent
    ))
}

/// `tls_handshake_failures` holds when more than
/// `tls_failures_max_per_hour` handshakes failed in the last hour.
pub fn tls_handshake_failures(last_hour: &Counts, config: &AlertsConfig) -> Option<String> {
    (last_hour.tls_failures > config.tls_failures_max_per_hour).then(|| {
        format!(
            "{} failed TLS handshakes in the last hour (threshold {})",
            last_hour.tls_failures, config.tls_failures_max_per_hour
        )
    })
}

/// `refused_files` holds when more than `refused_files_max` files went to
/// a file source's error directory within the window.
pub fn refused_files(window: &Counts, config: &AlertsConfig) -> Option<String> {
    (window.files_refused > config.refused_files_max).then(|| {
        format!(
            "{} file(s) moved to the error directory in {}s (threshold {}); see their .errors.txt reports",
            window.files_refused, config.window_secs, config.refused_files_max
        )
    })
}

/// `queue_age` holds when the oldest message of a channel's inbound or
/// destination queues, received at `oldest.0` and waiting in the queue
/// `oldest.1` names, has waited more than `queue_age_max_secs` at
/// `now_ms`. An empty queue never holds.
pub fn queue_age(
    oldest: Option<(u64, &str)>,
    now_ms: u64,
    config: &AlertsConfig,
) -> Option<String> {
    let (received_at_ms, queue) = oldest?;
    let age_secs = now_ms.saturating_sub(received_at_ms) / 1000;
    (age_secs > config.queue_age_max_secs).then(|| {
        format!(
            "the oldest queued message has waited {age_secs}s in {queue} (threshold {}s)",
            config.queue_age_max_secs
        )
    })
}

/// `inbound_silence` holds when a channel has received no frame for at
/// least `limit_secs`: since `last_frame_ms`, when its last frame was seen
/// (or the engine started).
pub fn inbound_silence(last_frame_ms: u64, now_ms: u64, limit_secs: u64) -> Option<String> {
    let silent_secs = now_ms.saturating_sub(last_frame_ms) / 1000;
    (silent_secs >= limit_secs)
        .then(|| format!("no message received for {silent_secs}s (threshold {limit_secs}s)"))
}

/// `storage_space`: the store's file system has less room left than
/// `storage_min_free_percent` of its size and than `storage_min_free_mb`.
/// A full one makes every ingest answer AE, so this warns while there is
/// time to act.
pub fn storage_space(space: DiskSpace, config: &AlertsConfig) -> Option<String> {
    const MIB: u64 = 1 << 20;
    if space.total_bytes == 0 {
        return None;
    }
    let percent = space.available_bytes as f64 * 100.0 / space.total_bytes as f64;
    let low = percent < config.storage_min_free_percent
        && space.available_bytes < config.storage_min_free_mb.saturating_mul(MIB);
    low.then(|| {
        format!(
            "the store's file system has {} MiB of {} MiB left ({percent:.1}%; thresholds {}% \
             and {} MiB); when it is full, messages are answered AE",
            space.available_bytes / MIB,
            space.total_bytes / MIB,
            config.storage_min_free_percent,
            config.storage_min_free_mb
        )
    })
}

/// The percentage `part` is of `total`, when `total` reaches `min_total`
/// and the percentage exceeds `max_percent`.
fn percent_over(part: u64, total: u64, max_percent: f64, min_total: u64) -> Option<f64> {
    if total == 0 || total < min_total {
        return None;
    }
    let percent = part as f64 * 100.0 / total as f64;
    (percent > max_percent).then_some(percent)
}

/// `certificate_expiry`: the certificate `endpoint` presents expires within
/// `certificate_expiry_days` of `now_secs` (Unix seconds), or has expired.
/// Clients refuse an expired certificate, so this warns while it can still
/// be renewed; the renewed files take effect on a TLS reload.
pub fn certificate_expiry(
    endpoint: &str,
    certificate: &CertificateSummary,
    now_secs: i64,
    config: &AlertsConfig,
) -> Option<String> {
    const DAY: i64 = 86_400;
    let left = certificate.not_after_unix.saturating_sub(now_secs);
    let threshold = i64::try_from(config.certificate_expiry_days)
        .unwrap_or(i64::MAX)
        .saturating_mul(DAY);
    if left > threshold {
        return None;
    }
    let when = if left < 0 {
        format!("expired {} day(s) ago", -left / DAY)
    } else {
        format!("expires in {} day(s)", left / DAY)
    };
    Some(format!(
        "the TLS certificate of {endpoint} ({}, SHA-256 {}) {when} (threshold {} days); \
         renew its files and reload TLS (SIGHUP or POST /api/v1/tls/reload)",
        certificate.subject, certificate.sha256, config.certificate_expiry_days
    ))
}

/// `plugin_untrusted`: `versions` are loaded, but the signing policy would
/// refuse them now (a vendor's key was removed, say). They keep running,
/// since stopping them would stop their channels; the operator replaces
/// them with builds the policy accepts, or removes them.
pub fn plugin_untrusted(versions: &[UntrustedVersion]) -> Option<String> {
    let listed: Vec<String> = versions.iter().map(ToString::to_string).collect();
    (!listed.is_empty()).then(|| {
        format!(
            "{} loaded plugin version(s) would be refused by the signing policy and keep \
             running until replaced or removed: {}",
            listed.len(),
            listed.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AlertsConfig {
        AlertsConfig {
            volume_baseline_intervals: 3,
            volume_min_frames: 5,
            rate_min_events: 10,
            ..AlertsConfig::default()
        }
    }

    fn warmed(counts: &[u64]) -> Baseline {
        let mut baseline = Baseline::default();
        for &count in counts {
            baseline.observe(count, config().volume_baseline_intervals);
        }
        baseline
    }

    #[test]
    fn refused_files_holds_over_its_threshold_within_the_window() {
        let window = |files_refused| Counts {
            files_refused,
            ..Counts::default()
        };
        assert_eq!(refused_files(&window(0), &config()), None);
        let text = refused_files(&window(2), &config()).unwrap();
        assert!(
            text.starts_with("2 file(s) moved to the error directory in 300s"),
            "{text}"
        );
        let lenient = AlertsConfig {
            refused_files_max: 2,
            ..config()
        };
        assert_eq!(refused_files(&window(2), &lenient), None);
    }

    #[test]
    fn baseline_starts_at_the_first_count_and_moves_by_its_weight() {
        let mut baseline = Baseline::default();
        baseline.observe(10, 3);
        assert_eq!(baseline.mean(), 10.0);
        baseline.observe(20, 3);
        // Weight 2 / (3 + 1) = 0.5.
        assert_eq!(baseline.mean(), 15.0);
        assert!(!baseline.warmed_up(3));
        baseline.observe(15, 3);
        assert!(baseline.warmed_up(3));
    }

    #[test]
    fn volume_over_twice_the_baseline_holds() {
        let baseline = warmed(&[10, 10, 10]);
        assert!(inbound_volume(21, &baseline, &config()).is_some());
        assert_eq!(inbound_volume(20, &baseline, &config()), None);
        assert_eq!(inbound_volume(3, &baseline, &config()), None);
    }

    #[test]
    fn volume_waits_for_the_baseline_to_warm_up() {
        let baseline = warmed(&[10, 10]);
        assert_eq!(inbound_volume(100, &baseline, &config()), None);
    }

    #[test]
    fn volume_needs_the_minimum_frames() {
        let baseline = warmed(&[0, 0, 1]);
        assert_eq!(inbound_volume(4, &baseline, &config()), None);
        assert!(inbound_volume(5, &baseline, &config()).is_some());
    }

    #[test]
    fn ack_timeouts_over_five_percent_hold() {
        let window = |ack_timeouts, mllp_attempts| Counts {
            ack_timeouts,
            mllp_attempts,
            ..Counts::default()
        };
        assert!(ack_timeout_rate(&window(6, 100), &config()).is_some());
        assert_eq!(ack_timeout_rate(&window(5, 100), &config()), None);
        assert_eq!(
            ack_timeout_rate(&window(5, 9), &config()),
            None,
            "too few attempts to judge"
        );
        assert_eq!(ack_timeout_rate(&window(0, 0), &config()), None);
    }

    #[test]
    fn ar_over_ten_percent_holds() {
        let window = |ack_rejects, acks| Counts {
            ack_rejects,
            acks,
            ..Counts::default()
        };
        let text = ack_reject_rate(&window(2, 10), &config()).expect("20% holds");
        assert!(text.starts_with("20.0% of 10 ACKs"), "{text}");
        assert_eq!(ack_reject_rate(&window(1, 10), &config()), None);
        assert_eq!(ack_reject_rate(&window(5, 5), &config()), None);
    }

    #[test]
    fn more_than_ten_tls_failures_an_hour_hold() {
        let hour = |tls_failures| Counts {
            tls_failures,
            ..Counts::default()
        };
        assert_eq!(tls_handshake_failures(&hour(10), &config()), None);
        assert!(tls_handshake_failures(&hour(11), &config()).is_some());
    }

    #[test]
    fn a_message_queued_too_long_holds() {
        let config = AlertsConfig {
            queue_age_max_secs: 60,
            ..config()
        };
        let now = 1_000_000;
        let inbound = |received_at_ms| Some((received_at_ms, "the inbound queue"));
        assert_eq!(queue_age(None, now, &config), None);
        assert_eq!(queue_age(inbound(now - 60_000), now, &config), None);
        assert_eq!(
            queue_age(inbound(now - 61_000), now, &config).as_deref(),
            Some("the oldest queued message has waited 61s in the inbound queue (threshold 60s)")
        );
        assert_eq!(
            queue_age(inbound(now + 5), now, &config),
            None,
            "clock skew"
        );
    }

    #[test]
    fn silence_holds_from_its_threshold_on() {
        assert_eq!(inbound_silence(10_000, 69_999, 60), None);
        let text = inbound_silence(10_000, 70_000, 60).unwrap();
        assert_eq!(text, "no message received for 60s (threshold 60s)");
        assert_eq!(
            inbound_silence(90_000, 70_000, 60),
            None,
            "a clock step back"
        );
    }

    #[test]
    fn storage_space_holds_below_both_thresholds() {
        let config = AlertsConfig {
            storage_min_free_percent: 10.0,
            storage_min_free_mb: 200,
            ..config()
        };
        let space = |available_mb: u64, total_mb: u64| DiskSpace {
            available_bytes: available_mb << 20,
            total_bytes: total_mb << 20,
        };
        assert_eq!(storage_space(space(100, 1000), &config), None);
        let low = storage_space(space(99, 1000), &config).unwrap();
        assert!(
            low.starts_with("the store's file system has 99 MiB of 1000 MiB left (9.9%;"),
            "{low}"
        );
        // A tenth of a large disk is still more room than the warning needs.
        assert_eq!(storage_space(space(300, 10_000), &config), None);
        assert!(storage_space(space(199, 10_000), &config).is_some());
        assert_eq!(storage_space(space(0, 0), &config), None);
    }

    #[test]
    fn certificate_expiry_holds_within_its_days_and_after_the_end() {
        const DAY: i64 = 86_400;
        let now = 1_800_000_000;
        let certificate = |days_left: i64| CertificateSummary {
            subject: "CN=hl7wasm".into(),
            not_after_unix: now + days_left * DAY,
            sha256: "ab".repeat(32),
        };
        let verdict = |days_left| {
            certificate_expiry("channel \"lab\"", &certificate(days_left), now, &config())
        };
        assert_eq!(verdict(15), None);
        let soon = verdict(14).expect("at the threshold");
        assert!(
            soon.contains("channel \"lab\"") && soon.contains("expires in 14 day(s)"),
            "{soon}"
        );
        let gone = verdict(-3).expect("expired");
        assert!(gone.contains("expired 3 day(s) ago"), "{gone}");
        let off = AlertsConfig {
            certificate_expiry_days: 0,
            ..config()
        };
        assert_eq!(certificate_expiry("x", &certificate(1), now, &off), None);
        assert!(certificate_expiry("x", &certificate(0), now, &off).is_some());
    }

    #[test]
    fn counts_since_subtract_each_counter() {
        let earlier = Counts {
            frames: 5,
            acks: 4,
            ..Counts::default()
        };
        let later = Counts {
            frames: 8,
            acks: 4,
            ack_rejects: 1,
            ..Counts::default()
        };
        let growth = later.since(&earlier);
        assert_eq!((growth.frames, growth.acks, growth.ack_rejects), (3, 0, 1));
    }

    #[test]
    fn plugin_untrusted_names_each_version_with_its_reason() {
        assert_eq!(plugin_untrusted(&[]), None);
        let version = UntrustedVersion {
            label: "mapper@1.2.0 (0123456789ab)".into(),
            sha256: "0123456789ab".repeat(5),
            reason: "not signed".into(),
        };
        let text = plugin_untrusted(&[version]).unwrap();
        assert!(text.starts_with("1 loaded plugin version(s)"), "{text}");
        assert!(
            text.ends_with("mapper@1.2.0 (0123456789ab): not signed"),
            "{text}"
        );
    }
}

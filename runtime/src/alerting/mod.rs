//! Alert rules after common SIEM practice, evaluated every
//! `[alerts] interval_secs` from the metrics and the store, with a webhook.
//!
//! Each rule is judged per channel (`storage_space` once, for the engine,
//! with an empty channel; `certificate_expiry` per channel over its
//! listener's and destinations' certificates, and for the admin API's with
//! an empty channel); it raises its alert while it holds and
//! clears it when it stops ([`crate::alerts::Alerts`] keeps them; the admin
//! API lists them; each change is logged on the `audit` target and POSTed to
//! `webhook_url`). The rules, with their defaults:
//!
//! | kind                     | holds when                                                        |
//! |--------------------------|-------------------------------------------------------------------|
//! | `inbound_volume`         | frames in the last interval ≥ 10 and > 200% of the baseline       |
//! | `ack_timeout_rate`       | > 5% of MLLP delivery attempts in the window got no ACK in time   |
//! | `ack_reject_rate`        | > 10% of the ACKs sent in the window were AR                      |
//! | `tls_handshake_failures` | > 10 failed TLS handshakes in the last hour                       |
//! | `dead_letter_depth`      | the dead-letter queue is deeper than `dead_letter_max_depth`      |
//! | `queue_age`              | the oldest message in the inbound or destination queues waited > 600 s |
//! | `storage_space`          | the store's file system has < 10% and < 10 GiB left (engine-wide) |
//! | `certificate_expiry`     | a certificate the engine presents ends within 14 days, or has ended |
//! | `plugin_untrusted`       | a loaded plugin version fails the signing policy changed since (engine-wide) |
//!
//! The baseline is an exponentially weighted moving average of the channel's
//! frames per interval, weight 2 / (N + 1) for the newest interval with
//! N = `volume_baseline_intervals` (60), seeded by the first interval and
//! updated after each judgement (so a lasting rise becomes the new normal);
//! the rule waits until N intervals were seen. Rates over the window
//! (`window_secs`, 300 s) are judged only with at least `rate_min_events`
//! (20) attempts or ACKs in it, and clear below. The dead-letter depth is
//! checked by each channel's pipeline, after every dead letter and every 2 s
//! (see `crate::pipeline::check_dead_letters`); its threshold defaults to the
//! channel's `dead_letter_alert`.

mod config;
mod evaluator;
pub mod rules;
mod webhook;

pub use config::AlertsConfig;
pub use evaluator::Evaluator;
pub use webhook::{Posting, Webhook};

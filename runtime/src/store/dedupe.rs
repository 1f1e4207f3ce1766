//! The dedupe index: which message a (MSH-3, MSH-4, MSH-10) was stored as,
//! and when, so that a resend within the window is recognised.
//!
//! The window is checked lazily against the stored time, so an expired entry
//! never counts even before [`prune`] removes it.

use std::time::Duration;

use super::dedupe_filter::DedupeFilter;
use super::error::StoreError;
use super::keys;

/// What identifies a resend of the same message on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupeKey<'a> {
    /// MSH-3, the sending application.
    pub sending_application: &'a str,
    /// MSH-4, the sending facility.
    pub sending_facility: &'a str,
    /// MSH-10, the message control id; not empty (a message without one is
    /// not deduplicated).
    pub control_id: &'a str,
}

/// A dedupe entry's value: the id the message was stored as and when it was
/// received, 16 bytes (`id u64 | received_at_ms u64`, big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DedupeEntry {
    /// The stored message.
    pub(crate) id: u64,
    /// When it was received, in milliseconds since the Unix epoch.
    pub(crate) received_at_ms: u64,
}

impl DedupeEntry {
    /// The entry as stored.
    pub(crate) fn encode(&self) -> [u8; 16] {
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&self.id.to_be_bytes());
        bytes[8..].copy_from_slice(&self.received_at_ms.to_be_bytes());
        bytes
    }

    /// Reads a stored entry.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if the value is not 16 bytes.
    pub(crate) fn decode(key: &[u8], value: &[u8]) -> Result<Self, StoreError> {
        let bytes: [u8; 16] = value.try_into().map_err(|_| StoreError::Corrupt {
            key: keys::describe(key),
            reason: format!("dedupe entry of {} bytes, expected 16", value.len()),
        })?;
        let (id, received_at_ms) = bytes.split_at(8);
        Ok(DedupeEntry {
            id: u64::from_be_bytes(id.try_into().expect("8 bytes")),
            received_at_ms: u64::from_be_bytes(received_at_ms.try_into().expect("8 bytes")),
        })
    }

    /// Whether a message received at `now_ms` is a resend of this one: the
    /// entry is younger than `window`.
    pub(crate) fn covers(&self, now_ms: u64, window: Duration) -> bool {
        now_ms.saturating_sub(self.received_at_ms) < window_ms(window)
    }
}

/// Removes every dedupe entry older than `window` at `now_ms`, uncounting
/// each in `filter`, and returns how many it removed.
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] for an undecodable entry.
pub(crate) fn prune(
    tree: &sled::Tree,
    now_ms: u64,
    window: Duration,
    filter: &DedupeFilter,
) -> Result<usize, StoreError> {
    let mut removed = 0;
    for item in tree.scan_prefix(keys::DEDUPE_PREFIX) {
        let (key, value) = item?;
        let entry = DedupeEntry::decode(&key, &value)?;
        if entry.covers(now_ms, window) {
            continue;
        }
        // Only remove the entry that was judged expired: a concurrent ingest
        // may just have replaced it with a fresh one.
        if tree
            .compare_and_swap(&key, Some(value), None::<&[u8]>)?
            .is_ok()
        {
            filter.removed(&key);
            removed += 1;
        }
    }
    Ok(removed)
}

fn window_ms(window: Duration) -> u64 {
    u64::try_from(window.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that an entry counts strictly within the window and that its
    /// encoding round-trips.
    #[test]
    fn entry_covers_only_within_window() {
        let entry = DedupeEntry {
            id: 7,
            received_at_ms: 1_000,
        };
        let window = Duration::from_millis(500);
        assert!(entry.covers(1_000, window));
        assert!(entry.covers(1_499, window));
        assert!(!entry.covers(1_500, window));
        assert!(entry.covers(900, window), "a clock step back still counts");
        assert_eq!(DedupeEntry::decode(b"d/", &entry.encode()).unwrap(), entry);
        assert!(DedupeEntry::decode(b"d/", b"short").is_err());
    }
}

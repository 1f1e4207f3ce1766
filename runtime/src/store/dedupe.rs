//! The dedupe index: which message a (MSH-3, MSH-4, MSH-10) was stored as,
//! when, and a fingerprint of its content, so that a resend within the
//! window is recognised.
//!
//! A resend carries the same content. A message under the same key with
//! other content is not one: its sender reused a control id (a counter
//! reset, a test system, a second feed under the same names). Taking it for
//! a resend would acknowledge it and drop it, so it is stored as a new
//! message and its entry replaces the earlier one's (the store reports it
//! as [`crate::store::Ingested::Reused`]). The fingerprint leaves out MSH-7,
//! which a sender may stamp anew when it resends.
//!
//! The window is checked lazily against the stored time, so an expired entry
//! never counts even before pruning removes it.

use std::time::Duration;

use super::dedupe_index::DedupeIndex;
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

/// A dedupe entry's value: the id the message was stored as, when it was
/// received and its content's fingerprint, 20 bytes (`id u64 |
/// received_at_ms u64 | fingerprint u32`, big-endian). Entries written
/// before fingerprints, 16 bytes, are still read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DedupeEntry {
    /// The stored message.
    pub(crate) id: u64,
    /// When it was received, in milliseconds since the Unix epoch.
    pub(crate) received_at_ms: u64,
    /// Its [`fingerprint`]; `None` in an entry written before them, which
    /// any content matches.
    pub(crate) fingerprint: Option<u32>,
}

/// What a message under a key already in the index is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// A resend of the entry's message.
    Resend,
    /// Another message under a reused control id.
    Reuse,
    /// Neither: the entry is older than the window.
    Expired,
}

impl DedupeEntry {
    /// How many bytes an entry with a fingerprint takes as stored.
    pub(crate) const STORED_BYTES: usize = 20;

    /// Appends the entry as stored: [`DedupeEntry::STORED_BYTES`], or 16
    /// for an entry without a fingerprint (as written before them).
    pub(crate) fn encode_into(&self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.id.to_be_bytes());
        bytes.extend_from_slice(&self.received_at_ms.to_be_bytes());
        if let Some(fingerprint) = self.fingerprint {
            bytes.extend_from_slice(&fingerprint.to_be_bytes());
        }
    }

    /// The entry as earlier versions stored it under its key.
    #[cfg(test)]
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(Self::STORED_BYTES);
        self.encode_into(&mut bytes);
        bytes
    }

    /// Reads a stored entry.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if the value is neither 20 nor 16 bytes.
    pub(crate) fn decode(key: &[u8], value: &[u8]) -> Result<Self, StoreError> {
        let corrupt = || StoreError::Corrupt {
            key: keys::describe(key),
            reason: format!("dedupe entry of {} bytes, expected 20", value.len()),
        };
        let (id, rest) = value.split_first_chunk::<8>().ok_or_else(corrupt)?;
        let (received_at_ms, rest) = rest.split_first_chunk::<8>().ok_or_else(corrupt)?;
        let fingerprint = match rest.len() {
            0 => None,
            4 => Some(u32::from_be_bytes(rest.try_into().expect("4 bytes"))),
            _ => return Err(corrupt()),
        };
        Ok(DedupeEntry {
            id: u64::from_be_bytes(*id),
            received_at_ms: u64::from_be_bytes(*received_at_ms),
            fingerprint,
        })
    }

    /// What a message with `fingerprint`, received at `now_ms`, is to this
    /// entry's message with a dedupe `window`.
    pub(crate) fn judge(&self, fingerprint: u32, now_ms: u64, window: Duration) -> Match {
        if !self.covers(now_ms, window) {
            Match::Expired
        } else if self.fingerprint.is_none_or(|own| own == fingerprint) {
            Match::Resend
        } else {
            Match::Reuse
        }
    }

    /// Whether the entry is younger than `window` at `now_ms`.
    pub(crate) fn covers(&self, now_ms: u64, window: Duration) -> bool {
        now_ms.saturating_sub(self.received_at_ms) < window_ms(window)
    }
}

/// A fingerprint of a message's content, to tell a resend from another
/// message under the same control id: the CRC-32 of its segments, each
/// ended by one CR whatever line ends it had, blank lines left out, and
/// MSH-7 left out of MSH. Bytes that are not HL7 (a hand-off's FHIR body,
/// say) are taken by their lines the same way.
pub(crate) fn fingerprint(raw: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    let mut rest = raw;
    let lines = std::iter::from_fn(|| {
        while !rest.is_empty() {
            let end = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
            let line = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or_default();
            if !line.is_empty() {
                return Some(line);
            }
        }
        None
    });
    for (index, line) in lines.enumerate() {
        match (index == 0).then(|| msh7_range(line)).flatten() {
            Some((start, end)) => {
                hasher.update(&line[..start]);
                hasher.update(&line[end..]);
            }
            None => hasher.update(line),
        }
        hasher.update(b"\r");
    }
    hasher.finalize()
}

/// Where MSH-7 lies in `segment`, when it is an MSH segment.
fn msh7_range(segment: &[u8]) -> Option<(usize, usize)> {
    let separator = *segment.strip_prefix(b"MSH")?.first()?;
    let mut separators = segment
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == separator)
        .map(|(at, _)| at);
    // The separator after "MSH" opens MSH-2; MSH-7 follows the sixth.
    let start = separators.nth(5)? + 1;
    Some((start, separators.next().unwrap_or(segment.len())))
}

/// Removes every per-key dedupe entry (as earlier versions stored them, see
/// `dedupe_index.rs`) older than `window` at `now_ms`, also from `index`,
/// and returns how many left the index.
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] for an undecodable entry.
pub(crate) fn prune_per_key(
    tree: &sled::Tree,
    now_ms: u64,
    window: Duration,
    index: &DedupeIndex,
) -> Result<usize, StoreError> {
    let mut removed = 0;
    for item in tree.scan_prefix(keys::DEDUPE_PREFIX) {
        let (key, value) = item?;
        let entry = DedupeEntry::decode(&key, &value)?;
        if entry.covers(now_ms, window) {
            continue;
        }
        tree.remove(&key)?;
        removed += usize::from(index.remove(&key, entry.id));
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
            fingerprint: Some(42),
        };
        let window = Duration::from_millis(500);
        assert!(entry.covers(1_000, window));
        assert!(entry.covers(1_499, window));
        assert!(!entry.covers(1_500, window));
        assert!(entry.covers(900, window), "a clock step back still counts");
        assert_eq!(DedupeEntry::decode(b"d/", &entry.encode()).unwrap(), entry);
        assert!(DedupeEntry::decode(b"d/", b"short").is_err());
        assert!(DedupeEntry::decode(b"d/", &[0; 24]).is_err());
    }

    /// Ensures that the same content within the window is a resend, other
    /// content a reuse, and that an entry from before fingerprints (16
    /// bytes) takes any content for a resend, as it did.
    #[test]
    fn judges_by_window_then_content() {
        let entry = DedupeEntry {
            id: 7,
            received_at_ms: 1_000,
            fingerprint: Some(42),
        };
        let window = Duration::from_millis(500);
        assert_eq!(entry.judge(42, 1_100, window), Match::Resend);
        assert_eq!(entry.judge(43, 1_100, window), Match::Reuse);
        assert_eq!(entry.judge(42, 1_500, window), Match::Expired);
        let old = DedupeEntry::decode(b"d/", &entry.encode()[..16]).unwrap();
        assert_eq!(old.fingerprint, None);
        assert_eq!(old.encode(), &entry.encode()[..16], "kept as it was");
        assert_eq!(old.judge(43, 1_100, window), Match::Resend);
    }

    /// Ensures that the fingerprint ignores MSH-7 and the kind of line ends
    /// and sees any other change, MSH included.
    #[test]
    fn fingerprint_leaves_out_msh7_and_line_ends_only() {
        let message = b"MSH|^~\\&|APP|FAC|RCV|RFAC|20261129120000||ADT^A01|C1|P|2.5\rPID|1||42\r";
        let base = fingerprint(message);
        let restamped =
            b"MSH|^~\\&|APP|FAC|RCV|RFAC|20261129120505+0100||ADT^A01|C1|P|2.5\rPID|1||42\r\n";
        assert_eq!(fingerprint(restamped), base);
        let newlines = b"MSH|^~\\&|APP|FAC|RCV|RFAC|20261129120000||ADT^A01|C1|P|2.5\nPID|1||42";
        assert_eq!(fingerprint(newlines), base);
        let joined = b"MSH|^~\\&|APP|FAC|RCV|RFAC|20261129120000||ADT^A01|C1|P|2.5PID|1||42\r";
        assert_ne!(fingerprint(joined), base, "segments stay apart");
        let other_patient =
            b"MSH|^~\\&|APP|FAC|RCV|RFAC|20261129120000||ADT^A01|C1|P|2.5\rPID|1||43\r";
        assert_ne!(fingerprint(other_patient), base);
        let other_event =
            b"MSH|^~\\&|APP|FAC|RCV|RFAC|20261129120000||ADT^A08|C1|P|2.5\rPID|1||42\r";
        assert_ne!(fingerprint(other_event), base);
        assert_eq!(msh7_range(b"MSH|^~\\&|A|B|C|D|7|8"), Some((17, 18)));
        assert_eq!(msh7_range(b"MSH|^~\\&|A|B"), None);
        assert_ne!(
            fingerprint(b"{\"resourceType\": \"Bundle\", \"id\": \"1\"}"),
            fingerprint(b"{\"resourceType\": \"Bundle\", \"id\": \"2\"}"),
        );
    }
}

//! Message records: what the store keeps of a message, and its compact binary
//! encoding.
//!
//! A record is a header followed by the raw bytes, so that encoding copies
//! the message once and decoding needs no parser:
//!
//! ```text
//! version u8 = 2 | partition u32 | received_at_ms u64
//! | channel str | peer opt-str | control_id opt-str | message_type opt-str
//! | peer_certificate opt-str
//! | raw bytes (to the end)
//!
//! str     = len u32 | UTF-8 bytes
//! opt-str = len u32 (u32::MAX for none) | UTF-8 bytes
//! ```
//!
//! All integers are big-endian. Version 1, written before the sender's
//! certificate was kept, lacks `peer_certificate`; it is still read.

use std::time::Duration;

use super::dedupe::DedupeKey;
use super::error::StoreError;

const VERSION: u8 = 2;
/// The version before `peer_certificate`, still read.
const VERSION_WITHOUT_CERTIFICATE: u8 = 1;
const NONE: u32 = u32::MAX;

/// A message to store, as the listener has it after reading MSH.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    /// The channel it arrived on.
    pub channel: &'a str,
    /// Its partition within the channel (0 when the channel is not
    /// partitioned).
    pub partition: u32,
    /// The message as received, without MLLP framing.
    pub raw: &'a [u8],
    /// When it was received, in milliseconds since the Unix epoch; also the
    /// "now" of the dedupe window.
    pub received_at_ms: u64,
    /// The sender's address.
    pub peer: Option<&'a str>,
    /// The name in the sender's TLS client certificate (see
    /// `PeerIdentity::name`), under mTLS.
    pub peer_certificate: Option<&'a str>,
    /// MSH-10.
    pub control_id: Option<&'a str>,
    /// MSH-9, for example `ADT^A01`.
    pub message_type: Option<&'a str>,
    /// What identifies a resend; `None` (for example when MSH-10 is empty)
    /// stores the message without deduplication.
    pub dedupe_key: Option<DedupeKey<'a>>,
    /// How long a resend is recognised when its channel sets a window of
    /// its own, at most the store's; `None` for the store's.
    pub dedupe_window: Option<Duration>,
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its id: unique, and increasing in the order messages were stored.
    pub id: u64,
    /// The channel it arrived on.
    pub channel: String,
    /// Its partition within the channel: the one it was stored in, or where
    /// it waits now (see [`crate::store::Store::message`]).
    pub partition: u32,
    /// When it was received, in milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    /// The sender's address.
    pub peer: Option<String>,
    /// The name in the sender's TLS client certificate, under mTLS.
    pub peer_certificate: Option<String>,
    /// MSH-10.
    pub control_id: Option<String>,
    /// MSH-9.
    pub message_type: Option<String>,
    /// The message as received.
    pub raw: Vec<u8>,
}

/// Encodes a message's record.
pub(crate) fn encode(message: &NewMessage<'_>) -> Vec<u8> {
    let strings = [
        Some(message.channel),
        message.peer,
        message.control_id,
        message.message_type,
        message.peer_certificate,
    ];
    let header: usize = 13
        + strings
            .iter()
            .map(|s| 4 + s.map_or(0, str::len))
            .sum::<usize>();
    let mut record = Vec::with_capacity(header + message.raw.len());
    record.push(VERSION);
    record.extend_from_slice(&message.partition.to_be_bytes());
    record.extend_from_slice(&message.received_at_ms.to_be_bytes());
    for string in strings {
        let length = string.map_or(NONE, |s| u32::try_from(s.len()).expect("field under 4 GiB"));
        record.extend_from_slice(&length.to_be_bytes());
        record.extend_from_slice(string.unwrap_or_default().as_bytes());
    }
    record.extend_from_slice(message.raw);
    record
}

/// Where a message goes: the start of its record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route<'a> {
    /// Its partition within the channel.
    pub(crate) partition: u32,
    /// When it was received, in milliseconds since the Unix epoch.
    pub(crate) received_at_ms: u64,
    /// The channel it arrived on.
    pub(crate) channel: &'a str,
    /// The message as received.
    pub(crate) raw: &'a [u8],
}

/// Reads the partition, receive time, channel and raw bytes of message
/// `id`'s record without copying anything.
///
/// # Errors
///
/// As [`decode`].
pub(crate) fn route(id: u64, record: &[u8]) -> Result<Route<'_>, StoreError> {
    read(id, record).map(|(route, _)| route)
}

/// Reads a record: its route, and its optional strings in the order `peer,
/// control_id, message_type, peer_certificate`.
fn read(id: u64, record: &[u8]) -> Result<(Route<'_>, [Option<&str>; 4]), StoreError> {
    let corrupt = corrupt_in(id);
    let mut reader = Reader(record);
    let version = reader.take(1).ok_or_else(|| corrupt("empty"))?[0];
    if version != VERSION && version != VERSION_WITHOUT_CERTIFICATE {
        return Err(corrupt("unknown record version"));
    }
    let truncated = || corrupt("truncated header");
    let partition = reader.u32().ok_or_else(truncated)?;
    let received_at_ms = reader.u64().ok_or_else(truncated)?;
    let channel = reader
        .optional_str()
        .map_err(&corrupt)?
        .ok_or_else(|| corrupt("no channel"))?;
    let mut strings = [None; 4];
    let present = if version == VERSION { 4 } else { 3 };
    for string in &mut strings[..present] {
        *string = reader.optional_str().map_err(&corrupt)?;
    }
    let route = Route {
        partition,
        received_at_ms,
        channel,
        raw: reader.0,
    };
    Ok((route, strings))
}

/// Decodes the record of message `id`.
///
/// # Errors
///
/// [`StoreError::Corrupt`] if the record is truncated, of another version, or
/// holds text that is not UTF-8.
pub(crate) fn decode(id: u64, record: &[u8]) -> Result<StoredMessage, StoreError> {
    let (route, strings) = read(id, record)?;
    let [peer, control_id, message_type, peer_certificate] = strings.map(|s| s.map(str::to_owned));
    Ok(StoredMessage {
        id,
        channel: route.channel.to_owned(),
        partition: route.partition,
        received_at_ms: route.received_at_ms,
        peer,
        peer_certificate,
        control_id,
        message_type,
        raw: route.raw.to_vec(),
    })
}

/// Builds the corrupt-record error of message `id`.
fn corrupt_in(id: u64) -> impl Fn(&str) -> StoreError {
    move |reason| StoreError::Corrupt {
        key: format!("m/{id}"),
        reason: reason.to_owned(),
    }
}

/// The unread rest of a record.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(count)?;
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn optional_str(&mut self) -> Result<Option<&'a str>, &'static str> {
        let length = self.u32().ok_or("truncated field length")?;
        if length == NONE {
            return Ok(None);
        }
        let bytes = self.take(length as usize).ok_or("truncated field")?;
        let text = std::str::from_utf8(bytes).map_err(|_| "field is not UTF-8")?;
        Ok(Some(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that a record decodes to the message it was encoded from,
    /// absent fields included, and that a truncated record is reported.
    #[test]
    fn record_round_trips_and_truncation_is_corrupt() {
        let message = NewMessage {
            channel: "adt",
            partition: 3,
            raw: b"MSH|^~\\&|APP\r",
            received_at_ms: 1_700_000_000_000,
            peer: Some("10.0.0.1:4000"),
            peer_certificate: Some("lab-analyzer"),
            control_id: Some("C1"),
            message_type: None,
            dedupe_key: None,
            dedupe_window: None,
        };
        let record = encode(&message);
        let stored = decode(9, &record).unwrap();
        assert_eq!(stored.peer_certificate.as_deref(), Some("lab-analyzer"));
        assert_eq!(stored.id, 9);
        assert_eq!(stored.channel, "adt");
        assert_eq!(stored.partition, 3);
        assert_eq!(stored.received_at_ms, 1_700_000_000_000);
        assert_eq!(stored.peer.as_deref(), Some("10.0.0.1:4000"));
        assert_eq!(stored.control_id.as_deref(), Some("C1"));
        assert_eq!(stored.message_type, None);
        assert_eq!(stored.raw, message.raw);
        assert!(matches!(
            decode(9, &record[..20]),
            Err(StoreError::Corrupt { .. })
        ));
    }

    /// Ensures that a record written before the sender's certificate was
    /// kept (version 1) still decodes, without one.
    #[test]
    fn version_one_records_decode_without_a_certificate() {
        let mut record = vec![VERSION_WITHOUT_CERTIFICATE];
        record.extend_from_slice(&2u32.to_be_bytes());
        record.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
        for field in [Some("adt"), Some("10.0.0.1:4000"), Some("C1"), None] {
            let length = field.map_or(NONE, |f| f.len() as u32);
            record.extend_from_slice(&length.to_be_bytes());
            record.extend_from_slice(field.unwrap_or_default().as_bytes());
        }
        record.extend_from_slice(b"MSH|^~\\&|APP\r");
        let stored = decode(4, &record).unwrap();
        assert_eq!(stored.channel, "adt");
        assert_eq!(stored.peer.as_deref(), Some("10.0.0.1:4000"));
        assert_eq!(stored.control_id.as_deref(), Some("C1"));
        assert_eq!(stored.peer_certificate, None);
        assert_eq!(stored.raw, b"MSH|^~\\&|APP\r");
        record[0] = 3;
        assert!(matches!(
            decode(4, &record),
            Err(StoreError::Corrupt { .. })
        ));
    }
}

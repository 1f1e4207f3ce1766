//! The encoding of entries that carry a payload: a small JSON header, then
//! the payload's bytes, so the payload is copied once and never escaped.
//!
//! ```text
//! header_len u32 (big-endian) | header (JSON) | payload (to the end)
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::StoreError;
use super::keys;

/// Encodes `header` and `payload`.
pub(crate) fn encode<H: Serialize>(header: &H, payload: &[u8]) -> Vec<u8> {
    let header = serde_json::to_vec(header).expect("headers serialize");
    let length = u32::try_from(header.len()).expect("header under 4 GiB");
    let mut bytes = Vec::with_capacity(4 + header.len() + payload.len());
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(payload);
    bytes
}

/// Decodes an entry stored under `key`.
///
/// # Errors
///
/// [`StoreError::Corrupt`] if it is truncated or its header does not decode.
pub(crate) fn decode<H: DeserializeOwned>(
    key: &[u8],
    bytes: &[u8],
) -> Result<(H, Vec<u8>), StoreError> {
    let (header, payload) = split(key, bytes)?;
    Ok((parse(key, header)?, payload.to_vec()))
}

/// Decodes only the header of an entry stored under `key`.
///
/// # Errors
///
/// As [`decode`].
pub(crate) fn decode_header<H: DeserializeOwned>(
    key: &[u8],
    bytes: &[u8],
) -> Result<H, StoreError> {
    parse(key, split(key, bytes)?.0)
}

/// The header's bytes and the payload's.
fn split<'a>(key: &[u8], bytes: &'a [u8]) -> Result<(&'a [u8], &'a [u8]), StoreError> {
    let (length, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt(key, "truncated header length".into()))?;
    rest.split_at_checked(u32::from_be_bytes(*length) as usize)
        .ok_or_else(|| corrupt(key, "truncated header".into()))
}

fn parse<H: DeserializeOwned>(key: &[u8], header: &[u8]) -> Result<H, StoreError> {
    serde_json::from_slice(header).map_err(|e| corrupt(key, e.to_string()))
}

fn corrupt(key: &[u8], reason: String) -> StoreError {
    StoreError::Corrupt {
        key: keys::describe(key),
        reason,
    }
}

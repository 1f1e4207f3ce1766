//! Signed vendor plugins: metadata and an ed25519 signature in a custom
//! section at the end of the component.
//!
//! ```text
//! component bytes (as built)
//! custom section "hl7wasm-signature" = JSON {
//!     "metadata":  "<JSON text: name, version, vendor, license,
//!                   message_types, min_host_wit>",
//!     "key":       "<ed25519 public key, hex>",
//!     "signature": "<ed25519 signature, hex>"
//! }
//! signed message = "hl7wasm-plugin-v1\n" + sha256(component bytes) hex
//!                  + "\n" + metadata JSON text
//! ```
//!
//! The signature covers the component as built and its metadata, so
//! neither can change without failing verification. The section is the
//! last one, so appending it leaves the component valid, and verification
//! strips it to recover the signed bytes. Keys are stored as hex: a private
//! key file holds the 32-byte seed.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::version::content_hash;

/// The custom section's name.
pub const SECTION: &str = "hl7wasm-signature";

const DOMAIN: &str = "hl7wasm-plugin-v1";

/// What a vendor states about a plugin, signed with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginMetadata {
    /// The plugin's name, as its `info()` gives it.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Who ships it.
    pub vendor: String,
    /// Its licence (an SPDX id, for example `Apache-2.0`).
    pub license: String,
    /// The message types it accepts.
    pub message_types: Vec<String>,
    /// The lowest `hl7wasm:plugin` contract version it needs.
    pub min_host_wit: String,
}

/// The section's content.
#[derive(Debug, Serialize, Deserialize)]
struct Section {
    metadata: String,
    key: String,
    signature: String,
}

/// Why a component's signature does not pass.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SignatureError {
    /// No signature section at the end of the component.
    #[error("the plugin is not signed (sign it with `hl7wasm plugin sign`)")]
    Unsigned,
    /// A signature section that cannot be read.
    #[error("the plugin's signature section is malformed: {0}")]
    Malformed(String),
    /// Signed by a key the trust store does not hold.
    #[error("the plugin is signed by key {0}, which is not in plugins.trusted_keys")]
    Untrusted(String),
    /// The signature does not match the component and its metadata.
    #[error("the plugin's signature does not match its content (altered after signing?)")]
    Invalid,
}

/// A new signing key from the operating system's random source, as hex.
///
/// # Errors
/// When no randomness is available.
pub fn generate_key() -> Result<String, getrandom::Error> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)?;
    Ok(hex::encode(seed))
}

/// The public key of a private key in hex.
///
/// # Errors
/// When `private_hex` is not 32 bytes of hex.
pub fn public_key(private_hex: &str) -> Result<String, SignatureError> {
    Ok(hex::encode(
        signing_key(private_hex)?.verifying_key().as_bytes(),
    ))
}

/// `component` with `metadata` and a signature by `private_hex` appended
/// (any earlier signature section at the end is replaced).
///
/// # Errors
/// When the key is not 32 bytes of hex, or an existing signature section
/// is malformed.
pub fn sign(
    component: &[u8],
    metadata: &PluginMetadata,
    private_hex: &str,
) -> Result<Vec<u8>, SignatureError> {
    let key = signing_key(private_hex)?;
    let unsigned = match split(component) {
        Ok((unsigned, _)) => unsigned,
        Err(SignatureError::Unsigned) => component,
        Err(error) => return Err(error),
    };
    let metadata = serde_json::to_string(metadata).expect("metadata serializes");
    let signature = key.sign(&message(unsigned, &metadata));
    let section = Section {
        metadata,
        key: hex::encode(key.verifying_key().as_bytes()),
        signature: hex::encode(signature.to_bytes()),
    };
    let payload = serde_json::to_vec(&section).expect("sections serialize");
    let mut body = Vec::new();
    leb128(&mut body, SECTION.len());
    body.extend_from_slice(SECTION.as_bytes());
    body.extend_from_slice(&payload);
    let mut signed = unsigned.to_vec();
    signed.push(0); // custom section id
    leb128(&mut signed, body.len());
    signed.extend_from_slice(&body);
    Ok(signed)
}

/// Checks that `component` is signed by one of `trusted` (public keys in
/// hex) and returns its signed metadata.
///
/// # Errors
/// [`SignatureError`]: unsigned, malformed, untrusted or invalid.
pub fn verify(component: &[u8], trusted: &[String]) -> Result<PluginMetadata, SignatureError> {
    let (unsigned, section) = split(component)?;
    if !trusted
        .iter()
        .any(|key| key.eq_ignore_ascii_case(&section.key))
    {
        return Err(SignatureError::Untrusted(section.key));
    }
    let malformed = |what: &str| SignatureError::Malformed(what.to_string());
    let key_bytes: [u8; 32] = hex::decode(&section.key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| malformed("the key is not 32 bytes of hex"))?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| malformed("not an ed25519 key"))?;
    let signature_bytes: [u8; 64] = hex::decode(&section.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| malformed("the signature is not 64 bytes of hex"))?;
    key.verify(
        &message(unsigned, &section.metadata),
        &Signature::from_bytes(&signature_bytes),
    )
    .map_err(|_| SignatureError::Invalid)?;
    serde_json::from_str(&section.metadata).map_err(|e| SignatureError::Malformed(e.to_string()))
}

fn signing_key(private_hex: &str) -> Result<SigningKey, SignatureError> {
    let seed: [u8; 32] = hex::decode(private_hex.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| SignatureError::Malformed("a private key is 32 bytes of hex".into()))?;
    Ok(SigningKey::from_bytes(&seed))
}

fn message(unsigned: &[u8], metadata: &str) -> Vec<u8> {
    format!("{DOMAIN}\n{}\n{metadata}", content_hash(unsigned)).into_bytes()
}

/// The component without its trailing signature section, and the section.
fn split(component: &[u8]) -> Result<(&[u8], Section), SignatureError> {
    let mut last = None;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        let payload = payload.map_err(|e| SignatureError::Malformed(e.to_string()))?;
        if let wasmparser::Payload::CustomSection(reader) = payload
            && reader.name() == SECTION
            && reader.range().end == component.len()
        {
            last = Some((reader.range().start, reader.data().to_vec()));
        }
    }
    let (start, data) = last.ok_or(SignatureError::Unsigned)?;
    // The section's id byte and size come before its name.
    let header = (2..=6)
        .find(|n| {
            start >= *n && component[start - n] == 0 && {
                let mut size = Vec::new();
                leb128(&mut size, component.len() - start);
                size.len() == n - 1 && component[start - n + 1..start] == size[..]
            }
        })
        .ok_or_else(|| SignatureError::Malformed("section header".into()))?;
    let section =
        serde_json::from_slice(&data).map_err(|e| SignatureError::Malformed(e.to_string()))?;
    Ok((&component[..start - header], section))
}

fn leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

//! JWT client assertions (RFC 7523, `private_key_jwt`), the client
//! authentication of SMART Backend Services that EHR vendors ask for: the
//! client signs a short-lived JWT with its private key instead of sending
//! a secret. RSA keys sign RS384, EC P-384 keys ES384, the two algorithms
//! SMART requires servers to accept.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::deliver::ConnectorError;

/// How long an assertion is valid; SMART allows at most five minutes.
const LIFETIME_SECS: u64 = 300;

/// The `client_assertion_type` of a JWT assertion.
pub(super) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A private key that signs client assertions.
pub(super) struct AssertionSigner {
    key: Key,
    key_id: Option<String>,
    random: SystemRandom,
}

enum Key {
    Rs384(RsaKeyPair),
    Es384(EcdsaKeyPair),
}

impl std::fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionSigner")
            .field("alg", &self.algorithm())
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl AssertionSigner {
    /// Reads the PEM private key in `path` (PKCS#8, or PKCS#1 for RSA).
    ///
    /// # Errors
    /// [`ConnectorError::OAuthKey`] naming the file: unreadable, not a
    /// key, or neither RSA nor EC P-384.
    pub(super) fn load(path: &Path, key_id: Option<String>) -> Result<Self, ConnectorError> {
        let failed = |reason: String| ConnectorError::OAuthKey {
            path: PathBuf::from(path),
            reason,
        };
        let der = PrivateKeyDer::from_pem_file(path).map_err(|e| failed(e.to_string()))?;
        let random = SystemRandom::new();
        let key = match &der {
            PrivateKeyDer::Pkcs1(rsa) => RsaKeyPair::from_der(rsa.secret_pkcs1_der())
                .map(Key::Rs384)
                .map_err(|e| failed(format!("not a usable RSA key: {e}")))?,
            PrivateKeyDer::Pkcs8(pkcs8) => {
                let bytes = pkcs8.secret_pkcs8_der();
                match RsaKeyPair::from_pkcs8(bytes) {
                    Ok(rsa) => Key::Rs384(rsa),
                    Err(_) => EcdsaKeyPair::from_pkcs8(
                        &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                        bytes,
                        &random,
                    )
                    .map(Key::Es384)
                    .map_err(|_| {
                        failed(
                            "neither an RSA nor an EC P-384 key (SMART signs RS384 or ES384)"
                                .into(),
                        )
                    })?,
                }
            }
            _ => {
                return Err(failed(
                    "neither an RSA nor an EC P-384 key (SMART signs RS384 or ES384)".into(),
                ));
            }
        };
        Ok(AssertionSigner {
            key,
            key_id,
            random,
        })
    }

    /// The JWS algorithm the key signs with.
    pub(super) fn algorithm(&self) -> &'static str {
        match self.key {
            Key::Rs384(_) => "RS384",
            Key::Es384(_) => "ES384",
        }
    }

    /// A signed assertion that `client_id` is asking `token_url` for a
    /// token, valid for five minutes, with a random `jti`.
    ///
    /// # Errors
    /// When the system's random source or the signature fails.
    pub(super) fn assertion(&self, client_id: &str, token_url: &str) -> Result<String, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut jti = [0u8; 16];
        self.random
            .fill(&mut jti)
            .map_err(|_| "no random bytes for the client assertion".to_owned())?;
        let mut header = serde_json::json!({ "alg": self.algorithm(), "typ": "JWT" });
        if let Some(kid) = &self.key_id {
            header["kid"] = kid.as_str().into();
        }
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": token_url,
            "exp": now + LIFETIME_SECS,
            "iat": now,
            "jti": hex::encode(jti),
        });
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.sign(signed.as_bytes())?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let failed = |_| "the client assertion could not be signed".to_owned();
        match &self.key {
            Key::Rs384(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(
                    &signature::RSA_PKCS1_SHA384,
                    &self.random,
                    message,
                    &mut signature,
                )
                .map_err(failed)?;
                Ok(signature)
            }
            Key::Es384(key) => key
                .sign(&self.random, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(failed),
        }
    }
}

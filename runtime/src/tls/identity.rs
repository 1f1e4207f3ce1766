//! Who is on the other end of a TLS connection, for the allow-list and the audit log.

use rustls::{CommonState, ProtocolVersion};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// The names in a peer's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The full subject distinguished name, such as `CN=lab-analyzer, O=Hospital`.
    pub subject: String,
    /// The subject's common name, if it has one.
    pub subject_cn: Option<String>,
    /// The DNS and URI subject alternative names.
    pub sans: Vec<String>,
}

impl PeerIdentity {
    /// The identity in a DER certificate; `None` when it does not parse.
    pub fn from_der(der: &[u8]) -> Option<PeerIdentity> {
        let (_, certificate) = X509Certificate::from_der(der).ok()?;
        let subject = certificate.subject();
        let subject_cn = subject
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let sans = match certificate.subject_alternative_name() {
            Ok(Some(extension)) => extension
                .value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(s) | GeneralName::URI(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Some(PeerIdentity {
            subject: subject.to_string(),
            subject_cn,
            sans,
        })
    }

    /// The name a message from this peer is known by (stored with it and
    /// given to plugins): the subject's common name, or else its first DNS
    /// or URI name, or else the whole subject.
    pub fn name(&self) -> &str {
        self.subject_cn
            .as_deref()
            .or(self.sans.first().map(String::as_str))
            .unwrap_or(&self.subject)
    }
}

/// The identity in the certificate the peer presented; `None` without one.
pub fn peer_identity(connection: &CommonState) -> Option<PeerIdentity> {
    PeerIdentity::from_der(connection.peer_certificates()?.first()?)
}

/// Whether `identity` is on the allow-list: its subject CN or one of its DNS or URI names
/// equals an entry, ignoring ASCII case. An empty list allows everyone.
pub fn check_allowed(identity: &PeerIdentity, allowed: &[String]) -> bool {
    allowed.is_empty()
        || identity
            .subject_cn
            .iter()
            .chain(&identity.sans)
            .any(|name| allowed.iter().any(|a| a.eq_ignore_ascii_case(name)))
}

/// The negotiated protocol version as the audit log writes it ("TLSv1.3", "TLSv1.2");
/// `None` before the handshake.
pub fn protocol_version(connection: &CommonState) -> Option<&'static str> {
    match connection.protocol_version()? {
        ProtocolVersion::TLSv1_3 => Some("TLSv1.3"),
        ProtocolVersion::TLSv1_2 => Some("TLSv1.2"),
        _ => Some("unsupported"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> PeerIdentity {
        PeerIdentity {
            subject: "CN=lab-analyzer".into(),
            subject_cn: Some("lab-analyzer".into()),
            sans: vec!["lab.example.org".into(), "urn:hl7wasm:lab".into()],
        }
    }

    /// Ensures that the allow-list matches the CN, any SAN, ignoring case, and nothing else.
    #[test]
    fn allow_list_matches_cn_or_san() {
        let allowed = |names: &[&str]| {
            let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            check_allowed(&identity(), &names)
        };
        assert!(allowed(&["lab-analyzer"]));
        assert!(allowed(&["other", "LAB.example.org"]));
        assert!(allowed(&["urn:hl7wasm:lab"]));
        assert!(allowed(&[]));
        assert!(!allowed(&["pharmacy"]));
        assert!(!allowed(&["CN=lab-analyzer"]));
    }
}

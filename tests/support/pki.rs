//! A throwaway PKI for TLS tests: a CA, a rogue CA, a server certificate
//! and client certificates, as PEM files in a temporary directory.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};

use hl7wasm::tls::TlsServerSettings;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tempfile::TempDir;

/// The PEM files: `ca.pem`, `rogue-ca.pem`, `server.{pem,key}` (SANs
/// localhost and 127.0.0.1), and client certificates `lab` (CN
/// lab-analyzer), `pharmacy` and `impostor` (CN lab-analyzer, signed by the
/// rogue CA). More server certificates can be issued by the CA.
pub struct Pki {
    /// The directory holding the files.
    pub dir: TempDir,
    ca: Issuer<'static, KeyPair>,
}

impl Pki {
    /// Generates every certificate.
    pub fn new() -> Pki {
        let dir = TempDir::new().unwrap();
        let ca = certificate_authority(dir.path(), "ca", "Test CA");
        let rogue = certificate_authority(dir.path(), "rogue-ca", "Rogue CA");
        write_issued(dir.path(), "server", server_params(), &ca);
        issue_client(dir.path(), "lab", "lab-analyzer", &ca);
        issue_client(dir.path(), "pharmacy", "pharmacy", &ca);
        issue_client(dir.path(), "impostor", "lab-analyzer", &rogue);
        Pki { dir, ca }
    }

    /// Issues `<name>.{pem,key}`: a server certificate like `server`'s,
    /// from the same CA, valid until `not_after`.
    pub fn issue_server(&self, name: &str, not_after: time::OffsetDateTime) {
        let mut params = server_params();
        params.not_after = not_after;
        write_issued(self.dir.path(), name, params, &self.ca);
    }

    /// Issues `<name>.{pem,key}`: a client certificate with CN `cn`, from
    /// the CA, valid until `not_after`.
    pub fn issue_client_until(&self, name: &str, cn: &str, not_after: time::OffsetDateTime) {
        let mut params = client_params(cn);
        params.not_after = not_after;
        write_issued(self.dir.path(), name, params, &self.ca);
    }

    /// The path of one file.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A listener's settings with the `server` certificate, no client CA.
    pub fn server_settings(&self) -> TlsServerSettings {
        TlsServerSettings {
            cert_file: self.path("server.pem"),
            key_file: self.path("server.key"),
            min_version: Default::default(),
            cipher_suites: None,
            client_ca_file: None,
            allowed_clients: Vec::new(),
        }
    }

    /// The same with mTLS: clients signed by the CA, those in `allowed`
    /// (any when empty).
    pub fn mtls_settings(&self, allowed: &[&str]) -> TlsServerSettings {
        TlsServerSettings {
            client_ca_file: Some(self.path("ca.pem")),
            allowed_clients: allowed.iter().map(|s| s.to_string()).collect(),
            ..self.server_settings()
        }
    }
}

fn certificate_authority(dir: &Path, name: &str, cn: &str) -> Issuer<'static, KeyPair> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    Issuer::new(params, key)
}

/// A server certificate's parameters: CN hl7wasm, SANs localhost and
/// 127.0.0.1.
fn server_params() -> CertificateParams {
    let sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let mut params = CertificateParams::new(sans).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "hl7wasm");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params
}

/// Issues `<name>.{pem,key}`: a client certificate with CN `cn`.
fn issue_client(dir: &Path, name: &str, cn: &str, ca: &Issuer<'_, KeyPair>) {
    write_issued(dir, name, client_params(cn), ca);
}

/// A client certificate's parameters: CN `cn`, no SANs.
fn client_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

/// Signs `params` with `ca` and writes `<name>.pem` and `<name>.key`.
fn write_issued(dir: &Path, name: &str, params: CertificateParams, ca: &Issuer<'_, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

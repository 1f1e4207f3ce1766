//! A throwaway PKI for TLS tests: a CA, a rogue CA, a server certificate
//! and client certificates, as PEM files in a temporary directory.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tempfile::TempDir;

/// The PEM files: `ca.pem`, `rogue-ca.pem`, `server.{pem,key}` (SANs
/// localhost and 127.0.0.1), and client certificates `lab` (CN
/// lab-analyzer), `pharmacy` and `impostor` (CN lab-analyzer, signed by the
/// rogue CA).
pub struct Pki {
    /// The directory holding the files.
    pub dir: TempDir,
}

impl Pki {
    /// Generates every certificate.
    pub fn new() -> Pki {
        let dir = TempDir::new().unwrap();
        let ca = certificate_authority(dir.path(), "ca", "Test CA");
        let rogue = certificate_authority(dir.path(), "rogue-ca", "Rogue CA");
        let server = ["localhost".to_string(), "127.0.0.1".to_string()];
        issue(dir.path(), "server", "hl7wasm", &server, &ca);
        issue(dir.path(), "lab", "lab-analyzer", &[], &ca);
        issue(dir.path(), "pharmacy", "pharmacy", &[], &ca);
        issue(dir.path(), "impostor", "lab-analyzer", &[], &rogue);
        Pki { dir }
    }

    /// The path of one file.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
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

fn issue(dir: &Path, name: &str, cn: &str, sans: &[String], ca: &Issuer<'_, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(sans.to_vec()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.extended_key_usages = vec![match sans.is_empty() {
        true => ExtendedKeyUsagePurpose::ClientAuth,
        false => ExtendedKeyUsagePurpose::ServerAuth,
    }];
    let cert = params.signed_by(&key, ca).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

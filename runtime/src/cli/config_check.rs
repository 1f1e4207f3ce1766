//! `hl7wasm config check`: validates a configuration file without starting
//! anything, for a review or a deploy pipeline.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hl7wasm::alerting::rules;
use hl7wasm::config;
use hl7wasm::deliver::{Connector, TargetConfig};
use hl7wasm::hl7_input::now_unix_ms;
use hl7wasm::tls::{CertificateSummary, ServerTls, TlsEndpoint};

/// Arguments of `hl7wasm config check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The configuration file.
    file: PathBuf,
}

/// Parses the file, then loads what each channel refers to (TLS
/// certificates and keys, destination URLs and file name patterns) and the
/// admin API's TLS files. Prints a summary, the risky settings (see
/// [`config::warnings`]) and the certificates (listeners' and destinations'
/// client certificates) that end within
/// `[alerts] certificate_expiry_days`; the first problem names the file,
/// the channel and the key.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let config = config::load_file(&args.file)?;
    let origin = args.file.display();
    let mut certificates: Vec<(TlsEndpoint, CertificateSummary)> = Vec::new();
    for channel in &config.channels {
        if let Some(tls) = channel.source.tls() {
            let loaded = ServerTls::load(tls).with_context(|| {
                format!("{origin}: channel \"{}\", key source.tls", channel.name)
            })?;
            certificates.push((
                TlsEndpoint::Channel(channel.name.clone()),
                loaded.certificate(),
            ));
        }
        for (index, destination) in channel.destinations.iter().enumerate() {
            if matches!(destination.to, TargetConfig::Channel(_)) {
                continue;
            }
            let at = || {
                format!(
                    "{origin}: channel \"{}\", key destinations[{index}].to",
                    channel.name
                )
            };
            Connector::new(&destination.to).with_context(at)?;
            if let Some(cert_file) = destination.to.client_certificate_file() {
                let endpoint = TlsEndpoint::Destination {
                    channel: channel.name.clone(),
                    destination: destination.name.clone(),
                };
                let certificate = CertificateSummary::of_file(cert_file).with_context(at)?;
                certificates.push((endpoint, certificate));
            }
        }
        let profile = channel
            .validation_profile
            .as_ref()
            .map(|name| format!(", profile {name}"))
            .unwrap_or_default();
        say!(
            "channel {}: {}, {} plugin(s), {} destination(s), {} partition(s){profile}",
            channel.name,
            channel.source.describe(),
            channel.pipeline.len(),
            channel.destinations.len(),
            channel.partitions
        );
    }
    if let Some(tls) = config.admin.tls.as_ref().filter(|_| config.admin.enabled) {
        let loaded = ServerTls::load(tls).with_context(|| format!("{origin}: key admin.tls"))?;
        certificates.push((TlsEndpoint::Admin, loaded.certificate()));
    }
    for warning in config::warnings(&config) {
        say!("warning: {origin}: {warning}");
    }
    let now_secs = i64::try_from(now_unix_ms() / 1000).unwrap_or(i64::MAX);
    for (listener, certificate) in &certificates {
        let listener = listener.to_string();
        if let Some(text) =
            rules::certificate_expiry(&listener, certificate, now_secs, &config.alerts)
        {
            say!("warning: {origin}: {text}");
        }
    }
    say!("{origin}: OK");
    Ok(ExitCode::SUCCESS)
}

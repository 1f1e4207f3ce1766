//! `hl7wasm config check`: validates a configuration file without starting
//! anything, for a review or a deploy pipeline.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hl7wasm::config;
use hl7wasm::deliver::{Connector, TargetConfig};

/// Arguments of `hl7wasm config check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The configuration file.
    file: PathBuf,
}

/// Parses the file, then loads what each channel refers to (TLS
/// certificates and keys, destination URLs and file name patterns). Prints
/// a summary and the risky settings (see [`config::warnings`]); the first
/// problem names the file, the channel and the key.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let config = config::load_file(&args.file)?;
    let origin = args.file.display();
    for channel in &config.channels {
        if let Some(tls) = channel.source.tls() {
            hl7wasm::tls::server_config(tls).with_context(|| {
                format!("{origin}: channel \"{}\", key source.tls", channel.name)
            })?;
        }
        for (index, destination) in channel.destinations.iter().enumerate() {
            if !matches!(destination.to, TargetConfig::Channel(_)) {
                Connector::new(&destination.to).with_context(|| {
                    format!(
                        "{origin}: channel \"{}\", key destinations[{index}].to",
                        channel.name
                    )
                })?;
            }
        }
        let profile = channel
            .validation_profile
            .as_ref()
            .map(|name| format!(", profile {name}"))
            .unwrap_or_default();
        println!(
            "channel {}: {}, {} plugin(s), {} destination(s), {} partition(s){profile}",
            channel.name,
            channel.source.describe(),
            channel.pipeline.len(),
            channel.destinations.len(),
            channel.partitions
        );
    }
    for warning in config::warnings(&config) {
        println!("warning: {origin}: {warning}");
    }
    println!("{origin}: OK");
    Ok(ExitCode::SUCCESS)
}

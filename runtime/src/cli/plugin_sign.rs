//! `hl7wasm plugin keygen` and `hl7wasm plugin sign`: a vendor's signing
//! key, and components signed with it (see `hl7wasm::plugin::signature`).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hl7wasm::plugin::signature::{self, PluginMetadata};
use hl7wasm::plugin::{EngineSettings, PACKAGE_VERSION, PluginEngine, PluginLimits, PluginVersion};

/// Arguments of `hl7wasm plugin keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Where to write the private key (hex, mode 0600); refused if it exists.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// Arguments of `hl7wasm plugin sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The private key file written by `hl7wasm plugin keygen`.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The licence to state in the signed metadata (an SPDX id).
    #[arg(long, default_value = "proprietary")]
    license: String,
    /// Where to write the signed component; by default next to the input,
    /// as `<name>.signed.wasm`.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The component to sign.
    plugin: PathBuf,
}

/// Writes a new private key and prints its public key, for the engines'
/// `plugins.trusted_keys`.
///
/// # Errors
/// When the file exists or cannot be written.
pub fn keygen(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let private =
        signature::generate_key().map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&args.out)
        .with_context(|| {
            format!(
                "cannot create {} (it must not exist yet)",
                args.out.display()
            )
        })?;
    writeln!(file, "{private}")?;
    say!("{}", signature::public_key(&private)?);
    eprintln!(
        "private key written to {}; add the public key above to plugins.trusted_keys",
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Loads the component (it must pass the host's checks), signs it with its
/// `info()` and the licence as metadata, and writes the signed copy.
///
/// # Errors
/// When the key or component cannot be read, the component is refused,
/// or the output cannot be written.
pub fn sign(args: &SignArgs) -> anyhow::Result<ExitCode> {
    let private = std::fs::read_to_string(&args.key)
        .with_context(|| format!("cannot read {}", args.key.display()))?;
    let bytes = std::fs::read(&args.plugin)
        .with_context(|| format!("cannot read {}", args.plugin.display()))?;
    let engine = PluginEngine::new(&EngineSettings::default())?;
    let version = PluginVersion::load(&engine, None, &bytes, &PluginLimits::default())
        .with_context(|| format!("{} was refused", args.plugin.display()))?;
    let info = &version.info;
    let metadata = PluginMetadata {
        name: info.name.clone(),
        version: info.version.clone(),
        vendor: info.vendor.clone(),
        license: args.license.clone(),
        message_types: info.message_types.clone(),
        min_host_wit: PACKAGE_VERSION.to_string(),
    };
    let signed = signature::sign(&bytes, &metadata, &private)?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.plugin.with_extension("signed.wasm"));
    std::fs::write(&output, signed)
        .with_context(|| format!("cannot write {}", output.display()))?;
    say!(
        "{} signed by {} → {}",
        version.label(),
        signature::public_key(&private)?,
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

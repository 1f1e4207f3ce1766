//! `hl7wasm validate`: checks message files against a conformance profile
//! of a configuration file, offline, to write and test a profile before a
//! channel uses it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use hl7wasm::config;
use hl7wasm::validation::Profile;

use super::message_files::each_message;

/// Arguments of `hl7wasm validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The configuration file holding the profile.
    #[arg(long)]
    config: PathBuf,
    /// The profile's name under `[profiles]`.
    #[arg(long, required_unless_present = "channel", conflicts_with = "channel")]
    profile: Option<String>,
    /// The channel whose `validation_profile` to use.
    #[arg(long)]
    channel: Option<String>,
    /// HL7 v2 files: one message each, or a batch (FHS/BHS ... BTS/FTS).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Prints, for every message, the answer a channel with this profile would
/// give (AA or AR) and each finding; exit code 1 when any message is
/// refused or cannot be parsed.
pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let config = config::load_file(&args.config)?;
    let origin = args.config.display();
    let name = match (&args.profile, &args.channel) {
        (Some(profile), _) => profile.clone(),
        (None, Some(channel)) => {
            let Some(channel) = config.channel(channel) else {
                bail!("{origin}: there is no channel {channel:?}");
            };
            let Some(profile) = &channel.validation_profile else {
                bail!(
                    "{origin}: channel {:?} has no validation_profile",
                    channel.name
                );
            };
            profile.clone()
        }
        (None, None) => bail!("give --profile or --channel"),
    };
    let Some(written) = config.profiles.get(&name) else {
        let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        bail!("{origin}: there is no [profiles.{name}]; profiles in the file: {known}");
    };
    let profile = Profile::compile(&name, written).map_err(anyhow::Error::msg)?;
    each_message(&args.files, |file, index, message| {
        let header = message.header();
        let findings = profile.check(message);
        let answer = if findings.refuses() { "AR" } else { "AA" };
        say!(
            "{} message {index} (MSH-10 {}, {}): {answer}",
            file.display(),
            header.control_id().unwrap_or("-"),
            header.message_type().event().as_deref().unwrap_or("-"),
        );
        for detail in &findings.details {
            let (severity, code) = (detail.severity.code(), detail.code.code());
            say!("  {severity} {code} {}", detail.message);
        }
        if findings.total > findings.details.len() {
            say!("  … {} more", findings.total - findings.details.len());
        }
        Ok(!findings.refuses())
    })
}

//! `hl7wasm plugins`: list the engine's plugin versions, upload a new one,
//! and activate or roll back a version for a channel's stage, over the
//! admin API.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Map;

use super::api::{self, Api, ApiArgs};

/// The `plugins` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PluginsCommand {
    /// List every loaded version with its hash and info.
    ///
    /// Example: hl7wasm plugins list
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Upload a plugin component; the engine checks and keeps it (admin
    /// token). A refused component leaves the loaded versions alone.
    ///
    /// Example: hl7wasm plugins upload target/wasm32-wasip2/release/my_plugin.wasm
    Upload {
        /// The component (.wasm).
        file: PathBuf,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Run another version in one pipeline stage of a channel, without a
    /// restart (admin token); prints the version it replaced.
    ///
    /// Example: hl7wasm plugins activate --channel adt --stage 0 1.2.0
    Activate {
        /// The channel.
        #[arg(long)]
        channel: String,
        /// The stage's index in the channel's pipeline.
        #[arg(long, default_value_t = 0)]
        stage: usize,
        /// `latest`, a version, or a sha256 prefix (8+ hex digits).
        version: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Go back to the version the stage's last activation replaced.
    ///
    /// Example: hl7wasm plugins rollback --channel adt --stage 0
    Rollback {
        /// The channel.
        #[arg(long)]
        channel: String,
        /// The stage's index in the channel's pipeline.
        #[arg(long, default_value_t = 0)]
        stage: usize,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// Runs a `plugins` subcommand and prints the API's answer.
///
/// # Errors
/// When the file cannot be read, or the API cannot be reached or refuses.
pub fn run(command: &PluginsCommand) -> anyhow::Result<ExitCode> {
    api::block_on(async {
        let answer = match command {
            PluginsCommand::List { api } => {
                Api::new(api)?.get("/api/v1/plugins", &Map::new()).await?
            }
            PluginsCommand::Upload { file, api } => {
                let bytes = std::fs::read(file)
                    .with_context(|| format!("cannot read {}", file.display()))?;
                Api::new(api)?
                    .post_bytes("/api/v1/plugins", "application/wasm", bytes)
                    .await?
            }
            PluginsCommand::Activate {
                channel,
                stage,
                version,
                api,
            } => {
                let path = format!("/api/v1/channels/{channel}/stages/{stage}/activate");
                let body = serde_json::json!({ "version": version });
                Api::new(api)?.post_json(&path, &body).await?
            }
            PluginsCommand::Rollback {
                channel,
                stage,
                api,
            } => {
                let path = format!("/api/v1/channels/{channel}/stages/{stage}/rollback");
                Api::new(api)?
                    .post_json(&path, &serde_json::json!({}))
                    .await?
            }
        };
        api::print(&answer);
        Ok(ExitCode::SUCCESS)
    })
}

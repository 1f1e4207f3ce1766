//! `hl7wasm plugins`: list the engine's plugin versions and upload a new
//! one over the admin API.

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
        };
        api::print(&answer);
        Ok(ExitCode::SUCCESS)
    })
}

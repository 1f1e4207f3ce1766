//! `hl7wasm config reload`: has a running engine read its configuration
//! file again and apply what changed in its channels, over the admin API
//! (operator token); the same as sending it SIGHUP, from anywhere the API
//! can be reached.

use std::process::ExitCode;

use serde_json::{Map, Value};

use super::api::{self, Api, ApiArgs};

/// Arguments of `hl7wasm config reload`.
#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    api: ApiArgs,
}

/// Asks for the reload and prints which channels started, restarted,
/// stopped and stayed.
///
/// # Errors
/// When the API cannot be reached, or refuses the reload: the error says
/// why (the file's error, the sections that need a restart, ...).
pub fn run(args: &ReloadArgs) -> anyhow::Result<ExitCode> {
    api::block_on(async {
        let report = Api::new(&args.api)?
            .post_json("/api/v1/config/reload", &Value::Object(Map::new()))
            .await?;
        api::print(&report);
        Ok(ExitCode::SUCCESS)
    })
}

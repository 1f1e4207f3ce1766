//! `hl7wasm config reload`: has a running engine read its configuration
//! file again and apply what changed, over the admin API (operator
//! token); the same as sending it SIGHUP, from anywhere the API can be
//! reached. With `--dry-run` it only says what a reload would do.

use std::process::ExitCode;

use serde_json::{Map, Value};

use super::api::{self, Api, ApiArgs};

/// Arguments of `hl7wasm config reload`.
#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Say what a reload would do (with the same checks), apply nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Asks for the reload and prints which channels started, restarted,
/// stopped and stayed, and which settings changed.
///
/// # Errors
/// When the API cannot be reached, or refuses the reload: the error says
/// why (the file's error, the sections that need a restart, ...).
pub fn run(args: &ReloadArgs) -> anyhow::Result<ExitCode> {
    api::block_on(async {
        let path = match args.dry_run {
            true => "/api/v1/config/reload?dry_run=true",
            false => "/api/v1/config/reload",
        };
        let report = Api::new(&args.api)?
            .post_json(path, &Value::Object(Map::new()))
            .await?;
        api::print(&report);
        Ok(ExitCode::SUCCESS)
    })
}

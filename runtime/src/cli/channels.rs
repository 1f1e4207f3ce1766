//! `hl7wasm channels`: the engine's channels, or one channel's counters or
//! queues, over the admin API.

use std::process::ExitCode;

use serde_json::Map;

use super::api::{self, Api, ApiArgs};

/// Arguments of `hl7wasm channels`.
#[derive(Debug, clap::Args)]
pub struct ChannelsArgs {
    /// One channel: its counters and dead letters. Without it, every
    /// channel's configuration in brief.
    name: Option<String>,
    /// With NAME: the channel's queue depths instead.
    #[arg(long, requires = "name")]
    queues: bool,
    #[command(flatten)]
    api: ApiArgs,
}

/// Prints the channels, one channel or its queues.
///
/// # Errors
/// When the API cannot be reached or refuses.
pub fn run(args: &ChannelsArgs) -> anyhow::Result<ExitCode> {
    let path = match (&args.name, args.queues) {
        (None, _) => "/api/v1/channels".to_owned(),
        (Some(name), false) => format!("/api/v1/channels/{name}"),
        (Some(name), true) => format!("/api/v1/channels/{name}/queues"),
    };
    api::block_on(async {
        api::print(&Api::new(&args.api)?.get(&path, &Map::new()).await?);
        Ok(ExitCode::SUCCESS)
    })
}

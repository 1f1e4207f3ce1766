//! `hl7wasm channels`: the engine's channels, one channel's counters or
//! queues, and stopping, starting, pausing and resuming a channel, over the
//! admin API.

use std::process::ExitCode;

use serde_json::{Map, Value};

use super::api::{self, Api, ApiArgs};

/// Arguments of `hl7wasm channels`: a listing (`channels [NAME]`) or an
/// action (`channels pause NAME`).
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ChannelsArgs {
    #[command(subcommand)]
    action: Option<ChannelAction>,
    /// One channel: its state, counters, rates and dead letters. Without
    /// it, every channel's configuration in brief and state.
    name: Option<String>,
    /// With NAME: the channel's queue depths instead.
    #[arg(long, requires = "name")]
    queues: bool,
    #[command(flatten)]
    api: ApiArgs,
}

/// What an operator can do to a channel (operator token). The engine keeps
/// the state across restarts.
#[derive(Debug, clap::Subcommand)]
enum ChannelAction {
    /// Close the channel's MLLP listener and hold processing and delivery.
    ///
    /// Example: hl7wasm channels stop adt
    Stop(ActionArgs),
    /// Listen on the same address again and run.
    ///
    /// Example: hl7wasm channels start adt
    Start(ActionArgs),
    /// Keep receiving and ACKing, hold processing and delivery.
    ///
    /// Example: hl7wasm channels pause adt
    Pause(ActionArgs),
    /// Let a paused channel's processing and delivery go on.
    ///
    /// Example: hl7wasm channels resume adt
    Resume(ActionArgs),
}

/// The channel an action applies to.
#[derive(Debug, clap::Args)]
struct ActionArgs {
    /// The channel.
    name: String,
    #[command(flatten)]
    api: ApiArgs,
}

impl ChannelAction {
    /// The action's path segment and its arguments.
    fn parts(&self) -> (&'static str, &ActionArgs) {
        match self {
            ChannelAction::Stop(args) => ("stop", args),
            ChannelAction::Start(args) => ("start", args),
            ChannelAction::Pause(args) => ("pause", args),
            ChannelAction::Resume(args) => ("resume", args),
        }
    }
}

/// Prints the channels, one channel or its queues, or applies an action
/// and prints the channel's state before and after.
///
/// # Errors
/// When the API cannot be reached or refuses.
pub fn run(args: &ChannelsArgs) -> anyhow::Result<ExitCode> {
    api::block_on(async {
        let answer = match &args.action {
            Some(action) => {
                let (verb, target) = action.parts();
                let path = format!("/api/v1/channels/{}/{verb}", target.name);
                Api::new(&target.api)?
                    .post_json(&path, &Value::Object(Map::new()))
                    .await?
            }
            None => {
                Api::new(&args.api)?
                    .get(&list_path(args), &Map::new())
                    .await?
            }
        };
        api::print(&answer);
        Ok(ExitCode::SUCCESS)
    })
}

fn list_path(args: &ChannelsArgs) -> String {
    match (&args.name, args.queues) {
        (None, _) => "/api/v1/channels".to_owned(),
        (Some(name), false) => format!("/api/v1/channels/{name}"),
        (Some(name), true) => format!("/api/v1/channels/{name}/queues"),
    }
}

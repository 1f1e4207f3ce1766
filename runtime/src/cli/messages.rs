//! `hl7wasm messages search`: find stored messages by metadata over the
//! admin API (no bodies).

use std::process::ExitCode;

use super::api::{self, Api, ApiArgs};

/// The `messages` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MessagesCommand {
    /// Search messages by control id, type, time or state, newest first.
    ///
    /// Example: hl7wasm messages search --control-id MSG00042
    Search(SearchArgs),
}

/// Arguments of `hl7wasm messages search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The channel.
    #[arg(long)]
    channel: Option<String>,
    /// MSH-10, exactly.
    #[arg(long)]
    control_id: Option<String>,
    /// MSH-9: ADT, or ADT^A01.
    #[arg(long = "type")]
    message_type: Option<String>,
    /// Received at or after this time (ms since the Unix epoch).
    #[arg(long)]
    since_ms: Option<u64>,
    /// Received before this time.
    #[arg(long)]
    until_ms: Option<u64>,
    /// pending, processed, filtered, retrying or dead_lettered.
    #[arg(long)]
    status: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    limit: usize,
    #[command(flatten)]
    api: ApiArgs,
}

/// Prints the matching messages.
///
/// # Errors
/// When the API cannot be reached or refuses.
pub fn run(command: &MessagesCommand) -> anyhow::Result<ExitCode> {
    let MessagesCommand::Search(args) = command;
    let query = api::fields(
        &[
            ("channel", &args.channel),
            ("control_id", &args.control_id),
            ("type", &args.message_type),
            ("status", &args.status),
        ],
        &[
            ("since_ms", args.since_ms),
            ("until_ms", args.until_ms),
            ("limit", Some(args.limit as u64)),
        ],
    );
    api::block_on(async {
        api::print(&Api::new(&args.api)?.get("/api/v1/messages", &query).await?);
        Ok(ExitCode::SUCCESS)
    })
}

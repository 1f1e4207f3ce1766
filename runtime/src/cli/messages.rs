//! `hl7wasm messages search|reprocess`: find stored messages by metadata
//! (no bodies), and run them through their channel's pipeline again, over
//! the admin API.

use std::process::ExitCode;

use serde_json::{Map, Value};

use super::api::{self, Api, ApiArgs};
use super::instant;
use hl7wasm::admin::NEXT_BEFORE_ID;

/// The `messages` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MessagesCommand {
    /// Search messages by control id, type, time or state, newest first;
    /// or by a field's value (admin token).
    ///
    /// Example: hl7wasm messages search --control-id MSG00042
    ///
    /// Example: hl7wasm messages search --field PID-3.1 --value 4711 --since 2026-11-28
    Search {
        #[command(flatten)]
        filter: FilterArgs,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Run matching messages through their channel's pipeline again (the
    /// plugin versions active now) and deliver their outputs again; only
    /// messages through the pipeline are queued (operator token).
    ///
    /// Example: hl7wasm messages reprocess --channel adt --status filtered --since 2h
    Reprocess {
        #[command(flatten)]
        filter: FilterArgs,
        /// Reprocess the newest `--limit` messages of every channel (needed
        /// when no filter is given).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// Which messages: the newest `limit` that match every field given.
#[derive(Debug, clap::Args)]
pub struct FilterArgs {
    /// The message with this store id.
    #[arg(long)]
    id: Option<u64>,
    /// The channel.
    #[arg(long)]
    channel: Option<String>,
    /// MSH-10, exactly.
    #[arg(long)]
    control_id: Option<String>,
    /// The name in the sender's TLS client certificate, exactly.
    #[arg(long)]
    peer_certificate: Option<String>,
    /// MSH-9: ADT, or ADT^A01.
    #[arg(long = "type")]
    message_type: Option<String>,
    /// Received at or after this time: 2026-11-29T08:00:00Z, a date, a
    /// span back from now (15m, 2h, 7d) or ms since the Unix epoch.
    #[arg(long, alias = "since-ms", value_name = "TIME", value_parser = instant::parse_ms)]
    since: Option<u64>,
    /// Received before this time (the same forms).
    #[arg(long, alias = "until-ms", value_name = "TIME", value_parser = instant::parse_ms)]
    until: Option<u64>,
    /// pending, processed, filtered, retrying, dead_lettered or requeued.
    #[arg(long)]
    status: Option<String>,
    /// At most this many (the API allows 1000).
    #[arg(long, default_value_t = 100)]
    limit: u64,
    /// Only messages with a lower store id: where an earlier search that
    /// read its --scan-limit stopped.
    #[arg(long)]
    before_id: Option<u64>,
    /// Read at most this many stored messages, newest first (the API's
    /// default and most: 1,000,000).
    #[arg(long)]
    scan_limit: Option<u64>,
    /// A field that must hold --value, as a path such as PID-3.1 (every
    /// repetition of the field unless the path names one); admin token.
    #[arg(long, requires = "value")]
    field: Option<String>,
    /// The value --field must hold, exactly. Kept out of the audit log.
    #[arg(long, requires = "field")]
    value: Option<String>,
}

impl FilterArgs {
    /// The fields given, as the API reads them; without `limit`.
    fn fields(&self) -> Map<String, Value> {
        api::fields(
            &[
                ("channel", &self.channel),
                ("control_id", &self.control_id),
                ("peer_certificate", &self.peer_certificate),
                ("type", &self.message_type),
                ("status", &self.status),
                ("field", &self.field),
                ("value", &self.value),
            ],
            &[
                ("id", self.id),
                ("since_ms", self.since),
                ("until_ms", self.until),
                ("before_id", self.before_id),
                ("scan_limit", self.scan_limit),
            ],
        )
    }
}

/// Runs a `messages` subcommand and prints the API's answer.
///
/// # Errors
/// When the API cannot be reached or refuses, or `reprocess` has neither a
/// filter nor `--all`.
pub fn run(command: &MessagesCommand) -> anyhow::Result<ExitCode> {
    api::block_on(async {
        let answer = match command {
            MessagesCommand::Search { filter, api } => {
                // POSTed, so that a --value (a patient's number) is in no URL.
                let mut query = filter.fields();
                query.insert("limit".into(), filter.limit.into());
                let (found, headers) = Api::new(api)?
                    .post_json_answer("/api/v1/messages/search", &Value::Object(query))
                    .await?;
                if let Some(next) = headers.get(NEXT_BEFORE_ID).and_then(|v| v.to_str().ok()) {
                    eprintln!(
                        "The search stopped after reading its scan limit of stored messages; \
                         older ones may match: search on with --before-id {next}, or narrow it with --since."
                    );
                }
                found
            }
            MessagesCommand::Reprocess { filter, all, api } => {
                let mut body = filter.fields();
                api::ensure_filtered(
                    &body,
                    *all,
                    "reprocess the newest messages of every channel",
                    "--channel, --id",
                )?;
                body.insert("limit".into(), filter.limit.into());
                Api::new(api)?
                    .post_json("/api/v1/messages/reprocess", &Value::Object(body))
                    .await?
            }
        };
        api::print(&answer);
        Ok(ExitCode::SUCCESS)
    })
}

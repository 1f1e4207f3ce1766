//! `hl7wasm dlq`: list, inspect, reprocess and purge dead letters over the
//! admin API.

use std::process::ExitCode;

use serde_json::{Map, Value};

use super::api::{self, Api, ApiArgs};
use super::instant;

/// Which dead letters a `dlq` command applies to.
#[derive(Debug, Clone, clap::Args)]
pub struct FilterArgs {
    /// Only this channel's.
    #[arg(long)]
    channel: Option<String>,
    /// Only this destination's (`pipeline` for pipeline failures).
    #[arg(long)]
    destination: Option<String>,
    /// Only for this reason: plugin_rejected, plugin_retries_exhausted,
    /// rejected, retries_exhausted or not_configured.
    #[arg(long)]
    reason: Option<String>,
    /// Only this dead letter.
    #[arg(long)]
    sequence: Option<u64>,
    /// Last failure at or after this time: 2026-11-29T08:00:00Z, a date,
    /// a span back from now (15m, 2h, 7d) or ms since the Unix epoch.
    #[arg(long, alias = "since-ms", value_name = "TIME", value_parser = instant::parse_ms)]
    since: Option<u64>,
    /// Last failure before this time (the same forms).
    #[arg(long, alias = "until-ms", value_name = "TIME", value_parser = instant::parse_ms)]
    until: Option<u64>,
}

impl FilterArgs {
    /// The filter as the API reads it: only the fields given.
    fn to_json(&self) -> Map<String, Value> {
        api::fields(
            &[
                ("channel", &self.channel),
                ("destination", &self.destination),
                ("reason", &self.reason),
            ],
            &[
                ("sequence", self.sequence),
                ("since_ms", self.since),
                ("until_ms", self.until),
            ],
        )
    }
}

/// The `dlq` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DlqCommand {
    /// List dead letters (metadata only).
    ///
    /// Example: hl7wasm dlq list --channel adt --reason rejected
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// At most this many, oldest first.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show one dead letter; its payload needs an admin token.
    ///
    /// Example: hl7wasm dlq show 42
    Show {
        /// The dead letter's sequence.
        sequence: u64,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Put matching dead letters back in their queues, to be delivered once
    /// more (operator token).
    ///
    /// Example: hl7wasm dlq reprocess --channel adt --destination emr
    Reprocess {
        #[command(flatten)]
        filter: FilterArgs,
        /// Reprocess every dead letter (needed when no filter is given).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete matching dead letters (operator token).
    ///
    /// Example: hl7wasm dlq purge --until 30d
    Purge {
        #[command(flatten)]
        filter: FilterArgs,
        /// Purge every dead letter (needed when no filter is given).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// Runs a `dlq` subcommand and prints the API's answer.
///
/// # Errors
/// When the API cannot be reached or refuses, or a bulk action has neither
/// a filter nor `--all`.
pub fn run(command: &DlqCommand) -> anyhow::Result<ExitCode> {
    api::block_on(async {
        let answer = match command {
            DlqCommand::List { filter, limit, api } => {
                let mut query = filter.to_json();
                query.insert("limit".into(), Value::from(*limit));
                Api::new(api)?.get("/api/v1/dead-letters", &query).await?
            }
            DlqCommand::Show { sequence, api } => {
                Api::new(api)?
                    .get(&format!("/api/v1/dead-letters/{sequence}"), &Map::new())
                    .await?
            }
            DlqCommand::Reprocess { filter, all, api } => {
                bulk(api, filter, *all, "reprocess").await?
            }
            DlqCommand::Purge { filter, all, api } => bulk(api, filter, *all, "purge").await?,
        };
        api::print(&answer);
        Ok(ExitCode::SUCCESS)
    })
}

async fn bulk(
    api: &ApiArgs,
    filter: &FilterArgs,
    all: bool,
    action: &str,
) -> anyhow::Result<Value> {
    let filter = filter.to_json();
    api::ensure_filtered(
        &filter,
        all,
        &format!("{action} every dead letter"),
        "--channel, --sequence",
    )?;
    Api::new(api)?
        .post_json(
            &format!("/api/v1/dead-letters/{action}"),
            &Value::Object(filter),
        )
        .await
}

//! `hl7wasm plugin run`: runs a plugin on message files and prints each
//! output or error.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use hl7wasm::hl7_input::InboundMessage;
use hl7wasm::plugin::{
    EngineSettings, FHIR_JSON_CONTENT_TYPE, LookupTables, Message, PluginEngine, PluginLimits,
    PluginVersion, PluginWorker, StageOutcome, StageSettings,
};

/// Arguments of `hl7wasm plugin run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The plugin component (.wasm).
    plugin: PathBuf,
    /// The plugin's settings, as JSON.
    #[arg(long, default_value = "{}")]
    config: String,
    /// A lookup table for the plugin, as `TABLE=FILE`; repeat for more
    /// tables. FILE is TOML, `key = "value"` lines: the body of a
    /// `[lookups.TABLE]` section of the engine config.
    #[arg(long = "lookup", value_name = "TABLE=FILE", value_parser = table_file)]
    lookups: Vec<(String, PathBuf)>,
    /// The deadline of each call, in milliseconds.
    #[arg(long, default_value_t = PluginLimits::default().deadline_ms)]
    deadline_ms: u64,
    /// The channel name the plugin sees in each message's metadata.
    #[arg(long, default_value = "cli")]
    channel: String,
    /// The sender's client certificate name the plugin sees in each
    /// message's metadata, as if it came over mTLS.
    #[arg(long, value_name = "NAME")]
    peer_certificate: Option<String>,
    /// Message files: HL7 v2 messages or batches, or FHIR JSON (`.json`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Runs the plugin on every message of every file; exit code 1 when any
/// message failed or could not be read.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let mut worker = start_worker(args)?;
    let mut failures = 0;
    for file in &args.files {
        let inputs = match std::fs::read(file)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| read_messages(&bytes, file))
        {
            Ok(inputs) => inputs,
            Err(error) => {
                say!("# {}\nerror: {error}", file.display());
                failures += 1;
                continue;
            }
        };
        for (index, input) in inputs.into_iter().enumerate() {
            let label = describe(&input);
            say!("# {} message {} ({label})", file.display(), index + 1);
            let metadata = input.metadata(&args.channel, args.peer_certificate.as_deref());
            failures += usize::from(!print_outcome(worker.transform(input.message, metadata)));
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn start_worker(args: &RunArgs) -> anyhow::Result<PluginWorker> {
    serde_json::from_str::<serde_json::Value>(&args.config)
        .context("--config is not valid JSON")?;
    let bytes = std::fs::read(&args.plugin)
        .with_context(|| format!("cannot read {}", args.plugin.display()))?;
    let limits = PluginLimits {
        deadline_ms: args.deadline_ms,
        ..PluginLimits::default()
    };
    let engine = PluginEngine::new(&EngineSettings::default())?;
    let version = PluginVersion::load(&engine, None, &bytes, &limits)
        .with_context(|| format!("{} was refused", args.plugin.display()))?;
    eprintln!("loaded {} in {:?}", version.label(), version.load_time);
    let settings = StageSettings {
        limits,
        config_json: args.config.clone(),
        lookups: read_lookups(&args.lookups)?,
        ..StageSettings::default()
    };
    let mut worker = PluginWorker::new(version, Arc::new(settings));
    worker
        .warm_up()
        .map_err(|failure| anyhow::anyhow!("the plugin did not start: {failure}"))?;
    Ok(worker)
}

/// Parses `TABLE=FILE`.
fn table_file(arg: &str) -> Result<(String, PathBuf), String> {
    match arg.split_once('=') {
        Some((table, file)) if !table.is_empty() && !file.is_empty() => {
            Ok((table.to_string(), PathBuf::from(file)))
        }
        _ => Err(format!("expected TABLE=FILE, not {arg:?}")),
    }
}

/// Reads each `--lookup` table file.
fn read_lookups(files: &[(String, PathBuf)]) -> anyhow::Result<LookupTables> {
    let mut tables = HashMap::new();
    for (table, file) in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let entries: HashMap<String, String> = toml::from_str(&text)
            .with_context(|| format!("{} is not a TOML table of strings", file.display()))?;
        tables.insert(table.clone(), entries);
    }
    Ok(Arc::new(tables))
}

/// The messages in one file: a FHIR JSON document, or HL7 v2 (one message or
/// a batch).
fn read_messages(bytes: &[u8], file: &std::path::Path) -> anyhow::Result<Vec<InboundMessage>> {
    if file.extension().is_some_and(|ext| ext == "json") {
        let body = String::from_utf8(bytes.to_vec()).context("the JSON file is not UTF-8")?;
        let message = Message {
            content_type: FHIR_JSON_CONTENT_TYPE.into(),
            body,
        };
        return Ok(vec![InboundMessage {
            message,
            control_id: None,
            message_type: None,
            sending_facility: None,
        }]);
    }
    let batch = hl7v2::split_batch(bytes)?;
    batch
        .messages
        .iter()
        .map(|raw| InboundMessage::parse(raw).map_err(anyhow::Error::from))
        .collect()
}

fn describe(input: &InboundMessage) -> String {
    match (&input.message_type, &input.control_id) {
        (Some(kind), Some(id)) => format!("{kind}, MSH-10 {id}"),
        (Some(kind), None) => kind.clone(),
        _ => input.message.content_type.clone(),
    }
}

/// Prints one outcome; returns whether it was a success.
fn print_outcome(outcome: StageOutcome) -> bool {
    match outcome {
        StageOutcome::Forward(messages) => {
            say!("forward: {} message(s)", messages.len());
            for message in messages {
                say!("--- {}", message.content_type);
                say!("{}", message.body.replace('\r', "\n"));
            }
            true
        }
        StageOutcome::Filter(reason) => {
            say!("filtered: {reason}");
            true
        }
        StageOutcome::Skipped(_) => {
            say!("skipped: the plugin does not accept this message type");
            true
        }
        StageOutcome::Failed(failure) => {
            let kind = match failure.disposition {
                hl7wasm::plugin::Disposition::Reject => "rejected",
                hl7wasm::plugin::Disposition::Retry => "retry",
            };
            say!("{kind} ({}): {}", failure.cause, failure.text);
            if let Some(at) = failure.location {
                say!("at: {}-{}", at.segment, at.field.unwrap_or(0));
            }
            false
        }
    }
}

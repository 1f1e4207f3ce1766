//! `hl7wasm plugins`: list the engine's plugin versions, upload a new one
//! (optionally with self-tests), activate or roll back a version for a
//! channel's stage, and delete a version no stage runs, over the admin API.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use hl7wasm::plugin::content_hash;
use hl7wasm::plugin::self_test::Expect;
use serde_json::{Map, Value, json};

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
    /// With `--self-test`, each message file must get its expected outcome
    /// (forward by default) on a fresh instance before the version is kept.
    ///
    /// Example: hl7wasm plugins upload target/wasm32-wasip2/release/my_plugin.wasm
    /// --self-test samples/a01.hl7 --self-test samples/junk.hl7:reject
    Upload {
        /// The component (.wasm).
        file: PathBuf,
        /// A file with one HL7 v2 message, and after a colon the outcome it
        /// must have: forward (the default), filter, reject, retry or skip.
        #[arg(long = "self-test", value_name = "MSG_FILE[:EXPECT]")]
        self_tests: Vec<String>,
        /// The plugin configuration the self-tests run with, a JSON object.
        ///
        /// By default this is `{}`.
        #[arg(long, value_name = "JSON")]
        config: Option<String>,
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
    /// Delete a version that no stage runs and no rollback can return to,
    /// with its files in the plugin directory (admin token).
    ///
    /// Example: hl7wasm plugins delete 3f5a…(the full sha256 from `plugins list`)
    Delete {
        /// The version's full sha256, as `plugins list` shows it.
        sha256: String,
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
            PluginsCommand::Upload {
                file,
                self_tests,
                config,
                api,
            } => {
                let bytes = read(file)?;
                let (content_type, body) = if self_tests.is_empty() && config.is_none() {
                    ("application/wasm".to_owned(), bytes)
                } else {
                    self_test_form(bytes, self_tests, config.as_deref())?
                };
                Api::new(api)?
                    .post_bytes("/api/v1/plugins", &content_type, body)
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
            PluginsCommand::Delete { sha256, api } => {
                Api::new(api)?
                    .delete(&format!("/api/v1/plugins/{sha256}"))
                    .await?
            }
        };
        api::print(&answer);
        Ok(ExitCode::SUCCESS)
    })
}

fn read(file: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

/// The `multipart/form-data` upload (see `admin/plugin_upload.rs`): its
/// content type and body.
///
/// # Errors
/// When a message file cannot be read, an expectation is unknown or the
/// configuration is not a JSON object.
fn self_test_form(
    component: Vec<u8>,
    self_tests: &[String],
    config: Option<&str>,
) -> anyhow::Result<(String, Vec<u8>)> {
    let tests = self_tests
        .iter()
        .map(|arg| {
            let (file, expect) = match arg.rsplit_once(':') {
                Some((file, expect)) if expect.parse::<Expect>().is_ok() => (file, expect),
                _ => (arg.as_str(), Expect::Forward.as_str()),
            };
            let message = String::from_utf8(read(Path::new(file))?)
                .with_context(|| format!("{file} is not UTF-8 text"))?;
            // Files keep line feeds; HL7 separates segments with carriage returns.
            let message = message.trim_end().replace("\r\n", "\r").replace('\n', "\r");
            Ok(json!({ "message": message, "expect": expect }))
        })
        .collect::<anyhow::Result<Vec<Value>>>()?;
    let config: Value = serde_json::from_str(config.unwrap_or("{}")).context("--config")?;
    anyhow::ensure!(config.is_object(), "--config must be a JSON object");
    let parts = [
        ("component", "application/wasm", component),
        (
            "config",
            "application/json",
            config.to_string().into_bytes(),
        ),
        (
            "self_tests",
            "application/json",
            Value::Array(tests).to_string().into_bytes(),
        ),
    ];
    // A hash of the parts: in practice never found inside them.
    let boundary = format!(
        "hl7wasm-{}",
        content_hash(&parts.iter().flat_map(|p| p.2.clone()).collect::<Vec<u8>>())
    );
    let mut body = Vec::new();
    for (name, content_type, bytes) in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok((format!("multipart/form-data; boundary={boundary}"), body))
}

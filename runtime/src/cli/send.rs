//! `hl7wasm send`: sends message files over MLLP and prints each ACK.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hl7wasm::mllp::{Connection, MllpLimits};

use super::client::{Connector, TlsArgs};

/// Arguments of `hl7wasm send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The listener, as HOST:PORT.
    address: String,
    /// Message files: one message each, or a batch (sent message by message).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// How long to wait for each ACK, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    #[command(flatten)]
    tls: TlsArgs,
}

/// Sends every message and prints its ACK; exit code 1 unless every ACK is
/// AA or CA.
pub fn run(args: &SendArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(send_all(args))
}

async fn send_all(args: &SendArgs) -> anyhow::Result<ExitCode> {
    let connector = Connector::new(&args.address, &args.tls)?;
    let mut connection = Connection::new(connector.connect().await?, MllpLimits::default());
    let timeout = Duration::from_secs(args.timeout_secs);
    let mut all_accepted = true;
    for file in &args.files {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let batch = hl7v2::split_batch(&bytes)
            .with_context(|| format!("{} is not HL7 v2", file.display()))?;
        for (index, message) in batch.messages.iter().enumerate() {
            let ack = connection
                .request(message, timeout)
                .await
                .with_context(|| format!("{} message {}: no ACK", file.display(), index + 1))?;
            let code = ack_code(&ack);
            all_accepted &= matches!(code.as_deref(), Some("AA" | "CA"));
            println!(
                "# {} message {}: {}",
                file.display(),
                index + 1,
                code.as_deref().unwrap_or("no MSA-1")
            );
            println!(
                "{}",
                String::from_utf8_lossy(&ack).trim_end().replace('\r', "\n")
            );
        }
    }
    Ok(if all_accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// MSA-1 of an ACK.
pub fn ack_code(ack: &[u8]) -> Option<String> {
    let message = hl7v2::Message::parse(ack).ok()?;
    message.get("MSA-1").map(|code| code.into_owned())
}

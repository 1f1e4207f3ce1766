//! `hl7wasm send`: sends message files over MLLP, or to an HTTP source, and
//! prints each ACK.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hl7wasm::mllp::{Connection, MllpLimits};

use super::client::{Connector, Stream, TlsArgs, http_client, http_tls, is_http, post_message};

/// Arguments of `hl7wasm send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The listener: HOST:PORT for MLLP, or an http:// or https:// URL for
    /// an HTTP source.
    address: String,
    /// Message files: one message each, or a batch (sent message by message).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Send each batch file (FHS/BHS ...) whole, in one frame or POST, and
    /// print the batch of ACKs that answers it, instead of sending its
    /// messages one by one.
    #[arg(long)]
    batch: bool,
    /// How long to wait for each ACK, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// The bearer token an HTTP source asks for.
    #[arg(long, env = "HL7WASM_HTTP_TOKEN", value_name = "TOKEN")]
    http_token: Option<String>,
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

/// Where the messages go.
enum Link {
    Mllp(Connection<Box<dyn Stream>>),
    Http(reqwest::Client),
}

impl Link {
    async fn open(args: &SendArgs, timeout: Duration) -> anyhow::Result<Link> {
        if is_http(&args.address) {
            let tls = http_tls(&args.tls)?;
            return Ok(Link::Http(http_client(&tls, timeout)?));
        }
        let connector = Connector::new(&args.address, &args.tls)?;
        let stream = connector.connect().await?;
        Ok(Link::Mllp(Connection::new(stream, MllpLimits::default())))
    }

    /// Sends one message and returns its ACK.
    async fn request(&mut self, args: &SendArgs, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        match self {
            Link::Mllp(connection) => {
                let timeout = Duration::from_secs(args.timeout_secs);
                Ok(connection.request(message, timeout).await?.to_vec())
            }
            Link::Http(client) => {
                let token = args.http_token.as_deref();
                let ack = post_message(client, &args.address, message.to_vec(), token).await?;
                Ok(ack.to_vec())
            }
        }
    }
}

async fn send_all(args: &SendArgs) -> anyhow::Result<ExitCode> {
    let timeout = Duration::from_secs(args.timeout_secs);
    let mut link = Link::open(args, timeout).await?;
    let mut all_accepted = true;
    for file in &args.files {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let batch = hl7v2::split_batch(&bytes)
            .with_context(|| format!("{} is not HL7 v2", file.display()))?;
        if args.batch && batch.header.is_some() {
            let reply = link
                .request(args, &bytes)
                .await
                .with_context(|| format!("{}: no batch of ACKs", file.display()))?;
            let acks = hl7v2::split_batch(&reply)
                .map(|answer| answer.messages)
                .unwrap_or_else(|_| vec![&reply[..]]);
            if acks.is_empty() {
                println!("# {}: a batch of no ACKs", file.display());
            }
            for (index, ack) in acks.iter().enumerate() {
                all_accepted &= print_ack(&format!("{} ACK {}", file.display(), index + 1), ack);
            }
            continue;
        }
        for (index, message) in batch.messages.iter().enumerate() {
            let ack = link.request(args, message).await.with_context(|| {
                format!(
                    "{} message {}: no ACK{}",
                    file.display(),
                    index + 1,
                    accept_ack_hint(message)
                )
            })?;
            all_accepted &= print_ack(&format!("{} message {}", file.display(), index + 1), &ack);
        }
    }
    Ok(if all_accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Prints `ack` under the heading `what`, and returns whether it accepts
/// (AA or CA).
fn print_ack(what: &str, ack: &[u8]) -> bool {
    let code = ack_code(ack);
    println!("# {what}: {}", code.as_deref().unwrap_or("no MSA-1"));
    println!(
        "{}",
        String::from_utf8_lossy(ack).trim_end().replace('\r', "\n")
    );
    matches!(code.as_deref(), Some("AA" | "CA"))
}

/// Why no ACK may come, for a message whose MSH-15 (accept acknowledgment
/// type) is NE: in enhanced mode a receiver honours it, and sends none.
fn accept_ack_hint(message: &[u8]) -> &'static str {
    let never = hl7v2::Message::parse_header(message)
        .ok()
        .and_then(|header| header.get("MSH-15").map(|kind| kind == "NE"))
        .unwrap_or(false);
    if never {
        " (its MSH-15 is NE: it asks the receiver for no accept acknowledgment)"
    } else {
        ""
    }
}

/// MSA-1 of an ACK.
pub fn ack_code(ack: &[u8]) -> Option<String> {
    let message = hl7v2::Message::parse(ack).ok()?;
    message.get("MSA-1").map(|code| code.into_owned())
}

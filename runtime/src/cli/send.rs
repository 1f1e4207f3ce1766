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

/// Sends every message and prints its ACK, going on past a file that
/// cannot be read or a message that gets no ACK; exit code 1 unless every
/// message got AA or CA.
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
    async fn exchange(&mut self, args: &SendArgs, message: &[u8]) -> anyhow::Result<Vec<u8>> {
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

/// What came back for the messages sent so far.
#[derive(Debug, Default)]
struct Tally {
    accepted: usize,
    refused: usize,
    failed: usize,
}

impl Tally {
    /// Counts an ACK, printed under the heading `what`.
    fn answered(&mut self, what: &str, ack: &[u8]) {
        if print_ack(what, ack) {
            self.accepted += 1;
        } else {
            self.refused += 1;
        }
    }

    /// Counts a file or message that got no ACK, and says why.
    fn failed(&mut self, error: &anyhow::Error) {
        eprintln!("error: {error:#}");
        self.failed += 1;
    }
}

/// A [`Link`] that an MLLP connection is dropped from after a message got
/// no ACK, and opened again for the next message: an answer that comes late
/// on the old connection must not be read as the next message's.
struct Sender<'a> {
    args: &'a SendArgs,
    link: Option<Link>,
}

impl Sender<'_> {
    /// Sends one message and returns its ACK.
    async fn request(&mut self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let link = match &mut self.link {
            Some(link) => link,
            None => {
                let timeout = Duration::from_secs(self.args.timeout_secs);
                let link = Link::open(self.args, timeout).await;
                self.link.insert(link.context("cannot connect again")?)
            }
        };
        let answer = link.exchange(self.args, message).await;
        if answer.is_err() && matches!(link, Link::Mllp(_)) {
            self.link = None;
        }
        answer
    }
}

async fn send_all(args: &SendArgs) -> anyhow::Result<ExitCode> {
    let timeout = Duration::from_secs(args.timeout_secs);
    let mut sender = Sender {
        args,
        link: Some(Link::open(args, timeout).await?),
    };
    let mut tally = Tally::default();
    for file in &args.files {
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(error) => {
                let error = anyhow::Error::new(error);
                tally.failed(&error.context(format!("cannot read {}", file.display())));
                continue;
            }
        };
        let batch = match hl7v2::split_batch(&bytes) {
            Ok(batch) => batch,
            Err(error) => {
                let error = anyhow::Error::new(error);
                tally.failed(&error.context(format!("{} is not HL7 v2", file.display())));
                continue;
            }
        };
        if args.batch && batch.header.is_some() {
            match sender.request(&bytes).await {
                Ok(reply) => {
                    let acks = hl7v2::split_batch(&reply)
                        .map(|answer| answer.messages)
                        .unwrap_or_else(|_| vec![&reply[..]]);
                    if acks.is_empty() {
                        println!("# {}: a batch of no ACKs", file.display());
                    }
                    for (index, ack) in acks.iter().enumerate() {
                        tally.answered(&format!("{} ACK {}", file.display(), index + 1), ack);
                    }
                }
                Err(error) => {
                    tally.failed(&error.context(format!("{}: no batch of ACKs", file.display())));
                }
            }
            continue;
        }
        for (index, message) in batch.messages.iter().enumerate() {
            let what = format!("{} message {}", file.display(), index + 1);
            match sender.request(message).await {
                Ok(ack) => tally.answered(&what, &ack),
                Err(error) => {
                    let hint = accept_ack_hint(message);
                    tally.failed(&error.context(format!("{what}: no ACK{hint}")));
                }
            }
        }
    }
    let Tally {
        accepted,
        refused,
        failed,
    } = tally;
    if accepted + refused + failed > 1 {
        eprintln!("# {accepted} accepted, {refused} not accepted, {failed} without an ACK");
    }
    Ok(if refused + failed == 0 {
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
/// type) asks for none on success: in enhanced mode a receiver honours it.
fn accept_ack_hint(message: &[u8]) -> &'static str {
    let accept_ack = hl7v2::Message::parse_header(message)
        .ok()
        .and_then(|header| header.get("MSH-15").map(|kind| kind.into_owned()));
    match accept_ack.as_deref() {
        Some("NE") => " (its MSH-15 is NE: it asks the receiver for no accept acknowledgment)",
        Some("ER") => {
            " (its MSH-15 is ER: it asks the receiver for an accept acknowledgment only on an error)"
        }
        _ => "",
    }
}

/// MSA-1 of an ACK.
pub fn ack_code(ack: &[u8]) -> Option<String> {
    let message = hl7v2::Message::parse(ack).ok()?;
    message.get("MSA-1").map(|code| code.into_owned())
}

//! `hl7wasm send`: sends message files over MLLP, or to an HTTP source, and
//! prints each ACK.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hl7wasm::mllp::{Connection, MllpError, MllpLimits};

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
/// message got AA or CA, or no ACK as its MSH-15 asked (NE, or ER and
/// silence until the timeout).
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

    /// Sends one message and returns its ACK, or `None` when none came and
    /// MSH-15 asked for none (see [`AcceptAck`]).
    async fn exchange(
        &mut self,
        args: &SendArgs,
        message: &[u8],
        asked: AcceptAck,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        match self {
            Link::Mllp(connection) if asked == AcceptAck::Never => {
                connection.write_frame(message).await?;
                Ok(None)
            }
            Link::Mllp(connection) => {
                let timeout = Duration::from_secs(args.timeout_secs);
                match connection.request(message, timeout, answers(message)).await {
                    Ok(ack) => Ok(Some(ack.to_vec())),
                    Err(MllpError::ReplyTimeout(_)) if asked == AcceptAck::OnError => Ok(None),
                    Err(error) => Err(error.into()),
                }
            }
            Link::Http(client) => {
                let token = args.http_token.as_deref();
                let ack = post_message(client, &args.address, message.to_vec(), token).await?;
                // 204: no ACK due.
                Ok((!ack.is_empty()).then(|| ack.to_vec()))
            }
        }
    }
}

/// Which replies answer `message`: for a message, an ACK whose MSA-2 is its MSH-10
/// (a receiver's answer to a message not waited on is skipped); for a batch, any.
fn answers(message: &[u8]) -> impl Fn(&[u8]) -> bool + use<> {
    let control_id = (!hl7v2::starts_batch(message))
        .then(|| hl7v2::Message::parse_header(message).ok())
        .flatten()
        .map(|header| header.header().control_id().unwrap_or("").to_owned());
    move |reply| {
        let Some(control_id) = &control_id else {
            return true;
        };
        let acknowledged = hl7v2::Message::parse(reply).ok().map(|ack| {
            ack.get("MSA-2")
                .map(|id| id.into_owned())
                .unwrap_or_default()
        });
        // A reply that is no ACK is shown as it is.
        acknowledged.is_none_or(|acknowledged| acknowledged == *control_id)
    }
}

/// What MSH-15 (accept acknowledgment type) asks of the receiver, which in
/// enhanced mode it honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcceptAck {
    /// An ACK in any case (AL, SU, or MSH-15 empty: original mode).
    Always,
    /// None at all (NE): the message is sent and not waited on.
    Never,
    /// One only on an error (ER): silence until the timeout means accepted.
    OnError,
}

impl AcceptAck {
    fn of(message: &[u8]) -> AcceptAck {
        let header = hl7v2::Message::parse_header(message).ok();
        match header.as_ref().and_then(|h| h.get("MSH-15")).as_deref() {
            Some("NE") => AcceptAck::Never,
            Some("ER") => AcceptAck::OnError,
            _ => AcceptAck::Always,
        }
    }

    /// What the output says of a message that got no ACK as asked.
    fn silence(self, timeout_secs: u64) -> String {
        match self {
            AcceptAck::Never => {
                "sent; its MSH-15 is NE: it asks for no accept acknowledgment".into()
            }
            _ => format!(
                "no ACK within {timeout_secs}s; its MSH-15 is ER: it asks for an accept \
                 acknowledgment only on an error"
            ),
        }
    }
}

/// What came back for the messages sent so far.
#[derive(Debug, Default)]
struct Tally {
    accepted: usize,
    refused: usize,
    /// Messages that got no ACK because MSH-15 asked for none.
    unasked: usize,
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

    /// Counts a message that got no ACK as its MSH-15 asked, and says so.
    fn unanswered(&mut self, what: &str, why: &str) {
        say!("# {what}: {why}");
        self.unasked += 1;
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
    /// Sends one message and returns its ACK, if one was due.
    async fn request(
        &mut self,
        message: &[u8],
        asked: AcceptAck,
    ) -> anyhow::Result<Option<Vec<u8>>> {
        let link = match &mut self.link {
            Some(link) => link,
            None => {
                let timeout = Duration::from_secs(self.args.timeout_secs);
                let link = Link::open(self.args, timeout).await;
                self.link.insert(link.context("cannot connect again")?)
            }
        };
        let answer = link.exchange(self.args, message, asked).await;
        // After a wait in vain an error ACK may still come.
        let in_step = match &answer {
            Ok(Some(_)) => true,
            Ok(None) => asked == AcceptAck::Never,
            Err(_) => false,
        };
        if !in_step && matches!(link, Link::Mllp(_)) {
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
            match sender.request(&bytes, AcceptAck::Always).await {
                Ok(Some(reply)) => {
                    let acks = hl7v2::split_batch(&reply)
                        .map(|answer| answer.messages)
                        .unwrap_or_else(|_| vec![&reply[..]]);
                    if acks.is_empty() {
                        say!("# {}: a batch of no ACKs", file.display());
                    }
                    for (index, ack) in acks.iter().enumerate() {
                        tally.answered(&format!("{} ACK {}", file.display(), index + 1), ack);
                    }
                }
                Ok(None) => tally.unanswered(&file.display().to_string(), "no batch of ACKs due"),
                Err(error) => {
                    tally.failed(&error.context(format!("{}: no batch of ACKs", file.display())));
                }
            }
            continue;
        }
        for (index, message) in batch.messages.iter().enumerate() {
            let what = format!("{} message {}", file.display(), index + 1);
            let asked = AcceptAck::of(message);
            match sender.request(message, asked).await {
                Ok(Some(ack)) => tally.answered(&what, &ack),
                Ok(None) => tally.unanswered(&what, &asked.silence(args.timeout_secs)),
                Err(error) => tally.failed(&error.context(format!("{what}: no ACK"))),
            }
        }
    }
    if let Some(Link::Mllp(connection)) = sender.link {
        // A message not waited on (MSH-15 NE) may still be unread on the other side.
        connection.close(Duration::from_secs(2)).await;
    }
    let Tally {
        accepted,
        refused,
        unasked,
        failed,
    } = tally;
    if accepted + refused + unasked + failed > 1 {
        eprintln!(
            "# {accepted} accepted, {refused} not accepted, {unasked} without an ACK as MSH-15 \
             asked, {failed} without an ACK"
        );
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
    say!("# {what}: {}", code.as_deref().unwrap_or("no MSA-1"));
    say!(
        "{}",
        String::from_utf8_lossy(ack).trim_end().replace('\r', "\n")
    );
    matches!(code.as_deref(), Some("AA" | "CA"))
}

/// MSA-1 of an ACK.
pub fn ack_code(ack: &[u8]) -> Option<String> {
    let message = hl7v2::Message::parse(ack).ok()?;
    message.get("MSA-1").map(|code| code.into_owned())
}

//! `hl7wasm bench`: a load generator. It sends a realistic 1 KB ADT^A01 with
//! a unique MSH-10 per message over C connections, W messages in flight per
//! connection (MLLP) or one POST at a time per connection (HL7 over HTTP),
//! checks MSA-1 and MSA-2 of every ACK, and prints throughput and ACK
//! latency percentiles.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::BytesMut;
use hl7wasm::mllp::{self, FrameDecoder, FrameEvent, MllpLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::client::{Connector, Stream, TlsArgs, http_client, http_tls, is_http, post_message};

/// The default message: a realistic ADT^A01 of about 1 KB.
const ADT_A01: &str = include_str!("../../../tests/data/adt_a01.hl7");

/// Arguments of `hl7wasm bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The listener: HOST:PORT for MLLP, or an http:// or https:// URL for
    /// an HTTP source.
    address: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Messages in total, spread evenly over the connections.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    /// Messages in flight per connection (1 = wait for each ACK).
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// A message file to send instead of the built-in ADT^A01; its MSH-10 is
    /// replaced per message.
    #[arg(long, value_name = "FILE")]
    message: Option<PathBuf>,
    /// How long to wait for each ACK, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// The bearer token an HTTP source asks for.
    #[arg(long, env = "HL7WASM_HTTP_TOKEN", value_name = "TOKEN")]
    http_token: Option<String>,
    #[command(flatten)]
    tls: TlsArgs,
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    rejected: usize,
    mismatched: usize,
    failures: Vec<String>,
}

/// Runs the load and prints the figures; exit code 1 on any error.
pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.connections > 0 && args.pipeline > 0,
        "--connections and --pipeline must be at least 1"
    );
    let template = match &args.message {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        None => ADT_A01.to_string(),
    };
    let template = Arc::new(Template::new(&template)?);
    let target = Target::new(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let tls = target.is_tls();
    let (elapsed, tally) = runtime.block_on(load(args, target, template))?;
    report(args, tls, elapsed, tally)
}

/// Where the load goes.
#[derive(Clone)]
enum Target {
    /// An MLLP listener.
    Mllp(Connector),
    /// An HTTP source: its URL, the TLS settings of every sender's client
    /// and the bearer token.
    Http(String, Arc<rustls::ClientConfig>, Option<Arc<str>>),
}

impl Target {
    fn new(args: &BenchArgs) -> anyhow::Result<Target> {
        if !is_http(&args.address) {
            return Ok(Target::Mllp(Connector::new(&args.address, &args.tls)?));
        }
        anyhow::ensure!(
            args.pipeline == 1,
            "--pipeline needs MLLP: HTTP has one request in flight per connection"
        );
        let token = args.http_token.as_deref().map(Arc::from);
        Ok(Target::Http(
            args.address.clone(),
            http_tls(&args.tls)?,
            token,
        ))
    }

    fn is_tls(&self) -> bool {
        match self {
            Target::Mllp(connector) => connector.is_tls(),
            Target::Http(url, ..) => url.starts_with("https://"),
        }
    }

    /// Sends `count` messages over one connection.
    async fn drive(
        &self,
        sender: Sender,
        count: usize,
        pipeline: usize,
        template: &Template,
        timeout: Duration,
    ) -> Tally {
        match self {
            Target::Mllp(connector) => match connector.connect().await {
                Ok(stream) => drive(stream, sender, count, pipeline, template, timeout).await,
                Err(error) => Tally {
                    failures: vec![format!("{error:#}")],
                    ..Tally::default()
                },
            },
            Target::Http(url, tls, token) => {
                let http = HttpTarget {
                    url,
                    tls,
                    token: token.as_deref(),
                };
                drive_http(&http, sender, count, template, timeout).await
            }
        }
    }
}

async fn load(
    args: &BenchArgs,
    target: Target,
    template: Arc<Template>,
) -> anyhow::Result<(Duration, Tally)> {
    let per_connection = args.messages.div_ceil(args.connections);
    let timeout = Duration::from_secs(args.timeout_secs);
    let run = run_number();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..args.connections {
        let count = per_connection.min(args.messages.saturating_sub(connection * per_connection));
        let (target, template, pipeline) = (target.clone(), template.clone(), args.pipeline);
        tasks.spawn(async move {
            let sender = Sender { run, connection };
            target
                .drive(sender, count, pipeline, &template, timeout)
                .await
        });
    }
    let mut total = Tally::default();
    while let Some(tally) = tasks.join_next().await {
        let tally = tally?;
        total.latencies.extend(tally.latencies);
        total.rejected += tally.rejected;
        total.mismatched += tally.mismatched;
        total.failures.extend(tally.failures);
    }
    Ok((started.elapsed(), total))
}

/// A number that differs between runs a few seconds apart (milliseconds
/// since the epoch, modulo a day and a bit), so that a run's MSH-10s are
/// not resends of an earlier run's, which the engine would deduplicate
/// instead of storing.
fn run_number() -> u64 {
    hl7wasm::hl7_input::now_unix_ms() % 100_000_000
}

/// Which run and connection a message comes from, for its MSH-10.
#[derive(Clone, Copy)]
struct Sender {
    run: u64,
    connection: usize,
}

impl Sender {
    /// The MSH-10 of message `seq`: at most 20 characters, the length HL7
    /// v2.5 allows.
    fn control_id(self, seq: usize) -> String {
        format!("B{}-{}-{seq}", self.run, self.connection)
    }
}

impl Tally {
    /// Records the ACK of the message with MSH-10 `expected`, sent at
    /// `sent_at`.
    fn check(&mut self, ack: &[u8], expected: &str, sent_at: Instant) {
        self.latencies.push(sent_at.elapsed());
        let parsed = hl7v2::Message::parse(ack);
        let (code, echoed) = match &parsed {
            Ok(message) => (message.get_raw("MSA-1"), message.get_raw("MSA-2")),
            Err(_) => (None, None),
        };
        if !matches!(code, Some("AA" | "CA")) {
            self.rejected += 1;
        }
        if echoed != Some(expected) {
            self.mismatched += 1;
        }
    }
}

/// Posts `count` messages one after the other over one kept-alive HTTP
/// connection.
/// An HTTP source as one sender sees it.
struct HttpTarget<'a> {
    url: &'a str,
    tls: &'a rustls::ClientConfig,
    token: Option<&'a str>,
}

async fn drive_http(
    target: &HttpTarget<'_>,
    sender: Sender,
    count: usize,
    template: &Template,
    timeout: Duration,
) -> Tally {
    let mut tally = Tally::default();
    let client = match http_client(target.tls, timeout) {
        Ok(client) => client,
        Err(error) => {
            tally.failures.push(format!("{error:#}"));
            return tally;
        }
    };
    for seq in 0..count {
        let control_id = sender.control_id(seq);
        let body = template.with_control_id(&control_id).into_bytes();
        let sent_at = Instant::now();
        match post_message(&client, target.url, body, target.token).await {
            Ok(ack) => tally.check(&ack, &control_id, sent_at),
            Err(error) => {
                let connection = sender.connection;
                tally
                    .failures
                    .push(format!("connection {connection}: {error:#}"));
                break;
            }
        }
    }
    tally
}

/// Sends `count` messages on one connection with up to `pipeline` in flight.
async fn drive(
    stream: Box<dyn Stream>,
    sender: Sender,
    count: usize,
    pipeline: usize,
    template: &Template,
    timeout: Duration,
) -> Tally {
    let frames: Vec<(String, Vec<u8>)> = (0..count)
        .map(|seq| {
            let control_id = sender.control_id(seq);
            let frame = mllp::frame::encode(template.with_control_id(&control_id).as_bytes());
            (control_id, frame)
        })
        .collect();
    let acks = AckReader::new(sender, timeout);
    if pipeline == 1 {
        drive_in_turn(stream, frames, acks).await
    } else {
        drive_pipelined(stream, frames, pipeline, acks).await
    }
}

/// One message in flight: each frame is written once the ACK of the one
/// before is in, by one task (a synchronous sender, with nothing of the
/// load generator's own between an ACK and the next frame).
async fn drive_in_turn(
    mut stream: Box<dyn Stream>,
    frames: Vec<(String, Vec<u8>)>,
    mut acks: AckReader,
) -> Tally {
    let mut tally = Tally::default();
    for (control_id, frame) in frames {
        let sent_at = Instant::now();
        if let Err(error) = stream.write_all(&frame).await {
            let connection = acks.sender.connection;
            tally
                .failures
                .push(format!("connection {connection}: {error}"));
            return tally;
        }
        let Some(ack) = acks.next(&mut stream, &mut tally).await else {
            return tally;
        };
        tally.check(&ack, &control_id, sent_at);
    }
    // Close politely (TLS close_notify) so the engine sees a clean close.
    let _ = stream.shutdown().await;
    tally
}

/// Up to `pipeline` messages in flight: a writer task sends while this one
/// reads the ACKs.
async fn drive_pipelined(
    stream: Box<dyn Stream>,
    frames: Vec<(String, Vec<u8>)>,
    pipeline: usize,
    mut acks: AckReader,
) -> Tally {
    let count = frames.len();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let window = Arc::new(Semaphore::new(pipeline));
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let sender_window = window.clone();
    let writer_task = tokio::spawn(async move {
        for (control_id, frame) in frames {
            let permit = sender_window.acquire().await.expect("window open");
            permit.forget();
            let _ = sent_tx.send((control_id, Instant::now()));
            writer.write_all(&frame).await?;
        }
        // Keep the write half open until the reader is done.
        Ok::<_, std::io::Error>(writer)
    });

    let mut tally = Tally::default();
    for _ in 0..count {
        let Some(ack) = acks.next(&mut reader, &mut tally).await else {
            break;
        };
        let Some((expected, sent_at)) = sent_rx.recv().await else {
            break;
        };
        window.add_permits(1);
        tally.check(&ack, &expected, sent_at);
    }
    if !tally.failures.is_empty() {
        // The writer may wait for window permits that will never return.
        writer_task.abort();
    } else if let Ok(Ok(mut writer)) = writer_task.await {
        // Close politely (TLS close_notify) so the engine sees a clean close.
        let _ = writer.shutdown().await;
    }
    tally
}

/// Reads one connection's ACKs, each within the timeout.
struct AckReader {
    sender: Sender,
    timeout: Duration,
    decoder: FrameDecoder,
    buffer: BytesMut,
}

impl AckReader {
    fn new(sender: Sender, timeout: Duration) -> Self {
        AckReader {
            sender,
            timeout,
            decoder: FrameDecoder::new(&MllpLimits::default()),
            buffer: BytesMut::with_capacity(8192),
        }
    }

    /// The next ACK, or `None` after noting in `tally` why there is none.
    async fn next(
        &mut self,
        reader: &mut (impl tokio::io::AsyncRead + Unpin),
        tally: &mut Tally,
    ) -> Option<bytes::Bytes> {
        let read = next_message(reader, &mut self.decoder, &mut self.buffer);
        let connection = self.sender.connection;
        match tokio::time::timeout(self.timeout, read).await {
            Ok(Ok(ack)) => Some(ack),
            Ok(Err(error)) => {
                tally
                    .failures
                    .push(format!("connection {connection}: {error}"));
                None
            }
            Err(_) => {
                let timeout = self.timeout;
                tally.failures.push(format!(
                    "connection {connection}: no ACK within {timeout:?}"
                ));
                None
            }
        }
    }
}

/// Reads until the next complete HL7 frame (skipping commit ACKs and junk).
async fn next_message(
    reader: &mut (impl tokio::io::AsyncRead + Unpin),
    decoder: &mut FrameDecoder,
    buffer: &mut BytesMut,
) -> anyhow::Result<bytes::Bytes> {
    loop {
        while let Some(event) = decoder.decode(buffer)? {
            if let FrameEvent::Message(payload) = event {
                return Ok(payload);
            }
        }
        if reader.read_buf(buffer).await? == 0 {
            anyhow::bail!("the server closed the connection");
        }
    }
}

/// The message with a placeholder where MSH-10 goes.
struct Template {
    before: String,
    after: String,
}

impl Template {
    fn new(text: &str) -> anyhow::Result<Template> {
        let text = text.replace("\r\n", "\r").replace('\n', "\r");
        let message =
            hl7v2::Message::parse(text.as_bytes()).context("the bench message is not HL7 v2")?;
        let control_id = message
            .header()
            .control_id()
            .context("the bench message has no MSH-10")?;
        let msh = text.split('\r').next().unwrap_or_default();
        let at = msh
            .match_indices(control_id)
            .map(|(at, _)| at)
            .find(|&at| msh[..at].matches('|').count() == 9)
            .context("cannot find MSH-10 in the first segment")?;
        Ok(Template {
            before: text[..at].to_string(),
            after: text[at + control_id.len()..].to_string(),
        })
    }

    fn with_control_id(&self, control_id: &str) -> String {
        format!("{}{control_id}{}", self.before, self.after)
    }
}

fn report(
    args: &BenchArgs,
    tls: bool,
    elapsed: Duration,
    mut tally: Tally,
) -> anyhow::Result<ExitCode> {
    tally.latencies.sort_unstable();
    let acked = tally.latencies.len();
    let percentile = |p: f64| -> f64 {
        if acked == 0 {
            return 0.0;
        }
        let index = ((acked as f64 * p).ceil() as usize).clamp(1, acked) - 1;
        tally.latencies[index].as_secs_f64() * 1000.0
    };
    let errors = tally.rejected + tally.mismatched + tally.failures.len() + (args.messages - acked);
    say!(
        "messages {}  connections {}  pipeline {}  tls {}",
        args.messages,
        args.connections,
        args.pipeline,
        if tls { "yes" } else { "no" }
    );
    say!(
        "acked {acked} in {:.3} s: {:.0} msg/s",
        elapsed.as_secs_f64(),
        acked as f64 / elapsed.as_secs_f64()
    );
    say!(
        "ack latency ms: p50 {:.3}  p99 {:.3}  max {:.3}",
        percentile(0.50),
        percentile(0.99),
        percentile(1.0)
    );
    say!(
        "errors {errors}: not AA/CA {}, MSA-2 mismatched {}, unanswered {}, connection failures {}",
        tally.rejected,
        tally.mismatched,
        args.messages - acked,
        tally.failures.len()
    );
    for failure in tally.failures.iter().take(5) {
        say!("  {failure}");
    }
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

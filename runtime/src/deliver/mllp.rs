//! MLLP destinations: [`MllpTargetConfig`] and [`MllpConnector`], which sends a message
//! over a kept TCP or TLS connection and reads the ACK whose MSA-2 names it.
//!
//! One message is in flight at a time. The connection is opened on the first attempt and
//! kept; after anything but a matching ACK (a timeout, a close, a read or write error, a
//! reply that is not HL7 v2) it is dropped, and the next attempt opens a new one, so a
//! late ACK can never be taken for the next message's. Before a kept connection is
//! reused, what is already waiting on it is read: a late ACK is discarded, and a
//! connection the peer closed while idle is replaced before the message is sent.
//!
//! Connections that sit idle between messages are guarded three ways: TCP keepalive
//! probes (on by default) keep a firewall's state for them and notice a peer that
//! vanished; `max_idle_secs` closes one that has idled that long; and with
//! `backup_addresses`, a new connection tries `address` first and then each backup in
//! order, and a connection to a backup is given up after `failback_secs` so that the
//! next one tries the primary again.
//!
//! A message whose MSH-15 asks for no accept acknowledgment (NE) or for one only on an
//! error (ER) is delivered unless an ACK says otherwise within `error_ack_wait_ms`. A
//! receiver in enhanced mode honours MSH-15, and waiting the whole ACK timeout for an
//! answer it will not send would block the queue and resend the message; a receiver
//! in original mode answers at once, and its answer decides.
//!
//! An ACK whose MSA-2 is not the MSH-10 of the message sent answers an earlier message:
//! it is discarded, and the wait goes on until the ACK timeout. (For a message without
//! MSH-10, only an ACK with an empty MSA-2 answers it.)

use std::fmt;
use std::task::Poll;
use std::time::Duration;

use hl7v2::ack::{AckCode, AckOutcome};
use serde::Deserialize;

use tokio::time::{Instant, timeout, timeout_at};

use super::{Attempt, ConnectorError, Delivery, peer_text};
use crate::mllp::{Connection, FrameEvent, MllpLimits};
use crate::tls::{Dialer, Stream, TlsClientSettings};

/// An MLLP destination: where to connect and how long to wait.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MllpTargetConfig {
    /// The listener, as `HOST:PORT` (`[::1]:2575` for an IPv6 address). Required.
    pub address: String,
    /// TLS settings: the CA that signs the listener's certificate, and a client
    /// certificate for mTLS.
    ///
    /// By default the connection is plain TCP.
    #[serde(default)]
    pub tls: Option<TlsClientSettings>,
    /// How long opening the connection (TCP and TLS handshake) may take, in seconds.
    ///
    /// By default this is 10 seconds.
    #[serde(default = "default_connect_timeout_secs")]
    pub connect_timeout_secs: u64,
    /// How long to wait for the ACK of a message, in seconds; the connection is dropped
    /// and the message retried when none comes.
    ///
    /// By default this is 30 seconds.
    #[serde(default = "default_ack_timeout_secs")]
    pub ack_timeout_secs: u64,
    /// The largest ACK accepted, in bytes.
    ///
    /// By default this is 1 MiB.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Listeners to fail over to, in order, when `address` cannot be reached (each
    /// `HOST:PORT`; `tls` applies to all). Each new connection tries `address` first,
    /// then each of these, each within `connect_timeout_secs`.
    ///
    /// By default there are none.
    #[serde(default)]
    pub backup_addresses: Vec<String>,
    /// How long a connection to a backup listener is kept, in seconds, before the next
    /// message opens a new one that tries `address` first again.
    ///
    /// By default this is 300 seconds.
    #[serde(default = "default_failback_secs")]
    pub failback_secs: u64,
    /// Closes the kept connection once no message has been sent on it for this long,
    /// in seconds (within a few seconds after), for receivers or firewalls that drop
    /// idle connections.
    ///
    /// By default the connection is kept however long it idles.
    #[serde(default)]
    pub max_idle_secs: Option<u64>,
    /// Seconds of silence on the connection before TCP keepalive probes start; 0 turns
    /// them off.
    ///
    /// By default this is 60 seconds.
    #[serde(default = "default_tcp_keepalive_secs")]
    pub tcp_keepalive_secs: u64,
    /// How long to wait for an ACK to a message whose MSH-15 is NE (no accept
    /// acknowledgment) or ER (one only on an error), in milliseconds. A receiver in
    /// enhanced mode honours MSH-15 and stays silent when it takes the message, so
    /// silence this long means delivered; a receiver in original mode answers at once,
    /// and its answer decides as for any message. 0 sends such messages without waiting.
    ///
    /// By default this is 2000 ms.
    #[serde(default = "default_error_ack_wait_ms")]
    pub error_ack_wait_ms: u64,
}

fn default_connect_timeout_secs() -> u64 {
    10
}

fn default_ack_timeout_secs() -> u64 {
    30
}

fn default_max_message_bytes() -> usize {
    MllpLimits::default().max_message_bytes
}

fn default_failback_secs() -> u64 {
    300
}

fn default_tcp_keepalive_secs() -> u64 {
    60
}

fn default_error_ack_wait_ms() -> u64 {
    2000
}

/// Delivers to one MLLP listener (or its backups) over a kept connection.
pub struct MllpConnector {
    /// The listeners to try: `address` first, then the backups in order.
    dialers: Vec<Dialer>,
    connect_timeout: Duration,
    ack_timeout: Duration,
    error_ack_wait: Duration,
    failback: Duration,
    max_idle: Option<Duration>,
    limits: MllpLimits,
    connection: Option<Kept>,
    opened: Option<OpenedConnection>,
}

/// The kept connection and what decides when to give it up.
struct Kept {
    connection: Connection<Box<dyn Stream>>,
    /// Which of the connector's listeners it reached (0: `address`).
    listener: usize,
    opened_at: Instant,
    last_used: Instant,
}

/// A connection the connector opened, for its worker to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedConnection {
    /// The listener reached.
    pub address: String,
    /// Whether it is a backup: the listeners before it could not be reached.
    pub backup: bool,
    /// Why each listener tried before it could not be reached.
    pub unreachable: Vec<String>,
}

impl fmt::Debug for MllpConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addresses: Vec<&str> = self.dialers.iter().map(Dialer::address).collect();
        f.debug_struct("MllpConnector")
            .field("addresses", &addresses)
            .field("tls", &self.dialers[0].is_tls())
            .field("connected", &self.connection.is_some())
            .finish_non_exhaustive()
    }
}

impl MllpConnector {
    /// Checks the addresses and timeouts and reads the TLS files; connects later.
    ///
    /// # Errors
    ///
    /// [`ConnectorError::InvalidAddress`], [`ConnectorError::ZeroTimeout`] and
    /// [`ConnectorError::Tls`].
    pub fn new(config: &MllpTargetConfig) -> Result<MllpConnector, ConnectorError> {
        let timeouts = [
            ("connect_timeout_secs", Some(config.connect_timeout_secs)),
            ("ack_timeout_secs", Some(config.ack_timeout_secs)),
            ("failback_secs", Some(config.failback_secs)),
            ("max_idle_secs", config.max_idle_secs),
        ];
        if let Some((key, _)) = timeouts.iter().find(|(_, secs)| *secs == Some(0)) {
            return Err(ConnectorError::ZeroTimeout(key));
        }
        let addresses = std::iter::once(&config.address).chain(&config.backup_addresses);
        let mut dialers = Vec::new();
        for address in addresses {
            let valid = address
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return Err(ConnectorError::InvalidAddress(address.clone()));
            }
            let dialer = Dialer::new(address, config.tls.as_ref())?;
            dialers.push(match config.tcp_keepalive_secs {
                0 => dialer,
                secs => dialer.with_keepalive(Duration::from_secs(secs)),
            });
        }
        Ok(MllpConnector {
            dialers,
            connect_timeout: Duration::from_secs(config.connect_timeout_secs),
            ack_timeout: Duration::from_secs(config.ack_timeout_secs),
            error_ack_wait: Duration::from_millis(config.error_ack_wait_ms),
            failback: Duration::from_secs(config.failback_secs),
            max_idle: config.max_idle_secs.map(Duration::from_secs),
            // The ACK deadline bounds the wait; the connection's own timeouts lie past
            // it so that they never fire first.
            limits: MllpLimits {
                max_message_bytes: config.max_message_bytes,
                idle_timeout_secs: config.ack_timeout_secs.saturating_add(1),
                frame_timeout_secs: config.ack_timeout_secs.saturating_add(1),
                ..MllpLimits::default()
            },
            connection: None,
            opened: None,
        })
    }

    /// The connection opened since the last call, if any.
    pub fn take_opened(&mut self) -> Option<OpenedConnection> {
        self.opened.take()
    }

    /// Closes the kept connection when it has idled past `max_idle_secs`.
    pub fn close_if_idle(&mut self) {
        if self
            .connection
            .as_ref()
            .is_some_and(|kept| self.idled_out(kept))
        {
            self.connection = None;
        }
    }

    fn idled_out(&self, kept: &Kept) -> bool {
        self.max_idle
            .is_some_and(|max| kept.last_used.elapsed() >= max)
    }

    /// Whether `kept` reached a backup listener long enough ago to try the
    /// primary again.
    fn due_for_failback(&self, kept: &Kept) -> bool {
        kept.listener > 0 && kept.opened_at.elapsed() >= self.failback
    }

    /// Sends the message and classifies its ACK: AA/CA delivered, AE/CE retry, AR/CR
    /// reject. A body whose MSH does not parse is rejected unsent (only MSH is read:
    /// MSH-10 and MSH-15 are all the exchange needs). A message without MSH-10
    /// is sent all the same (test feeds and some senders leave it empty); its ACK is
    /// the one whose MSA-2 is empty too.
    pub async fn deliver(&mut self, delivery: &Delivery<'_>) -> Attempt {
        let (control_id, wait) = match hl7v2::Message::parse_header(delivery.body) {
            Ok(message) => {
                let wait = match message.get("MSH-15").as_deref() {
                    Some("NE" | "ER") if self.error_ack_wait.is_zero() => AckWait::None,
                    Some("NE" | "ER") => AckWait::SilenceAccepts(self.error_ack_wait),
                    _ => AckWait::Full,
                };
                (message.header().control_id().unwrap_or("").to_owned(), wait)
            }
            Err(_) => return Attempt::reject("the body is not an HL7 v2 message"),
        };
        match self.exchange(delivery.body, &control_id, wait).await {
            Ok(attempt) => attempt,
            Err(Dropped {
                reason,
                timed_out,
                unreachable,
            }) => {
                self.connection = None;
                tracing::debug!(
                    channel = delivery.channel,
                    destination = delivery.destination,
                    control_id,
                    reason,
                    "MLLP connection dropped."
                );
                Attempt::Retry {
                    reason,
                    after: None,
                    timed_out,
                    unreachable,
                }
            }
        }
    }

    /// Sends `body` and waits for its ACK as `wait` says; `Err` is a failure after which
    /// the connection cannot be trusted.
    async fn exchange(
        &mut self,
        body: &[u8],
        control_id: &str,
        wait: AckWait,
    ) -> Result<Attempt, Dropped> {
        let ack_timeout = self.ack_timeout;
        let kept = self.connection().await.map_err(|reason| Dropped {
            reason,
            timed_out: false,
            unreachable: true,
        })?;
        kept.last_used = Instant::now();
        let connection = &mut kept.connection;
        connection
            .write_frame(body)
            .await
            .map_err(|error| format!("sending failed: {error}"))?;
        let deadline = Instant::now()
            + match wait {
                AckWait::None => return Ok(Attempt::Delivered),
                AckWait::SilenceAccepts(wait) => wait,
                AckWait::Full => ack_timeout,
            };
        loop {
            let Ok(event) = timeout_at(deadline, connection.read_frame()).await else {
                if matches!(wait, AckWait::SilenceAccepts(_)) {
                    return Ok(Attempt::Delivered);
                }
                return Err(Dropped {
                    reason: format!("no ACK within {}s", ack_timeout.as_secs()),
                    timed_out: true,
                    unreachable: false,
                });
            };
            let event = event
                .map_err(|error| format!("reading the ACK failed: {error}"))?
                .ok_or("the peer closed the connection without an ACK")?;
            match event {
                FrameEvent::Message(reply) => {
                    if let Some(attempt) = read_ack(&reply, control_id)? {
                        return Ok(attempt);
                    }
                }
                FrameEvent::CommitAck(true) | FrameEvent::Junk(_) => {}
                FrameEvent::CommitAck(false) => {
                    return Ok(Attempt::retry("negative commit acknowledgement (NAK)"));
                }
                FrameEvent::TooLarge { size, .. } => {
                    let reason = format!("a reply of {size} bytes exceeds max_message_bytes");
                    return Err(reason.into());
                }
            }
        }
    }

    /// The kept connection if it is still open (and neither idled out nor due to fail
    /// back), else a new one.
    async fn connection(&mut self) -> Result<&mut Kept, String> {
        if let Some(mut kept) = self.connection.take()
            && !self.idled_out(&kept)
            && !self.due_for_failback(&kept)
            && still_open(&mut kept.connection).await
        {
            self.connection = Some(kept);
        }
        if self.connection.is_none() {
            self.connection = Some(self.open().await?);
        }
        Ok(self.connection.as_mut().expect("connected above"))
    }

    /// Opens a connection to the first listener that answers, in order.
    async fn open(&mut self) -> Result<Kept, String> {
        let mut unreachable = Vec::new();
        for (listener, dialer) in self.dialers.iter().enumerate() {
            let reason = match timeout(self.connect_timeout, dialer.connect()).await {
                Ok(Ok(stream)) => {
                    self.opened = Some(OpenedConnection {
                        address: dialer.address().to_owned(),
                        backup: listener > 0,
                        unreachable,
                    });
                    let now = Instant::now();
                    return Ok(Kept {
                        connection: Connection::new(stream, self.limits),
                        listener,
                        opened_at: now,
                        last_used: now,
                    });
                }
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!(
                    "cannot connect to {} within {}s",
                    dialer.address(),
                    self.connect_timeout.as_secs()
                ),
            };
            unreachable.push(reason);
        }
        Err(unreachable.join("; "))
    }
}

/// Why an exchange failed in a way that leaves the connection untrustworthy.
struct Dropped {
    /// Why, without content from the peer.
    reason: String,
    /// Whether the ACK did not come within the ACK timeout.
    timed_out: bool,
    /// Whether no connection could be made, so the message was not sent.
    unreachable: bool,
}

impl From<String> for Dropped {
    fn from(reason: String) -> Self {
        Dropped {
            reason,
            timed_out: false,
            unreachable: false,
        }
    }
}

impl From<&str> for Dropped {
    fn from(reason: &str) -> Self {
        reason.to_owned().into()
    }
}

/// Reads what is already waiting on a kept connection, without waiting: replies to
/// earlier messages are discarded; a close or an error means it cannot be reused.
async fn still_open(connection: &mut Connection<Box<dyn Stream>>) -> bool {
    loop {
        // One poll of the read: pending means nothing is waiting. (A zero
        // `timeout` would wait for the timer's next millisecond tick, which
        // caps a connection at about 1,000 messages a second.)
        let read = std::pin::pin!(connection.read_frame());
        match poll_once(read).await {
            Poll::Pending => return true,
            Poll::Ready(Ok(Some(_))) => {}
            Poll::Ready(Ok(None) | Err(_)) => return false,
        }
    }
}

/// Polls `future` once and returns what that poll gave.
async fn poll_once<F: Future>(mut future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|context| Poll::Ready(future.as_mut().poll(context))).await
}

/// How long to wait for a message's ACK, by its MSH-15 (accept acknowledgment type),
/// which a receiver in enhanced mode honours. An answer not waited for is discarded
/// before the next message (see the module docs).
#[derive(Debug, Clone, Copy)]
enum AckWait {
    /// Up to the ACK timeout (MSH-15 AL, SU or empty).
    Full,
    /// Not at all (NE or ER with `error_ack_wait_ms = 0`): sent is delivered.
    None,
    /// This long (NE or ER): an answer decides, silence means delivered.
    SilenceAccepts(Duration),
}

/// The attempt a reply decides, or `None` when its MSA-2 names another message.
///
/// # Errors
///
/// A retry reason when the reply is not HL7 v2.
fn read_ack(reply: &[u8], control_id: &str) -> Result<Option<Attempt>, String> {
    let ack = hl7v2::Message::parse(reply).map_err(|_| "the reply is not an HL7 v2 ACK")?;
    let acknowledged = ack.get("MSA-2");
    if acknowledged.as_deref().unwrap_or("") != control_id {
        tracing::debug!(
            control_id,
            acknowledged = acknowledged.as_deref(),
            "ACK for another message discarded."
        );
        return Ok(None);
    }
    let Some(code) = ack.get("MSA-1").as_deref().and_then(AckCode::from_code) else {
        return Ok(Some(Attempt::retry(
            "the ACK's MSA-1 is not AA, AE, AR, CA, CE or CR",
        )));
    };
    Ok(Some(match code.outcome() {
        AckOutcome::Accept => Attempt::Delivered,
        AckOutcome::Error => Attempt::retry(format!("the destination answered {}", code.as_str())),
        AckOutcome::Reject => {
            let text = ["MSA-3", "ERR-8", "ERR-3"]
                .into_iter()
                .find_map(|path| ack.get(path))
                .unwrap_or_default();
            Attempt::reject(format!(
                "the destination answered {}: {}",
                code.as_str(),
                peer_text(text.as_bytes())
            ))
        }
    }))
}

//! The process's logs: human-readable lines on stderr, and the audit log as
//! JSON lines in a file and/or on stdout when `[audit]` asks for it.
//!
//! Every auditable event is logged at tracing target `audit`: connections
//! opened and closed (peer, TLS version, client certificate subject), TLS
//! handshake failures, messages by control ID (stored or duplicate with the
//! store id, the ACK code sent, the processed state, deliveries, dead letters
//! with their reason) and administrator actions (`crate::admin::audit`). The
//! stderr layer shows them like any other event, filtered by `RUST_LOG`
//! (default `info`); the audit layer takes every `audit` event at `debug` and
//! above whatever `RUST_LOG` says, and nothing else.
//!
//! One event is one line, a JSON object with the event's fields flattened:
//!
//! ```text
//! {"timestamp":"2024-05-01T12:00:00.123456Z","level":"INFO","message":"Connection opened.","channel":"adt","peer":"10.0.0.7:51234","tls_version":"TLSv1_3","target":"audit"}
//! {"timestamp":"2024-05-01T12:00:00.125012Z","level":"DEBUG","message":"Message stored.","channel":"adt","control_id":"MSG00042","message_type":"ADT^A01","id":42,"target":"audit"}
//! {"timestamp":"2024-05-01T12:00:00.125301Z","level":"DEBUG","message":"ACK sent.","channel":"adt","code":"AA","latency_ms":2,"target":"audit"}
//! ```
//!
//! Fields are ids, control ids, message types, channel and destination
//! names, peers, codes and reasons: the events carry nothing else, so no
//! message body or patient name reaches the audit log (see `crate::events`).
//!
//! The file is opened for appending (created with its parent directories if
//! missing) and each line is written with one unbuffered `write`, so a line
//! is in the file as soon as the event is logged. A failed write is reported
//! on stderr and does not stop the engine.
//!
//! Rotation: `hl7wasm serve` reopens the file by its name on SIGHUP (see
//! [`AuditFile::reopen`]), so logrotate can move it away and signal
//! (`postrotate kill -HUP <pid>`); `copytruncate` works too, as the file is
//! written in append mode.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::Deserialize;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::{BoxMakeWriter, MakeWriterExt};
use tracing_subscriber::prelude::*;

/// The tracing target of auditable events.
pub const AUDIT_TARGET: &str = "audit";

/// The `[audit]` section: where the audit log goes.
///
/// ```toml
/// [audit]
/// file = "./data/audit.jsonl"   # optional
/// stdout = false
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// The file the audit log is appended to, created (with its directories)
    /// if missing. By default none: without `[audit]` there is no audit log.
    pub file: Option<PathBuf>,
    /// Whether the audit log is also written to stdout. By default false.
    pub stdout: bool,
}

/// The audit log's destinations, opened.
pub struct AuditOutputs {
    /// What the audit layer writes to; `None` when there is no audit log.
    pub writer: Option<BoxMakeWriter>,
    /// The file among them, to reopen after rotation.
    pub file: Option<AuditFile>,
}

impl AuditConfig {
    /// Opens the audit log's destinations.
    ///
    /// # Errors
    ///
    /// When the file or its directory cannot be created or opened; the
    /// error names the file.
    pub fn open(&self) -> io::Result<AuditOutputs> {
        let file = self.file.as_deref().map(AuditFile::open).transpose()?;
        let writer = match (file.clone(), self.stdout) {
            (Some(file), true) => Some(BoxMakeWriter::new(file.and(io::stdout))),
            (Some(file), false) => Some(BoxMakeWriter::new(file)),
            (None, true) => Some(BoxMakeWriter::new(io::stdout)),
            (None, false) => None,
        };
        Ok(AuditOutputs { writer, file })
    }
}

/// The audit log's file, shared by the writer and whoever reopens it.
#[derive(Debug, Clone)]
pub struct AuditFile {
    path: PathBuf,
    file: Arc<Mutex<File>>,
}

impl AuditFile {
    /// Opens `path` for appending, creating it and its directories.
    ///
    /// # Errors
    ///
    /// When that fails; the error names the file.
    pub fn open(path: &Path) -> io::Result<AuditFile> {
        Ok(AuditFile {
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(open_append(path)?)),
        })
    }

    /// Opens the file's path again and writes there from now on: after the
    /// file was moved away (rotated), a new one is created under the name.
    /// Lines being written finish in the old file.
    ///
    /// # Errors
    ///
    /// When the path cannot be opened; the old file stays in use.
    pub fn reopen(&self) -> io::Result<()> {
        let fresh = open_append(&self.path)?;
        *self.lock() = fresh;
        Ok(())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, File> {
        // A panic while writing a line leaves the file usable.
        self.file.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<'a> MakeWriter<'a> for AuditFile {
    type Writer = AuditLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        AuditLine(self.lock())
    }
}

/// One audit line being written, holding the file for its `write`.
pub struct AuditLine<'a>(MutexGuard<'a, File>);

impl Write for AuditLine<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    let named = |error: io::Error| {
        io::Error::new(
            error.kind(),
            format!("audit log {}: {error}", path.display()),
        )
    };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(named)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(named)
}

/// Installs the process's subscriber: stderr, filtered by `RUST_LOG`
/// (default `info`), and the audit log on `audit` when given (see
/// [`AuditConfig::open`]).
///
/// # Panics
///
/// When a global subscriber is already installed.
pub fn init(audit: Option<BoxMakeWriter>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: log files and journald get plain text.
    let colours = io::IsTerminal::is_terminal(&io::stderr());
    let stderr = tracing_subscriber::fmt::layer()
        .with_ansi(colours)
        .with_writer(io::stderr)
        .with_filter(filter);
    let audit = audit.map(|writer| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(writer)
            .with_filter(Targets::new().with_target(AUDIT_TARGET, LevelFilter::DEBUG))
    });
    tracing_subscriber::registry()
        .with(stderr)
        .with(audit)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANNEL: &str = "[[channels]]\nname = \"a\"\n[channels.source]\ntype = \"mllp\"\nlisten = \"127.0.0.1:2575\"\n";

    #[test]
    fn the_audit_section_is_read_and_off_by_default() {
        let text = format!("[audit]\nfile = \"/var/log/audit.jsonl\"\nstdout = true\n\n{CHANNEL}");
        let config = crate::config::parse(&text, "test.toml").unwrap();
        assert_eq!(
            config.audit.file.as_deref(),
            Some(std::path::Path::new("/var/log/audit.jsonl"))
        );
        assert!(config.audit.stdout);

        let config = crate::config::parse(CHANNEL, "test.toml").unwrap();
        assert!(config.audit.file.is_none() && !config.audit.stdout);
        assert!(config.audit.open().unwrap().writer.is_none());

        let bad = format!("[audit]\npath = \"x\"\n\n{CHANNEL}");
        let error = crate::config::parse(&bad, "test.toml").unwrap_err();
        assert!(error.to_string().contains("path"), "{error}");
    }

    #[test]
    fn the_audit_file_and_its_directories_are_created() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("logs/audit/audit.jsonl");
        let audit = AuditConfig {
            file: Some(file.clone()),
            stdout: false,
        };
        assert!(audit.open().unwrap().writer.is_some());
        assert!(file.is_file());
    }

    #[test]
    fn a_reopened_file_takes_the_next_lines_under_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let file = AuditFile::open(&path).unwrap();
        file.make_writer().write_all(b"one\n").unwrap();
        let rotated = dir.path().join("audit.jsonl.1");
        fs::rename(&path, &rotated).unwrap();
        file.make_writer().write_all(b"two\n").unwrap();
        file.reopen().unwrap();
        file.make_writer().write_all(b"three\n").unwrap();
        assert_eq!(fs::read_to_string(&rotated).unwrap(), "one\ntwo\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "three\n");
    }
}

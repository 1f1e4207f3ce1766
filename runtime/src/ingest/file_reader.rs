//! A channel's file source: polls a directory, reads each settled file
//! (one message, several, or a batch) through the [`Intake`], and moves the
//! file on only once every message is durable. Messages are begun in runs
//! of up to `RUN_MESSAGES` (or `RUN_BYTES`) and then finished in order, so
//! a run shares one fsync and keeps the files' order in the queue; small
//! files share a run, a big one is split into runs of its own.
//!
//! - All accepted: the file moves to the done directory (or is deleted).
//! - A message refused (AR: malformed, too large, against the profile, or
//!   rejected by a plugin in `after_transform` mode): the whole file moves
//!   to the error directory with a `<name>.errors.txt` report that gives
//!   each refused message's place, control ID and ERR details (never
//!   values). Its accepted messages are stored; when the fixed file comes
//!   back, the dedupe index keeps them from being stored twice.
//! - Storage fails: the file stays where it is and is read again at the
//!   next poll.
//!
//! Files are read in name order. Reading waits while the channel is
//! stopped; a paused channel still reads, as its MLLP listener would.
//!
//! Logs and each message's recorded sender name a file by a reference
//! ([`file_reference`]) unless `show_file_names` is set: senders put
//! patient names and record numbers in file names.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use sha2::{Digest, Sha256};

use hl7v2::ack::{ErrorCode, Severity};

use super::ack::error;
use super::channel::ChannelRuntime;
use super::intake::{Answer, Begun, Intake};
use crate::config::{AfterRead, FileSourceConfig};
use crate::events::{FileFailed, FileRead};

/// The most messages of a file written to the log before the first of them
/// is waited for.
const RUN_MESSAGES: usize = 256;

/// The most bytes of a file's messages written to the log before the first
/// of them is waited for.
const RUN_BYTES: usize = 4 << 20;

/// A file read, whose messages are begun (or being begun, run by run):
/// what moving it on needs.
struct BegunFile {
    file: (PathBuf, SystemTime),
    /// How logs name it (see [`FileReader::shown_name`]).
    name: String,
    /// `file:NAME`, as its messages are stored.
    peer: String,
    started: Instant,
    /// Its messages.
    count: usize,
    /// Of those, the refused ones so far.
    refused: usize,
    /// The refusals, for `<name>.errors.txt`.
    report: String,
}

/// A file source, ready to run.
pub struct FileReader {
    channel: Arc<ChannelRuntime>,
    settings: FileSourceConfig,
    pattern: glob::Pattern,
    done_dir: PathBuf,
    error_dir: PathBuf,
    /// Files that could not be read or moved on, with the modification time
    /// they had: tried again only once they change, so a log line is not
    /// repeated every poll.
    failed: HashMap<PathBuf, SystemTime>,
}

/// What became of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileOutcome {
    /// Every message accepted; moved to the done directory.
    Done,
    /// Every message accepted; deleted.
    Deleted,
    /// A message refused, or the file is not HL7; moved to the error
    /// directory with a report.
    Refused,
    /// Storage failed; left in place for the next poll.
    Retry,
    /// The file could not be read; tried again once it changes.
    Unreadable,
    /// Read, but it could not be moved on; tried again once it changes.
    Unmovable,
}

impl FileOutcome {
    /// A stable name for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FileOutcome::Done => "done",
            FileOutcome::Deleted => "deleted",
            FileOutcome::Refused => "error",
            FileOutcome::Retry => "retry",
            FileOutcome::Unreadable => "unreadable",
            FileOutcome::Unmovable => "unmovable",
        }
    }
}

impl FileReader {
    /// Checks the settings and creates the directories.
    ///
    /// # Errors
    /// When the pattern is not a glob or a directory cannot be created.
    pub fn new(channel: Arc<ChannelRuntime>, settings: FileSourceConfig) -> anyhow::Result<Self> {
        let pattern = glob::Pattern::new(&settings.pattern)
            .with_context(|| format!("pattern {:?}", settings.pattern))?;
        let (done_dir, error_dir) = (settings.done_dir(), settings.error_dir());
        for dir in [&settings.dir, &done_dir, &error_dir] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        tracing::info!(channel = channel.name, dir = %settings.dir.display(), pattern = settings.pattern, "File source started.");
        Ok(FileReader {
            channel,
            settings,
            pattern,
            done_dir,
            error_dir,
            failed: HashMap::new(),
        })
    }

    /// Polls until the engine shuts down.
    pub async fn run(mut self) {
        let interval = Duration::from_millis(self.settings.poll_interval_ms);
        loop {
            tokio::select! {
                () = self.channel.control.listening() => {}
                () = self.channel.shutdown.cancelled() => return,
            }
            let files = self.settled_files();
            self.read_all(files).await;
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = self.channel.shutdown.cancelled() => return,
            }
        }
    }

    fn stopped(&self) -> bool {
        self.channel.control.state() == crate::pipeline::ChannelState::Stopped
    }

    /// The files to read now, in name order: regular files whose name
    /// matches the pattern, does not start with `.`, and that have not
    /// changed for `min_age_ms`.
    fn settled_files(&mut self) -> Vec<(PathBuf, SystemTime)> {
        let entries = match std::fs::read_dir(&self.settings.dir) {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(channel = self.channel.name, dir = %self.settings.dir.display(), %error, "File source cannot list its directory.");
                return Vec::new();
            }
        };
        let min_age = Duration::from_millis(self.settings.min_age_ms);
        let now = SystemTime::now();
        let mut files: Vec<(PathBuf, SystemTime)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name();
                let name = name.to_str()?;
                if name.starts_with('.') || !self.pattern.matches(name) {
                    return None;
                }
                let metadata = entry.metadata().ok().filter(std::fs::Metadata::is_file)?;
                let modified = metadata.modified().ok()?;
                let settled = now.duration_since(modified).is_ok_and(|age| age >= min_age);
                settled.then(|| (entry.path(), modified))
            })
            .filter(|(path, modified)| self.failed.get(path) != Some(modified))
            .collect();
        files.sort();
        self.failed.retain(|path, _| path.exists());
        files
    }

    /// Reads `files` in order and moves each on. Small files share runs:
    /// the messages of several are begun before the first is finished, so
    /// a directory of one-message files does not pay an fsync per file. A
    /// file too big for a run goes alone, in runs of its own.
    async fn read_all(&mut self, files: Vec<(PathBuf, SystemTime)>) {
        let mut group: Vec<(BegunFile, Vec<Begun>)> = Vec::new();
        let (mut messages, mut bytes) = (0, 0);
        for file in files {
            if self.channel.shutdown.is_cancelled() || self.stopped() {
                break;
            }
            let name = self.shown_name(&file.0);
            let started = Instant::now();
            let Some(content) = self.load_or_refuse(&file, &name, started).await else {
                continue;
            };
            let batch = match hl7v2::split_batch(&content) {
                Ok(batch) => batch,
                Err(error) => {
                    let report = format!("The file is not HL7 v2: {error}.\n");
                    self.finish(&file, &name, 0, 1, Some(report), started);
                    continue;
                }
            };
            let size: usize = batch.messages.iter().map(|raw| raw.len()).sum();
            let count = batch.messages.len();
            let alone = count > RUN_MESSAGES || size > RUN_BYTES;
            if alone || messages + count > RUN_MESSAGES || bytes + size > RUN_BYTES {
                self.settle(std::mem::take(&mut group)).await;
                (messages, bytes) = (0, 0);
            }
            let begun = BegunFile {
                file,
                peer: format!("file:{name}"),
                name,
                started,
                count,
                refused: 0,
                report: String::new(),
            };
            if alone {
                self.read_in_runs(begun, &batch.messages).await;
                continue;
            }
            let intake = Intake {
                channel: &self.channel,
                peer: &begun.peer,
                peer_certificate: None,
            };
            let run: Vec<Begun> = batch
                .messages
                .iter()
                .map(|raw| self.begin(&intake, raw))
                .collect();
            group.push((begun, run));
            (messages, bytes) = (messages + count, bytes + size);
        }
        self.settle(group).await;
    }

    /// Reads a file with more messages than a run, one run at a time.
    async fn read_in_runs(&mut self, mut file: BegunFile, messages: &[&[u8]]) {
        let mut next = 0;
        while next < messages.len() {
            let run = run_length(&messages[next..]);
            let intake = Intake {
                channel: &self.channel,
                peer: &file.peer,
                peer_certificate: None,
            };
            let begun = messages[next..next + run]
                .iter()
                .map(|raw| self.begin(&intake, raw));
            let begun: Vec<Begun> = begun.collect();
            if !self.finish_run(&mut file, next, begun).await {
                return;
            }
            next += run;
        }
        self.move_on(file);
    }

    /// Finishes the files of a group in order and moves each on; once
    /// storage fails, that file and the ones after it stay for the next
    /// poll.
    async fn settle(&mut self, group: Vec<(BegunFile, Vec<Begun>)>) {
        let mut group = group.into_iter();
        while let Some((mut file, run)) = group.next() {
            if !self.finish_run(&mut file, 0, run).await {
                for (later, run) in group {
                    let intake = Intake {
                        channel: &self.channel,
                        peer: &later.peer,
                        peer_certificate: None,
                    };
                    for begun in run {
                        intake.abandon(begun).await;
                    }
                    let reason =
                        "storage failed at an earlier file; the file stays for the next poll";
                    self.failed_as(FileOutcome::Retry, &later.name, reason);
                }
                return;
            }
            self.move_on(file);
        }
    }

    /// Finishes a run of `file`'s messages (the first being message
    /// `first` + 1 of the file) in order, noting refusals in its report;
    /// `false` when storage failed, and the file stays for the next poll.
    async fn finish_run(&self, file: &mut BegunFile, first: usize, run: Vec<Begun>) -> bool {
        let intake = Intake {
            channel: &self.channel,
            peer: &file.peer,
            peer_certificate: None,
        };
        let mut run = run.into_iter();
        for (index, one) in (first..).zip(run.by_ref()) {
            let answer = intake.finish(one).await;
            if !answer.committed && matches!(answer.code, "AE" | "CE") {
                for rest in run {
                    intake.abandon(rest).await;
                }
                let reason = format!(
                    "storage failed at message {}; the file stays for the next poll",
                    index + 1
                );
                self.failed_as(FileOutcome::Retry, &file.name, &reason);
                return false;
            }
            if matches!(answer.code, "AR" | "CR") {
                file.refused += 1;
                describe_refusal(&mut file.report, index + 1, &answer);
            }
        }
        true
    }

    /// Moves a file whose messages are all finished to the error directory
    /// (with its report) or the done directory.
    fn move_on(&mut self, file: BegunFile) {
        let report = (file.refused > 0).then_some(file.report);
        let (count, refused) = (file.count, file.refused);
        self.finish(&file.file, &file.name, count, refused, report, file.started);
    }

    /// Reads a file; `None` when it cannot be read (noted, so that it is
    /// not tried again until it changes) or is too large (refused).
    async fn load_or_refuse(
        &mut self,
        file: &(PathBuf, SystemTime),
        name: &str,
        started: Instant,
    ) -> Option<Vec<u8>> {
        let (path, modified) = file;
        match self.load(path).await {
            Ok(bytes) => Some(bytes),
            Err(Unreadable::TooLarge(size)) => {
                let limit = self.settings.max_file_bytes;
                let report =
                    format!("The file has {size} bytes, more than max_file_bytes ({limit}).\n");
                self.finish(file, name, 0, 1, Some(report), started);
                None
            }
            Err(Unreadable::Io(error)) => {
                self.failed.insert(path.clone(), *modified);
                let reason = format!("cannot read the file: {error}");
                self.failed_as(FileOutcome::Unreadable, name, &reason);
                None
            }
        }
    }

    async fn load(&self, path: &Path) -> Result<Vec<u8>, Unreadable> {
        let size = tokio::fs::metadata(path)
            .await
            .map_err(Unreadable::Io)?
            .len();
        if size > self.settings.max_file_bytes {
            return Err(Unreadable::TooLarge(size));
        }
        tokio::fs::read(path).await.map_err(Unreadable::Io)
    }

    /// Begins one message through the intake, or refuses it when it is
    /// too large.
    fn begin(&self, intake: &Intake<'_>, raw: &[u8]) -> Begun {
        let received = Instant::now();
        if raw.len() <= self.settings.max_message_bytes {
            return intake.begin(raw, received);
        }
        let head = &raw[..raw.len().min(crate::mllp::frame::HEAD_BYTES)];
        let answer = intake
            .refuse_oversized(head, raw.len(), received)
            .unwrap_or_else(|| Answer {
                committed: false,
                ack: None,
                code: "AR",
                control_id: None,
                errors: vec![error(
                    ErrorCode::SegmentSequenceError,
                    Severity::Error,
                    "Too large, and without a readable MSH.",
                )],
                received,
            });
        Begun::from(answer)
    }

    /// Moves the file on: to the error directory with `report`, else to
    /// the done directory or away.
    fn finish(
        &mut self,
        (path, modified): &(PathBuf, SystemTime),
        name: &str,
        messages: usize,
        refused: usize,
        report: Option<String>,
        started: Instant,
    ) {
        let moved = match (&report, self.settings.after_read) {
            (Some(report), _) => move_into(path, &self.error_dir).and_then(|target| {
                let report_path = target.with_file_name(format!(
                    "{}.errors.txt",
                    target.file_name().unwrap_or_default().to_string_lossy()
                ));
                let report = format!("{report}\nThe audit log names this file {name}.\n");
                std::fs::write(&report_path, report)?;
                Ok(FileOutcome::Refused)
            }),
            (None, AfterRead::Move) => move_into(path, &self.done_dir).map(|_| FileOutcome::Done),
            (None, AfterRead::Delete) => std::fs::remove_file(path).map(|()| FileOutcome::Deleted),
        };
        match moved {
            Ok(outcome) => self.finish_as(outcome, name, messages, refused, started),
            Err(error) => {
                self.failed.insert(path.clone(), *modified);
                let reason = format!("read, but cannot be moved on: {error}");
                self.failed_as(FileOutcome::Unmovable, name, &reason);
            }
        }
    }

    /// How logs and the recorded sender name the file at `path`: its name
    /// with `show_file_names`, otherwise its [`file_reference`].
    fn shown_name(&self, path: &Path) -> String {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if self.settings.show_file_names {
            name.into_owned()
        } else {
            file_reference(&name)
        }
    }

    fn failed_as(&self, outcome: FileOutcome, file: &str, reason: &str) {
        FileFailed {
            channel: &self.channel.name,
            file,
            outcome: outcome.as_str(),
            reason,
        }
        .emit(&self.channel.metrics);
    }

    fn finish_as(
        &self,
        outcome: FileOutcome,
        file: &str,
        messages: usize,
        refused: usize,
        started: Instant,
    ) {
        FileRead {
            channel: &self.channel.name,
            file,
            messages,
            refused,
            outcome: outcome.as_str(),
            elapsed: started.elapsed(),
        }
        .emit(&self.channel.metrics);
    }
}

/// A file's name as logs give it by default: `#` and the first 12 hex
/// digits of the SHA-256 of `name`. It tells files apart without showing
/// the name; whoever has a name can check it against the logs by hashing
/// it (`printf %s NAME | sha256sum | cut -c1-12`).
pub fn file_reference(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    format!("#{}", &hex::encode(digest)[..12])
}

/// Why a file could not be read.
enum Unreadable {
    TooLarge(u64),
    Io(std::io::Error),
}

/// How many of `messages` (at least one) to begin before waiting for the
/// first: up to [`RUN_MESSAGES`] and [`RUN_BYTES`].
fn run_length(messages: &[&[u8]]) -> usize {
    let mut bytes = 0;
    let fits = messages.iter().take(RUN_MESSAGES).take_while(|raw| {
        bytes += raw.len();
        bytes <= RUN_BYTES
    });
    fits.count().max(1).min(messages.len())
}

/// Adds a refused message's lines to a file's report.
fn describe_refusal(report: &mut String, place: usize, answer: &Answer) {
    let control_id = answer.control_id.as_deref().unwrap_or("-");
    let _ = writeln!(
        report,
        "message {place} (MSH-10 {control_id}): {}",
        answer.code
    );
    for error in &answer.errors {
        let _ = writeln!(
            report,
            "  {} {} {}",
            error.severity.code(),
            error.code.code(),
            error.message
        );
    }
}

/// Renames `path` into `dir`, keeping its name unless a file there has it
/// already (then `.1`, `.2`, … is added); returns the new path.
fn move_into(path: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut target = dir.join(name.as_ref());
    let mut n = 0;
    while target.exists() {
        n += 1;
        target = dir.join(format!("{name}.{n}"));
    }
    std::fs::rename(path, &target)?;
    Ok(target)
}

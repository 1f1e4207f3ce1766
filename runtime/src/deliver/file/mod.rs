//! File destinations: [`FileTargetConfig`] and [`FileConnector`], which writes each
//! message to its own file, atomically.
//!
//! A write goes to a temporary file in the same directory (named `.hl7wasm-….tmp`, so
//! that a poller skipping dot files or `.tmp` never picks it up), whose data is
//! flushed to disk, renamed to its final name, and the directory flushed too: a reader
//! sees the whole file or none, and a file that was reported written survives a crash.
//! A file of the same name is replaced, so a message delivered again after a crash is
//! written once. Any IO error is a retry: a full disk or a lost mount may clear.
//!
//! [`FileConnector::deliver_batch`] writes several messages together: the temporary
//! files are written and their data flushed from several threads at once (the file
//! system commits concurrent flushes together), then all are renamed in order and the
//! directory is flushed once. Flushes are what a file destination's throughput is
//! made of; one at a time, each new file costs two journal commits.

mod pattern;

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Attempt, ConnectorError, Delivery};
use pattern::NamePattern;

/// A file destination: the directory and how files are named.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTargetConfig {
    /// The directory the files are written to; created when missing. Required.
    pub dir: PathBuf,
    /// The file name pattern. Placeholders: `{channel}`, `{destination}`, `{id}` (the
    /// inbound message's store id), `{seq}` (the outbound entry's id), `{control_id}`
    /// (MSH-10), `{type}` (such as `ADT_A01`), `{ext}` (`json`, `hl7` or `txt` after the
    /// content type) and `{date}` (`YYYYMMDD`, UTC). Values are reduced to letters,
    /// digits, `-`, `_` and `.`, so no name leaves `dir`. The pattern needs `{seq}`,
    /// `{id}` or `{control_id}`.
    ///
    /// By default this is "{channel}-{id}-{seq}.{ext}".
    #[serde(default = "default_file_name")]
    pub file_name: String,
}

fn default_file_name() -> String {
    "{channel}-{id}-{seq}.{ext}".to_owned()
}

/// Writes each message to a file in one directory.
#[derive(Debug)]
pub struct FileConnector {
    dir: PathBuf,
    pattern: NamePattern,
}

impl FileConnector {
    /// Checks the file name pattern; the directory is created on the first write.
    ///
    /// # Errors
    ///
    /// [`ConnectorError::FileName`] when the pattern is invalid.
    pub fn new(config: &FileTargetConfig) -> Result<FileConnector, ConnectorError> {
        let pattern =
            NamePattern::parse(&config.file_name).map_err(|reason| ConnectorError::FileName {
                pattern: config.file_name.clone(),
                reason,
            })?;
        Ok(FileConnector {
            dir: config.dir.clone(),
            pattern,
        })
    }

    /// Writes the body to its file; an IO error is a retry.
    pub async fn deliver(&mut self, delivery: &Delivery<'_>) -> Attempt {
        let mut attempts = self.deliver_batch(std::slice::from_ref(delivery)).await;
        attempts.pop().expect("one attempt per batch at least")
    }

    /// Writes each body to its file, in order, with one directory flush, and
    /// answers one attempt per file written or failed: every file before the first
    /// failure is delivered, the failure is a retry, and the files after it are not
    /// attempted (the answer is shorter than `deliveries`), so that no file overtakes
    /// one that failed.
    pub async fn deliver_batch(&mut self, deliveries: &[Delivery<'_>]) -> Vec<Attempt> {
        let date = today();
        let files: Vec<(String, Vec<u8>)> = deliveries
            .iter()
            .map(|delivery| (self.pattern.render(delivery, &date), delivery.body.to_vec()))
            .collect();
        let dir = self.dir.clone();
        // Writes and fsyncs block; they run off the async workers.
        let written = tokio::task::spawn_blocking(move || write_all_atomically(&dir, &files))
            .await
            .unwrap_or_else(|join_error| Written {
                files: 0,
                failure: Some(Attempt::retry(format!("file writer failed: {join_error}"))),
            });
        let mut attempts = Vec::with_capacity(deliveries.len());
        for delivery in &deliveries[..written.files] {
            tracing::debug!(
                channel = delivery.channel,
                destination = delivery.destination,
                control_id = delivery.control_id,
                "File written."
            );
            attempts.push(Attempt::Delivered);
        }
        attempts.extend(written.failure);
        attempts
    }
}

/// How many threads write and flush one batch's files at once.
const WRITER_THREADS: usize = 8;

/// How far a batch of writes got.
struct Written {
    /// The files written and flushed, from the first.
    files: usize,
    /// Why the file after them failed, if one did: a retry.
    failure: Option<Attempt>,
}

/// A failed write as a retry: one the directory itself causes (a full or
/// read-only file system, a quota, no permission, the directory gone or not
/// a directory) is an outage, which says nothing about the message
/// (`unreachable`).
fn failed_write(reason: String, error: &io::Error) -> Attempt {
    use io::ErrorKind::{
        NotADirectory, NotFound, PermissionDenied, QuotaExceeded, ReadOnlyFilesystem, StorageFull,
    };
    match error.kind() {
        NotADirectory | NotFound | PermissionDenied | QuotaExceeded | ReadOnlyFilesystem
        | StorageFull => Attempt::unreachable(reason),
        _ => Attempt::retry(reason),
    }
}

/// Writes each `(name, body)` to `dir/name` through a flushed temporary file and a
/// rename, then flushes the directory. Stops at the first error; temporary files not
/// renamed are removed. A failed directory flush fails every file, as none is known
/// to survive a crash.
fn write_all_atomically(dir: &Path, files: &[(String, Vec<u8>)]) -> Written {
    let cannot_write = |index: usize, error: io::Error| {
        let path = dir.join(&files[index].0);
        failed_write(format!("cannot write {}: {error}", path.display()), &error)
    };
    if let Err(error) = std::fs::create_dir_all(dir) {
        return Written {
            files: 0,
            failure: Some(cannot_write(0, error)),
        };
    }
    let (temporary, failed) = write_temporaries(dir, files);
    let mut failure = failed.map(|(index, error)| cannot_write(index, error));
    let mut renamed = 0;
    for (file, (name, _)) in temporary.into_iter().zip(files) {
        // On an error, dropping the files left removes them.
        if let Err(error) = file.persist(dir.join(name)) {
            failure = Some(cannot_write(renamed, error.error));
            break;
        }
        renamed += 1;
    }
    if renamed > 0
        && let Err(error) = File::open(dir).and_then(|dir| dir.sync_all())
    {
        let reason = format!("cannot flush directory {}: {error}", dir.display());
        return Written {
            files: 0,
            failure: Some(failed_write(reason, &error)),
        };
    }
    Written {
        files: renamed,
        failure,
    }
}

/// Writes each body to a temporary file in `dir` and flushes its data, from up to
/// [`WRITER_THREADS`] threads at once: the file system commits concurrent flushes
/// together, where one after the other each new file's flush is a journal commit of
/// its own. Returns the flushed files before the first failure, in order, and that
/// failure (its index and why); the files after it are removed.
fn write_temporaries(
    dir: &Path,
    files: &[(String, Vec<u8>)],
) -> (Vec<tempfile::NamedTempFile>, Option<(usize, io::Error)>) {
    let per_thread = files.len().div_ceil(WRITER_THREADS).max(1);
    let chunks = if files.len() <= 1 {
        vec![write_chunk(dir, files)]
    } else {
        std::thread::scope(|scope| {
            let writers: Vec<_> = files
                .chunks(per_thread)
                .map(|chunk| scope.spawn(move || write_chunk(dir, chunk)))
                .collect();
            writers
                .into_iter()
                .map(|writer| writer.join().expect("writing files does not panic"))
                .collect()
        })
    };
    let mut written = Vec::with_capacity(files.len());
    for (chunk, failed) in chunks {
        written.extend(chunk);
        if let Some(error) = failed {
            let index = written.len();
            return (written, Some((index, error)));
        }
    }
    (written, None)
}

/// Writes and flushes `files`' bodies one after the other, up to the first failure.
fn write_chunk(
    dir: &Path,
    files: &[(String, Vec<u8>)],
) -> (Vec<tempfile::NamedTempFile>, Option<io::Error>) {
    let mut written = Vec::with_capacity(files.len());
    for (_, body) in files {
        match write_temporary(dir, body) {
            Ok(file) => written.push(file),
            Err(error) => return (written, Some(error)),
        }
    }
    (written, None)
}

/// A temporary file in `dir` holding `body`, its data flushed to disk.
fn write_temporary(dir: &Path, body: &[u8]) -> io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".hl7wasm-").suffix(".tmp");
    // Temporary files are private by default; the final file gets the permissions of
    // any file this process creates (0666 less the umask), so that readers can read it.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut file = builder.tempfile_in(dir)?;
    file.write_all(body)?;
    file.as_file().sync_data()?;
    Ok(file)
}

/// Today's date in UTC as `YYYYMMDD`.
fn today() -> String {
    let date = time::OffsetDateTime::now_utc().date();
    format!(
        "{:04}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

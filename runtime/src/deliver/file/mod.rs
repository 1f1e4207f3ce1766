//! File destinations: [`FileTargetConfig`] and [`FileConnector`], which writes each
//! message to its own file, atomically.
//!
//! A write goes to a temporary file in the same directory (named `.hl7wasm-….tmp`, so
//! that a poller skipping dot files or `.tmp` never picks it up), which is flushed to
//! disk, renamed to its final name, and the directory flushed too: a reader sees the
//! whole file or none, and a file that was reported written survives a crash. A file
//! of the same name is replaced, so a message delivered again after a crash is written
//! once. Any IO error is a retry: a full disk or a lost mount may clear.

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
        let name = self.pattern.render(delivery, &today());
        let path = self.dir.join(&name);
        let (dir, body) = (self.dir.clone(), delivery.body.to_vec());
        // Writes and fsyncs block; they run off the async workers.
        let written = tokio::task::spawn_blocking(move || write_atomically(&dir, &name, &body))
            .await
            .unwrap_or_else(|join_error| Err(io::Error::other(join_error)));
        match written {
            Ok(()) => {
                tracing::debug!(
                    channel = delivery.channel,
                    destination = delivery.destination,
                    control_id = delivery.control_id,
                    path = %path.display(),
                    "File written."
                );
                Attempt::Delivered
            }
            Err(error) => Attempt::retry(format!("cannot write {}: {error}", path.display())),
        }
    }
}

/// Writes `body` to `dir/name` through a flushed temporary file and a rename. On an
/// error the temporary file is removed.
fn write_atomically(dir: &Path, name: &str, body: &[u8]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(".hl7wasm-").suffix(".tmp");
    // Temporary files are private by default; the final file gets the permissions of
    // any file this process creates (0666 less the umask), so that readers can read it.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut file = builder.tempfile_in(dir)?;
    file.write_all(body)?;
    file.as_file().sync_all()?;
    file.persist(dir.join(name)).map_err(|error| error.error)?;
    File::open(dir)?.sync_all()
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

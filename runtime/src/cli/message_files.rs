//! Reading HL7 v2 message files for the offline commands (`parse`,
//! `validate`): one message per file or a batch, each message parsed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use hl7v2::Message;

/// Calls `visit` with each file, the message's 1-based place in it and the
/// parsed message. A file or message that cannot be parsed is reported on
/// stderr (with its byte offset) and skipped. Exit code 1 when any was, or
/// when `visit` said a message failed (returned `false`).
///
/// # Errors
/// When a file cannot be read, or `visit` fails.
pub fn each_message(
    files: &[PathBuf],
    mut visit: impl FnMut(&Path, usize, &Message<'_>) -> anyhow::Result<bool>,
) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for file in files {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let batch = match hl7v2::split_batch(&bytes) {
            Ok(batch) => batch,
            Err(error) => {
                eprintln!("error: {}: {error}", file.display());
                failed = true;
                continue;
            }
        };
        for (index, raw) in batch.messages.iter().enumerate() {
            match Message::parse(raw) {
                Ok(message) => failed |= !visit(file, index + 1, &message)?,
                Err(error) => {
                    let offset = raw.as_ptr() as usize - bytes.as_ptr() as usize;
                    eprintln!(
                        "error: {}: message {}: {error} (message starts at byte {offset} of the file)",
                        file.display(),
                        index + 1
                    );
                    failed = true;
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

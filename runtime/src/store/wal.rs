//! The write-ahead log: numbered segment files under `<store dir>/wal/` that
//! make a stored message durable before its sled writes are.
//!
//! ```text
//! wal/00000001.wal, wal/00000002.wal, …   appended to in number order
//! record = len u32 | crc32 u32 | payload (len bytes)   (little-endian)
//! ```
//!
//! Only the newest segment is appended to. A write or fsync that fails marks
//! the log failed: every later append fails too, and nothing more goes into
//! that segment after a possibly torn tail, until [`Wal::restart`] (run by
//! recovery) starts a new segment. Reading stops at the first short or
//! damaged record of a segment: a crash can tear only the record that was
//! being appended.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::StoreError;

/// The bytes before each payload: its length and its CRC-32.
const HEADER: usize = 8;

/// The segment files of one store.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    /// The number of the segment appended to.
    segment: u64,
    file: Option<File>,
    /// Bytes appended to the current segment.
    written: u64,
    /// Why the last append failed; appends are refused until a restart.
    failure: Option<String>,
}

impl Wal {
    /// The log in `<store_dir>/wal`, creating the folder if needed. Nothing
    /// is appended until [`Wal::restart`] has opened a segment.
    ///
    /// # Errors
    ///
    /// Any error creating the folder.
    pub(crate) fn open(store_dir: &Path) -> io::Result<Wal> {
        let dir = store_dir.join("wal");
        fs::create_dir_all(&dir)?;
        Ok(Wal {
            dir,
            segment: 0,
            file: None,
            written: 0,
            failure: Some("the log was not started".to_owned()),
        })
    }

    /// Calls `apply` with the payload of every intact record, segment by
    /// segment in order, and returns how many there were.
    ///
    /// # Errors
    ///
    /// An error reading a segment, or the first error of `apply`.
    pub(crate) fn replay(
        &self,
        mut apply: impl FnMut(&[u8]) -> Result<(), StoreError>,
    ) -> Result<usize, StoreError> {
        let mut count = 0;
        for segment in self.segments()? {
            let bytes = fs::read(self.path(segment))?;
            let (payloads, intact) = parse(&bytes);
            if intact < bytes.len() {
                tracing::warn!(
                    segment,
                    dropped_bytes = bytes.len() - intact,
                    "Torn write-ahead log record ignored."
                );
            }
            for payload in payloads {
                apply(payload)?;
                count += 1;
            }
        }
        Ok(count)
    }

    /// Starts a new, empty segment and deletes every older one; clears a
    /// failure. Call it only once every record is durable elsewhere. An old
    /// segment that cannot be deleted is only logged: replaying it again is
    /// harmless.
    ///
    /// # Errors
    ///
    /// Any error creating the segment; the log stays failed.
    pub(crate) fn restart(&mut self) -> io::Result<()> {
        let newest = self.segments()?.last().copied().unwrap_or(0);
        let segment = self.create_segment(newest.max(self.segment) + 1)?;
        self.failure = None;
        if let Err(error) = self.delete_before(segment) {
            tracing::warn!(%error, "Replayed write-ahead log segments not deleted.");
        }
        Ok(())
    }

    /// Writes `bytes` (whole framed records) to the current segment and
    /// fsyncs it. With no bytes it only reports whether everything appended
    /// before is durable, which it is unless an append failed: appends are
    /// made one after the other.
    ///
    /// # Errors
    ///
    /// Why the write or fsync failed, now or since the last restart.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<(), String> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let file = self.file.as_mut().expect("a started log has a segment");
        match file.write_all(bytes).and_then(|()| file.sync_data()) {
            Ok(()) => {
                self.written += bytes.len() as u64;
                Ok(())
            }
            Err(error) => {
                let failure = format!("write-ahead log: {error}");
                self.failure = Some(failure.clone());
                Err(failure)
            }
        }
    }

    /// Starts a new segment if the current one holds records, and returns
    /// its number: every older segment may be deleted once the writes of its
    /// records are durable in sled. `None` if there is nothing to rotate or
    /// the log has failed (recovery then replays it).
    ///
    /// # Errors
    ///
    /// Any error creating the segment; the current one stays in use.
    pub(crate) fn rotate(&mut self) -> io::Result<Option<u64>> {
        if self.written == 0 || self.failure.is_some() {
            return Ok(None);
        }
        self.create_segment(self.segment + 1).map(Some)
    }

    /// Deletes every segment numbered below `segment`.
    ///
    /// # Errors
    ///
    /// Any error listing or deleting them.
    pub(crate) fn delete_before(&self, segment: u64) -> io::Result<()> {
        for old in self.segments()?.into_iter().filter(|&old| old < segment) {
            match fs::remove_file(self.path(old)) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }

    /// The numbers of the segments on disk, in order.
    fn segments(&self) -> io::Result<Vec<u64>> {
        let mut segments = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let number = name.to_str().and_then(|name| name.strip_suffix(".wal"));
            if let Some(number) = number.and_then(|number| number.parse().ok()) {
                segments.push(number);
            }
        }
        segments.sort_unstable();
        Ok(segments)
    }

    fn create_segment(&mut self, segment: u64) -> io::Result<u64> {
        // A file of this number can only be left empty by a rotation that
        // failed after creating it.
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(self.path(segment))?;
        // The new file's directory entry must be durable before a record in
        // it is acknowledged.
        File::open(&self.dir)?.sync_all()?;
        self.file = Some(file);
        self.segment = segment;
        self.written = 0;
        Ok(segment)
    }

    fn path(&self, segment: u64) -> PathBuf {
        self.dir.join(format!("{segment:08}.wal"))
    }
}

/// Appends one record to `out`, its payload written by `write_payload`.
pub(crate) fn frame(out: &mut Vec<u8>, write_payload: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    write_payload(out);
    let payload = &out[start + HEADER..];
    let length = u32::try_from(payload.len()).expect("record under 4 GiB");
    let crc = crc32fast::hash(payload);
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
    out[start + 4..start + HEADER].copy_from_slice(&crc.to_le_bytes());
}

/// The payloads of whole records, as framed by [`frame`]; stops at the
/// first torn or damaged one.
pub(crate) fn payloads(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    parse(bytes).0.into_iter()
}

/// The payloads of the intact records at the start of `bytes`, and how many
/// bytes they span.
fn parse(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut payloads = Vec::new();
    let mut offset = 0;
    while let Some(header) = bytes.get(offset..offset + HEADER) {
        let length = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        let start = offset + HEADER;
        let Some(payload) = bytes.get(start..start + length) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        payloads.push(payload);
        offset = start + length;
    }
    (payloads, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that parsing returns the records before a torn or damaged
    /// one and stops there.
    #[test]
    fn parse_stops_at_the_first_torn_record() {
        let mut bytes = Vec::new();
        for payload in [&b"first"[..], b"second", b"third"] {
            frame(&mut bytes, |out| out.extend_from_slice(payload));
        }
        let intact = bytes.len() - (HEADER + 5);
        assert_eq!(parse(&bytes).0, [&b"first"[..], b"second", b"third"]);
        assert_eq!(
            parse(&bytes[..bytes.len() - 1]),
            (vec![&b"first"[..], b"second"], intact)
        );

        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(parse(&bytes).1, intact, "a bad CRC ends the log");
        assert_eq!(parse(&bytes[..3]).1, 0, "a short header ends the log");
    }
}

//! The write-ahead log: numbered segment files under `<store dir>/wal/` that
//! make a stored message durable before its sled writes are.
//!
//! ```text
//! wal/00000001.wal, wal/00000002.wal, …   appended to in number order
//! wal/spare                               a recycled segment, ready for reuse
//!
//! segment = "HL7WAL\0\x02" | number u64 | group*
//! group   = len u32 | crc32(number u64 | records) u32 | records (len bytes)
//! records = record*,  record = len u32 | crc32(payload) u32 | payload
//! (integers little-endian)
//! ```
//!
//! Only the newest segment is appended to, one group per flush. A write or
//! fsync that fails marks the log failed: every later append fails too, and
//! nothing more goes into that segment after a possibly torn tail, until
//! [`Wal::restart`] (run by recovery) starts a new segment. Reading stops at
//! the first short or damaged group of a segment: a crash can tear only the
//! group that was being appended.
//!
//! # Recycled segments
//!
//! A segment that is no longer needed becomes the spare instead of being
//! deleted, and the next new segment reuses its file, as PostgreSQL does:
//! overwriting blocks a file already has lets `fdatasync` skip the file-size
//! and block-allocation metadata that appending makes it commit, which on
//! ext4 makes each flush about a quarter shorter. A reused file still holds
//! its old groups past the new ones; they never replay, because each group's
//! checksum covers the number of the segment it was written to. The spare
//! gets its new header, and that is fsynced, before it is renamed into
//! place, so a numbered segment never starts with another segment's header.
//!
//! Segments written before this format (no header: `record*`) are still
//! replayed, and are deleted, never recycled.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::StoreError;

/// The bytes before each record's payload, and each group's records: their
/// length and CRC-32.
const HEADER: usize = 8;

/// The start of every segment in this format, before its number.
const MAGIC: [u8; 8] = *b"HL7WAL\0\x02";

/// The bytes of a segment header: the magic and the segment's number.
const SEGMENT_HEADER: usize = MAGIC.len() + 8;

/// The name of the recycled segment file.
const SPARE: &str = "spare";

/// The segment files of one store.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: PathBuf,
    /// The number of the segment appended to.
    segment: u64,
    file: Option<File>,
    /// Bytes of groups appended to the current segment.
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
            let (payloads, intact) = parse_segment(segment, &bytes);
            if intact < bytes.len() {
                // A torn group, or a recycled file's old groups.
                tracing::info!(
                    segment,
                    replayed_bytes = intact,
                    ignored_bytes = bytes.len() - intact,
                    "Write-ahead log segment replayed up to its first torn or old group."
                );
            }
            for payload in payloads {
                apply(payload)?;
                count += 1;
            }
        }
        Ok(count)
    }

    /// Starts a new, empty segment and recycles or deletes every older one;
    /// clears a failure. Call it only once every record is durable
    /// elsewhere. An old segment that cannot be deleted is only logged:
    /// replaying it again is harmless.
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

    /// Writes `records` (whole framed records) to the current segment as one
    /// group and fsyncs it. With no records it only reports whether
    /// everything appended before is durable, which it is unless an append
    /// failed: appends are made one after the other.
    ///
    /// # Errors
    ///
    /// Why the write or fsync failed, now or since the last restart.
    pub(crate) fn append(&mut self, records: &[u8]) -> Result<(), String> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        if records.is_empty() {
            return Ok(());
        }
        let header = group_header(self.segment, records);
        let file = self.file.as_mut().expect("a started log has a segment");
        match write_all_vectored(file, &header, records).and_then(|()| file.sync_data()) {
            Ok(()) => {
                self.written += (HEADER + records.len()) as u64;
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

    /// Retires every segment numbered below `segment`: the newest one in
    /// this format becomes the spare if there is none, the others are
    /// deleted.
    ///
    /// # Errors
    ///
    /// Any error listing, renaming or deleting them.
    pub(crate) fn delete_before(&self, segment: u64) -> io::Result<()> {
        let spare = self.dir.join(SPARE);
        let mut need_spare = !spare.exists();
        for old in self
            .segments()?
            .into_iter()
            .filter(|&old| old < segment)
            .rev()
        {
            let path = self.path(old);
            if need_spare && has_magic(&path)? {
                fs::rename(&path, &spare)?;
                need_spare = false;
                continue;
            }
            match fs::remove_file(path) {
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

    /// Makes segment `segment` the one appended to: the spare with a new
    /// header if there is one, otherwise a new file.
    fn create_segment(&mut self, segment: u64) -> io::Result<u64> {
        let path = self.path(segment);
        let spare = self.dir.join(SPARE);
        let mut file = match OpenOptions::new().write(true).open(&spare) {
            Ok(mut file) => {
                // Durable before the rename, so that the file never carries
                // this number with its old header.
                file.write_all(&segment_header(segment))?;
                file.sync_data()?;
                fs::rename(&spare, &path)?;
                file
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                // A file of this number can only be left by a rotation that
                // failed after creating it; its groups were never acknowledged.
                let mut file = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(&path)?;
                // Made durable by the first append's fsync.
                file.write_all(&segment_header(segment))?;
                file
            }
            Err(error) => return Err(error),
        };
        // The new file's directory entry must be durable before a record in
        // it is acknowledged.
        File::open(&self.dir)?.sync_all()?;
        file.seek(SeekFrom::Start(SEGMENT_HEADER as u64))?;
        self.file = Some(file);
        self.segment = segment;
        self.written = 0;
        Ok(segment)
    }

    fn path(&self, segment: u64) -> PathBuf {
        self.dir.join(format!("{segment:08}.wal"))
    }
}

fn segment_header(segment: u64) -> [u8; SEGMENT_HEADER] {
    let mut header = [0; SEGMENT_HEADER];
    header[..MAGIC.len()].copy_from_slice(&MAGIC);
    header[MAGIC.len()..].copy_from_slice(&segment.to_le_bytes());
    header
}

/// The length and checksum of a group of `records` in `segment`.
fn group_header(segment: u64, records: &[u8]) -> [u8; HEADER] {
    frame_header(records, group_crc(segment, records))
}

/// The header of a frame (a group or a record) holding `contents`, whose
/// checksum is `crc`: `len u32 | crc u32`, little-endian.
fn frame_header(contents: &[u8], crc: u32) -> [u8; HEADER] {
    let length = u32::try_from(contents.len()).expect("frame under 4 GiB");
    let mut header = [0; HEADER];
    header[..4].copy_from_slice(&length.to_le_bytes());
    header[4..].copy_from_slice(&crc.to_le_bytes());
    header
}

fn group_crc(segment: u64, records: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&segment.to_le_bytes());
    hasher.update(records);
    hasher.finalize()
}

/// Whether the file at `path` starts with this format's magic.
fn has_magic(path: &Path) -> io::Result<bool> {
    let mut start = [0; MAGIC.len()];
    match File::open(path)?.read_exact(&mut start) {
        Ok(()) => Ok(start == MAGIC),
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(error) => Err(error),
    }
}

fn write_all_vectored(file: &mut File, header: &[u8], body: &[u8]) -> io::Result<()> {
    let mut slices = [IoSlice::new(header), IoSlice::new(body)];
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut slices, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Appends one record to `out`, its payload written by `write_payload`.
pub(crate) fn frame(out: &mut Vec<u8>, write_payload: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    write_payload(out);
    let payload = &out[start + HEADER..];
    let header = frame_header(payload, crc32fast::hash(payload));
    out[start..start + HEADER].copy_from_slice(&header);
}

/// The payloads of whole records, as framed by [`frame`]; stops at the
/// first torn or damaged one.
pub(crate) fn payloads(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    parse_frames(bytes, crc32fast::hash).0.into_iter()
}

/// The record payloads of the intact groups of segment `segment`, and how
/// many bytes of the file they span.
fn parse_segment(segment: u64, bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let Some(groups) = bytes.strip_prefix(&MAGIC) else {
        // Written before segment headers: records only.
        return parse_frames(bytes, crc32fast::hash);
    };
    let Some((number, groups)) = groups.split_first_chunk::<8>() else {
        return (Vec::new(), 0);
    };
    if u64::from_le_bytes(*number) != segment {
        return (Vec::new(), 0);
    }
    let (groups, span) = parse_frames(groups, |records| group_crc(segment, records));
    let payloads = groups.into_iter().flat_map(payloads).collect();
    (payloads, SEGMENT_HEADER + span)
}

/// The contents of the intact frames (`len u32 | checksum u32 | contents`)
/// at the start of `bytes`, whose checksums `checksum` computes, and how
/// many bytes they span. Frames are never empty, so zeros end them too.
fn parse_frames(bytes: &[u8], checksum: impl Fn(&[u8]) -> u32) -> (Vec<&[u8]>, usize) {
    let mut frames = Vec::new();
    let mut offset = 0;
    while let Some(header) = bytes.get(offset..offset + HEADER) {
        let length = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        let start = offset + HEADER;
        let Some(contents) = bytes.get(start..start + length) else {
            break;
        };
        if length == 0 || checksum(contents) != crc {
            break;
        }
        frames.push(contents);
        offset = start + length;
    }
    (frames, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
        parse_frames(bytes, crc32fast::hash)
    }

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for payload in payloads {
            frame(&mut bytes, |out| out.extend_from_slice(payload));
        }
        bytes
    }

    fn replayed(wal: &Wal) -> Vec<Vec<u8>> {
        let mut payloads = Vec::new();
        wal.replay(|payload| {
            payloads.push(payload.to_vec());
            Ok(())
        })
        .expect("replays");
        payloads
    }

    /// Ensures that parsing returns the records before a torn or damaged
    /// one and stops there.
    #[test]
    fn parse_stops_at_the_first_torn_record() {
        let mut bytes = framed(&[b"first", b"second", b"third"]);
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
        assert_eq!(parse(&[0; 32]).1, 0, "zeros end the log");
    }

    /// Ensures that a retired segment's file is reused for a later segment
    /// and that its old groups, still in the file after the new ones, are
    /// not replayed.
    #[test]
    fn a_recycled_segment_replays_only_its_new_groups() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut wal = Wal::open(dir.path()).expect("opens");
        wal.restart().expect("starts segment 1");
        for old in [&b"old one"[..], b"old two", b"old three"] {
            wal.append(&framed(&[old])).expect("appends");
        }
        let second = wal.rotate().expect("rotates").expect("had records");
        wal.append(&framed(&[b"second"])).expect("appends");
        wal.delete_before(second).expect("retires segment 1");
        let spare = dir.path().join("wal").join(SPARE);
        let old_length = fs::metadata(&spare).expect("segment 1 is the spare").len();

        let third = wal.rotate().expect("rotates").expect("had records");
        assert!(!spare.exists(), "the spare became segment {third}");
        wal.append(&framed(&[b"new", b"newer"])).expect("appends");
        let reused = fs::metadata(wal.path(third)).expect("segment 3").len();
        assert_eq!(reused, old_length, "the new groups overwrote the old ones");
        drop(wal);

        let reopened = Wal::open(dir.path()).expect("opens");
        assert_eq!(replayed(&reopened), [&b"second"[..], b"new", b"newer"]);
    }

    /// Ensures that a torn group ends its segment's replay, and that a
    /// segment written before segment headers is replayed and then deleted
    /// rather than recycled.
    #[test]
    fn replay_stops_at_a_torn_group_and_reads_old_segments() {
        let dir = tempfile::tempdir().expect("temp dir");
        let wal_dir = dir.path().join("wal");
        fs::create_dir_all(&wal_dir).expect("creates wal/");
        fs::write(wal_dir.join("00000001.wal"), framed(&[b"legacy"])).expect("writes");
        let mut wal = Wal::open(dir.path()).expect("opens");
        assert_eq!(replayed(&wal), [b"legacy"]);
        wal.restart().expect("starts segment 2");
        assert!(!wal_dir.join("00000001.wal").exists());
        assert!(!wal_dir.join(SPARE).exists(), "old segments are not reused");

        wal.append(&framed(&[b"kept"])).expect("appends");
        wal.append(&framed(&[b"torn"])).expect("appends");
        let path = wal.path(2);
        let length = fs::metadata(&path).expect("segment 2").len();
        drop(wal);
        let file = OpenOptions::new().write(true).open(&path).expect("opens");
        file.set_len(length - 1).expect("tears the last group");
        assert_eq!(replayed(&Wal::open(dir.path()).expect("opens")), [b"kept"]);
    }
}

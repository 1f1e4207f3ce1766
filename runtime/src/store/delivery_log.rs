//! The deliveries of outbound entries held in memory (`held_outbound.rs`),
//! appended to small files so that the engine, restarted after a crash of
//! its process, does not deliver them again.
//!
//! ```text
//! <dir>/delivered/<number u64, 20 digits>.log   one file per checkpoint interval
//! record = message id u64 BE | sequence u64 BE
//! ```
//!
//! Each delivery is one `write` to the current file, not fsynced: it
//! survives the process (SIGKILL, a panic) but not the machine, where a
//! held entry delivered since the last checkpoints goes again, as at least
//! once allows. A checkpoint starts a new file and deletes those whose
//! messages all lie below the mark the previous checkpoint made durable:
//! opening the store reads only statuses from that mark on. Failing to
//! write or delete a file costs redeliveries after a crash, never a loss,
//! so it is logged and otherwise ignored.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One record's size.
const RECORD: usize = 16;

/// The delivery files of one store.
#[derive(Debug)]
pub(crate) struct DeliveryLog {
    dir: PathBuf,
    file: Option<File>,
    // The greatest message id each file holds, by file number; the last is
    // the current file.
    files: BTreeMap<u64, u64>,
}

impl DeliveryLog {
    /// The log in `<store_dir>/delivered`, not read yet.
    pub(crate) fn new(store_dir: &Path) -> Self {
        DeliveryLog {
            dir: store_dir.join("delivered"),
            file: None,
            files: BTreeMap::new(),
        }
    }

    /// Reads every file: the sequences delivered. Then starts a new file.
    ///
    /// # Errors
    ///
    /// An IO error reading the directory or a file; a torn last record (a
    /// crash mid-write) is ignored.
    pub(crate) fn read(&mut self) -> io::Result<HashSet<u64>> {
        fs::create_dir_all(&self.dir)?;
        self.files.clear();
        let mut delivered = HashSet::new();
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let Some(number) = file_number(&path) else {
                continue;
            };
            let bytes = fs::read(&path)?;
            let mut greatest = 0;
            for record in bytes.chunks_exact(RECORD) {
                let (id, sequence) = record.split_at(8);
                let id = u64::from_be_bytes(id.try_into().expect("8 bytes"));
                delivered.insert(u64::from_be_bytes(sequence.try_into().expect("8 bytes")));
                greatest = greatest.max(id);
            }
            self.files.insert(number, greatest);
        }
        self.rotate();
        Ok(delivered)
    }

    /// Records the delivery of entry `sequence` of message `message_id`.
    pub(crate) fn record(&mut self, message_id: u64, sequence: u64) {
        let Some(file) = &mut self.file else {
            return;
        };
        let mut record = [0; RECORD];
        record[..8].copy_from_slice(&message_id.to_be_bytes());
        record[8..].copy_from_slice(&sequence.to_be_bytes());
        if let Err(error) = file.write_all(&record) {
            tracing::warn!(%error, "Delivery not recorded; after a crash it would be made again.");
            self.file = None;
            return;
        }
        if let Some(greatest) = self.files.values_mut().next_back() {
            *greatest = (*greatest).max(message_id);
        }
    }

    /// Starts a new file and deletes those whose messages all lie below
    /// `durable_mark`, the mark sled holds on disk.
    pub(crate) fn checkpoint(&mut self, durable_mark: u64) {
        self.rotate();
        let current = self.files.keys().next_back().copied();
        let old: Vec<u64> = self
            .files
            .iter()
            .filter(|(number, greatest)| Some(**number) != current && **greatest < durable_mark)
            .map(|(number, _)| *number)
            .collect();
        for number in old {
            match fs::remove_file(self.path(number)) {
                Ok(()) => {
                    self.files.remove(&number);
                }
                Err(error) => tracing::warn!(%error, "Old delivery file not deleted."),
            }
        }
    }

    fn rotate(&mut self) {
        let number = self.files.keys().next_back().map_or(1, |last| last + 1);
        let opened = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(number));
        match opened {
            Ok(file) => {
                self.file = Some(file);
                self.files.insert(number, 0);
            }
            Err(error) => {
                tracing::warn!(%error, "Delivery file not created; deliveries since are not recorded.");
                self.file = None;
            }
        }
    }

    fn path(&self, number: u64) -> PathBuf {
        self.dir.join(format!("{number:020}.log"))
    }
}

fn file_number(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(".log")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that recorded deliveries are read back after a reopen (a
    /// torn record ignored), and that a checkpoint deletes only the files
    /// whose messages all lie below the durable mark, never the current.
    #[test]
    fn records_read_back_until_the_mark_passes_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = DeliveryLog::new(dir.path());
        assert!(log.read().unwrap().is_empty());
        log.record(10, 100);
        log.record(12, 101);
        log.checkpoint(0);
        log.record(20, 200);

        let mut again = DeliveryLog::new(dir.path());
        let current = again.path(2);
        fs::OpenOptions::new()
            .append(true)
            .open(&current)
            .unwrap()
            .write_all(&[1, 2, 3])
            .unwrap();
        assert_eq!(again.read().unwrap(), HashSet::from([100, 101, 200]));

        again.checkpoint(13);
        let mut third = DeliveryLog::new(dir.path());
        assert_eq!(
            third.read().unwrap(),
            HashSet::from([200]),
            "below 13: gone"
        );
        third.checkpoint(u64::MAX);
        assert!(DeliveryLog::new(dir.path()).read().unwrap().is_empty());
        assert!(third.files.len() == 1, "the current file stays");
    }
}

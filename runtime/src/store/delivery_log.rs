//! The deliveries of outbound entries held in memory (`held_outbound.rs`),
//! recorded in small files so that the engine, restarted after a crash of
//! its process, does not deliver them again.
//!
//! ```text
//! <dir>/delivered/<number u64, 20 digits>.log   one file per checkpoint interval
//! record = message id u64 BE | sequence u64 BE  (sequence 0: no record, the end)
//! ```
//!
//! The current file is mapped into memory, and each delivery is a 16-byte
//! store into the map: no system call (a `write` per delivery was about
//! 2.5% of the engine's time end to end, docs/BENCHMARKS.md). The map's
//! pages are the kernel's page cache, so a record survives the process
//! (SIGKILL, a panic) but not the machine, where a held entry delivered since
//! the last checkpoints goes again, as at least once allows. A file is
//! written full of zeros when it is created, so that no store into the map
//! needs a block the disk may not have (a full disk refuses the file
//! instead), and cut to its records when the next one starts; no sequence
//! is 0, as each is a store id handed out after its message's.
//!
//! A checkpoint starts a new file and deletes those whose messages all lie
//! below the mark the previous checkpoint made durable: opening the store
//! reads only statuses from that mark on. Failing to create or delete a file
//! costs redeliveries after a crash, never a loss, so it is logged and
//! otherwise ignored.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

/// One record's size.
const RECORD: usize = 16;

/// Records per file; a full file starts the next before the checkpoint
/// does. 1 MiB: about three seconds of deliveries at 20,000 a second.
const FILE_RECORDS: usize = 1 << 16;

/// The delivery files of one store.
#[derive(Debug)]
pub(crate) struct DeliveryLog {
    dir: PathBuf,
    current: Option<Current>,
    // The greatest message id each file holds, by file number; the last is
    // the current file.
    files: BTreeMap<u64, u64>,
}

/// The file records go to, mapped.
#[derive(Debug)]
struct Current {
    file: File,
    map: MmapMut,
    // Records stored so far.
    used: usize,
}

impl Current {
    /// Creates file `path`, full of zeros, and maps it. A file that could
    /// not be filled (a full disk) is removed.
    fn create(path: &Path) -> io::Result<Current> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        let zeros = vec![0; 64 << 10];
        let filled =
            (0..(FILE_RECORDS * RECORD) / zeros.len()).try_for_each(|_| file.write_all(&zeros));
        if let Err(error) = filled {
            let _ = fs::remove_file(path);
            return Err(error);
        }
        // SAFETY: the map's bytes change only through this map: the file is
        // new, in the store's own directory, and the engine neither writes
        // nor truncates it elsewhere while it is mapped (`Drop` cuts it after
        // the last store). Its blocks are written, so no store faults for
        // lack of space.
        let map = unsafe { MmapMut::map_mut(&file)? };
        Ok(Current { file, map, used: 0 })
    }

    /// Stores one record; `false` if the file is full.
    fn store(&mut self, message_id: u64, sequence: u64) -> bool {
        if self.used == FILE_RECORDS {
            return false;
        }
        let record = &mut self.map[self.used * RECORD..(self.used + 1) * RECORD];
        record[..8].copy_from_slice(&message_id.to_be_bytes());
        record[8..].copy_from_slice(&sequence.to_be_bytes());
        self.used += 1;
        true
    }
}

impl Drop for Current {
    /// Cuts the file to its records; the zeros after them would read as its
    /// end all the same.
    fn drop(&mut self) {
        if let Err(error) = self.file.set_len((self.used * RECORD) as u64) {
            tracing::debug!(%error, "Delivery file not cut to its records.");
        }
    }
}

impl DeliveryLog {
    /// The log in `<store_dir>/delivered`, not read yet.
    pub(crate) fn new(store_dir: &Path) -> Self {
        DeliveryLog {
            dir: store_dir.join("delivered"),
            current: None,
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
        self.current = None;
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
                let sequence = u64::from_be_bytes(sequence.try_into().expect("8 bytes"));
                if sequence == 0 {
                    break;
                }
                delivered.insert(sequence);
                greatest = greatest.max(u64::from_be_bytes(id.try_into().expect("8 bytes")));
            }
            self.files.insert(number, greatest);
        }
        self.rotate();
        Ok(delivered)
    }

    /// Records the delivery of entry `sequence` of message `message_id`.
    pub(crate) fn record(&mut self, message_id: u64, sequence: u64) {
        let stored = match &mut self.current {
            Some(current) => current.store(message_id, sequence),
            None => return,
        };
        if !stored {
            self.rotate();
            match &mut self.current {
                Some(current) => {
                    current.store(message_id, sequence);
                }
                None => return,
            }
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
        // The finished file is cut to its records before the next starts.
        self.current = None;
        let number = self.files.keys().next_back().map_or(1, |last| last + 1);
        match Current::create(&self.path(number)) {
            Ok(current) => {
                self.current = Some(current);
                self.files.insert(number, 0);
            }
            Err(error) => {
                tracing::warn!(%error, "Delivery file not created; deliveries since are not recorded.");
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

    /// Ensures that a full file starts the next, that every record of both
    /// reads back, and that a finished file is cut to its records.
    #[test]
    fn a_full_file_starts_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = DeliveryLog::new(dir.path());
        log.read().unwrap();
        let count = FILE_RECORDS as u64 + 3;
        for sequence in 1..=count {
            log.record(sequence / 2, sequence);
        }
        assert_eq!(log.files.len(), 2);
        let first = fs::metadata(log.path(1)).unwrap().len();
        assert_eq!(first, (FILE_RECORDS * RECORD) as u64, "full, nothing cut");
        drop(log);
        let second = fs::metadata(dir.path().join("delivered").join(format!("{:020}.log", 2)));
        assert_eq!(
            second.unwrap().len(),
            3 * RECORD as u64,
            "cut to its records"
        );

        let delivered = DeliveryLog::new(dir.path()).read().unwrap();
        assert_eq!(delivered, (1..=count).collect::<HashSet<u64>>());
    }
}

//! The dedupe index: every dedupe entry within the window, in memory, and
//! its durable form in sled, one chunk of entries per indexed group of log
//! records.
//!
//! Ingest looks a key up and adds its entry here only, under its channel's
//! lock and before the message's log record is appended, so a lookup never
//! reads sled and a resend finds its original's entry even while the
//! original waits for the indexer. One sled entry per dedupe key cost about
//! a sixth of the engine's CPU per message at 64 connections: the keys are
//! random, so every insert descended to another leaf and rewrote it
//! (docs/BENCHMARKS.md, "A dedupe index in memory"). A chunk costs one
//! insert per group.
//!
//! ```text
//! k/<id u64> -> (key length u32 | key | entry)*     entry as in dedupe.rs, 20 bytes
//! ```
//!
//! A chunk is keyed by the greatest message id it holds; ids grow with
//! time, so chunks sort from oldest to newest. The indexer writes a group's
//! chunk before the group's records: sled recovers a prefix of its log, so
//! a message whose record sled holds has its entry there too. Recovery
//! loads every chunk (and every `d/` entry an earlier version wrote, one
//! per key, see `dedupe.rs`) within the window, then adds the entries of
//! the log records it replays and stores them as one more chunk. Of two
//! entries under one key, the one of the greater id wins, in memory and at
//! load: a control id reused with other content takes the key over.
//!
//! Keys are held as 128-bit digests (two SipHash-1-3 keyed at random per
//! process, so no sender can choose control ids that collide). A slot of
//! the table takes 41 bytes and the table keeps 1.14 to 2.3 slots per
//! entry, so 47 to 94 bytes an entry: a window of a million messages takes
//! 86 MB. Two keys are confused only if their digests collide, with a
//! chance of about n² / 2¹²⁹ among n entries.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::dedupe::DedupeEntry;
use super::error::StoreError;
use super::keys;

/// A key's digest: two 64-bit halves rather than a `u128`, whose 16-byte
/// alignment would pad every slot of the table by 8 bytes.
type Digest = [u64; 2];

/// Every dedupe entry within the window, by digest of its key.
#[derive(Debug, Default)]
pub(crate) struct DedupeIndex {
    digests: [RandomState; 2],
    entries: Mutex<HashMap<Digest, DedupeEntry>>,
}

impl DedupeIndex {
    /// The entry under `key`, expired or not.
    pub(crate) fn get(&self, key: &[u8]) -> Option<DedupeEntry> {
        let digest = self.digest(key);
        self.lock().get(&digest).copied()
    }

    /// Files `entry` under `key`, unless the entry there is of a greater
    /// id.
    pub(crate) fn insert(&self, key: &[u8], entry: DedupeEntry) {
        let digest = self.digest(key);
        insert_newer(&mut self.lock(), digest, entry);
    }

    /// Removes the entry under `key` if it is message `id`'s (a message
    /// under a reused control id may have taken the key over), and returns
    /// whether it did.
    pub(crate) fn remove(&self, key: &[u8], id: u64) -> bool {
        let digest = self.digest(key);
        let mut entries = self.lock();
        let current = entries.get(&digest).is_some_and(|entry| entry.id == id);
        if current {
            entries.remove(&digest);
        }
        current
    }

    /// How many entries it holds.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Replaces what it holds by the entries `db` holds, chunks and older
    /// per-key entries alike, and returns how many keys it holds. Expired
    /// entries are loaded too (they never count, see `dedupe.rs`) until
    /// pruning removes them. Call it with no ingest running.
    ///
    /// # Errors
    ///
    /// Any sled error, and [`StoreError::Corrupt`] for an entry that does
    /// not decode.
    pub(crate) fn load(&self, db: &sled::Db) -> Result<usize, StoreError> {
        let mut loaded = HashMap::new();
        let mut add = |key: &[u8], entry| insert_newer(&mut loaded, self.digest(key), entry);
        for item in db.scan_prefix(keys::DEDUPE_CHUNK_PREFIX) {
            let (chunk_key, chunk) = item?;
            for entry in entries(&chunk_key, &chunk) {
                let (key, entry) = entry?;
                add(key, entry);
            }
        }
        for item in db.scan_prefix(keys::DEDUPE_PREFIX) {
            let (key, value) = item?;
            add(&key, DedupeEntry::decode(&key, &value)?);
        }
        let count = loaded.len();
        *self.lock() = loaded;
        Ok(count)
    }

    fn digest(&self, key: &[u8]) -> Digest {
        self.digests.each_ref().map(|state| state.hash_one(key))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Digest, DedupeEntry>> {
        self.entries.lock().expect("lock not poisoned")
    }
}

fn insert_newer(entries: &mut HashMap<Digest, DedupeEntry>, digest: Digest, entry: DedupeEntry) {
    let slot = entries.entry(digest).or_insert(entry);
    if slot.id < entry.id {
        *slot = entry;
    }
}

/// A chunk of dedupe entries being put together, to store in one sled
/// insert.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    bytes: Vec<u8>,
    greatest_id: Option<u64>,
}

impl Chunk {
    /// Adds the entry under `key`.
    pub(crate) fn push(&mut self, key: &[u8], entry: DedupeEntry) {
        let length = u32::try_from(key.len()).expect("key under 4 GiB");
        self.bytes.extend_from_slice(&length.to_be_bytes());
        self.bytes.extend_from_slice(key);
        // Entries come from log records, which have fingerprints, so each
        // takes the same bytes; the `d/` entries of earlier versions, some
        // without, are never chunked.
        let fingerprint = Some(entry.fingerprint.unwrap_or_default());
        DedupeEntry {
            fingerprint,
            ..entry
        }
        .encode_into(&mut self.bytes);
        self.greatest_id = self.greatest_id.max(Some(entry.id));
    }

    /// Inserts the chunk into `db` under its greatest id; nothing if it is
    /// empty. Storing the same chunk again rewrites the same entry.
    ///
    /// # Errors
    ///
    /// Any sled error.
    pub(crate) fn store(self, db: &sled::Db) -> Result<(), StoreError> {
        if let Some(id) = self.greatest_id {
            db.insert(keys::dedupe_chunk(id), self.bytes)?;
        }
        Ok(())
    }
}

/// The entries of a stored chunk, with their keys.
fn entries<'a>(
    chunk_key: &'a [u8],
    mut chunk: &'a [u8],
) -> impl Iterator<Item = Result<(&'a [u8], DedupeEntry), StoreError>> + 'a {
    let corrupt = move || StoreError::Corrupt {
        key: keys::describe(chunk_key),
        reason: "truncated dedupe chunk".to_owned(),
    };
    std::iter::from_fn(move || {
        if chunk.is_empty() {
            return None;
        }
        let mut next = || {
            let (length, rest) = chunk.split_first_chunk::<4>()?;
            let (key, rest) = rest.split_at_checked(u32::from_be_bytes(*length) as usize)?;
            let (entry, rest) = rest.split_at_checked(DedupeEntry::STORED_BYTES)?;
            chunk = rest;
            Some((key, entry))
        };
        let entry = next()
            .ok_or_else(corrupt)
            .and_then(|(key, entry)| Ok((key, DedupeEntry::decode(chunk_key, entry)?)));
        if entry.is_err() {
            chunk = &[];
        }
        Some(entry)
    })
}

/// Removes, oldest first, the chunks of which no entry covers `now_ms`
/// within `window`, with their entries in `index`, and returns how many
/// entries left the index (not those a newer message under the same key
/// had replaced). Stops at the first chunk with an entry that still counts:
/// the later ones are younger (but for a clock stepped back, which only
/// keeps them a while longer).
///
/// # Errors
///
/// Any sled error, and [`StoreError::Corrupt`] for a chunk that does not
/// decode.
pub(crate) fn prune(
    db: &sled::Db,
    index: &DedupeIndex,
    now_ms: u64,
    window: Duration,
) -> Result<usize, StoreError> {
    let mut removed = 0;
    for item in db.scan_prefix(keys::DEDUPE_CHUNK_PREFIX) {
        let (chunk_key, chunk) = item?;
        let chunk_entries = entries(&chunk_key, &chunk).collect::<Result<Vec<_>, _>>()?;
        if chunk_entries
            .iter()
            .any(|(_, entry)| entry.covers(now_ms, window))
        {
            break;
        }
        db.remove(&chunk_key)?;
        for (key, entry) in &chunk_entries {
            removed += usize::from(index.remove(key, entry.id));
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, received_at_ms: u64) -> DedupeEntry {
        DedupeEntry {
            id,
            received_at_ms,
            fingerprint: Some(id as u32),
        }
    }

    /// Ensures that the greater id wins a key, that removal spares an entry
    /// a newer message took over, and that a load brings back what chunks
    /// and per-key entries hold, and nothing else.
    #[test]
    fn entries_survive_a_load_and_the_newer_wins() {
        // The module docs count 40 bytes a slot and one control byte.
        assert_eq!(size_of::<(Digest, DedupeEntry)>(), 40);
        let index = DedupeIndex::default();
        index.insert(b"d/a", entry(5, 100));
        index.insert(b"d/a", entry(3, 100));
        assert_eq!(index.get(b"d/a"), Some(entry(5, 100)), "the greater id");
        assert!(!index.remove(b"d/a", 3));
        assert!(index.get(b"d/a").is_some(), "another id stays");
        assert!(index.remove(b"d/a", 5));
        assert_eq!((index.get(b"d/a"), index.get(b"d/b")), (None, None));

        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let mut first = Chunk::default();
        first.push(b"d/a", entry(1, 100));
        first.push(b"d/old", entry(2, 10));
        first.store(&db).unwrap();
        let mut second = Chunk::default();
        second.push(b"d/a", entry(4, 150));
        second.store(&db).unwrap();
        Chunk::default().store(&db).unwrap();
        db.insert(b"d/legacy", &entry(3, 120).encode()[..16])
            .unwrap();
        index.insert(b"d/gone", entry(9, 150));

        assert_eq!(index.load(&db).unwrap(), 3);
        assert_eq!(index.get(b"d/a"), Some(entry(4, 150)));
        assert_eq!(index.get(b"d/legacy").map(|e| e.fingerprint), Some(None));
        assert_eq!(index.get(b"d/old"), Some(entry(2, 10)), "expired, kept");
        assert_eq!(index.get(b"d/gone"), None, "what it held before is gone");
        assert_eq!(db.scan_prefix(keys::DEDUPE_CHUNK_PREFIX).count(), 2);
    }

    /// Ensures that pruning removes whole expired chunks, oldest first,
    /// stops at the first that still counts, and spares an index entry a
    /// newer message took over.
    #[test]
    fn pruning_removes_expired_chunks_up_to_a_live_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let index = DedupeIndex::default();
        let chunks: [&[(&[u8], DedupeEntry)]; 3] = [
            &[(b"d/a", entry(1, 10)), (b"d/b", entry(2, 10))],
            &[(b"d/c", entry(3, 90)), (b"d/a", entry(4, 50))],
            &[(b"d/d", entry(6, 20))],
        ];
        for entries in chunks {
            let mut chunk = Chunk::default();
            for &(key, entry) in entries {
                chunk.push(key, entry);
                index.insert(key, entry);
            }
            chunk.store(&db).unwrap();
        }
        let window = Duration::from_millis(50);

        assert_eq!(prune(&db, &index, 100, window).unwrap(), 1, "d/b");
        assert_eq!(index.get(b"d/b"), None);
        assert_eq!(index.get(b"d/a"), Some(entry(4, 50)), "taken over");
        assert!(index.get(b"d/d").is_some(), "behind a live chunk");
        assert_eq!(index.len(), 3);
        assert_eq!(prune(&db, &index, 200, window).unwrap(), 3);
        assert_eq!((index.len(), db.len()), (0, 0));

        db.insert(keys::dedupe_chunk(7), &[0, 0, 0, 9, 1][..])
            .unwrap();
        assert!(matches!(
            prune(&db, &index, 200, window),
            Err(StoreError::Corrupt { .. })
        ));
    }
}

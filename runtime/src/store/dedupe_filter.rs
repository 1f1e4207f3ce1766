//! Which dedupe keys sled holds, as counts of key fingerprints in memory, so
//! that ingest reads sled only for a key it may hold.
//!
//! Nearly every message is new, and looking its dedupe key up in sled cost
//! about a twelfth of the engine's CPU per message (a B-tree descent that
//! often also consolidates a page). The filter counts, per 64-bit
//! fingerprint, the dedupe keys sled holds: a fingerprint with no count
//! means sled holds no such key; one with a count may be a collision or an
//! expired entry, and sled is read. Counts change only with a sled write
//! whose result says a key was added or removed, so they stay exact:
//!
//! - the indexer counts a key once its insert found no earlier entry (a
//!   resend after the window replaces one and adds nothing); until then the
//!   key is in the indexer's pending entries, which ingest checks first;
//! - pruning uncounts a key once its compare-and-swap removed it;
//! - opening and reopening count every key sled holds after recovery.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, MutexGuard};

use super::error::StoreError;
use super::keys;

/// Counts of the dedupe keys sled holds, by fingerprint.
#[derive(Debug, Default)]
pub(crate) struct DedupeFilter {
    // Keyed per process, so that no sender can choose control ids that
    // share a fingerprint (which would only cost sled reads).
    fingerprints: RandomState,
    counts: Mutex<HashMap<u64, u32>>,
}

impl DedupeFilter {
    /// Whether sled may hold `key`: false means it certainly does not.
    pub(crate) fn may_hold(&self, key: &[u8]) -> bool {
        let fingerprint = self.fingerprint(key);
        self.lock().contains_key(&fingerprint)
    }

    /// Counts `key`, which a sled write has just added.
    pub(crate) fn added(&self, key: &[u8]) {
        let fingerprint = self.fingerprint(key);
        *self.lock().entry(fingerprint).or_default() += 1;
    }

    /// Uncounts `key`, which a sled write has just removed.
    pub(crate) fn removed(&self, key: &[u8]) {
        let fingerprint = self.fingerprint(key);
        let mut counts = self.lock();
        if let Some(count) = counts.get_mut(&fingerprint) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&fingerprint);
            }
        }
    }

    /// Counts every dedupe key `db` holds, forgetting earlier counts, and
    /// returns how many there are. Call it with no ingest running.
    ///
    /// # Errors
    ///
    /// Any sled error.
    pub(crate) fn rebuild(&self, db: &sled::Db) -> Result<usize, StoreError> {
        let mut counts = HashMap::new();
        let mut total = 0;
        for key in db.scan_prefix(keys::DEDUPE_PREFIX).keys() {
            *counts.entry(self.fingerprint(&key?)).or_default() += 1;
            total += 1;
        }
        *self.lock() = counts;
        Ok(total)
    }

    fn fingerprint(&self, key: &[u8]) -> u64 {
        self.fingerprints.hash_one(key)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, u32>> {
        self.counts.lock().expect("lock not poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that a key is held from its addition to its last removal and
    /// that a rebuild counts what sled holds.
    #[test]
    fn counts_follow_additions_removals_and_rebuilds() {
        let filter = DedupeFilter::default();
        assert!(!filter.may_hold(b"d/a"));
        filter.added(b"d/a");
        filter.added(b"d/a");
        filter.removed(b"d/a");
        assert!(filter.may_hold(b"d/a"), "one of two left");
        filter.removed(b"d/a");
        assert!(!filter.may_hold(b"d/a"));
        filter.removed(b"d/a");
        assert!(!filter.may_hold(b"d/a"), "an extra removal changes nothing");

        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        db.insert(b"d/b", &[0; 16][..]).unwrap();
        db.insert(b"m/c", &[0; 16][..]).unwrap();
        filter.added(b"d/gone");
        assert_eq!(filter.rebuild(&db).unwrap(), 1);
        assert!(filter.may_hold(b"d/b"));
        assert!(!filter.may_hold(b"m/c"), "only dedupe keys");
        assert!(!filter.may_hold(b"d/gone"), "earlier counts are forgotten");
    }
}

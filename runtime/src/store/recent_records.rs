//! The records of the messages indexed last, kept in memory up to a byte
//! budget, so that the pipeline and the deliveries, which read a message a
//! moment after it was stored, do not look it up in sled.
//!
//! Records never change once written, so a copy here is never stale; the
//! oldest go first when the budget is spent, and pruning drops those it
//! deletes from sled.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::error::StoreError;
use super::keys;

/// How many bytes of records are kept: about a second of 1 KB messages at
/// the engine's top rate.
const BUDGET: usize = 16 << 20;

/// A message record, from memory or from sled.
#[derive(Debug)]
pub(crate) enum Record {
    /// The copy kept in memory.
    Kept(Arc<[u8]>),
    /// Read from sled.
    Stored(sled::IVec),
}

impl std::ops::Deref for Record {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Record::Kept(bytes) => bytes,
            Record::Stored(bytes) => bytes,
        }
    }
}

#[derive(Debug, Default)]
struct Records {
    by_id: BTreeMap<u64, Arc<[u8]>>,
    bytes: usize,
}

/// Recently indexed message records by id.
#[derive(Debug, Default)]
pub(crate) struct RecentRecords {
    records: Mutex<Records>,
}

impl RecentRecords {
    /// Keeps a copy of message `id`'s record, dropping the oldest records
    /// beyond the budget.
    pub(crate) fn insert(&self, id: u64, record: &[u8]) {
        let mut records = self.lock();
        records.bytes += record.len();
        if let Some(old) = records.by_id.insert(id, Arc::from(record)) {
            records.bytes -= old.len();
        }
        while records.bytes > BUDGET {
            let Some((_, oldest)) = records.by_id.pop_first() else {
                break;
            };
            records.bytes -= oldest.len();
        }
    }

    /// Message `id`'s record, if it is kept.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<[u8]>> {
        self.lock().by_id.get(&id).cloned()
    }

    /// Message `id`'s record: the copy kept here, or else sled's.
    ///
    /// # Errors
    ///
    /// Any sled error.
    pub(crate) fn read(&self, db: &sled::Db, id: u64) -> Result<Option<Record>, StoreError> {
        if let Some(kept) = self.get(id) {
            return Ok(Some(Record::Kept(kept)));
        }
        Ok(db.get(keys::message(id))?.map(Record::Stored))
    }

    /// Drops the records of `ids` (pruned from sled).
    pub(crate) fn remove(&self, ids: &[u64]) {
        let mut records = self.lock();
        for id in ids {
            if let Some(old) = records.by_id.remove(id) {
                records.bytes -= old.len();
            }
        }
    }

    /// Drops every record: the database they were indexed into is being
    /// replaced.
    pub(crate) fn clear(&self) {
        *self.lock() = Records::default();
    }

    fn lock(&self) -> MutexGuard<'_, Records> {
        self.records.lock().expect("lock not poisoned")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ensures that records are kept up to the budget, the oldest dropped
    /// first, and that removed records are gone.
    #[test]
    fn keeps_the_newest_records_within_the_budget() {
        let recent = RecentRecords::default();
        let record = vec![7; BUDGET / 4];
        for id in 1..=5 {
            recent.insert(id, &record);
        }
        assert!(recent.get(1).is_none(), "the oldest went");
        assert_eq!(recent.get(2).as_deref(), Some(&record[..]));
        assert_eq!(recent.lock().bytes, BUDGET);
        recent.remove(&[2, 9]);
        assert!(recent.get(2).is_none());
        assert_eq!(recent.lock().bytes, 3 * BUDGET / 4);
        recent.clear();
        assert!(recent.get(5).is_none());
    }
}

//! The store's ids: message ids and the sequence numbers of outbound
//! entries and dead letters, unique and increasing also across crashes.
//!
//! sled 0.34's own `generate_id` is not: after a recovery it starts two
//! intervals past its last durable counter, but the counter it then writes
//! becomes durable only with a later flush, so a second crash before that
//! flush hands out the same ids again. A message id lives on in the
//! write-ahead log, which recovery redoes, so a repeated id overwrote a
//! message that had been acknowledged.
//!
//! Here ids come from a counter in memory below a ceiling recorded in sled
//! under [`keys::ID_CEILING`]. Recovery raises the ceiling one block past
//! every id handed out before, and the flush that ends recovery makes it
//! durable before any new id is used. Each checkpoint that finds less than
//! half a block left records the next ceiling before its flush, so ids run
//! out only when a block goes by between checkpoints: then the id that
//! reaches the ceiling raises it and flushes sled itself.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::StoreError;
use super::keys;

/// How many ids one durable ceiling covers: one flush per this many ids.
const BLOCK: u64 = 1 << 20;

/// Hands out ids below a durable ceiling.
#[derive(Debug, Default)]
pub(crate) struct Ids {
    next: AtomicU64,
    /// Every id below it may be handed out: its ceiling record is durable.
    ceiling: AtomicU64,
    /// The highest ceiling written to sled, durable or not: the record only
    /// ever grows. Held while the ceiling is raised past an id.
    recorded: Mutex<u64>,
}

impl Ids {
    /// Continues after every id handed out before `db` was opened: records
    /// a new ceiling in `db` and allows ids below it. The caller must flush
    /// `db` before using an id, and call this with no id being handed out.
    ///
    /// # Errors
    ///
    /// Any sled error, and [`StoreError::Corrupt`] for an undecodable
    /// ceiling.
    pub(crate) fn recover(&self, db: &sled::Db) -> Result<(), StoreError> {
        let recorded = match db.get(keys::ID_CEILING)? {
            Some(value) => decode(&value)?,
            // A store from before the ceiling: sled's counter is past every
            // id it handed out before its last flush, and the last message
            // (redone from the log by now) past the ones after.
            None => {
                let last_message = db.scan_prefix(keys::MESSAGE_PREFIX).keys().next_back();
                let last_message = last_message
                    .transpose()?
                    .as_deref()
                    .and_then(keys::trailing_id);
                db.generate_id()?.max(last_message.map_or(0, |id| id + 1))
            }
        };
        let next = self.next.load(Ordering::Acquire).max(recorded);
        let mut record = self.recorded.lock().expect("lock not poisoned");
        *record = recorded;
        let ceiling = raise(db, &mut record, next + BLOCK)?;
        self.next.store(next, Ordering::Release);
        self.ceiling.store(ceiling, Ordering::Release);
        Ok(())
    }

    /// For a checkpoint, before it flushes `db`: records the next ceiling
    /// if less than half a block is left below the current one, and returns
    /// it, to [`Ids::publish`] once the flush succeeded.
    ///
    /// # Errors
    ///
    /// Any sled error writing it.
    pub(crate) fn reserve_ahead(&self, db: &sled::Db) -> Result<Option<u64>, StoreError> {
        let next = self.next.load(Ordering::Acquire);
        if self.ceiling.load(Ordering::Acquire).saturating_sub(next) > BLOCK / 2 {
            return Ok(None);
        }
        let mut record = self.recorded.lock().expect("lock not poisoned");
        raise(db, &mut record, next + BLOCK).map(Some)
    }

    /// Allows ids below `ceiling`, whose record a flush made durable.
    pub(crate) fn publish(&self, ceiling: u64) {
        self.ceiling.fetch_max(ceiling, Ordering::AcqRel);
    }

    /// No greater than the id [`Ids::next`] hands out next.
    pub(crate) fn peek(&self) -> u64 {
        self.next.load(Ordering::Acquire)
    }

    /// A new id, greater than every id handed out before in this store.
    ///
    /// # Errors
    ///
    /// Any sled error raising the ceiling; the id is then never used.
    pub(crate) fn next(&self, db: &sled::Db) -> Result<u64, StoreError> {
        let id = self.next.fetch_add(1, Ordering::AcqRel);
        if id >= self.ceiling.load(Ordering::Acquire) {
            self.raise_past(db, id)?;
        }
        Ok(id)
    }

    fn raise_past(&self, db: &sled::Db, id: u64) -> Result<(), StoreError> {
        let mut record = self.recorded.lock().expect("lock not poisoned");
        if id < self.ceiling.load(Ordering::Acquire) {
            return Ok(());
        }
        let ceiling = raise(db, &mut record, id + BLOCK)?;
        db.flush()?;
        self.publish(ceiling);
        Ok(())
    }
}

/// Writes `ceiling` to `db` unless `recorded`, the highest one written, is
/// past it already, and returns the highest.
fn raise(db: &sled::Db, recorded: &mut u64, ceiling: u64) -> Result<u64, StoreError> {
    if ceiling > *recorded {
        db.insert(keys::ID_CEILING, &ceiling.to_be_bytes())?;
        *recorded = ceiling;
    }
    Ok(*recorded)
}

fn decode(value: &[u8]) -> Result<u64, StoreError> {
    let bytes = value.try_into().map_err(|_| StoreError::Corrupt {
        key: keys::describe(keys::ID_CEILING),
        reason: format!("{} bytes, not 8", value.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new database in a temporary folder, kept while the folder lives.
    fn open_db() -> (tempfile::TempDir, sled::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        (dir, db)
    }

    /// Ids recovered from `db`.
    fn recovered(db: &sled::Db) -> Ids {
        let ids = Ids::default();
        ids.recover(db).unwrap();
        ids
    }

    /// The ceiling recorded in `db`.
    fn recorded(db: &sled::Db) -> u64 {
        decode(&db.get(keys::ID_CEILING).unwrap().unwrap()).unwrap()
    }

    /// Ensures that ids increase past a raised ceiling, and that recovering
    /// from the recorded ceiling continues past every id handed out.
    #[test]
    fn ids_continue_past_the_ceiling_and_after_recovery() {
        let (_dir, db) = open_db();
        let ids = recovered(&db);
        let first = ids.next(&db).unwrap();
        ids.next.store(first + BLOCK - 1, Ordering::Release);
        let last_in_block = ids.next(&db).unwrap();
        let past = ids.next(&db).unwrap();
        assert_eq!(past, last_in_block + 1);
        assert_eq!(
            recorded(&db),
            past + BLOCK,
            "reaching the ceiling recorded a new one"
        );
        assert_eq!(recovered(&db).next(&db).unwrap(), past + BLOCK);
    }

    /// Ensures that a checkpoint records the next ceiling only when less
    /// than half a block is left, and that ids may use it once published.
    #[test]
    fn checkpoints_reserve_the_next_ceiling_ahead() {
        let (_dir, db) = open_db();
        let ids = recovered(&db);
        let first = recorded(&db);
        assert_eq!(
            ids.reserve_ahead(&db).unwrap(),
            None,
            "a whole block is left"
        );

        ids.next.store(first - BLOCK / 4, Ordering::Release);
        let ahead = ids
            .reserve_ahead(&db)
            .unwrap()
            .expect("a quarter block left");
        assert_eq!((ahead, recorded(&db)), (first + 3 * BLOCK / 4, ahead));
        ids.publish(ahead);
        ids.next.store(ahead - 1, Ordering::Release);
        assert_eq!(ids.next(&db).unwrap(), ahead - 1);
        assert_eq!(recorded(&db), ahead, "no raise below the published ceiling");

        let past = ids.next(&db).unwrap();
        assert_eq!(
            recorded(&db),
            past + BLOCK,
            "the id at the ceiling raised it"
        );
        let mut highest = past + BLOCK;
        assert_eq!(raise(&db, &mut highest, ahead).unwrap(), past + BLOCK);
        assert_eq!(recorded(&db), past + BLOCK, "the record never goes down");
    }

    /// Ensures that a store written before the ceiling continues past its
    /// last message, even where sled's own counter lags behind it.
    #[test]
    fn a_store_without_a_ceiling_continues_past_its_last_message() {
        let (_dir, db) = open_db();
        let last = 5_000_000;
        db.insert(keys::message(last), &b"record"[..]).unwrap();
        db.insert(keys::message(7), &b"record"[..]).unwrap();
        assert_eq!(recovered(&db).next(&db).unwrap(), last + 1);
    }
}

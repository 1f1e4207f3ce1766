//! The run state an administrator left each channel in (paused or
//! stopped), so that a restart keeps it: `c/<channel>` holds the state's
//! name, and a running channel has no entry.

use super::error::StoreError;
use super::{Store, keys};

impl Store {
    /// The state an administrator left `channel` in, if it is not running.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed, [`StoreError::Corrupt`]
    /// if the entry is not text.
    pub fn channel_state(&self, channel: &str) -> Result<Option<String>, StoreError> {
        let key = keys::channel_state(channel);
        let value = self.inner.database.with_db(|db| Ok(db.get(&key)?))?;
        value
            .map(|bytes| {
                String::from_utf8(bytes.to_vec()).map_err(|_| StoreError::Corrupt {
                    key: keys::describe(&key),
                    reason: "channel state is not UTF-8".to_owned(),
                })
            })
            .transpose()
    }

    /// Remembers `channel`'s state (`None` when it runs) and flushes it to
    /// disk before returning.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] if storage failed.
    pub fn set_channel_state(&self, channel: &str, state: Option<&str>) -> Result<(), StoreError> {
        let key = keys::channel_state(channel);
        self.inner.database.with_db(|db| {
            match state {
                Some(state) => db.insert(key, state.as_bytes()).map(drop)?,
                None => db.remove(key).map(drop)?,
            }
            Ok(())
        })?;
        self.flush_now()
    }
}

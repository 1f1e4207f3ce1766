//! Reprocessing stored messages: an administrator sends messages that are
//! through the pipeline (processed, filtered or dead-lettered) through it
//! again, for example after fixing a plugin. Like the dead-letter actions,
//! it flushes sled before it returns.

use super::Store;
use super::error::StoreError;
use super::record::StoredMessage;

impl Store {
    /// Queues each of `messages` again for its channel's pipeline, in the
    /// partition paired with it and in id order, if its status is final;
    /// returns the ids queued. A message
    /// still queued (not yet processed, retrying, requeued) is left alone,
    /// so it is not processed twice; a message's dead letters stay where
    /// they are.
    ///
    /// # Errors
    ///
    /// When storage fails; messages queued before the failure stay queued.
    pub fn reprocess_messages(
        &self,
        messages: &[(&StoredMessage, u32)],
    ) -> Result<Vec<u64>, StoreError> {
        let mut routes: Vec<(u64, &str, u32)> = messages
            .iter()
            .map(|(m, partition)| (m.id, m.channel.as_str(), *partition))
            .collect();
        routes.sort_unstable();
        let now_ms = crate::hl7_input::now_unix_ms();
        let queues = &self.inner.database.queues;
        let mut requeued = Vec::new();
        for (id, channel, partition) in routes {
            let mut queued = false;
            self.progress(|db| {
                queued = queues.requeue_if_final(db, channel, partition, id, now_ms)?;
                Ok(())
            })?;
            if queued {
                requeued.push(id);
            }
        }
        self.flush_now()?;
        Ok(requeued)
    }
}

//! The retention pruner: every `prune_interval_secs`, removes old
//! messages, old dead letters and expired dedupe entries.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::StorageConfig;
use crate::hl7_input::now_unix_ms;
use crate::store::{Retention, Store};

const DAY: Duration = Duration::from_secs(86_400);

/// Prunes now and then every interval, until `shutdown`.
pub async fn run(store: Store, storage: StorageConfig, shutdown: CancellationToken) {
    let retention = Retention {
        messages: DAY * u32::try_from(storage.retention_days).unwrap_or(u32::MAX),
        dead_letters: DAY * u32::try_from(storage.dead_letter_retention_days).unwrap_or(u32::MAX),
    };
    let interval = Duration::from_secs(storage.prune_interval_secs.max(1));
    loop {
        let pass = store.clone();
        let pruned = tokio::task::spawn_blocking(move || pass.prune(now_unix_ms(), retention))
            .await
            .expect("pruner thread panicked");
        match pruned {
            Ok(pruned) => tracing::info!(
                messages = pruned.messages,
                dead_letters = pruned.dead_letters,
                dedupe_entries = pruned.dedupe_entries,
                "Store pruned."
            ),
            Err(error) => tracing::warn!(%error, "Store not pruned."),
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

//! The `hl7wasm_queue_depth` gauges of `/metrics`: a task reads every
//! channel's inbound and destination queues from the store, per partition,
//! at start and then every [`REFRESH_INTERVAL`], and with them the size of
//! the store's dedupe index (`hl7wasm_dedupe_entries`). A store scan per scrape
//! would let a busy Prometheus load the store; a few seconds' lag is
//! immaterial next to a scrape interval.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::state::AdminState;
use crate::store::StoreError;

/// How often the gauges are refreshed.
const REFRESH_INTERVAL: Duration = Duration::from_secs(5);

/// Refreshes the queue depth gauges until `shutdown`.
pub async fn refresh_queue_gauges(state: Arc<AdminState>, shutdown: CancellationToken) {
    loop {
        let refreshed = state.blocking(|state| Ok(refresh(state)?)).await;
        if let Err(error) = refreshed {
            tracing::warn!(error = %error.message, "Queue depth gauges not refreshed.");
        }
        tokio::select! {
            () = tokio::time::sleep(REFRESH_INTERVAL) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Sets every channel's gauges, and the dedupe index's, from the store.
fn refresh(state: &AdminState) -> Result<(), StoreError> {
    let entries = i64::try_from(state.store.dedupe_entries()).unwrap_or(i64::MAX);
    state.metrics.dedupe_entries.set(entries);
    let gauges = &state.metrics.queue_depth;
    for channel in &state.channel_set().configs {
        let name = channel.name.as_str();
        for partition in 0..channel.partitions {
            let depth = state.store.queue(name, partition)?.len();
            gauges
                .get_or_create(&labels(name, "inbound", partition))
                .set(depth as i64);
            for destination in &channel.destinations {
                let depth = state
                    .store
                    .outbound_depth(name, &destination.name, partition)?;
                gauges
                    .get_or_create(&labels(name, &destination.name, partition))
                    .set(depth as i64);
            }
        }
    }
    Ok(())
}

fn labels(channel: &str, queue: &str, partition: u32) -> crate::metrics::Labels {
    vec![
        ("channel", channel.to_owned()),
        ("queue", queue.to_owned()),
        ("partition", partition.to_string()),
    ]
}

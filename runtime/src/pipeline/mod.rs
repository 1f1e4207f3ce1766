//! Everything between the commit ACK and the receiving systems.
//!
//! ```text
//! inbound queue (channel, partition)          store: in memory, rebuilt from m/ and s/
//!   └─ PartitionWorker: plugins in order (Chain), routing by filters (route)
//!        ├─ outputs → destination queues      store: o/
//!        ├─ failures → dead letters           store: x/
//!        └─ status of each message            store: s/   (last; a final one dequeues)
//! destination queue (channel, destination, partition)
//!   └─ DeliveryWorker: one attempt per entry through the Connector
//!        (or a hand-off into another channel's inbound queue)
//!        ├─ delivered → removed
//!        ├─ retry → attempts and next time written back (backoff)
//!        └─ rejected / retries exhausted → dead letters
//! ```
//!
//! Each partition has its own pipeline worker and, per destination, its
//! own delivery worker, so order holds within a partition while partitions
//! run in parallel. Workers sleep until woken (`Wakers`) or until their
//! next retry is due, and wait while an administrator has paused or
//! stopped their channel (`ChannelControl`).

mod active;
mod chain;
mod channel;
mod control;
mod delivery;
mod delivery_outcomes;
mod events;
mod partition;
pub mod plugin_watch;
pub mod pruner;
mod router;
mod topology;
mod unserved;
mod wakers;

pub use active::{ActivateError, ActiveStages};
pub use chain::{Chain, ChainResult, Stage, Verdict};
pub use channel::{ChannelPipeline, DEAD_LETTER_ALERT, check_dead_letters};
pub use control::{ChannelControl, ChannelState};
pub use delivery_outcomes::{DeliveryOutcome, DeliveryOutcomes};
pub use events::DELIVERY_RESULTS;
pub use router::{Origin, Route, route};
pub use topology::{Processing, Shared, check_plugin_room, follow_configuration, prepare_start};
pub use wakers::{ChannelWakers, IDLE_RECHECK, Wakers};

//! The clocks a plugin sees. WASI's own would hand it the host's time and
//! let it sleep inside a host call, where the epoch deadline cannot reach:
//! a plugin that slept for an hour held its worker for an hour. Instead:
//!
//! - the wall clock reads the time the host sets: the message's received-at
//!   during `transform` (so a message maps the same whenever it is
//!   processed or reprocessed), and the instance's start before the first;
//! - the monotonic clock is virtual: it stands still, and a sleep (a
//!   subscription to a duration or an instant) is ready at once and moves
//!   the clock on by the time asked for, so the plugin sees its sleep pass
//!   without any wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime_wasi::HostWallClock;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};

use super::state::PluginState;

/// The wall clock of one instance: milliseconds since the Unix epoch, set
/// by the host before each call.
#[derive(Debug, Clone)]
pub struct CallClock {
    unix_ms: Arc<AtomicU64>,
}

impl CallClock {
    /// A clock at the current time.
    pub fn starting_now() -> Self {
        let now = crate::hl7_input::now_unix_ms();
        CallClock {
            unix_ms: Arc::new(AtomicU64::new(now)),
        }
    }

    /// Sets the time the plugin reads from now on.
    pub fn set(&self, unix_ms: u64) {
        self.unix_ms.store(unix_ms, Ordering::Relaxed);
    }
}

impl HostWallClock for CallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_millis(self.unix_ms.load(Ordering::Relaxed))
    }
}

/// Puts the virtual monotonic clock in place of WASI's.
///
/// # Errors
/// When the linker refuses the definitions.
pub fn shadow_monotonic_clock(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = monotonic_clock::add_to_linker::<_, HasSelf<_>>(linker, |state| state);
    linker.allow_shadowing(false);
    added
}

/// A subscription that is ready at once.
struct Elapsed;

#[wasmtime_wasi::async_trait]
impl Pollable for Elapsed {
    async fn ready(&mut self) {}
}

impl PluginState {
    fn elapsed(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let elapsed = self.table().push(Elapsed)?;
        subscribe(self.table(), elapsed)
    }
}

impl monotonic_clock::Host for PluginState {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(self.monotonic_ns)
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.monotonic_ns = self.monotonic_ns.max(when);
        self.elapsed()
    }

    fn subscribe_duration(&mut self, duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.monotonic_ns = self.monotonic_ns.saturating_add(duration);
        self.elapsed()
    }
}

//! The one wasmtime [`Engine`] of the process, with its pooling allocator,
//! its epoch ticker and the linker every plugin is instantiated against.

use std::thread;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::Plugin;
use super::clocks::shadow_monotonic_clock;
use super::state::PluginState;

/// How often the epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Engine-wide settings, from the `[plugins]` section of the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSettings {
    /// How many plugin instances may be alive at once, across all channels
    /// and workers; sizes the pooling allocator. By default 64.
    pub max_instances: u32,
    /// The most linear memory one instance may use, which also sizes the
    /// pool's memory slots. By default 64 MiB.
    pub max_memory_bytes: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            max_instances: 64,
            max_memory_bytes: 64 << 20,
        }
    }
}

/// The engine and linker shared by every plugin.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    linker: std::sync::Arc<Linker<PluginState>>,
    max_instances: u32,
}

impl PluginEngine {
    /// Builds the engine and starts its epoch ticker thread, which stops when
    /// the last clone of the engine is dropped.
    ///
    /// # Errors
    /// When wasmtime refuses the configuration (for example when the pool
    /// cannot reserve its address space).
    pub fn new(settings: &EngineSettings) -> anyhow::Result<Self> {
        let engine = Engine::new(&engine_config(settings))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        shadow_monotonic_clock(&mut linker)?;
        Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
        start_epoch_ticker(&engine);
        Ok(PluginEngine {
            engine,
            linker: std::sync::Arc::new(linker),
            max_instances: settings.max_instances.max(1),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// How many plugin instances may be alive at once: the pool's size,
    /// fixed when the engine is built.
    pub fn max_instances(&self) -> u32 {
        self.max_instances
    }

    /// The linker with WASI p2 (empty context, the host's clocks) and the
    /// `host` imports.
    pub fn linker(&self) -> &Linker<PluginState> {
        &self.linker
    }
}

/// The number of epoch ticks that covers `deadline`, plus one for the tick
/// already under way.
pub fn deadline_ticks(deadline: Duration) -> u64 {
    let tick = EPOCH_TICK.as_millis().max(1);
    (deadline.as_millis().div_ceil(tick) as u64).max(1) + 1
}

fn engine_config(settings: &EngineSettings) -> Config {
    let mut pool = PoolingAllocationConfig::default();
    let instances = settings.max_instances.max(1);
    // A component built by wit-component holds a few core instances (the
    // program, WASI adapter shims), memories and tables.
    pool.total_component_instances(instances)
        .total_core_instances(instances * 16)
        .total_memories(instances * 4)
        .total_tables(instances * 8)
        .max_memories_per_component(4)
        .max_memory_size(settings.max_memory_bytes);

    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    thread::Builder::new()
        .name("hl7wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawn the epoch ticker thread");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_ticks_round_up_and_add_one() {
        assert_eq!(deadline_ticks(Duration::from_millis(100)), 21);
        assert_eq!(deadline_ticks(Duration::from_millis(1)), 2);
        assert_eq!(deadline_ticks(Duration::ZERO), 2);
    }
}

//! Per-call resource limits for plugins, and the memory guard that enforces
//! the memory cap and remembers when it was hit.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmtime::ResourceLimiter;

/// Limits on one plugin call. A channel may override the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginLimits {
    /// Wall-clock budget of one call (`transform`, `configure`, `info` or
    /// instantiation), enforced by epoch interruption. By default 100 ms.
    pub deadline_ms: u64,
    /// The most linear memory one instance may use. By default 64 MiB.
    pub memory_bytes: usize,
    /// The most bytes one `transform` may return, summed over its messages.
    /// By default 16 MiB.
    pub output_bytes: usize,
    /// The most bytes of stdout and stderr kept per call for the log; the rest
    /// is dropped and counted. By default 16 KiB.
    pub stdio_bytes: usize,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits {
            deadline_ms: 100,
            memory_bytes: 64 << 20,
            output_bytes: 16 << 20,
            stdio_bytes: 16 << 10,
        }
    }
}

impl PluginLimits {
    /// The deadline as a duration.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// Caps an instance's memories and tables and records a refused growth, so a
/// trap that follows can be reported as "memory limit exceeded".
#[derive(Debug)]
pub struct MemoryGuard {
    max_memory_bytes: usize,
    peak_bytes: usize,
    exceeded: bool,
}

/// Tables only hold function references; this cap stops a table bomb.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// The most host resources (WASI streams, pollables, ...) one instance may
/// hold at once. They live in host memory, outside the memory cap; wasmtime
/// allows a million by default, about a hundred megabytes per instance for
/// a plugin that never drops them. A transform needs a handful.
pub const MAX_HOST_RESOURCES: usize = 1 << 16;

impl MemoryGuard {
    /// A guard allowing `max_memory_bytes` per memory.
    pub fn new(max_memory_bytes: usize) -> Self {
        MemoryGuard {
            max_memory_bytes,
            peak_bytes: 0,
            exceeded: false,
        }
    }

    /// The cap, in bytes.
    pub fn limit_bytes(&self) -> usize {
        self.max_memory_bytes
    }

    /// The largest size any memory of the instance has been granted.
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }

    /// Whether a growth was refused since the last [`MemoryGuard::reset`].
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// Forgets a refused growth, before the next call.
    pub fn reset(&mut self) {
        self.exceeded = false;
    }
}

impl ResourceLimiter for MemoryGuard {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

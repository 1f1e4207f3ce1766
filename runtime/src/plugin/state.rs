//! The data each plugin store holds: an empty WASI context with the
//! host's clocks (`clocks.rs`), the memory guard, captured stdio, the
//! lookup tables and the current message's metadata. It implements the
//! `host` imports.

use std::collections::HashMap;
use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::hl7wasm::plugin::{host, types};
use super::bindings::{Level, Metadata};
use super::clocks::CallClock;
use super::limits::{MAX_HOST_RESOURCES, MemoryGuard, PluginLimits};
use super::stdio::CapturedOutput;

/// Read-only lookup tables an administrator configured: table → key → value.
pub type LookupTables = Arc<HashMap<String, HashMap<String, String>>>;

/// The longest log line a plugin may write; longer lines are cut.
const MAX_LOG_LINE: usize = 4096;

/// The most log lines one call may write; the rest are dropped and counted.
const MAX_LOG_LINES_PER_CALL: usize = 100;

/// One line a plugin logged during a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The level the plugin chose.
    pub level: Level,
    /// The text, cut to a bounded length.
    pub text: String,
}

/// The store data of one plugin instance.
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Enforces the memory cap and remembers a refused growth.
    pub memory: MemoryGuard,
    /// The plugin's stdout.
    pub stdout: CapturedOutput,
    /// The plugin's stderr.
    pub stderr: CapturedOutput,
    /// Lines logged through the `log` import during the current call.
    pub logged: Vec<LogLine>,
    /// Lines dropped past the per-call bound.
    pub logs_dropped: usize,
    lookups: LookupTables,
    metadata: Metadata,
    /// What the plugin's wall clock reads.
    wall_clock: CallClock,
    /// The plugin's virtual monotonic clock, in nanoseconds.
    pub(super) monotonic_ns: u64,
}

impl PluginState {
    /// A fresh state: no files, no network, no environment, no stdin, and
    /// a wall clock at the current time.
    pub fn new(limits: &PluginLimits, lookups: LookupTables) -> Self {
        let stdout = CapturedOutput::new(limits.stdio_bytes);
        let stderr = CapturedOutput::new(limits.stdio_bytes);
        let wall_clock = CallClock::starting_now();
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(wall_clock.clone())
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_HOST_RESOURCES);
        PluginState {
            wasi,
            table,
            memory: MemoryGuard::new(limits.memory_bytes),
            stdout,
            stderr,
            logged: Vec::new(),
            logs_dropped: 0,
            lookups,
            metadata: empty_metadata(),
            wall_clock,
            monotonic_ns: 0,
        }
    }

    /// Sets the metadata the `metadata` import returns for the next call,
    /// and the wall clock to the message's received-at.
    pub fn set_metadata(&mut self, metadata: Metadata) {
        self.wall_clock.set(metadata.received_at_unix_ms);
        self.metadata = metadata;
    }

    /// The resource table.
    pub(super) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

/// Metadata for calls that are not about a message (`info`, `configure`).
pub fn empty_metadata() -> Metadata {
    Metadata {
        channel: String::new(),
        received_at_unix_ms: 0,
        peer_address: None,
        peer_certificate_name: None,
        control_id: None,
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for PluginState {}

impl host::Host for PluginState {
    fn log(&mut self, level: Level, text: String) {
        if self.logged.len() >= MAX_LOG_LINES_PER_CALL {
            self.logs_dropped += 1;
            return;
        }
        let mut text = text;
        if text.len() > MAX_LOG_LINE {
            let cut = text.floor_char_boundary(MAX_LOG_LINE);
            text.truncate(cut);
        }
        self.logged.push(LogLine { level, text });
    }

    fn lookup(&mut self, table: String, key: String) -> Option<String> {
        self.lookups.get(&table)?.get(&key).cloned()
    }

    fn message_metadata(&mut self) -> Metadata {
        self.metadata.clone()
    }
}

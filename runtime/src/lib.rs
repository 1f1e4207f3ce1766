//! The hl7wasm host library: the sandboxed plugin host today; MLLP ingest,
//! durable queues, channels and the admin API build on it.

pub mod hl7_input;
pub mod plugin;

/// Where `runtime/build.rs` put the plugins it built from `plugins/`, as
/// wasm32-wasip2 components (`passthrough.wasm`, `hostile.wasm`, ...).
pub const BUILT_PLUGINS_DIR: &str = env!("HL7WASM_BUILT_PLUGINS");

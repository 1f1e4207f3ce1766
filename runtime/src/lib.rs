//! The hl7wasm host library: MLLP ingest over TCP and TLS, the durable
//! store, the sandboxed plugin host and the admin API.

pub mod admin;
pub mod alerting;
pub mod alerts;
pub mod config;
pub mod deliver;
pub mod events;
pub mod hl7_input;
pub mod ingest;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod mllp;
pub mod net;
pub mod pipeline;
pub mod plugin;
pub mod running;
pub mod server;
pub mod store;
pub mod tls;
pub mod validation;

/// Where `runtime/build.rs` put the plugins it built from `plugins/`, as
/// wasm32-wasip2 components (`passthrough.wasm`, `hostile.wasm`, ...).
pub const BUILT_PLUGINS_DIR: &str = env!("HL7WASM_BUILT_PLUGINS");

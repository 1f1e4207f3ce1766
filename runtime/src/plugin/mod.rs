//! The sandboxed Wasm plugin host.
//!
//! ```text
//! PluginEngine    one wasmtime Engine per process: pooling allocator, epoch
//!                 ticker, the linker (WASI p2 with an empty context + `host`)
//! clocks          the wall clock at the message's received-at, a virtual
//!                 monotonic clock whose sleeps end at once
//! ArtifactCache   compiled components on disk, keyed by sha256 and engine,
//!                 MAC-checked so only our own artifacts are deserialized
//! PluginRegistry  every loaded PluginVersion (name, version, sha256), from
//!                 the plugin directory and uploads; all kept for rollback
//! PluginVersion   a checked component: right world and contract version,
//!                 `info()` answered; holds the bindgen `PluginPre`
//! PluginWorker    one pipeline stage's instance lifecycle: reuse or strict
//!                 isolation, recycle thresholds, drop on any trap
//! PluginInstance  a Store with limits; each call gets a fresh epoch
//!                 deadline, the memory guard reset, stdio and logs drained
//! self_test       sample messages an upload must pass before it is kept
//! ```
//!
//! Limits on every call: the epoch deadline (instantiation included), the
//! memory cap (a `ResourceLimiter`), and the output cap. A trap, timeout or
//! limit fails that one message (reject) and the instance is thrown away.

mod artifact_cache;
mod bindings;
pub mod bundled;
mod clocks;
mod engine;
mod error;
mod failure;
mod instance;
mod limits;
mod registry;
pub mod self_test;
pub mod signature;
mod state;
mod stdio;
mod version;
mod worker;

pub use artifact_cache::{ArtifactCache, CompiledFrom};
pub use bindings::{ErrorKind, Level, Location, Message, Metadata, PACKAGE_VERSION, PluginInfo};
pub use engine::{EngineSettings, PluginEngine};
pub use error::LoadError;
pub use failure::{CallFailure, FailureCause};
pub use instance::PluginInstance;
pub use limits::PluginLimits;
pub use registry::{PluginRegistry, RefusedFile, RemoveError, UntrustedVersion};
pub use state::LookupTables;
pub use version::{PluginVersion, content_hash};
pub use worker::{
    Disposition, InstancePolicy, Isolation, PluginWorker, StageFailure, StageOutcome, StageSettings,
};

/// The content type of HL7 v2 ER7 messages.
pub const HL7_V2_CONTENT_TYPE: &str = "application/hl7-v2+er7";

/// The content type of FHIR JSON.
pub const FHIR_JSON_CONTENT_TYPE: &str = "application/fhir+json";

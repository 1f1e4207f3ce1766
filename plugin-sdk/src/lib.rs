//! The Rust SDK for hl7wasm transform plugins.
//!
//! A plugin implements [`Plugin`] and exports it with [`export_plugin!`]:
//!
//! ```ignore
//! use hl7wasm_plugin_sdk::{export_plugin, Message, Outcome, Plugin, PluginInfo, TransformError};
//!
//! struct Upper;
//!
//! impl Plugin for Upper {
//!     fn info() -> PluginInfo {
//!         PluginInfo::new("upper", env!("CARGO_PKG_VERSION"), "Example Inc.", "Upper-cases bodies.")
//!     }
//!     fn configure(_config: serde_json::Value) -> Result<Self, String> {
//!         Ok(Upper)
//!     }
//!     fn transform(&self, message: Message) -> Result<Outcome, TransformError> {
//!         Ok(Outcome::forward(Message::new(message.content_type, message.body.to_uppercase())))
//!     }
//! }
//!
//! export_plugin!(Upper);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is the component the host loads.
//!
//! The HL7 v2 parser the host uses is re-exported as [`hl7v2`], and
//! [`fhir`] has small helpers to build FHIR R4 JSON, as [`json::Value`]s.

#[doc(hidden)]
pub mod adapter;
#[doc(hidden)]
pub mod bindings;
pub mod fhir;
pub mod host;
pub mod json;
mod types;

pub use hl7v2;
pub use serde_json;
pub use types::{
    ErrorKind, FHIR_JSON, HL7_V2, Location, Message, Metadata, Outcome, PluginInfo, TransformError,
};

#[doc(hidden)]
pub use bindings::__export_plugin_world;

/// A transform plugin: implement this, then export it with [`export_plugin!`].
///
/// The host creates one value per instance with [`Plugin::configure`] and then
/// calls [`Plugin::transform`] for each message, possibly many times on the
/// same instance. Keep no per-message state between calls.
pub trait Plugin: Sized + 'static {
    /// Describes the plugin; must not depend on configuration.
    fn info() -> PluginInfo;

    /// Builds the plugin from the channel's JSON settings (`{}` when none).
    ///
    /// # Errors
    /// A message that names the bad setting; the host refuses the channel.
    fn configure(config: serde_json::Value) -> Result<Self, String>;

    /// Transforms one message.
    ///
    /// # Errors
    /// [`TransformError::reject`] for a message that can never succeed (AR),
    /// [`TransformError::retry`] for a transient failure (AE).
    fn transform(&self, message: Message) -> Result<Outcome, TransformError>;
}

/// Exports a [`Plugin`] implementation as the component's `transformer`.
///
/// A panic inside the plugin is logged at error level with its message and
/// location before the instance aborts, and the host reports that text as the
/// message's transform error.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        struct __Hl7wasmPluginExport;

        impl $crate::adapter::Exports for __Hl7wasmPluginExport {
            type Plugin = $plugin;
        }

        $crate::__export_plugin_world!(__Hl7wasmPluginExport with_types_in $crate::bindings);
    };
}

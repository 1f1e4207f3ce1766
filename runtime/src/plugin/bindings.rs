//! Host bindings generated from `wit/plugin.wit`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    additional_derives: [PartialEq, Eq],
});

pub use self::hl7wasm::plugin::host::Level;
pub use self::hl7wasm::plugin::types::{
    ErrorKind, Location, Message, Metadata, Outcome, PluginInfo, TransformError,
};

/// The package name, as it appears in component import and export names.
pub const PACKAGE: &str = "hl7wasm:plugin";

/// The version of the package this host implements.
pub const PACKAGE_VERSION: &str = "0.1.0";

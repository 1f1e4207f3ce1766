//! A test fixture: `info()` panics, so the registry must refuse the file
//! and keep the versions it already runs.

use hl7wasm_plugin_sdk::{Message, Outcome, Plugin, PluginInfo, TransformError, export_plugin};

/// Never gets past `info()`.
struct InfoPanics;

impl Plugin for InfoPanics {
    fn info() -> PluginInfo {
        panic!("info is broken on purpose")
    }

    fn configure(_config: serde_json::Value) -> Result<Self, String> {
        Ok(InfoPanics)
    }

    fn transform(&self, message: Message) -> Result<Outcome, TransformError> {
        Ok(Outcome::forward(message))
    }
}

export_plugin!(InfoPanics);

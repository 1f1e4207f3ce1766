//! The minimal example plugin: forwards each message unchanged, and filters
//! out the message types listed in its configuration.
//!
//! Configuration (JSON, per channel):
//!
//! ```json
//! { "drop_types": ["ADT^A08", "ORU^*"] }
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2 -p passthrough`
//! and try it with `hl7wasm plugin run passthrough.wasm message.hl7`.

use hl7wasm_plugin_sdk::hl7v2::Message as Hl7Message;
use hl7wasm_plugin_sdk::{Message, Outcome, Plugin, PluginInfo, TransformError, export_plugin};

/// The plugin's state: its configuration.
struct Passthrough {
    /// Message types to filter, as `TYPE^TRIGGER` or `TYPE^*`.
    drop_types: Vec<String>,
}

impl Passthrough {
    fn drops(&self, code: &str, trigger: &str) -> bool {
        self.drop_types
            .iter()
            .any(|pattern| match pattern.split_once('^') {
                Some((t, "*")) => t == code,
                Some((t, e)) => t == code && e == trigger,
                None => pattern == code,
            })
    }
}

impl Plugin for Passthrough {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "passthrough",
            env!("CARGO_PKG_VERSION"),
            "hl7wasm",
            "Forwards messages unchanged; filters configured message types.",
        )
    }

    fn configure(config: serde_json::Value) -> Result<Self, String> {
        let drop_types = match config.get("drop_types") {
            None => Vec::new(),
            Some(value) => serde_json::from_value(value.clone())
                .map_err(|e| format!("drop_types: expected a list of strings ({e})"))?,
        };
        Ok(Passthrough { drop_types })
    }

    fn transform(&self, message: Message) -> Result<Outcome, TransformError> {
        if !self.drop_types.is_empty() && message.is_hl7() {
            let parsed = Hl7Message::parse(message.body.as_bytes())?;
            let kind = parsed.header().message_type();
            if self.drops(kind.code.unwrap_or(""), kind.trigger.unwrap_or("")) {
                return Ok(Outcome::filter("message type is in drop_types"));
            }
        }
        Ok(Outcome::forward(message))
    }
}

export_plugin!(Passthrough);

//! The Wasm component: [`Plugin`] glue around [`crate::Rules`].

use hl7wasm_plugin_sdk::{Message, Outcome, Plugin, PluginInfo, TransformError, export_plugin};

use crate::{Normalized, Rules};

impl Plugin for Rules {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "normalize",
            env!("CARGO_PKG_VERSION"),
            "hl7wasm examples",
            "Normalises patient names and phone numbers; filters test patients.",
        )
    }

    fn configure(config: serde_json::Value) -> Result<Self, String> {
        Rules::from_json(&config)
    }

    fn transform(&self, message: Message) -> Result<Outcome, TransformError> {
        if !message.is_hl7() {
            return Ok(Outcome::forward(message));
        }
        match self.apply(&message.body).map_err(TransformError::reject)? {
            Normalized::Forward(body) => Ok(Outcome::forward(Message::hl7(body))),
            Normalized::TestPatient => Ok(Outcome::filter("test patient")),
        }
    }
}

export_plugin!(Rules);

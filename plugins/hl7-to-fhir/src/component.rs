//! The Wasm component: [`Plugin`] glue around [`crate::map_message_to_string`].

use hl7wasm_plugin_sdk::{
    FHIR_JSON, Location, Message, Outcome, Plugin, PluginInfo, TransformError, export_plugin,
};

use crate::small_blocks::SmallBlocks;
use crate::{MapError, Options, Unsupported};

/// Small blocks from free lists, not dlmalloc (see [`SmallBlocks`]).
#[global_allocator]
static ALLOCATOR: SmallBlocks = SmallBlocks::new();

/// The plugin: its configured [`Options`].
struct Hl7ToFhir {
    options: Options,
}

impl Plugin for Hl7ToFhir {
    fn info() -> PluginInfo {
        // Every type is accepted so that unsupported ones are filtered or
        // rejected here, as configured, rather than skipped by the host.
        PluginInfo::new(
            "hl7-to-fhir",
            env!("CARGO_PKG_VERSION"),
            "hl7wasm",
            "Maps HL7 v2 messages to FHIR R4 bundles after the HL7 v2-to-FHIR IG.",
        )
    }

    fn configure(config: serde_json::Value) -> Result<Self, String> {
        Ok(Hl7ToFhir {
            options: Options::from_json(&config)?,
        })
    }

    fn transform(&self, message: Message) -> Result<Outcome, TransformError> {
        if !message.is_hl7() {
            return Ok(Outcome::filter(format!(
                "not HL7 v2 ({}), nothing to map",
                message.content_type
            )));
        }
        match crate::map_message_to_string(&message.body, &self.options) {
            Ok(bundle) => Ok(Outcome::forward(Message::new(FHIR_JSON, bundle))),
            Err(error) => self.failure(error),
        }
    }
}

impl Hl7ToFhir {
    /// An unsupported type is filtered or rejected as configured; every
    /// other error rejects, with the location for ERR-2 when known.
    fn failure(&self, error: MapError) -> Result<Outcome, TransformError> {
        let text = error.to_string();
        match error {
            MapError::Unsupported(_) if self.options.unsupported == Unsupported::Filter => {
                Ok(Outcome::filter(text))
            }
            MapError::Invalid {
                segment,
                sequence,
                field,
                ..
            } => Err(TransformError::reject(text).at(Location {
                segment,
                sequence: Some(sequence),
                field: Some(field),
                component: None,
            })),
            // At MSH-9, the host answers ERR-3 200 (unsupported message type).
            MapError::Unsupported(_) => {
                Err(TransformError::reject(text).at(Location::field("MSH", 9)))
            }
            _ => Err(TransformError::reject(text)),
        }
    }
}

export_plugin!(Hl7ToFhir);

//! The Wasm component: [`Plugin`] glue around [`Enricher`], with the host's
//! lookup tables.

use hl7wasm_plugin_sdk::{
    FHIR_JSON, Message, Outcome, Plugin, PluginInfo, TransformError, export_plugin, host,
};

use crate::{EnrichError, Enricher, Lookup, MetadataKey};

/// The tables the administrator configured, through the host import.
struct HostTables;

impl Lookup for HostTables {
    fn lookup(&self, table: &str, key: &str) -> Option<String> {
        host::lookup(table, key)
    }

    fn metadata(&self, key: MetadataKey) -> Option<String> {
        let metadata = host::metadata();
        match key {
            MetadataKey::PeerCertificateName => metadata.peer_certificate_name,
            MetadataKey::Channel => Some(metadata.channel),
        }
    }
}

/// The plugin: its configured rules.
struct Enrich {
    enricher: Enricher,
}

impl Plugin for Enrich {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "enrich",
            env!("CARGO_PKG_VERSION"),
            "hl7wasm",
            "Adds data from configured lookup tables to HL7 v2 and FHIR JSON messages.",
        )
    }

    fn configure(config: serde_json::Value) -> Result<Self, String> {
        Ok(Enrich {
            enricher: Enricher::from_json(&config)?,
        })
    }

    fn transform(&self, message: Message) -> Result<Outcome, TransformError> {
        let enriched = if message.is_hl7() {
            self.enricher.enrich_hl7(&message.body, &HostTables)
        } else if message.content_type == FHIR_JSON {
            self.enricher.enrich_fhir(&message.body, &HostTables)
        } else {
            Ok(None)
        };
        match enriched {
            Ok(Some(body)) => Ok(Outcome::forward(Message::new(message.content_type, body))),
            Ok(None) => Ok(Outcome::forward(message)),
            Err(error) => Err(rejection(error)),
        }
    }
}

/// Every failure rejects: malformed input never improves, and a missing key
/// rejects because the channel's `on_missing` says so.
fn rejection(error: EnrichError) -> TransformError {
    let text = error.to_string();
    match error {
        EnrichError::Missing {
            location: Some(location),
            ..
        } => TransformError::reject(text).at(location),
        _ => TransformError::reject(text),
    }
}

export_plugin!(Enrich);

//! The WIT types, re-exported with constructors for plugin authors.

pub use crate::bindings::hl7wasm::plugin::types::{
    ErrorKind, Location, Message, Metadata, Outcome, PluginInfo, TransformError,
};

/// The content type of HL7 v2 ER7 text.
pub const HL7_V2: &str = "application/hl7-v2+er7";

/// The content type of FHIR JSON.
pub const FHIR_JSON: &str = "application/fhir+json";

impl Message {
    /// A message with any content type.
    pub fn new(content_type: impl Into<String>, body: impl Into<String>) -> Self {
        Message {
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    /// An HL7 v2 ER7 message.
    pub fn hl7(body: impl Into<String>) -> Self {
        Message::new(HL7_V2, body)
    }

    /// A FHIR JSON document.
    pub fn fhir(json: &serde_json::Value) -> Self {
        Message::new(FHIR_JSON, json.to_string())
    }

    /// Whether the body is HL7 v2 ER7.
    pub fn is_hl7(&self) -> bool {
        self.content_type == HL7_V2
    }
}

impl PluginInfo {
    /// Plugin information that accepts every message type; narrow it with
    /// [`PluginInfo::accepting`].
    pub fn new(name: &str, version: &str, vendor: &str, description: &str) -> Self {
        PluginInfo {
            name: name.into(),
            version: version.into(),
            vendor: vendor.into(),
            description: description.into(),
            message_types: vec!["*".into()],
        }
    }

    /// Restricts the accepted message types (`ADT^A01`, `ORU^*`, ...).
    pub fn accepting(mut self, message_types: &[&str]) -> Self {
        self.message_types = message_types.iter().map(|t| (*t).to_string()).collect();
        self
    }
}

impl Outcome {
    /// Forwards one message to the next stage.
    pub fn forward(message: Message) -> Self {
        Outcome::Forward(vec![message])
    }

    /// Drops the message on purpose, with a reason for the message log.
    pub fn filter(reason: impl Into<String>) -> Self {
        Outcome::Filter(reason.into())
    }
}

impl Location {
    /// A location at a segment's field, for example `PID`, 3.
    pub fn field(segment: &str, field: u32) -> Self {
        Location {
            segment: segment.into(),
            sequence: None,
            field: Some(field),
            component: None,
        }
    }
}

impl TransformError {
    /// A permanent failure: the message is rejected (AR) and dead-lettered.
    pub fn reject(text: impl Into<String>) -> Self {
        TransformError {
            kind: ErrorKind::Reject,
            text: text.into(),
            location: None,
        }
    }

    /// A transient failure: the message is retried later (AE).
    pub fn retry(text: impl Into<String>) -> Self {
        TransformError {
            kind: ErrorKind::Retry,
            text: text.into(),
            location: None,
        }
    }

    /// Adds where in the input the problem lies, for the ACK's ERR segment.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }
}

impl From<hl7v2::ParseError> for TransformError {
    fn from(error: hl7v2::ParseError) -> Self {
        TransformError::reject(format!("malformed HL7 v2 message: {error}"))
    }
}

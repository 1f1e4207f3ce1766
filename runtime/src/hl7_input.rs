//! Turning received bytes into the HL7 v2 text that plugins see: decoded
//! from the declared character set, with segments separated by `\r`.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::plugin::{HL7_V2_CONTENT_TYPE, Message, Metadata};

/// One HL7 v2 message ready for the plugin pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The message as plugins receive it.
    pub message: Message,
    /// MSH-10, when present.
    pub control_id: Option<String>,
    /// MSH-9 as `TYPE^TRIGGER`, when present.
    pub message_type: Option<String>,
    /// MSH-4.1, when present.
    pub sending_facility: Option<String>,
}

impl InboundMessage {
    /// Parses one message's bytes.
    ///
    /// # Errors
    /// The parser's error (no MSH, bad MSH-2, undecodable text), with its
    /// position.
    pub fn parse(raw: &[u8]) -> Result<Self, hl7v2::ParseError> {
        let parsed = hl7v2::Message::parse(raw)?;
        let mut body = String::with_capacity(parsed.text().len() + 1);
        for segment in parsed.segments() {
            body.push_str(segment.raw());
            body.push('\r');
        }
        let header = parsed.header();
        let message_type = header.message_type().event();
        Ok(InboundMessage {
            message: Message {
                content_type: HL7_V2_CONTENT_TYPE.into(),
                body,
            },
            control_id: header.control_id().map(str::to_string),
            message_type,
            sending_facility: parsed.get("MSH-4.1").map(|value| value.to_string()),
        })
    }

    /// Metadata for this message on `channel`, received now from a file
    /// (no sender's address), as if from a client presenting a certificate
    /// named `peer_certificate_name`.
    pub fn metadata(&self, channel: &str, peer_certificate_name: Option<&str>) -> Metadata {
        Metadata {
            channel: channel.to_string(),
            received_at_unix_ms: now_unix_ms(),
            peer_address: None,
            peer_certificate_name: peer_certificate_name.map(str::to_string),
            control_id: self.control_id.clone(),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

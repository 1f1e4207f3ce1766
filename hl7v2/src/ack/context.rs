//! [`AckContext`]: what an ACK echoes from the message it answers.

use crate::charset::lenient_string;
use crate::delimiters::is_delimiter_byte;
use crate::index::skip_junk;
use crate::msh::{BOM, msh_field, msh_line};
use crate::{Delimiters, Message};

use super::{AckCode, AckCondition, AckMode, AckOutcome};

/// The MSH values an ACK needs, as raw ER7 text under [`AckContext::delimiters`].
/// Empty strings and `None` stand for absent fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AckContext {
    /// The message's delimiters (the defaults when MSH-2 was unusable).
    pub delimiters: Delimiters,
    /// MSH-3.
    pub sending_application: String,
    /// MSH-4.
    pub sending_facility: String,
    /// MSH-5.
    pub receiving_application: String,
    /// MSH-6.
    pub receiving_facility: String,
    /// MSH-9.2, the trigger event.
    pub trigger: Option<String>,
    /// MSH-10, the control ID that MSA-2 echoes.
    pub control_id: Option<String>,
    /// MSH-11, the whole processing ID field.
    pub processing_id: Option<String>,
    /// MSH-12, the whole version field.
    pub version: Option<String>,
    /// MSH-15, accept acknowledgment type.
    pub accept_ack_type: Option<String>,
    /// MSH-16, application acknowledgment type.
    pub application_ack_type: Option<String>,
}

impl AckContext {
    /// The context of a parsed message.
    pub fn from_message(message: &Message<'_>) -> AckContext {
        let header = message.header();
        let own = |v: Option<&str>| v.map(str::to_string);
        let msh = message.segment_at(0);
        let field = |n| {
            own(msh
                .and_then(|s| s.field(n))
                .map(|f| f.raw())
                .filter(|v| !v.is_empty()))
        };
        AckContext {
            delimiters: *message.delimiters(),
            sending_application: field(3).unwrap_or_default(),
            sending_facility: field(4).unwrap_or_default(),
            receiving_application: field(5).unwrap_or_default(),
            receiving_facility: field(6).unwrap_or_default(),
            trigger: own(header.message_type().trigger),
            control_id: own(header.control_id()),
            processing_id: field(11),
            version: field(12),
            accept_ack_type: own(header.accept_ack_type()),
            application_ack_type: own(header.application_ack_type()),
        }
    }

    /// Reads whatever MSH fields it can from raw bytes that may not parse: a bad MSH-2
    /// (the defaults `^~\&` are used), an undeclared or wrong charset (each field is read
    /// as UTF-8, else Latin-1), a truncated message, junk before MSH.
    ///
    /// Returns `None` when no line of the input starts with `MSH`.
    pub fn from_raw(raw: &[u8]) -> Option<AckContext> {
        let body = if raw.starts_with(BOM) { BOM.len() } else { 0 };
        let first = skip_junk(raw, body);
        let start = memchr::memmem::find_iter(raw, b"MSH")
            .find(|&i| i == first || (i > 0 && matches!(raw[i - 1], b'\r' | b'\n')))?;
        let field = raw
            .get(start + 3)
            .copied()
            .filter(|&b| is_delimiter_byte(b))
            .unwrap_or(b'|');
        let line = msh_line(raw, start);
        let msh2 = msh_field(line, field, 2).unwrap_or_default();
        let delimiters = Delimiters::from_msh(field, msh2)
            .or_else(|_| Delimiters::from_msh(field, b"^~\\&"))
            .unwrap_or_default();
        let get = |n| {
            msh_field(line, field, n)
                .map(lenient_string)
                .filter(|v| !v.is_empty())
        };
        let trigger = get(9).and_then(|t| {
            let second = t.split(char::from(delimiters.component)).nth(1)?;
            Some(second.to_string()).filter(|s| !s.is_empty())
        });
        Some(AckContext {
            delimiters,
            sending_application: get(3).unwrap_or_default(),
            sending_facility: get(4).unwrap_or_default(),
            receiving_application: get(5).unwrap_or_default(),
            receiving_facility: get(6).unwrap_or_default(),
            trigger,
            control_id: get(10),
            processing_id: get(11),
            version: get(12),
            accept_ack_type: get(15),
            application_ack_type: get(16),
        })
    }

    /// Enhanced when MSH-15 or MSH-16 is valued, else original.
    pub fn mode(&self) -> AckMode {
        if self.accept_ack_type.is_some() || self.application_ack_type.is_some() {
            AckMode::Enhanced
        } else {
            AckMode::Original
        }
    }

    /// The code of the first ACK the receiver sends: CA/CE/CR in enhanced mode,
    /// AA/AE/AR in original mode.
    pub fn commit_code(&self, outcome: AckOutcome) -> AckCode {
        match (self.mode(), outcome) {
            (AckMode::Enhanced, AckOutcome::Accept) => AckCode::CA,
            (AckMode::Enhanced, AckOutcome::Error) => AckCode::CE,
            (AckMode::Enhanced, AckOutcome::Reject) => AckCode::CR,
            (AckMode::Original, outcome) => Self::application_code(outcome),
        }
    }

    /// The application ACK code: AA/AE/AR in either mode.
    pub fn application_code(outcome: AckOutcome) -> AckCode {
        match outcome {
            AckOutcome::Accept => AckCode::AA,
            AckOutcome::Error => AckCode::AE,
            AckOutcome::Reject => AckCode::AR,
        }
    }

    /// Whether the commit ACK is sent: always in original mode, per MSH-15 in
    /// enhanced mode (an empty MSH-15 means `AL`).
    pub fn should_send_commit_ack(&self, outcome: AckOutcome) -> bool {
        self.mode() == AckMode::Original
            || AckCondition::from_code(self.accept_ack_type.as_deref()).applies_to(outcome)
    }

    /// Whether an application ACK is sent: always in original mode, per MSH-16 in
    /// enhanced mode (an empty MSH-16 means `AL`).
    pub fn should_send_application_ack(&self, outcome: AckOutcome) -> bool {
        self.mode() == AckMode::Original
            || AckCondition::from_code(self.application_ack_type.as_deref()).applies_to(outcome)
    }

    /// MSH-12.1 as (major, minor), e.g. (2, 5) for `2.5.1`.
    pub(crate) fn version_number(&self) -> Option<(u32, u32)> {
        let version = self.version.as_deref()?;
        let id = version
            .split(char::from(self.delimiters.component))
            .next()?;
        let mut parts = id.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
        Some((major, minor))
    }
}

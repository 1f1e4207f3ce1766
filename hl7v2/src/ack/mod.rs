//! Acknowledgments: ACK codes, original and enhanced mode, ERR segments and the ACK text.
//!
//! A message is in **enhanced mode** when MSH-15 or MSH-16 is valued; its commit
//! (accept) ACK then uses `CA`/`CE`/`CR` and is sent according to MSH-15 (`AL`, `NE`,
//! `ER`, `SU`), while application ACKs use `AA`/`AE`/`AR` according to MSH-16. In
//! **original mode** every ACK is an application ACK (`AA`/`AE`/`AR`) and always sent.
//!
//! [`AckContext`] holds what an ACK echoes from the message. It is built from a parsed
//! [`Message`](crate::Message) or, leniently, from raw bytes whose MSH is partly broken,
//! so that a malformed message can still be answered with `AR` and an ERR segment.

mod build;
mod context;
mod err;

pub use build::Ack;
pub use context::AckContext;
pub use err::{ErrDetail, ErrLocation, ErrorCode, Severity};

/// An acknowledgment code (table 0008), as written in MSA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckCode {
    /// Application accept.
    AA,
    /// Application error.
    AE,
    /// Application reject.
    AR,
    /// Commit accept (enhanced mode).
    CA,
    /// Commit error (enhanced mode).
    CE,
    /// Commit reject (enhanced mode).
    CR,
}

impl AckCode {
    /// The code as written in MSA-1.
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::AA => "AA",
            AckCode::AE => "AE",
            AckCode::AR => "AR",
            AckCode::CA => "CA",
            AckCode::CE => "CE",
            AckCode::CR => "CR",
        }
    }

    /// Reads an MSA-1 value (case-insensitive, trimmed).
    pub fn from_code(code: &str) -> Option<AckCode> {
        match code.trim().to_ascii_uppercase().as_str() {
            "AA" => Some(AckCode::AA),
            "AE" => Some(AckCode::AE),
            "AR" => Some(AckCode::AR),
            "CA" => Some(AckCode::CA),
            "CE" => Some(AckCode::CE),
            "CR" => Some(AckCode::CR),
            _ => None,
        }
    }

    /// What this code says about the message.
    pub fn outcome(self) -> AckOutcome {
        match self {
            AckCode::AA | AckCode::CA => AckOutcome::Accept,
            AckCode::AE | AckCode::CE => AckOutcome::Error,
            AckCode::AR | AckCode::CR => AckOutcome::Reject,
        }
    }
}

/// What the receiver made of a message, independent of the ACK mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckOutcome {
    /// Accepted (AA / CA).
    Accept,
    /// Failed, worth a retry (AE / CE).
    Error,
    /// Rejected, no retry (AR / CR).
    Reject,
}

/// Original or enhanced acknowledgment mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckMode {
    /// MSH-15 and MSH-16 empty: one application ACK, AA/AE/AR.
    Original,
    /// MSH-15 or MSH-16 valued: commit ACK CA/CE/CR, application ACK AA/AE/AR.
    Enhanced,
}

/// When an ACK is wanted (table 0155), as in MSH-15 and MSH-16.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckCondition {
    /// `AL`: always.
    Always,
    /// `NE`: never.
    Never,
    /// `ER`: only on error or reject.
    OnError,
    /// `SU`: only on success.
    OnSuccess,
}

impl AckCondition {
    /// Reads MSH-15 or MSH-16; an empty or unknown value means `Always`, the safe
    /// choice for a sender that waits for an answer.
    pub fn from_code(code: Option<&str>) -> AckCondition {
        match code.map(|c| c.trim().to_ascii_uppercase()).as_deref() {
            Some("NE") => AckCondition::Never,
            Some("ER") => AckCondition::OnError,
            Some("SU") => AckCondition::OnSuccess,
            _ => AckCondition::Always,
        }
    }

    /// Whether an ACK is sent for this outcome.
    pub fn applies_to(self, outcome: AckOutcome) -> bool {
        match self {
            AckCondition::Always => true,
            AckCondition::Never => false,
            AckCondition::OnError => outcome != AckOutcome::Accept,
            AckCondition::OnSuccess => outcome == AckOutcome::Accept,
        }
    }
}

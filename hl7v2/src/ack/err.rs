//! ERR segment contents: location, error code (table 0357), severity (table 0516).

/// Where an error is (ERR-2 in v2.5+, ERR-1 components 1–3 before).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrLocation {
    /// Segment ID, e.g. `PID`.
    pub segment: String,
    /// Which occurrence of the segment, 1-based.
    pub sequence: u32,
    /// Field position, 1-based.
    pub field: Option<u32>,
    /// Field repetition, 1-based.
    pub repetition: Option<u32>,
    /// Component, 1-based.
    pub component: Option<u32>,
    /// Subcomponent, 1-based.
    pub subcomponent: Option<u32>,
}

/// HL7 error codes (table 0357).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: Message accepted.
    MessageAccepted,
    /// 100: Segment sequence error.
    SegmentSequenceError,
    /// 101: Required field missing.
    RequiredFieldMissing,
    /// 102: Data type error.
    DataTypeError,
    /// 103: Table value not found.
    TableValueNotFound,
    /// 104: Value too long.
    ValueTooLong,
    /// 200: Unsupported message type.
    UnsupportedMessageType,
    /// 201: Unsupported event code.
    UnsupportedEventCode,
    /// 202: Unsupported processing id.
    UnsupportedProcessingId,
    /// 203: Unsupported version id.
    UnsupportedVersionId,
    /// 204: Unknown key identifier.
    UnknownKeyIdentifier,
    /// 205: Duplicate key identifier.
    DuplicateKeyIdentifier,
    /// 206: Application record locked.
    ApplicationRecordLocked,
    /// 207: Application internal error.
    ApplicationInternalError,
}

impl ErrorCode {
    /// The numeric code, e.g. 101.
    pub fn code(self) -> u16 {
        self.entry().0
    }

    /// The table's text, e.g. `Required field missing`.
    pub fn text(self) -> &'static str {
        self.entry().1
    }

    fn entry(self) -> (u16, &'static str) {
        match self {
            ErrorCode::MessageAccepted => (0, "Message accepted"),
            ErrorCode::SegmentSequenceError => (100, "Segment sequence error"),
            ErrorCode::RequiredFieldMissing => (101, "Required field missing"),
            ErrorCode::DataTypeError => (102, "Data type error"),
            ErrorCode::TableValueNotFound => (103, "Table value not found"),
            ErrorCode::ValueTooLong => (104, "Value too long"),
            ErrorCode::UnsupportedMessageType => (200, "Unsupported message type"),
            ErrorCode::UnsupportedEventCode => (201, "Unsupported event code"),
            ErrorCode::UnsupportedProcessingId => (202, "Unsupported processing id"),
            ErrorCode::UnsupportedVersionId => (203, "Unsupported version id"),
            ErrorCode::UnknownKeyIdentifier => (204, "Unknown key identifier"),
            ErrorCode::DuplicateKeyIdentifier => (205, "Duplicate key identifier"),
            ErrorCode::ApplicationRecordLocked => (206, "Application record locked"),
            ErrorCode::ApplicationInternalError => (207, "Application internal error"),
        }
    }
}

/// Error severity (table 0516), ERR-4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// `E`: error, the message was not processed.
    Error,
    /// `W`: warning, processed.
    Warning,
    /// `I`: information.
    Information,
    /// `F`: fatal error (v2.7+).
    Fatal,
}

impl Severity {
    /// The code as written in ERR-4.
    pub fn code(self) -> &'static str {
        match self {
            Severity::Error => "E",
            Severity::Warning => "W",
            Severity::Information => "I",
            Severity::Fatal => "F",
        }
    }
}

/// One error to report in an ACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrDetail {
    /// Where the error is, if it has a place.
    pub location: Option<ErrLocation>,
    /// The HL7 error code.
    pub code: ErrorCode,
    /// How severe it is.
    pub severity: Severity,
    /// Text for a person (ERR-8 in v2.5+, MSA-3 before); escaped when written.
    pub message: String,
}

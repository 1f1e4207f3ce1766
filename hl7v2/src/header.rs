//! [`Header`]: typed accessors for the MSH segment.

use crate::timestamp::{Timestamp, TimestampError};
use crate::{Charset, Segment};

/// MSH-9: message code, trigger event and message structure (e.g. `ADT^A01^ADT_A01`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MessageType<'m> {
    /// MSH-9.1, e.g. `ADT`.
    pub code: Option<&'m str>,
    /// MSH-9.2, e.g. `A01`.
    pub trigger: Option<&'m str>,
    /// MSH-9.3, e.g. `ADT_A01` (v2.3.1 and later).
    pub structure: Option<&'m str>,
}

impl MessageType<'_> {
    /// `CODE^TRIGGER` (for example `ADT^A01`, or `ACK^` without a trigger),
    /// the form routing and logs use; `None` when MSH-9.1 is empty.
    pub fn event(&self) -> Option<String> {
        self.code
            .map(|code| format!("{code}^{}", self.trigger.unwrap_or("")))
    }
}

/// Typed accessors for a message's MSH segment. Values are raw (still escaped) and
/// `None` when absent or empty.
#[derive(Debug, Clone, Copy)]
pub struct Header<'m> {
    msh: Segment<'m>,
    charset: Charset,
}

impl<'m> Header<'m> {
    pub(crate) fn new(msh: Segment<'m>, charset: Charset) -> Self {
        Header { msh, charset }
    }

    /// The whole field `n`, if non-empty.
    fn field(&self, n: usize) -> Option<&'m str> {
        self.msh.field(n).map(|f| f.raw()).filter(|v| !v.is_empty())
    }

    /// Component `c` of the first repetition of field `n`, if non-empty.
    fn component(&self, n: usize, c: usize) -> Option<&'m str> {
        let component = self.msh.field(n)?.component(c)?;
        Some(component.raw()).filter(|v| !v.is_empty())
    }

    /// MSH-3, the sending application (the whole HD, e.g. `APP^1.2.3^ISO`).
    pub fn sending_application(&self) -> Option<&'m str> {
        self.field(3)
    }

    /// MSH-4, the sending facility.
    pub fn sending_facility(&self) -> Option<&'m str> {
        self.field(4)
    }

    /// MSH-5, the receiving application.
    pub fn receiving_application(&self) -> Option<&'m str> {
        self.field(5)
    }

    /// MSH-6, the receiving facility.
    pub fn receiving_facility(&self) -> Option<&'m str> {
        self.field(6)
    }

    /// MSH-7.1, the message date/time, parsed.
    pub fn timestamp(&self) -> Option<Result<Timestamp, TimestampError>> {
        self.component(7, 1).map(Timestamp::parse)
    }

    /// MSH-9, the message type.
    pub fn message_type(&self) -> MessageType<'m> {
        MessageType {
            code: self.component(9, 1),
            trigger: self.component(9, 2),
            structure: self.component(9, 3),
        }
    }

    /// MSH-10, the message control ID.
    pub fn control_id(&self) -> Option<&'m str> {
        self.field(10)
    }

    /// MSH-11.1, the processing ID (`P`, `D`, `T`).
    pub fn processing_id(&self) -> Option<&'m str> {
        self.component(11, 1)
    }

    /// MSH-12.1, the version ID (e.g. `2.5.1`).
    pub fn version(&self) -> Option<&'m str> {
        self.component(12, 1)
    }

    /// MSH-15, the accept acknowledgment type (`AL`, `NE`, `ER`, `SU`).
    pub fn accept_ack_type(&self) -> Option<&'m str> {
        self.field(15)
    }

    /// MSH-16, the application acknowledgment type (`AL`, `NE`, `ER`, `SU`).
    pub fn application_ack_type(&self) -> Option<&'m str> {
        self.field(16)
    }

    /// MSH-18 as declared (first repetition), e.g. `UNICODE UTF-8`.
    pub fn declared_charset(&self) -> Option<&'m str> {
        self.msh
            .field(18)?
            .repetition(1)
            .map(|r| r.raw())
            .filter(|v| !v.is_empty())
    }

    /// The charset the message was decoded with (see [`crate::charset`]).
    pub fn charset(&self) -> Charset {
        self.charset
    }
}

#[cfg(test)]
mod event_tests {
    use crate::Message;

    #[test]
    fn event_joins_code_and_trigger() {
        let with = Message::parse(b"MSH|^~\\&|A|B|C|D|1||ADT^A01^ADT_A01|1|P|2.5\r").unwrap();
        assert_eq!(
            with.header().message_type().event().as_deref(),
            Some("ADT^A01")
        );
        let without = Message::parse(b"MSH|^~\\&|A|B|C|D|1|||1|P|2.5\r").unwrap();
        assert_eq!(without.header().message_type().event(), None);
    }
}

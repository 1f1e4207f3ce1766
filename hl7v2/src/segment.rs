//! [`Segment`]: a borrowed view of one segment and its fields.

use crate::owned::OwnedSegment;
use crate::{Delimiters, Field};

/// One segment of a parsed message.
///
/// Fields are numbered from 1 as in HL7. For MSH, field 1 is the field separator
/// itself and field 2 the encoding characters, so MSH-3 is the first field after them.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'m> {
    text: &'m str,
    start: usize,
    /// Positions of the field separators, then of the segment end.
    bounds: &'m [u32],
    delimiters: &'m Delimiters,
    /// Whether this is an MSH segment with at least its field separator,
    /// whose first two fields are special (found once, not per field).
    msh: bool,
}

impl<'m> Segment<'m> {
    pub(crate) fn new(
        text: &'m str,
        start: usize,
        bounds: &'m [u32],
        delimiters: &'m Delimiters,
    ) -> Self {
        let msh = bounds.len() > 1 && text.get(start..bounds[0] as usize) == Some("MSH");
        Segment {
            text,
            start,
            bounds,
            delimiters,
            msh,
        }
    }

    /// The segment ID (the text before the first field separator), e.g. `PID`.
    pub fn id(&self) -> &'m str {
        &self.text[self.start..self.bound(0)]
    }

    /// The whole segment, without its terminator.
    pub fn raw(&self) -> &'m str {
        &self.text[self.start..self.end()]
    }

    /// The byte offset of the segment's end in the message text.
    pub(crate) fn end(&self) -> usize {
        self.bound(self.bounds.len() - 1)
    }

    fn bound(&self, i: usize) -> usize {
        self.bounds[i] as usize
    }

    /// The number of fields present (trailing empty fields included).
    pub fn field_count(&self) -> usize {
        let separators = self.bounds.len() - 1;
        if self.msh { separators + 1 } else { separators }
    }

    /// Field `n` (1-based); `None` beyond the last field.
    pub fn field(&self, n: usize) -> Option<Field<'m>> {
        if n == 0 || n > self.field_count() {
            return None;
        }
        let (from, to, literal) = match (self.msh, n) {
            (true, 1) => (self.bound(0), self.bound(0) + 1, true),
            (true, 2) => (self.bound(0) + 1, self.bound(1), true),
            (true, n) => (self.bound(n - 2) + 1, self.bound(n - 1), false),
            (false, n) => (self.bound(n - 1) + 1, self.bound(n), false),
        };
        Some(Field::new(&self.text[from..to], self.delimiters, literal))
    }

    /// All fields in order, starting with field 1.
    pub fn fields(&self) -> impl Iterator<Item = Field<'m>> + use<'m> {
        let segment = *self;
        (1..=segment.field_count()).filter_map(move |n| segment.field(n))
    }

    /// An editable copy of this segment, followed by `terminator` when re-encoded.
    pub(crate) fn to_owned_segment(self, terminator: &str) -> OwnedSegment {
        let fields = self.fields().map(|f| f.raw().to_string()).collect();
        OwnedSegment::from_parts(self.id().to_string(), fields, terminator.to_string())
    }
}

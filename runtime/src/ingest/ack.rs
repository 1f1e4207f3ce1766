//! Composing the ACKs the ingest path sends: a unique MSH-10 for each, the
//! current time as MSH-7, and the ERR details for each kind of refusal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hl7v2::ack::{
    Ack, AckCode, AckContext, AckOutcome, ErrDetail, ErrLocation, ErrorCode, Severity,
};

/// Makes ACK control IDs unique within and across runs: the start time in
/// base 36 followed by a counter, at most 20 characters (the v2.5 limit).
pub struct AckIds {
    prefix: String,
    next: AtomicU64,
}

impl AckIds {
    /// A generator whose prefix is the current time.
    pub fn new() -> Self {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        AckIds {
            prefix: base36(started),
            next: AtomicU64::new(1),
        }
    }

    /// The next control ID, for example `MK2J1C0Q-1F`.
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{}-{}", self.prefix, base36(n))
    }
}

impl Default for AckIds {
    fn default() -> Self {
        AckIds::new()
    }
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

/// The current UTC time as an HL7 DTM, `YYYYMMDDHHMMSS+0000`.
pub fn hl7_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}+0000",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// The ACK for `outcome` with its ERR details: the commit code of the
/// message's mode (CA/CE/CR in enhanced mode, AA/AE/AR in original mode).
pub fn commit_ack(
    context: &AckContext,
    outcome: AckOutcome,
    errors: &[ErrDetail],
    ids: &AckIds,
) -> String {
    let code: AckCode = context.commit_code(outcome);
    Ack::build(context, code, errors, &ids.next(), &hl7_now())
}

/// The answer to an HL7 batch received in one frame: the ACKs due for its
/// messages, in order, inside a BHS ... BTS envelope (and FHS ... FTS when
/// the batch had a file header). Each header line goes back to the sender
/// (its sending and receiving application and facility swapped), with a
/// control ID of ours and, as the reference control ID (FHS-12, BHS-12),
/// the one the sender gave (FHS-11, BHS-11). BTS-1 counts the ACKs.
pub fn batch_ack(batch: &hl7v2::Batch<'_>, acks: &[&str], ids: &AckIds) -> String {
    let now = hl7_now();
    let envelope = |id: &str| {
        let line = batch.header_segment(id)?;
        let separator = *line.get(3).unwrap_or(&b'|');
        let fields: Vec<String> = line
            .split(|&b| b == separator)
            .map(|field| String::from_utf8_lossy(field).into_owned())
            .collect();
        let field = |n: usize| fields.get(n - 1).map_or("", String::as_str);
        let encoding = Some(field(2)).filter(|e| !e.is_empty()).unwrap_or("^~\\&");
        let header = [
            id,
            encoding,
            field(5),
            field(6),
            field(3),
            field(4),
            &now,
            "",
            "",
            "",
            &ids.next(),
            field(11),
        ]
        .join(&char::from(separator).to_string());
        Some((header, char::from(separator)))
    };
    let (file, batch_header) = (envelope("FHS"), envelope("BHS"));
    let mut out = String::new();
    for (header, _) in [&file, &batch_header].into_iter().flatten() {
        out.push_str(header);
        out.push('\r');
    }
    for ack in acks {
        out.push_str(ack);
    }
    if let Some((_, separator)) = &batch_header {
        out.push_str(&format!("BTS{separator}{}\r", acks.len()));
    }
    if let Some((_, separator)) = &file {
        let batches = usize::from(batch_header.is_some());
        out.push_str(&format!("FTS{separator}{batches}\r"));
    }
    out
}

/// An ERR detail without a location.
pub fn error(code: ErrorCode, severity: Severity, message: impl Into<String>) -> ErrDetail {
    ErrDetail {
        location: None,
        code,
        severity,
        message: message.into(),
    }
}

/// An ERR detail pointing at a segment (and field).
pub fn error_at(
    code: ErrorCode,
    segment: &str,
    field: Option<u32>,
    message: impl Into<String>,
) -> ErrDetail {
    ErrDetail {
        location: Some(ErrLocation {
            segment: segment.to_string(),
            sequence: 1,
            field,
            ..ErrLocation::default()
        }),
        code,
        severity: Severity::Error,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_ids_are_unique_and_short() {
        let ids = AckIds::new();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        assert!(a.len() <= 20, "{a}");
    }

    #[test]
    fn hl7_now_is_a_full_dtm_with_offset() {
        let now = hl7_now();
        assert_eq!(now.len(), 19);
        assert!(now.ends_with("+0000"));
        assert!(hl7v2::Timestamp::parse(&now).is_ok());
    }
}

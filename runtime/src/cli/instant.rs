//! Times on the command line, for the filters of `messages search` and
//! `dlq`: an RFC 3339 time, a date (midnight UTC), a span back from now
//! (`90s`, `15m`, `2h`, `7d`) or milliseconds since the Unix epoch, all
//! read as milliseconds since the Unix epoch, which the admin API takes.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What a time argument may be, for error messages.
const FORMS: &str = "an RFC 3339 time (2026-11-29T08:00:00Z), a date (2026-11-29), \
                     a span back from now (90s, 15m, 2h, 7d) or milliseconds since the Unix epoch";

/// Reads a time argument as milliseconds since the Unix epoch (a clap
/// value parser).
///
/// # Errors
/// The text is none of the forms, or lies before 1970.
pub fn parse_ms(text: &str) -> Result<u64, String> {
    parse_at(text, now_ms())
}

/// [`parse_ms`] with `now_ms` as the time spans count back from.
fn parse_at(text: &str, now_ms: u64) -> Result<u64, String> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    if let Some(span) = span_ms(text) {
        return now_ms
            .checked_sub(span)
            .ok_or_else(|| format!("{text:?} reaches back before 1970"));
    }
    // A date alone is its midnight, UTC.
    let instant = OffsetDateTime::parse(text, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{text}T00:00:00Z"), &Rfc3339));
    let instant = instant.map_err(|_| format!("{text:?} is not {FORMS}"))?;
    u64::try_from(instant.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| format!("{text:?} lies before 1970"))
}

/// A span such as `15m`, in milliseconds.
fn span_ms(text: &str) -> Option<u64> {
    let unit = text.chars().last()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    let count: u64 = text[..text.len() - 1].parse().ok()?;
    count.checked_mul(seconds * 1_000)
}

fn now_ms() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH);
    u64::try_from(since_epoch.map_or(0, |d| d.as_millis())).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_960_000_000;

    /// Ensures that every form reads as the same instant it names.
    #[test]
    fn reads_every_form() {
        assert_eq!(parse_at("1795958774969", NOW), Ok(1_795_958_774_969));
        assert_eq!(parse_at("2026-11-29T08:00:00Z", NOW), Ok(1_795_939_200_000));
        assert_eq!(
            parse_at("2026-11-29T09:00:00+01:00", NOW),
            Ok(1_795_939_200_000)
        );
        assert_eq!(
            parse_at("2026-11-29T08:00:00.250Z", NOW),
            Ok(1_795_939_200_250)
        );
        assert_eq!(parse_at("2026-11-29", NOW), Ok(1_795_910_400_000));
        assert_eq!(parse_at("90s", NOW), Ok(NOW - 90_000));
        assert_eq!(parse_at("15m", NOW), Ok(NOW - 900_000));
        assert_eq!(parse_at(" 2h ", NOW), Ok(NOW - 7_200_000));
        assert_eq!(parse_at("7d", NOW), Ok(NOW - 604_800_000));
    }

    /// Ensures that what is none of the forms is refused with the forms
    /// named, and that nothing reads as before 1970.
    #[test]
    fn refuses_what_is_no_time() {
        for text in ["yesterday", "2h30m", "29/11/2026", "", "-5", "2026-13-01"] {
            let error = parse_at(text, NOW).unwrap_err();
            assert!(error.contains("RFC 3339"), "{text}: {error}");
        }
        assert!(parse_at("99999d", NOW).unwrap_err().contains("before 1970"));
        assert!(
            parse_at("1969-12-31", NOW)
                .unwrap_err()
                .contains("before 1970")
        );
    }
}

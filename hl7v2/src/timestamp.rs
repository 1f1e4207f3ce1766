//! HL7 timestamps (DTM, and TS component 1):
//! `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
//!
//! Fractions of up to 9 digits are accepted (the standard says 4; senders write more).

use std::fmt;

use thiserror::Error;

/// The finest unit a timestamp gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    /// `YYYY`
    Year,
    /// `YYYYMM`
    Month,
    /// `YYYYMMDD`
    Day,
    /// `YYYYMMDDHH`
    Hour,
    /// `YYYYMMDDHHMM`
    Minute,
    /// `YYYYMMDDHHMMSS`
    Second,
    /// `YYYYMMDDHHMMSS.S...` (see [`Timestamp::fraction_digits`])
    Fraction,
}

/// A parsed HL7 timestamp. Parts finer than `precision` are 1 (month, day) or 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// Year, 0–9999.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
    /// Fraction of a second, in nanoseconds.
    pub nanos: u32,
    /// How many fraction digits were given (0 unless `precision` is `Fraction`).
    pub fraction_digits: u8,
    /// The finest unit given.
    pub precision: Precision,
    /// The UTC offset in minutes, when given (`-0500` is -300).
    pub offset_minutes: Option<i16>,
}

/// A timestamp that does not follow `YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimestampError {
    /// The text does not have the shape of a timestamp.
    #[error("invalid timestamp {0:?}")]
    Syntax(String),
    /// A part is out of its range (e.g. month 13, 30 February).
    #[error("{0} out of range in timestamp")]
    OutOfRange(&'static str),
}

impl Timestamp {
    /// Parses a DTM value (for a TS, pass component 1).
    ///
    /// # Errors
    /// [`TimestampError::Syntax`] for a malformed text, [`TimestampError::OutOfRange`]
    /// for an impossible date or time.
    pub fn parse(text: &str) -> Result<Timestamp, TimestampError> {
        let syntax = || TimestampError::Syntax(text.to_string());
        let sign = text.bytes().position(|b| b == b'+' || b == b'-');
        let (body, offset) = match sign {
            Some(i) => (
                &text[..i],
                Some(parse_offset(&text[i..]).ok_or_else(syntax)?),
            ),
            None => (text, None),
        };
        let (digits, fraction) = match body.bytes().position(|b| b == b'.') {
            Some(dot) => (&body[..dot], Some(&body[dot + 1..])),
            None => (body, None),
        };
        let precision = match (digits.len(), fraction) {
            (4, None) => Precision::Year,
            (6, None) => Precision::Month,
            (8, None) => Precision::Day,
            (10, None) => Precision::Hour,
            (12, None) => Precision::Minute,
            (14, None) => Precision::Second,
            (14, Some(f)) if (1..=9).contains(&f.len()) => Precision::Fraction,
            _ => return Err(syntax()),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(digits) || !fraction.is_none_or(all_digits) {
            return Err(syntax());
        }
        // All digits from here on: read by hand, not by `str::parse`.
        let digits = digits.as_bytes();
        let part = |from: usize, default: u8| {
            digits
                .get(from..from + 2)
                .map_or(default, |pair| two_digits(pair) as u8)
        };
        let fraction = fraction.unwrap_or_default();
        let timestamp = Timestamp {
            year: two_digits(&digits[..2]) * 100 + two_digits(&digits[2..4]),
            month: part(4, 1),
            day: part(6, 1),
            hour: part(8, 0),
            minute: part(10, 0),
            second: part(12, 0),
            nanos: nanos(fraction),
            fraction_digits: fraction.len() as u8,
            precision,
            offset_minutes: offset,
        };
        timestamp.check_ranges()?;
        Ok(timestamp)
    }

    fn check_ranges(&self) -> Result<(), TimestampError> {
        let out = TimestampError::OutOfRange;
        if !(1..=12).contains(&self.month) {
            return Err(out("month"));
        }
        if self.day == 0 || self.day > days_in_month(self.year, self.month) {
            return Err(out("day"));
        }
        if self.hour > 23 {
            return Err(out("hour"));
        }
        if self.minute > 59 {
            return Err(out("minute"));
        }
        if self.second > 59 {
            return Err(out("second"));
        }
        Ok(())
    }

    /// The fraction digits as written, e.g. `8343` for `.8343`.
    pub fn fraction_text(&self) -> String {
        let mut text = String::with_capacity(9);
        self.push_fraction(&mut text);
        text
    }

    /// Appends [`Timestamp::fraction_text`] to `text`.
    fn push_fraction(&self, text: &mut String) {
        let start = text.len();
        push_padded(text, self.nanos, 9);
        text.truncate(start + usize::from(self.fraction_digits));
    }

    /// The date as a FHIR `date` with the timestamp's precision, up to the day:
    /// `2024`, `2024-03`, `2024-03-05`.
    pub fn to_fhir_date(&self) -> String {
        let mut text = String::with_capacity(10);
        self.push_date(&mut text);
        text
    }

    /// Appends [`Timestamp::to_fhir_date`] to `text`.
    fn push_date(&self, text: &mut String) {
        push_padded(text, u32::from(self.year), 4);
        if self.precision >= Precision::Month {
            text.push('-');
            push_padded(text, u32::from(self.month), 2);
        }
        if self.precision >= Precision::Day {
            text.push('-');
            push_padded(text, u32::from(self.day), 2);
        }
    }

    /// FHIR `dateTime` text keeping the precision: `2024`, `2024-03`, `2024-03-05`,
    /// `2024-03-05T10:20:00+01:00` (hour or minute precision is padded with zeros, as
    /// FHIR needs seconds).
    ///
    /// FHIR requires a UTC offset whenever a time is given. The timestamp's own offset
    /// is used, else `default_offset` (minutes); when neither exists the result is
    /// truncated to the date rather than given an invented zone.
    pub fn to_fhir_datetime(&self, default_offset: Option<i16>) -> String {
        let mut text = String::with_capacity(35);
        self.push_date(&mut text);
        let offset = self.offset_minutes.or(default_offset);
        let Some(offset) = offset.filter(|_| self.precision > Precision::Day) else {
            return text;
        };
        for (separator, value) in [('T', self.hour), (':', self.minute), (':', self.second)] {
            text.push(separator);
            push_padded(&mut text, u32::from(value), 2);
        }
        if self.fraction_digits > 0 {
            text.push('.');
            self.push_fraction(&mut text);
        }
        text.push(if offset < 0 { '-' } else { '+' });
        let abs = u32::from(offset.unsigned_abs());
        push_padded(&mut text, abs / 60, 2);
        text.push(':');
        push_padded(&mut text, abs % 60, 2);
        text
    }
}

/// The number two ASCII digits write.
fn two_digits(pair: &[u8]) -> u16 {
    u16::from(pair[0] - b'0') * 10 + u16::from(pair[1] - b'0')
}

/// Appends `n` in decimal, zero-padded to `width` digits (at most 10): as
/// `format!("{n:0width$}")`, without the formatting machinery.
fn push_padded(text: &mut String, n: u32, width: usize) {
    // The usual widths, digit by digit: two (hours, offsets) and four (years).
    match (width, n) {
        (2, 0..100) => {
            text.push(char::from(b'0' + (n / 10) as u8));
            text.push(char::from(b'0' + (n % 10) as u8));
            return;
        }
        (4, 0..10_000) => {
            push_padded(text, n / 100, 2);
            push_padded(text, n % 100, 2);
            return;
        }
        _ => {}
    }
    let mut digits = [b'0'; 10];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for &digit in &digits[at.min(digits.len() - width)..] {
        text.push(char::from(digit));
    }
}

/// The nanoseconds of fraction digits (at most 9, all ASCII digits), as
/// `format!("{fraction:0<9}").parse()`.
fn nanos(fraction: &str) -> u32 {
    let value = fraction
        .bytes()
        .fold(0u32, |n, digit| n * 10 + u32::from(digit - b'0'));
    value * 10u32.pow(9 - fraction.len() as u32)
}

/// `+HHMM` or `-HHMM` to minutes.
fn parse_offset(text: &str) -> Option<i16> {
    let (sign, digits) = text.split_at(1);
    let digits = digits.as_bytes();
    if digits.len() != 4 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let hours = two_digits(&digits[..2]) as i16;
    let minutes = two_digits(&digits[2..]) as i16;
    if hours > 23 || minutes > 59 {
        return None;
    }
    let total = hours * 60 + minutes;
    Some(if sign == "-" { -total } else { total })
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Timestamp {
    /// Writes the HL7 form back, with the same precision and offset (a zero offset is
    /// written `+0000`, also when it was read as `-0000`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        let parts = [
            (Precision::Month, self.month),
            (Precision::Day, self.day),
            (Precision::Hour, self.hour),
            (Precision::Minute, self.minute),
            (Precision::Second, self.second),
        ];
        for (precision, value) in parts {
            if self.precision >= precision {
                write!(f, "{value:02}")?;
            }
        }
        if self.precision == Precision::Fraction {
            write!(f, ".{}", self.fraction_text())?;
        }
        if let Some(offset) = self.offset_minutes {
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.unsigned_abs();
            write!(f, "{sign}{:02}{:02}", abs / 60, abs % 60)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_and_fractions_match_format() {
        for n in [0, 7, 42, 99, 100, 2024, 65_535, 999_999_999, u32::MAX] {
            for width in [2, 4, 9] {
                let mut text = String::new();
                push_padded(&mut text, n, width);
                assert_eq!(text, format!("{n:0width$}"));
            }
        }
        for fraction in ["", "1", "12", "8343", "123456789", "000000001"] {
            let expected: u32 = format!("{fraction:0<9}").parse().unwrap();
            assert_eq!(nanos(fraction), expected, "{fraction}");
        }
    }
}

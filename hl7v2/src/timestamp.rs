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
        let (body, offset) = match text.find(['+', '-']) {
            Some(i) => (
                &text[..i],
                Some(parse_offset(&text[i..]).ok_or_else(syntax)?),
            ),
            None => (text, None),
        };
        let (digits, fraction) = match body.split_once('.') {
            Some((d, f)) => (d, Some(f)),
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
        let part = |from: usize, default: u8| {
            digits
                .get(from..from + 2)
                .map_or(default, |p| p.parse().unwrap_or(default))
        };
        let fraction = fraction.unwrap_or_default();
        let timestamp = Timestamp {
            year: digits[..4].parse().map_err(|_| syntax())?,
            month: part(4, 1),
            day: part(6, 1),
            hour: part(8, 0),
            minute: part(10, 0),
            second: part(12, 0),
            nanos: format!("{fraction:0<9}").parse().unwrap_or(0),
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
        let digits = usize::from(self.fraction_digits);
        format!("{:09}", self.nanos)[..digits].to_string()
    }

    /// FHIR `dateTime` text keeping the precision: `2024`, `2024-03`, `2024-03-05`,
    /// `2024-03-05T10:20:00+01:00` (hour or minute precision is padded with zeros, as
    /// FHIR needs seconds).
    ///
    /// FHIR requires a UTC offset whenever a time is given. The timestamp's own offset
    /// is used, else `default_offset` (minutes); when neither exists the result is
    /// truncated to the date rather than given an invented zone.
    pub fn to_fhir_datetime(&self, default_offset: Option<i16>) -> String {
        let date = match self.precision {
            Precision::Year => return format!("{:04}", self.year),
            Precision::Month => return format!("{:04}-{:02}", self.year, self.month),
            _ => format!("{:04}-{:02}-{:02}", self.year, self.month, self.day),
        };
        let Some(offset) = self.offset_minutes.or(default_offset) else {
            return date;
        };
        if self.precision == Precision::Day {
            return date;
        }
        let (h, m, s) = (self.hour, self.minute, self.second);
        let mut text = format!("{date}T{h:02}:{m:02}:{s:02}");
        if self.fraction_digits > 0 {
            text.push('.');
            text.push_str(&self.fraction_text());
        }
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        text.push_str(&format!("{sign}{:02}:{:02}", abs / 60, abs % 60));
        text
    }
}

/// `+HHMM` or `-HHMM` to minutes.
fn parse_offset(text: &str) -> Option<i16> {
    let (sign, digits) = text.split_at(1);
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i16 = digits[..2].parse().ok()?;
    let minutes: i16 = digits[2..].parse().ok()?;
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

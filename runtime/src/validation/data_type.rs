//! The HL7 v2 data types a profile can check a value against.

use hl7v2::{Precision, Timestamp};
use serde::Deserialize;

/// A primitive HL7 v2 data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DataType {
    /// Numeric: an optional sign, digits and an optional decimal point.
    NM,
    /// Sequence ID: a non-negative integer.
    SI,
    /// Date: `YYYY[MM[DD]]`.
    DT,
    /// Date and time: `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
    DTM,
    /// Time stamp: a DTM in its first component (the precision in the
    /// second is not checked).
    TS,
    /// Time: `HH[MM[SS[.S[S[S[S]]]]]][+/-ZZZZ]`.
    TM,
}

impl DataType {
    /// Whether `value` (unescaped) is of this type; otherwise the form it
    /// should take.
    pub fn check(self, value: &str) -> Result<(), &'static str> {
        let valid = match self {
            DataType::NM => is_numeric(value),
            DataType::SI => !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
            DataType::DT => Timestamp::parse(value)
                .is_ok_and(|t| t.offset_minutes.is_none() && t.precision <= Precision::Day),
            DataType::DTM | DataType::TS => Timestamp::parse(value).is_ok(),
            DataType::TM => is_time(value),
        };
        if valid { Ok(()) } else { Err(self.form()) }
    }

    /// The form a value of this type takes, for error texts.
    fn form(self) -> &'static str {
        match self {
            DataType::NM => "a number (NM)",
            DataType::SI => "a non-negative integer (SI)",
            DataType::DT => "a date YYYY[MM[DD]] (DT)",
            DataType::DTM => "a date and time YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ] (DTM)",
            DataType::TS => "a time stamp YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ] (TS)",
            DataType::TM => "a time HH[MM[SS[.S]]][+/-ZZZZ] (TM)",
        }
    }
}

fn is_numeric(value: &str) -> bool {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !(whole.is_empty() && fraction.is_empty()) && all_digits(whole) && all_digits(fraction)
}

/// A TM is the time part of a DTM: check it as one on a fixed date.
fn is_time(value: &str) -> bool {
    let digits = value.split(['+', '-', '.']).next().unwrap_or("");
    matches!(digits.len(), 2 | 4 | 6)
        && (digits.len() == 6 || !value.contains('.'))
        && Timestamp::parse(&format!("20000101{value}")).is_ok()
}

#[cfg(test)]
mod tests {
    use super::DataType::*;

    #[test]
    fn values_of_each_type() {
        for (data_type, good, bad) in [
            (
                NM,
                &["1", "-2.5", "+.5", "10."][..],
                &["", "1e3", "1,5", "-", "."][..],
            ),
            (SI, &["0", "12"], &["-1", "1.0", ""]),
            (
                DT,
                &["2024", "202402", "20240229"],
                &["20230229", "2024022912", "20240101+0100"],
            ),
            (
                DTM,
                &["2024", "20240229123000.1234-0500"],
                &["2024-02-29", "20241301"],
            ),
            (TS, &["202402291230"], &["2024022912300"]),
            (
                TM,
                &["12", "1230", "123059.25+0100"],
                &["1", "2400", "12.5", "126000"],
            ),
        ] {
            for value in good {
                assert!(data_type.check(value).is_ok(), "{data_type:?} {value:?}");
            }
            for value in bad {
                assert!(data_type.check(value).is_err(), "{data_type:?} {value:?}");
            }
        }
    }
}

//! DTM/TS/DT/TM to FHIR `dateTime`, `date`, `instant` and `time`, keeping the
//! precision and the UTC offset that the sender gave.

use hl7wasm_plugin_sdk::hl7v2::Timestamp;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

/// A FHIR dateTime with the timestamp's precision and offset. A time without
/// offset gets `default_offset` (minutes) or, without one, is cut to its date.
/// `None` when `text` is not a valid HL7 timestamp.
pub fn datetime(text: &str, default_offset: Option<i16>) -> Option<String> {
    Some(
        Timestamp::parse(text)
            .ok()?
            .to_fhir_datetime(default_offset),
    )
}

/// The date part of a timestamp as a FHIR date (`2024`, `2024-03`, `2024-03-05`).
pub fn date(text: &str) -> Option<String> {
    Some(Timestamp::parse(text).ok()?.to_fhir_date())
}

/// Whether a FHIR dateTime is also a valid instant (it has a time, hence a zone).
pub fn is_instant(datetime: &str) -> bool {
    datetime.contains('T')
}

/// A TM (`HH[MM[SS[.S]]]`, offset ignored) as a FHIR time `HH:MM:SS`.
pub fn time_of_day(text: &str) -> Option<String> {
    let digits = text.split(['+', '-']).next()?;
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if !matches!(whole.len(), 2 | 4 | 6) || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = |i: usize| whole.get(i..i + 2).unwrap_or("00");
    let (hour, minute, second) = (part(0), part(2), part(4));
    if hour > "23" || minute > "59" || second > "59" {
        return None;
    }
    let mut time = format!("{hour}:{minute}:{second}");
    if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) {
        time.push('.');
        time.push_str(fraction);
    }
    Some(time)
}

/// A Period from optional start and end; `None` when both are absent. An
/// end before the start (a sender's error) is left out, as FHIR's per-1
/// forbids it.
pub fn period<'m>(start: Option<String>, end: Option<String>) -> Option<Value<'m>> {
    let end = match (&start, end) {
        (Some(start), Some(end)) if !in_order(start, &end) => None,
        (_, end) => end,
    };
    let mut period = json!({});
    crate::context::put(&mut period, "start", start.map(Value::from));
    crate::context::put(&mut period, "end", end.map(Value::from));
    (period != json!({})).then_some(period)
}

/// Sets a choice of when something happened on `object`: the Period
/// `keys.0` from `start` to `end` when there is an end, else the dateTime
/// `keys.1` of `start` (if any).
pub fn put_when<'m>(
    object: &mut Value<'m>,
    keys: (&'static str, &'static str),
    start: Option<String>,
    end: Option<String>,
) {
    match end {
        Some(end) => crate::context::put(object, keys.0, period(start, Some(end))),
        None => crate::context::put(object, keys.1, start.map(Value::from)),
    }
}

/// Whether the FHIR dateTime `start` is not after `end`: two instants by
/// their moment, else by the dates they give, to the coarser precision.
pub fn in_order(start: &str, end: &str) -> bool {
    match (moment(start), moment(end)) {
        (Some((a, _)), Some((b, _))) => a <= b,
        _ => {
            let n = start.len().min(end.len()).min(10);
            start.get(..n) <= end.get(..n)
        }
    }
}

/// The instant `minutes` after the instant `start`, in `start`'s offset
/// (without fractions of a second); `None` when `start` is not an instant.
pub fn minutes_after(start: &str, minutes: i64) -> Option<String> {
    let (seconds, offset) = moment(start)?;
    let zulu = offset == 0 && start.ends_with('Z');
    Some(written(seconds + minutes * 60, offset, zulu))
}

/// The instant `seconds` after 1970-01-01T00:00:00Z, written in UTC.
pub fn unix_instant(seconds: i64) -> String {
    written(seconds, 0, true)
}

/// The instant `seconds` after 1970 (UTC) as `YYYY-MM-DDThh:mm:ss` in the
/// offset `offset` (minutes), which is written `Z` when `zulu`.
fn written(seconds: i64, offset: i64, zulu: bool) -> String {
    let local = seconds + offset * 60;
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let clock = local.rem_euclid(86_400);
    let zone = if zulu {
        "Z".to_string()
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", offset.abs() / 60, offset.abs() % 60)
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{zone}",
        clock / 3600,
        clock / 60 % 60,
        clock % 60
    )
}

/// An instant `YYYY-MM-DDThh:mm:ss[.f](Z|±hh:mm)` as seconds since 1970
/// (UTC) and its offset in minutes.
fn moment(text: &str) -> Option<(i64, i64)> {
    let (date, rest) = text.split_once('T')?;
    let (clock, offset) = match rest.strip_suffix('Z') {
        Some(clock) => (clock, 0),
        None => {
            let at = rest.len().checked_sub(6)?;
            let (clock, zone) = rest.split_at_checked(at)?;
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hours: i64 = zone.get(1..3)?.parse().ok()?;
            let minutes: i64 = zone.get(4..6)?.parse().ok()?;
            (clock, sign * (hours * 60 + minutes))
        }
    };
    let number = |text: &str, at: usize, len: usize| -> Option<i64> {
        let part = text.get(at..at + len)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let days = days_from_civil(
        number(date, 0, 4)?,
        number(date, 5, 2)?,
        number(date, 8, 2)?,
    );
    let seconds = number(clock, 0, 2)? * 3600 + number(clock, 3, 2)? * 60 + number(clock, 6, 2)?;
    Some((days * 86_400 + seconds - offset * 60, offset))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day since 1970-01-01: [`days_from_civil`] reversed.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A unit of time as FHIR's UCUM time units name it (`s`, `min`, `h`, `d`,
/// `wk`, `mo`, `a`), from the code or name that senders give it (`Hr`,
/// `minute`, `D`, `ann`, ...); `None` for any other unit.
pub fn ucum_time_unit(unit: &str) -> Option<&'static str> {
    Some(match unit.trim().to_ascii_lowercase().as_str() {
        "s" | "sec" | "second" | "seconds" => "s",
        "min" | "minute" | "minutes" => "min",
        "h" | "hr" | "hour" | "hours" => "h",
        "d" | "day" | "days" => "d",
        "wk" | "week" | "weeks" => "wk",
        "mo" | "month" | "months" => "mo",
        "a" | "ann" | "yr" | "year" | "years" => "a",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_unix_time_as_a_utc_instant() {
        assert_eq!(unix_instant(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_instant(1_709_208_000), "2024-02-29T12:00:00Z");
        assert_eq!(unix_instant(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn keeps_precision_and_offset() {
        assert_eq!(
            datetime("198808181126+0215", None).unwrap(),
            "1988-08-18T11:26:00+02:15"
        );
        assert_eq!(datetime("201403", None).unwrap(), "2014-03");
        assert_eq!(datetime("20140306101500", None).unwrap(), "2014-03-06");
        assert_eq!(
            datetime("20140306101500", Some(-300)).unwrap(),
            "2014-03-06T10:15:00-05:00"
        );
        assert_eq!(datetime("2014030", None), None);
    }

    #[test]
    fn periods_keep_their_order() {
        assert!(in_order(
            "2024-01-02T10:00:00+01:00",
            "2024-01-02T09:30:00Z"
        ));
        assert!(!in_order(
            "2024-01-02T10:00:00Z",
            "2024-01-02T10:30:00+01:00"
        ));
        assert!(in_order("2024-01", "2024-01-31T00:00:00Z"));
        assert!(!in_order("2014-09-12", "2000-02-06"));
        let inverted = period(Some("2014-09-12".into()), Some("2000-02-06".into()));
        assert_eq!(inverted, Some(json!({ "start": "2014-09-12" })));
    }

    #[test]
    fn minutes_are_added_across_days_in_the_offset_given() {
        assert_eq!(
            minutes_after("2024-02-28T23:30:00-05:00", 50).as_deref(),
            Some("2024-02-29T00:20:00-05:00")
        );
        assert_eq!(
            minutes_after("2023-12-31T23:59:59.5Z", 1).as_deref(),
            Some("2024-01-01T00:00:59Z")
        );
        assert_eq!(
            minutes_after("1969-12-31T23:00:00+00:00", 120).as_deref(),
            Some("1970-01-01T01:00:00+00:00")
        );
        assert_eq!(minutes_after("2024-02-28", 50), None);
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(date("198808181126+0215").unwrap(), "1988-08-18");
        assert_eq!(time_of_day("1230").unwrap(), "12:30:00");
        assert_eq!(time_of_day("2530"), None);
    }
}

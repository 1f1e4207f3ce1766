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

/// A Period from optional start and end; `None` when both are absent.
pub fn period<'m>(start: Option<String>, end: Option<String>) -> Option<Value<'m>> {
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
    fn dates_and_times() {
        assert_eq!(date("198808181126+0215").unwrap(), "1988-08-18");
        assert_eq!(time_of_day("1230").unwrap(), "12:30:00");
        assert_eq!(time_of_day("2530"), None);
    }
}

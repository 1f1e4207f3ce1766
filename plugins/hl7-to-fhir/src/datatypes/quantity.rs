//! NM, CQ and units (CWE) → Quantity.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::{Number, Value};

use crate::context::{Parts, Rep, object, put};
use crate::datatypes::codes;

/// A decimal text (`-1`, `4.06`, `.5`, `+2.`) as a JSON number; `None` when it
/// is not one.
pub fn number<'m>(text: &str) -> Option<Value<'m>> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) {
        return None;
    }
    let text = text.strip_prefix('+').unwrap_or(text);
    if fraction.is_empty()
        && !text.ends_with('.')
        && let Ok(integer) = text.parse::<i64>()
    {
        return Some(Value::from(integer));
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// A whole number (`3`, ` 12 `) as a FHIR integer, unsignedInt or
/// positiveInt holds it: none beyond 2,147,483,647, FHIR's 32-bit limit
/// (senders do send `99999999999999999999`).
pub fn whole(text: &str) -> Option<u32> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= i32::MAX as u32)
}

/// A Quantity of `value` in `units` (a CWE: unit text from component 2, else
/// 1; UCUM system and code when component 3 says UCUM).
pub fn quantity<'m>(value: Value<'m>, units: Option<&impl Parts<'m>>) -> Value<'m> {
    let mut quantity = object(5, "value", value);
    let Some(units) = units else {
        return quantity;
    };
    let code = units.part(1);
    put(
        &mut quantity,
        "unit",
        units.part(2).or_else(|| code.clone()).map(Value::from),
    );
    let system = units.part(3).and_then(|name| codes::coding_system(&name));
    if system.as_deref() == Some("http://unitsofmeasure.org") {
        put(&mut quantity, "system", system.map(Value::from));
        put(
            &mut quantity,
            "code",
            code.map(|code| Value::from(codes::fhir_code(code))),
        );
    }
    quantity
}

/// A CQ (quantity, units as a CWE in component 2) as a Quantity; `None`
/// when the quantity is no number.
pub fn cq<'m>(cq: &Rep<'m>) -> Option<Value<'m>> {
    let amount = number(&cq.get(1)?)?;
    Some(quantity(amount, Some(&cq.nested(2))))
}

/// A Range of `low` and `high` (either may be missing), or `None` when both
/// are. A high below the low (a sender's error) is left out, as FHIR's
/// rng-2 forbids it.
pub fn range<'m>(low: Option<Value<'m>>, high: Option<Value<'m>>) -> Option<Value<'m>> {
    let high = match (&low, high) {
        (Some(low), Some(high)) if !in_order(low, &high) => None,
        (_, high) => high,
    };
    let mut range = json!({});
    put(&mut range, "low", low);
    put(&mut range, "high", high);
    (range != json!({})).then_some(range)
}

/// Whether the Quantity `low` is not above the Quantity `high` (both in the
/// same units, as this mapper makes ranges); true when either has no value.
fn in_order(low: &Value<'_>, high: &Value<'_>) -> bool {
    match (low.get("value"), high.get("value")) {
        (Some(low), Some(high)) => not_above(low, high),
        _ => true,
    }
}

/// Whether the number `low` is not above the number `high`; true when
/// either is no number.
pub fn not_above(low: &Value<'_>, high: &Value<'_>) -> bool {
    let amount = |v: &Value<'_>| match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    match (amount(low), amount(high)) {
        (Some(low), Some(high)) => low <= high,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_keeps_its_low_when_the_high_is_below_it() {
        let q = |n: &str| Some(json!({ "value": (number(n).unwrap()) }));
        let range = |low, high| range(low, high).map(|r| r.to_string());
        assert_eq!(
            range(q("5"), q("40")).as_deref(),
            Some(r#"{"low":{"value":5},"high":{"value":40}}"#)
        );
        assert_eq!(
            range(q("5"), q("-40")).as_deref(),
            Some(r#"{"low":{"value":5}}"#)
        );
        assert_eq!(
            range(None, q("-40")).as_deref(),
            Some(r#"{"high":{"value":-40}}"#)
        );
        assert_eq!(range(None, None), None);
    }

    #[test]
    fn parses_decimals_only() {
        let text = |n: &str| number(n).map(|v| v.to_string());
        assert_eq!(text("221").as_deref(), Some("221"));
        assert_eq!(text("4.06").as_deref(), Some("4.06"));
        assert_eq!(text("-.5").as_deref(), Some("-0.5"));
        assert_eq!(number("<5"), None);
        assert_eq!(number("."), None);
        assert_eq!(number(""), None);
    }
}

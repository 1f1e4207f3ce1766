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
/// are.
pub fn range<'m>(low: Option<Value<'m>>, high: Option<Value<'m>>) -> Option<Value<'m>> {
    let mut range = json!({});
    put(&mut range, "low", low);
    put(&mut range, "high", high);
    (range != json!({})).then_some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

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

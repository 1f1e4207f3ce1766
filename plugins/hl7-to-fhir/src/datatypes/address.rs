//! XAD → Address.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::{Object, Value};

use crate::context::{Rep, put};
use crate::datatypes::time;

/// An XAD as an Address: lines (XAD-1, street address, street name and
/// dwelling number, then XAD-2), city (3), state (4), postal
/// code (5), country (6), use or type (7, table 0190), district (9) and
/// period (12, or 13 and 14).
pub fn xad<'m>(xad: Rep<'m>) -> Option<Value<'m>> {
    let lines: Vec<Value<'m>> = [xad.sub(1, 1), xad.sub(1, 2), xad.sub(1, 3), xad.get(2)]
        .into_iter()
        .flatten()
        .map(Value::from)
        .collect();
    let mut address = Value::Object(Object::with_capacity(8));
    put(&mut address, "line", Some(Value::Array(lines)));
    for (key, c) in [
        ("city", 3),
        ("state", 4),
        ("postalCode", 5),
        ("country", 6),
        ("district", 9),
    ] {
        put(&mut address, key, xad.get(c).map(Value::from));
    }
    if address == json!({}) {
        return None;
    }
    if let Some(code) = xad.get(7) {
        let (key, value) = match &*code {
            "H" | "P" => ("use", "home"),
            "B" | "O" => ("use", "work"),
            "C" => ("use", "temp"),
            "BA" => ("use", "old"),
            "BI" => ("use", "billing"),
            "M" | "SH" => ("type", "postal"),
            _ => ("", ""),
        };
        put(&mut address, key, (!key.is_empty()).then(|| value.into()));
    }
    let start = xad
        .sub(12, 1)
        .or_else(|| xad.get(13))
        .and_then(|t| time::date(&t));
    let end = xad
        .sub(12, 2)
        .or_else(|| xad.get(14))
        .and_then(|t| time::date(&t));
    put(&mut address, "period", time::period(start, end));
    Some(address)
}

//! XTN → ContactPoint.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Parts, Rep, Split, Text, put};
use crate::datatypes::{quantity, time};

/// An XTN as a ContactPoint. The value is the e-mail address (XTN-4) for
/// Internet and X.400 equipment, else the unformatted number (XTN-12), else
/// one composed of XTN-5 to XTN-8, else the formatted text (XTN-1). The use
/// comes from XTN-2 (table 0201), else `default_use`; the system from XTN-3
/// (table 0202), else, as FHIR requires one with a value (cpt-2), `email`
/// for an address with `@`, `phone` for one with digits and `other` for the
/// rest. Rank is XTN-18, period XTN-13 and XTN-14.
pub fn xtn<'m>(xtn: Rep<'m>, default_use: Option<&'static str>) -> Option<Value<'m>> {
    let xtn = xtn.split::<18>();
    let use_code = xtn.part(2).unwrap_or_default();
    let equipment = xtn.part(3).unwrap_or_default().to_ascii_uppercase();
    let email = matches!(equipment.as_str(), "INTERNET" | "X.400") || use_code == "NET";
    let system = match equipment.as_str() {
        _ if email => Some("email"),
        "PH" | "CP" | "SAT" => Some("phone"),
        "FX" => Some("fax"),
        "BP" => Some("pager"),
        "MD" | "TDD" | "TTY" => Some("other"),
        _ if use_code == "BPN" => Some("pager"),
        _ => None,
    };
    let value = if email {
        xtn.part(4).or_else(|| xtn.part(1))
    } else {
        xtn.part(12)
            .or_else(|| composed(&xtn).map(Text::Owned))
            .or_else(|| xtn.part(1))
    }?;
    let system = system.unwrap_or(if value.contains('@') {
        "email"
    } else if value.bytes().any(|b| b.is_ascii_digit()) {
        "phone"
    } else {
        "other"
    });
    let mut contact = json!({ "system": system });
    contact["value"] = Value::from(value);
    let contact_use = match &*use_code {
        _ if equipment == "CP" || use_code == "PRS" => Some("mobile"),
        "PRN" | "ORN" | "VHN" => Some("home"),
        "WPN" => Some("work"),
        "" => default_use,
        _ => None,
    };
    put(&mut contact, "use", contact_use.map(|u| u.into()));
    let rank = xtn
        .part(18)
        .and_then(|r| quantity::whole(&r))
        .filter(|r| *r > 0);
    put(&mut contact, "rank", rank.map(Value::from));
    let start = xtn.part(13).and_then(|t| time::date(&t));
    let end = xtn.part(14).and_then(|t| time::date(&t));
    put(&mut contact, "period", time::period(start, end));
    Some(contact)
}

/// `+country (area) local ext. extension` from XTN-5 to XTN-8.
fn composed<'m>(xtn: &Split<'m, 18>) -> Option<String> {
    let local = xtn.part(7)?;
    let mut number = String::new();
    if let Some(country) = xtn.part(5) {
        number.push_str(&format!("+{country} "));
    }
    if let Some(area) = xtn.part(6) {
        number.push_str(&format!("({area}) "));
    }
    number.push_str(&local);
    if let Some(extension) = xtn.part(8) {
        number.push_str(&format!(" ext. {extension}"));
    }
    Some(number)
}

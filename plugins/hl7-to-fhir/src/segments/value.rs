//! OBX-5 → Observation.value[x], by the value type in OBX-2 (IG
//! `OBX[Observation]`, rows for OBX-5 and OBX-6).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Parts, Rep, Seg, Text, clean, push, put};
use crate::datatypes::{attachment, codes, quantity, time};

/// R4 has no Attachment value; the IG carries ED and RP values in this
/// cross-version extension of R5's Observation.value[x].
const VALUE_EXTENSION: &str =
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.value";

/// Sets `observation`'s value from OBX-5 (with units OBX-6): NM → Quantity
/// (a leading comparator kept, text that is no number kept as a string); ST,
/// FT, TX → string (repetitions joined by line breaks); CWE, CE, CNE, CF →
/// CodeableConcept; IS, ID → a code; SN → Quantity (with comparator), Range
/// or Ratio, else string; DT, DTM, TS → dateTime; TM → time; NR → Range; DR →
/// Period; ED, RP → an Attachment extension (of the first repetition); other
/// types → string (their components joined by spaces). A malformed date or
/// time is dropped.
///
/// A value of another than a text type that repeats becomes one component
/// per repetition instead (IG `OBX[Observation-Component]`), each with the
/// Observation's code, its value and OBX-7 as its reference range.
pub fn set<'m>(ctx: &Context<'m>, obx: Seg<'m>, observation: &mut Value<'m>) {
    let reps: Vec<Rep<'m>> = obx.reps(5).collect();
    let Some(first) = reps.first().copied() else {
        return;
    };
    let value_type = obx.text(2).unwrap_or_default().to_ascii_uppercase();
    match value_type.as_str() {
        "ED" | "RP" => {
            if let Some(attachment) = attachment_value(&value_type, first) {
                let extension = json!({ "url": VALUE_EXTENSION, "valueAttachment": attachment });
                push(observation, "extension", extension);
            }
        }
        "ST" | "FT" | "TX" | "" => put(observation, "valueString", text(&reps)),
        _ if reps.len() > 1 => {
            for rep in reps {
                let Some((key, value)) = typed(ctx, obx, &value_type, rep) else {
                    continue;
                };
                let mut component = json!({ "code": observation["code"].clone() });
                component[key] = value;
                put(
                    &mut component,
                    "referenceRange",
                    obx.text(7).map(|text| json!([{ "text": text }])),
                );
                push(observation, "component", component);
            }
        }
        _ => {
            if let Some((key, value)) = typed(ctx, obx, &value_type, first) {
                observation[key] = value;
            }
        }
    }
}

/// One repetition of a value of a type other than text, ED or RP, as the
/// key and value of a `value[x]`.
fn typed<'m>(
    ctx: &Context<'m>,
    obx: Seg<'m>,
    value_type: &str,
    value: Rep<'m>,
) -> Option<(&'static str, Value<'m>)> {
    let units = obx.rep(6);
    let at = |c: usize| {
        value
            .sub(c, 1)
            .and_then(|t| time::datetime(&t, ctx.default_offset()))
    };
    match value_type {
        "NM" => numeric(value, units),
        "CWE" | "CE" | "CNE" | "CF" => {
            codes::codeable_concept(&value).map(|c| ("valueCodeableConcept", c))
        }
        "IS" | "ID" => value.get(1).map(|code| {
            (
                "valueCodeableConcept",
                json!({ "coding": [{ "code": codes::fhir_code(code) }] }),
            )
        }),
        "SN" => structured_numeric(value, units),
        "DT" | "DTM" | "TS" => at(1).map(|when| ("valueDateTime", Value::from(when))),
        "TM" => value
            .get(1)
            .and_then(|t| time::time_of_day(&t))
            .map(|t| ("valueTime", Value::from(t))),
        "NR" => range(&value, units).map(|r| ("valueRange", r)),
        "DR" => time::period(at(1), at(2)).map(|p| ("valuePeriod", p)),
        _ => {
            let parts: Vec<Text<'m>> = value
                .0
                .components()
                .filter_map(|c| clean(c.value()))
                .collect();
            string(parts.join(" "))
        }
    }
}

/// ED as its Attachment, RP (pointer 1, type 3, subtype 4) as a URL one.
fn attachment_value<'m>(value_type: &str, value: Rep<'m>) -> Option<Value<'m>> {
    if value_type == "ED" {
        return attachment::ed(&value);
    }
    let url = value.get(1)?;
    let kind = attachment::media_type(value.get(3).as_deref(), value.get(4).as_deref());
    Some(json!({ "url": url, "contentType": kind }))
}

/// A `valueString` of `text`, none when it is empty (which FHIR forbids: a
/// value of only subcomponents, `&33`, has an empty first one).
fn string<'m>(text: impl Into<Value<'m>> + AsRef<str>) -> Option<(&'static str, Value<'m>)> {
    (!text.as_ref().trim().is_empty()).then(|| ("valueString", text.into()))
}

/// NM: a number, with a comparator when it starts with one (`<0.5`), else
/// the text.
fn numeric<'m>(nm: Rep<'m>, units: Option<Rep<'m>>) -> Option<(&'static str, Value<'m>)> {
    let text = nm.get(1).unwrap_or_default();
    let comparator = ["<=", ">=", "<", ">"]
        .into_iter()
        .find(|c| text.starts_with(c));
    let digits = text[comparator.map_or(0, str::len)..].trim();
    match quantity::number(digits) {
        Some(number) => {
            let mut value = quantity::quantity(number, units.as_ref());
            put(&mut value, "comparator", comparator.map(Value::from));
            Some(("valueQuantity", value))
        }
        None => string(text),
    }
}

/// The text of every repetition, joined by line breaks; none when that is
/// empty.
fn text<'m>(reps: &[Rep<'m>]) -> Option<Value<'m>> {
    let lines: Vec<String> = reps
        .iter()
        .map(|r| r.0.value().trim_end().to_string())
        .collect();
    string(lines.join("\n")).map(|(_, text)| text)
}

/// SN: comparator (1), number (2), separator (3), number (4).
fn structured_numeric<'m>(
    sn: Rep<'m>,
    units: Option<Rep<'m>>,
) -> Option<(&'static str, Value<'m>)> {
    let comparator = sn.get(1).unwrap_or_default();
    let first = sn.get(2).and_then(|n| quantity::number(&n));
    let separator = sn.get(3).unwrap_or_default();
    let second = sn.get(4).and_then(|n| quantity::number(&n));
    let plain = comparator.is_empty() || comparator == "=";
    let q = |n: Value<'m>| quantity::quantity(n, units.as_ref());
    Some(match (first, &*separator, second) {
        (Some(a), ":" | "/", Some(b)) if plain => (
            "valueRatio",
            json!({ "numerator": q(a), "denominator": { "value": b } }),
        ),
        // A range whose ends are the wrong way round stays text.
        (Some(a), "-", Some(b)) if plain && quantity::not_above(&a, &b) => {
            ("valueRange", json!({ "low": q(a), "high": q(b) }))
        }
        (Some(a), "", None) if plain => ("valueQuantity", q(a)),
        (Some(a), "", None) if matches!(&*comparator, "<" | ">" | "<=" | ">=") => {
            let mut quantity = q(a);
            quantity["comparator"] = Value::from(comparator);
            ("valueQuantity", quantity)
        }
        _ => {
            let parts = [1, 2, 3, 4].map(|c| sn.get(c).unwrap_or_default());
            return string(parts.concat());
        }
    })
}

/// NR: low (1) and high (2) numbers.
fn range<'m>(nr: &impl Parts<'m>, units: Option<Rep<'m>>) -> Option<Value<'m>> {
    let bound = |c| {
        nr.part(c)
            .and_then(|n| quantity::number(&n))
            .map(|n| quantity::quantity(n, units.as_ref()))
    };
    quantity::range(bound(1), bound(2))
}

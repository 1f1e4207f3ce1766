//! XPN and the name part of XCN → HumanName.

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Nested, Parts, Rep, put};
use crate::datatypes::time;

/// Where the parts of a name sit in a datatype (XPN and XCN differ).
struct Layout {
    family: usize,
    given: usize,
    middle: usize,
    suffix: usize,
    prefix: usize,
    degree: usize,
    name_type: Option<usize>,
    professional_suffix: Option<usize>,
}

const XPN: Layout = Layout {
    family: 1,
    given: 2,
    middle: 3,
    suffix: 4,
    prefix: 5,
    degree: 6,
    name_type: Some(7),
    professional_suffix: Some(14),
};

const XCN: Layout = Layout {
    family: 2,
    given: 3,
    middle: 4,
    suffix: 5,
    prefix: 6,
    degree: 7,
    name_type: Some(10),
    professional_suffix: Some(21),
};

/// A CNN has XCN's name parts at the same places, as subcomponents, and no
/// name type or professional suffix.
const CNN: Layout = Layout {
    name_type: None,
    professional_suffix: None,
    ..XCN
};

/// An XPN as a HumanName: family (XPN-1.1), given (XPN-2, XPN-3), prefix
/// (XPN-5), suffix (XPN-4, XPN-6, XPN-14), use (XPN-7, table 0200) and period
/// (XPN-10, or XPN-12 and XPN-13).
pub fn xpn<'m>(xpn: Rep<'m>) -> Option<Value<'m>> {
    let mut name = human_name(&xpn.split::<21>(), &XPN)?;
    let start = xpn
        .sub(10, 1)
        .or_else(|| xpn.get(12))
        .and_then(|t| time::date(&t));
    let end = xpn
        .sub(10, 2)
        .or_else(|| xpn.get(13))
        .and_then(|t| time::date(&t));
    put(&mut name, "period", time::period(start, end));
    Some(name)
}

/// The name in an XCN (XCN-2 to XCN-7, XCN-10, XCN-21) as a HumanName.
pub fn xcn<'m>(xcn: Rep<'m>) -> Option<Value<'m>> {
    human_name(&xcn.split::<21>(), &XCN)
}

/// The name in a CNN (CNN-2 to CNN-7) as a HumanName.
pub fn cnn<'m>(cnn: &Nested<'m>) -> Option<Value<'m>> {
    human_name(cnn, &CNN)
}

fn human_name<'m>(rep: &impl Parts<'m>, at: &Layout) -> Option<Value<'m>> {
    let list = |parts: &[Option<usize>]| -> Option<Value<'m>> {
        let items: Vec<Value<'m>> = parts
            .iter()
            .filter_map(|&c| rep.part(c?))
            .map(Value::from)
            .collect();
        (!items.is_empty()).then_some(Value::Array(items))
    };
    let mut name = json!({});
    put(&mut name, "family", rep.part(at.family).map(Value::from));
    put(&mut name, "given", list(&[Some(at.given), Some(at.middle)]));
    put(&mut name, "prefix", list(&[Some(at.prefix)]));
    put(
        &mut name,
        "suffix",
        list(&[Some(at.suffix), Some(at.degree), at.professional_suffix]),
    );
    if name == json!({}) {
        return None;
    }
    let name_use = at
        .name_type
        .and_then(|n| rep.part(n))
        .and_then(|code| name_use(&code));
    put(&mut name, "use", name_use.map(Value::from));
    Some(name)
}

/// HL7 table 0200 (name type) → FHIR NameUse.
fn name_use(code: &str) -> Option<&'static str> {
    Some(match code {
        "L" => "official",
        "D" | "A" | "T" => "usual",
        "M" => "maiden",
        "N" => "nickname",
        "S" | "I" => "anonymous",
        "BAD" | "NAV" => "old",
        "TEMP" => "temp",
        _ => return None,
    })
}

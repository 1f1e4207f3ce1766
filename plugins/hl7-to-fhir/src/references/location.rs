//! PL → a hierarchy of Locations (facility, building, floor, point of care,
//! room, bed), each `partOf` the one above.

use hl7wasm_plugin_sdk::fhir;
use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Rep, put};

/// The PL components that name a level, outermost first, with the FHIR
/// location-physical-type code of the level.
const LEVELS: [(usize, &str, &str); 6] = [
    (4, "si", "Site"),
    (7, "bu", "Building"),
    (8, "lvl", "Level"),
    (1, "wa", "Ward"),
    (2, "ro", "Room"),
    (3, "bd", "Bed"),
];

/// A PL as Locations; returns the innermost one (the bed, else the room, ...),
/// which carries the description PL-9. `None` for an empty PL.
pub fn pl<'m>(ctx: &mut Context<'m>, pl: Rep<'m>) -> Option<Handle> {
    // The id names the level and those above it: `Location`, `si=<name>`, ...
    let mut path = fhir::IdName::new();
    path.part("Location");
    let mut inner: Option<Handle> = None;
    for (component, code, display) in LEVELS {
        let Some(name) = pl.get(component) else {
            continue;
        };
        path.part(code).extend("=").extend(&name);
        let id = path.id();
        if let Some(known) = ctx.existing(&id) {
            inner = Some(known);
            continue;
        }
        let mut location = json!({
            "resourceType": "Location",
            "id": id,
            "name": name,
            "mode": "instance",
            "physicalType": { "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                "code": code,
                "display": display,
            }]},
        });
        put(&mut location, "partOf", inner.map(|h| ctx.reference(h)));
        inner = Some(ctx.add(location, None));
    }
    let inner = inner?;
    if let Some(description) = pl.get(9) {
        ctx.resource_mut(inner)["description"] = Value::from(description);
    }
    Some(inner)
}

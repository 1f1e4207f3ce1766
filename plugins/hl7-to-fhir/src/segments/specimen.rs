//! SPM → Specimen (IG `SPM[Specimen]`), SAC → its container, and an OBR's
//! own specimen data → Specimen (IG `OBR[Specimen]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, push, put, put_new};
use crate::datatypes::{codes, identifier, quantity, time};
use crate::references::practitioner;
use crate::segments::positioned;

/// Specimen.collection's choice of when it was collected.
const COLLECTED: (&str, &str) = ("collectedPeriod", "collectedDateTime");

/// Maps an SPM to a Specimen of `patient`: identifiers (SPM-2, placer and
/// filler), type (SPM-4, table 0487), collection method (SPM-7), body site
/// (SPM-8) and time (SPM-17), received time (SPM-18) and conditions (SPM-24).
pub fn spm<'m>(
    ctx: &mut Context<'m>,
    spm: Seg<'m>,
    position: usize,
    patient: Option<Handle>,
) -> Handle {
    let mut specimen = positioned(ctx, "Specimen", position);
    let identifiers = spm
        .rep(2)
        .map(|eip| identifier::eip(&eip))
        .unwrap_or_default();
    put(&mut specimen, "identifier", Some(Value::Array(identifiers)));
    put(
        &mut specimen,
        "type",
        spm.rep(4)
            .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0487"))),
    );
    put(&mut specimen, "subject", patient.map(|h| ctx.reference(h)));
    put(
        &mut specimen,
        "receivedTime",
        spm.datetime(18, ctx).map(Value::from),
    );
    let mut collection = json!({});
    let start = spm.datetime(17, ctx);
    let end = spm
        .component(17, 2)
        .and_then(|t| time::datetime(&t, ctx.default_offset()));
    time::put_when(&mut collection, COLLECTED, start, end);
    put(
        &mut collection,
        "method",
        spm.rep(7)
            .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0488"))),
    );
    put(
        &mut collection,
        "bodySite",
        spm.rep(8).and_then(|r| codes::codeable_concept(&r)),
    );
    if collection != json!({}) {
        specimen["collection"] = collection;
    }
    let conditions = spm
        .reps(24)
        .filter_map(|r| codes::table_cwe(&r, codes::v2_table!("0493")))
        .collect();
    put(&mut specimen, "condition", Some(Value::Array(conditions)));
    ctx.add(specimen, None)
}

/// Adds an SAC (specimen container detail; no IG map at hand, so by its
/// HL7 v2.8 field definitions) to `specimen`: its accession identifier
/// SAC-2 when the Specimen has none, and a container of identifier SAC-3,
/// capacity SAC-21 and available volume SAC-22 (both in the units SAC-24)
/// and additive SAC-27.
pub fn sac<'m>(ctx: &mut Context<'m>, sac: Seg<'m>, specimen: Handle) {
    let accession = sac.rep(2).and_then(|ei| identifier::ei(&ei, 1));
    let units = sac.rep(24);
    let volume = |n: usize| {
        let amount = quantity::number(&sac.text(n)?)?;
        Some(quantity::quantity(amount, units.as_ref()))
    };
    let mut container = json!({});
    put(
        &mut container,
        "identifier",
        sac.rep(3)
            .and_then(|ei| identifier::ei(&ei, 1))
            .map(|id| json!([id])),
    );
    put(&mut container, "capacity", volume(21));
    put(&mut container, "specimenQuantity", volume(22));
    put(
        &mut container,
        "additiveCodeableConcept",
        sac.rep(27).and_then(|r| codes::codeable_concept(&r)),
    );
    let resource = ctx.resource_mut(specimen);
    put_new(resource, "accessionIdentifier", accession);
    if container != json!({}) {
        push(resource, "container", container);
    }
}

/// Maps the specimen data of an OBR (IG `OBR[Specimen]`), for senders that
/// describe the specimen there rather than in an SPM (before v2.5): a
/// Specimen of `patient` with type the specimen source OBR-15 (SPS-1) and
/// body site SPS-4, collected at OBR-7 (to OBR-8), volume OBR-9, collector
/// OBR-10, received OBR-14, accession the placer order number OBR-2.
/// `None` when the OBR names none of the source, volume, collector or
/// received time: its observation time alone describes no specimen.
pub fn obr<'m>(
    ctx: &mut Context<'m>,
    obr: Seg<'m>,
    position: usize,
    patient: Option<Handle>,
) -> Option<Handle> {
    if [9, 10, 14, 15].iter().all(|&n| obr.rep(n).is_none()) {
        return None;
    }
    let mut specimen = positioned(ctx, "Specimen", position);
    put(
        &mut specimen,
        "accessionIdentifier",
        obr.rep(2).and_then(|ei| identifier::ei(&ei, 1)),
    );
    let source = obr.rep(15);
    put(
        &mut specimen,
        "type",
        source
            .as_ref()
            .and_then(|sps| codes::nested_concept(&sps.nested(1))),
    );
    put(&mut specimen, "subject", patient.map(|h| ctx.reference(h)));
    put(
        &mut specimen,
        "receivedTime",
        obr.datetime(14, ctx).map(Value::from),
    );
    let mut collection = json!({});
    let (start, end) = (obr.datetime(7, ctx), obr.datetime(8, ctx));
    time::put_when(&mut collection, COLLECTED, start, end);
    put(
        &mut collection,
        "quantity",
        obr.rep(9).and_then(|cq| quantity::cq(&cq)),
    );
    put(
        &mut collection,
        "collector",
        practitioner::reference(ctx, obr.rep(10)),
    );
    put(
        &mut collection,
        "bodySite",
        source.and_then(|sps| codes::nested_concept(&sps.nested(4))),
    );
    if collection != json!({}) {
        specimen["collection"] = collection;
    }
    Some(ctx.add(specimen, None))
}

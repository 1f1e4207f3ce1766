//! SCH, AIS, AIG, AIL and AIP → Appointment (IG `SCH[Appointment]`,
//! `AIS[Appointment]`, `AIG[Appointment]`, `AIL[Appointment]`, `AIP[Appointment]`),
//! and the order an appointment books (IG `SCH[ServiceRequest]`,
//! `AIS[ServiceRequest]`).

use hl7wasm_plugin_sdk::json;
use hl7wasm_plugin_sdk::json::Value;

use crate::context::{Context, Handle, Seg, object, push, put, put_new};
use crate::datatypes::{codes, identifier, time};
use crate::references::{location, practitioner};
use crate::segments::{order, unknown};

/// Maps the order that an SCH books, when it names one (IG
/// `SCH[ServiceRequest]`): a ServiceRequest identified by the placer and
/// filler order numbers SCH-26 and SCH-27, whose id derives from them as
/// an ORC's order does, so that the booking and the order are one
/// resource; intent `order`, status from `appointment`'s, and the
/// appointment is based on it. An SIU sends its PID after the SCH, so the
/// subject is unknown until then (see [`crate::segments::adopt_subject`]).
pub fn booked_order<'m>(
    ctx: &mut Context<'m>,
    sch: Seg<'m>,
    position: usize,
    appointment: Handle,
) -> Option<Handle> {
    let identifiers = placer_and_filler(sch, [26, 27]);
    if identifiers.is_empty() {
        return None;
    }
    let mut request = order::identified(ctx, "ServiceRequest", &identifiers, position);
    let query = identifier::conditional_query(&identifiers);
    request["identifier"] = Value::Array(identifiers);
    let booking = ctx.resource_mut(appointment)["status"].as_str();
    request["status"] = Value::from(match booking.unwrap_or_default() {
        "fulfilled" => "completed",
        "cancelled" => "revoked",
        "entered-in-error" => "entered-in-error",
        _ => "active",
    });
    request["intent"] = Value::from("order");
    request["subject"] = unknown();
    let request = ctx.add(request, query);
    let based_on = ctx.reference(request);
    push(ctx.resource_mut(appointment), "basedOn", based_on);
    Some(request)
}

/// Adds an AIS's service to the order that its appointment books (IG
/// `AIS[ServiceRequest]`): the service AIS-3 as the code and the start
/// AIS-4 as the start of the occurrence, from the first AIS that gives them.
/// The IG makes AIS-3 an identifier; it names the service requested, which
/// is what `code` holds.
pub fn ais_order<'m>(ctx: &mut Context<'m>, ais: Seg<'m>, order: Handle) {
    let service = ais.rep(3).and_then(|r| codes::codeable_concept(&r));
    let start = ais.datetime(4, ctx);
    let request = ctx.resource_mut(order);
    put_new(request, "code", service);
    put_new(request, "occurrencePeriod", time::period(start, None));
}

/// Maps an SCH to an Appointment: identifiers (SCH-1 placer, SCH-2 filler),
/// reason (SCH-7), type (SCH-8, table 0277, else SCH-7 when coded in that
/// table), duration (SCH-9 in
/// SCH-10 units), start and end (SCH-11.4, SCH-11.5) and status (SCH-25,
/// table 0278, else the trigger event). Participants come from PID and the
/// AI* segments.
pub fn sch<'m>(ctx: &mut Context<'m>, sch: Seg<'m>, position: usize, trigger: &str) -> Handle {
    let identifiers = placer_and_filler(sch, [1, 2]);
    let by_filler: Vec<Value<'m>> = identifiers.iter().rev().cloned().collect();
    let mut appointment = order::identified(ctx, "Appointment", &by_filler, position);
    let query = identifier::conditional_query(&by_filler);
    put(
        &mut appointment,
        "identifier",
        Some(Value::Array(identifiers)),
    );
    let status = sch
        .text(25)
        .and_then(|s| filler_status(&s))
        .unwrap_or(match trigger {
            "S15" | "S16" => "cancelled",
            "S17" => "entered-in-error",
            "S26" => "noshow",
            _ => "booked",
        });
    appointment["status"] = Value::from(status);
    // SCH-7 coded in table 0277 is the appointment's type, as SCH-8 is.
    let reason = sch.rep(7).and_then(|r| {
        let is_type = r.get(3).is_some_and(|s| s.eq_ignore_ascii_case("HL70277"));
        Some((codes::codeable_concept(&r)?, is_type))
    });
    let (kind, reason) = match reason {
        Some((kind, true)) => (Some(kind), None),
        other => (None, other.map(|(reason, _)| reason)),
    };
    put(&mut appointment, "reasonCode", reason.map(|r| json!([r])));
    let kind = sch
        .rep(8)
        .and_then(|r| codes::table_cwe(&r, codes::v2_table!("0277")))
        .or(kind);
    put(&mut appointment, "appointmentType", kind);
    let minutes = sch
        .text(9)
        .and_then(|d| duration_minutes(&d, sch.component(10, 1).as_deref()));
    put(
        &mut appointment,
        "minutesDuration",
        minutes.map(Value::from),
    );
    for (c, key) in [(4, "start"), (5, "end")] {
        let when = sch
            .component(11, c)
            .and_then(|t| time::datetime(&t, ctx.default_offset()));
        put(
            &mut appointment,
            key,
            when.filter(|w| time::is_instant(w)).map(Value::from),
        );
    }
    ctx.add(appointment, query)
}

/// A duration `amount` in `unit` (a time unit, by default minutes) as whole
/// minutes; `None` unless it is at least one.
fn duration_minutes(amount: &str, unit: Option<&str>) -> Option<u32> {
    let amount: f64 = amount.parse().ok()?;
    let per_unit = match unit.map_or(Some("min"), time::ucum_time_unit)? {
        "s" => 1.0 / 60.0,
        "min" => 1.0,
        "h" => 60.0,
        "d" => 1440.0,
        "wk" => 10_080.0,
        _ => return None,
    };
    let minutes = (amount * per_unit).round();
    (1.0..=f64::from(i32::MAX))
        .contains(&minutes)
        .then_some(minutes as u32)
}

/// The placer and filler numbers (EI) in the fields `fields` of `sch`, typed
/// `PLAC` and `FILL`: the appointment's (SCH-1, SCH-2) or its order's
/// (SCH-26, SCH-27).
fn placer_and_filler<'m>(sch: Seg<'m>, fields: [usize; 2]) -> Vec<Value<'m>> {
    fields
        .into_iter()
        .zip(["PLAC", "FILL"])
        .filter_map(|(n, code)| Some(identifier::typed(identifier::ei(&sch.rep(n)?, 1)?, code)))
        .collect()
}

/// HL7 table 0278 (filler status) → Appointment status.
fn filler_status(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_lowercase().as_str() {
        "booked" | "overbook" | "blocked" => "booked",
        "pending" => "pending",
        "cancelled" | "dc" => "cancelled",
        "complete" => "fulfilled",
        "noshow" => "noshow",
        "waitlist" => "waitlist",
        "started" => "arrived",
        "deleted" => "entered-in-error",
        _ => return None,
    })
}

/// Completes every Appointment once the message is walked, with what FHIR
/// requires and a sender may leave out: a participant whose actor is
/// unknown when nothing names one (an SCH with no patient or resource
/// segments after it), and the end of a start without one or the start of
/// an end without one (see [`times_by_duration`]).
pub fn finish(ctx: &mut Context<'_>) {
    for appointment in ctx.handles_of("Appointment") {
        if ctx.resource_mut(appointment).get("participant").is_none() {
            participant(ctx, appointment, unknown(), None, "needs-action", None);
        }
        times_by_duration(ctx.resource_mut(appointment));
    }
}

/// Gives an appointment with a start or an end, but not both, the other
/// one that its duration gives, as FHIR wants both or neither (apt-2).
/// Without a duration the time it has moves to the requested period, which
/// may have a start or an end alone. An end before the start (a sender's
/// error, or SCH-11.5 before AIS-4) is left out first, as for a Period
/// (per-1).
fn times_by_duration(appointment: &mut Value<'_>) {
    let reversed = match (appointment.get("start"), appointment.get("end")) {
        (Some(start), Some(end)) => start
            .as_str()
            .zip(end.as_str())
            .is_some_and(|(start, end)| !time::in_order(start, end)),
        _ => false,
    };
    if reversed {
        appointment.remove("end");
    }
    let (known, other, sign) = match (appointment.get("start"), appointment.get("end")) {
        (Some(_), None) => ("start", "end", 1),
        (None, Some(_)) => ("end", "start", -1),
        _ => return,
    };
    let time = appointment.remove(known).unwrap_or_default();
    let minutes = appointment
        .get("minutesDuration")
        .and_then(Value::as_u64)
        .and_then(|m| i64::try_from(m).ok());
    let derived = time
        .as_str()
        .zip(minutes)
        .and_then(|(time, minutes)| time::minutes_after(time, sign * minutes));
    match derived {
        Some(derived) => {
            appointment[known] = time;
            appointment[other] = Value::from(derived);
        }
        None => appointment["requestedPeriod"] = json!([(object(1, known, time))]),
    }
}

/// Adds `actor` as a participant of `appointment` with `status`, of the
/// type `kind`, for the `period`.
pub fn participant<'m>(
    ctx: &mut Context<'m>,
    appointment: Handle,
    actor: Value<'m>,
    kind: Option<Value<'m>>,
    status: &'static str,
    period: Option<Value<'m>>,
) {
    let mut participant = json!({ "actor": actor, "status": status });
    put(&mut participant, "type", kind.map(|k| json!([k])));
    put(&mut participant, "period", period);
    push(ctx.resource_mut(appointment), "participant", participant);
}

/// When a resource of an AIG, AIL or AIP takes part: from its start time
/// (AIG-8, else AIL-6 and AIP-6) for its duration (AIG-11, else AIL-9 and
/// AIP-9, in the units of the field after), when the start is an instant.
fn taking_part<'m>(ctx: &Context<'m>, seg: Seg<'m>) -> Option<Value<'m>> {
    let (start, duration) = if seg.id() == "AIG" { (8, 11) } else { (6, 9) };
    let start = seg.datetime(start, ctx)?;
    let minutes = seg
        .text(duration)
        .and_then(|d| duration_minutes(&d, seg.component(duration + 1, 1).as_deref()));
    let end = minutes.and_then(|m| time::minutes_after(&start, i64::from(m)));
    time::period(Some(start), end)
}

/// Adds an AIS (service, start time AIS-4, duration AIS-7 in AIS-8 units),
/// AIG (resource AIG-3 of type AIG-4), AIL (location AIL-3) or AIP
/// (personnel AIP-3 in role AIP-4) to `appointment`. The participant status
/// comes from the filler status (table 0278): AIS-10, AIG-14, AIL-12,
/// AIP-12; its period from its own start and duration (see
/// [`taking_part`]).
pub fn resource<'m>(ctx: &mut Context<'m>, seg: Seg<'m>, appointment: Handle) {
    let status_field = match seg.id() {
        "AIS" => 10,
        "AIG" => 14,
        _ => 12,
    };
    let status = match seg
        .text(status_field)
        .map(|s| s.to_ascii_lowercase())
        .as_deref()
    {
        Some("cancelled" | "deleted" | "noshow" | "dc") => "declined",
        Some("pending" | "waitlist" | "blocked") => "tentative",
        _ => "accepted",
    };
    let (actor, kind) = match seg.id() {
        "AIS" => {
            let service = seg.rep(3).and_then(|r| codes::codeable_concept(&r));
            let start = seg.instant(4, ctx);
            let minutes = seg
                .text(7)
                .and_then(|d| duration_minutes(&d, seg.component(8, 1).as_deref()));
            let resource = ctx.resource_mut(appointment);
            if let Some(service) = service {
                push(resource, "serviceType", service);
            }
            put_new(resource, "start", start.map(Value::from));
            put_new(resource, "minutesDuration", minutes.map(Value::from));
            return;
        }
        "AIG" => {
            let Some(name) = seg.component(3, 2).or_else(|| seg.text(3)) else {
                return;
            };
            let kind = seg.rep(4).and_then(|r| codes::codeable_concept(&r));
            (json!({ "display": name }), kind)
        }
        "AIL" => {
            let Some(place) = seg.rep(3).and_then(|r| location::pl(ctx, r)) else {
                return;
            };
            (ctx.reference(place), None)
        }
        "AIP" => {
            let Some(actor) = practitioner::reference(ctx, seg.rep(3)) else {
                return;
            };
            (actor, seg.rep(4).and_then(|r| codes::codeable_concept(&r)))
        }
        _ => return,
    };
    let period = taking_part(ctx, seg);
    participant(ctx, appointment, actor, kind, status, period);
}

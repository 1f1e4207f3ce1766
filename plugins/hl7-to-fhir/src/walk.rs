//! The message walk: every segment in order, each to its resource, with the
//! state that links them — the current patient, visit, order, report,
//! immunization, medication request and dispense, appointment and document,
//! and the
//! resource a following NTE annotates. Groups are recognised by position, as HL7 defines them: an ORC
//! owns the OBR that follows it before the next ORC; OBX and SPM belong to
//! the OBR (or RXA, or TXA) before them; a new PID starts a new patient.

use std::time::{SystemTime, UNIX_EPOCH};

use hl7wasm_plugin_sdk::fhir::Bundle;
use hl7wasm_plugin_sdk::hl7v2::Message;
use hl7wasm_plugin_sdk::json;

use crate::context::{Context, Handle, Seg, Text, push};
use crate::segments::{
    Links, account, adopt_subject, allergy, appointment, charge, condition, coverage, dispense,
    document, encounter, header, immunization, medication, note, observation, order, participation,
    patient, procedure, provenance, referral, related_person, report, software, specimen,
    transformation,
};
use crate::{MapError, MessageKind, Options};

/// Maps a parsed message of `kind` to a Bundle.
///
/// # Errors
/// The first [`MapError`] of any segment.
pub fn map<'m>(
    message: &'m Message<'m>,
    kind: MessageKind,
    options: &'m Options,
) -> Result<Bundle<'m>, MapError> {
    let mut ctx = Context::new(message, options);
    let segments = wrapped(message);
    let msh = segments[0];
    let header = header::message_header(&mut ctx, msh);
    let mut walk = Walk {
        kind,
        trigger: msh.component(9, 2).unwrap_or_default(),
        segments: &segments,
        links: Links::default(),
        report: None,
        note_target: None,
        orc: None,
        paired_obr: None,
        appointment: None,
        document: None,
        medication: None,
        dispense: None,
        problem: None,
        timings: Vec::new(),
        event: None,
        participation: None,
        collector: None,
        account: None,
        insured: None,
        referral: None,
        booked_order: None,
        sample: None,
        software: Vec::new(),
    };
    for position in 1..segments.len() {
        walk.segment(&mut ctx, position)?;
    }
    walk.finish_document(&mut ctx);
    appointment::finish(&mut ctx);
    header::focus(&mut ctx, header, kind);
    if let Some(sending) = segments.iter().find(|s| s.id() == "SFT") {
        software::source(&mut ctx, *sending, header);
    }
    walk.software.extend(header::application(&mut ctx, msh));
    header::provenance(&mut ctx, msh, &walk.software);
    if let Some((evn, position)) = walk.event {
        header::event_provenance(&mut ctx, evn, position, msh, &walk.software);
    }
    if options.transformation_provenance {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        transformation::provenance(&mut ctx, message.raw(), now);
    }
    // IG `MSH[Bundle]`: the message's control id and time.
    let timestamp = msh.instant(7, &ctx);
    let mut bundle = ctx.into_bundle(options.bundle_type);
    if let Some(control_id) = msh.text(10) {
        bundle.set_identifier(control_id);
    }
    if let Some(instant) = timestamp {
        bundle.set_timestamp(instant);
    }
    Ok(bundle)
}

/// Every segment of the message, in order.
fn wrapped<'m>(message: &'m Message<'m>) -> Vec<Seg<'m>> {
    message
        .segments()
        .map(|segment| Seg {
            segment,
            delimiters: message.delimiters(),
        })
        .collect()
}

struct Walk<'s, 'm> {
    kind: MessageKind,
    /// MSH-9.2, e.g. `A01`.
    trigger: Text<'m>,
    segments: &'s [Seg<'m>],
    links: Links,
    /// The DiagnosticReport of the current OBR (result messages).
    report: Option<Handle>,
    /// What an NTE annotates.
    note_target: Option<Handle>,
    /// The ORC of the current order group.
    orc: Option<Seg<'m>>,
    /// The position of the OBR that the current ORC already mapped with.
    paired_obr: Option<usize>,
    appointment: Option<Handle>,
    /// The current DocumentReference and the OBX that make its content.
    document: Option<(Handle, Vec<Seg<'m>>)>,
    /// The MedicationRequest of the current RXO or RXE, in pharmacy messages.
    medication: Option<Handle>,
    /// The MedicationDispense of the current RXD, which a following RXR
    /// describes.
    dispense: Option<Handle>,
    /// The Condition of the current PRB, which the OBX after it support.
    problem: Option<Handle>,
    /// The TQ1 of the current order group that came before its RXO.
    timings: Vec<Seg<'m>>,
    /// The EVN and its position, whose Provenance covers the whole message.
    event: Option<(Seg<'m>, usize)>,
    /// What a ROL or PRT here describes: the segment it follows (past the
    /// segments that extend that one: PD1, PV2, NTE, TQ1, ...), else nothing
    /// the IG maps.
    participation: Option<participation::Scope>,
    /// The specimen collector that a PRT of the current order named, which
    /// the order's specimens take.
    collector: Option<json::Value<'m>>,
    /// The current patient's Account, which a GT1's guarantor joins.
    account: Option<Handle>,
    /// The insured of the current IN1, whose numbers the IN2 after it gives.
    insured: Option<Handle>,
    /// The ServiceRequest of the RF1, which the PRD after it name providers
    /// of, and which a REF sends before its PID.
    referral: Option<Handle>,
    /// The ServiceRequest that the current SCH books, whose subject is the
    /// PID after it and whose service the AIS give.
    booked_order: Option<Handle>,
    /// The Specimen of the current SPM, whose containers the SAC after it
    /// describe.
    sample: Option<Handle>,
    /// The Devices of the SFT segments (and, at the end, of the sending
    /// application), the message Provenance's entities.
    software: Vec<Handle>,
}

impl<'m> Walk<'_, 'm> {
    fn segment(&mut self, ctx: &mut Context<'m>, position: usize) -> Result<(), MapError> {
        let seg = self.segments[position];
        if !matches!(
            seg.id(),
            "PD1" | "PV2" | "ARV" | "ROL" | "PRT" | "NTE" | "TQ1" | "TQ2" | "TCD"
        ) {
            self.participation = None;
        }
        let annotated = match seg.id() {
            "SFT" => {
                self.software.extend(software::sft(ctx, seg));
                return Ok(());
            }
            "EVN" => {
                self.event.get_or_insert((seg, position));
                return Ok(());
            }
            "PID" => self.pid(ctx, seg, position),
            "PD1" => {
                let patient = self.patient(seg)?;
                patient::pd1(ctx, seg, patient);
                None
            }
            "MRG" => {
                let patient = self.patient(seg)?;
                account::mrg(ctx, seg, patient);
                patient::mrg(ctx, seg, patient)
            }
            "FT1" => {
                self.patient(seg)?;
                charge::ft1(ctx, seg, position, self.links, self.account)
            }
            "RF1" => {
                let referred = referral::rf1(ctx, seg, position, self.links);
                self.referral = Some(referred);
                Some(referred)
            }
            "PRD" => {
                referral::prd(ctx, seg, self.referral);
                return Ok(());
            }
            "GT1" => {
                let patient = self.patient(seg)?;
                let account = account::gt1(ctx, seg, position, patient, self.account);
                self.account = account.or(self.account);
                None
            }
            "NK1" => {
                let patient = self.patient(seg)?;
                related_person::contact(ctx, seg, patient);
                related_person::names_a_person(seg)
                    .then(|| related_person::nk1(ctx, seg, position, patient))
            }
            "PV1" => {
                let visit = encounter::pv1(ctx, seg, position, self.links.patient, &self.trigger);
                if let Some(patient) = self.links.patient {
                    patient::pv1(ctx, seg, patient);
                    coverage::pv1(ctx, seg, visit, patient);
                }
                self.links.encounter = Some(visit);
                self.participation = Some(participation::Scope::Visit(visit));
                None
            }
            "ROL" => {
                if let Some(scope) = self.participation {
                    participation::rol(ctx, seg, position, scope);
                }
                return Ok(());
            }
            "PRT" => {
                if let Some(scope) = self.participation
                    && let Some(collector) = participation::prt(ctx, seg, position, scope)
                {
                    self.collector = Some(collector);
                }
                return Ok(());
            }
            "PV2" => {
                if let Some(visit) = self.links.encounter {
                    encounter::pv2(ctx, seg, visit);
                }
                None
            }
            "AL1" => Some(allergy::allergy(
                ctx,
                seg,
                &allergy::AL1,
                self.patient(seg)?,
                position,
            )),
            "IAM" => Some(allergy::allergy(
                ctx,
                seg,
                &allergy::IAM,
                self.patient(seg)?,
                position,
            )),
            "DG1" => {
                let patient = self.patient(seg)?;
                Some(condition::dg1(
                    ctx,
                    seg,
                    position,
                    patient,
                    self.links.encounter,
                ))
            }
            "PRB" => {
                let patient = self.patient(seg)?;
                let problem = condition::prb(ctx, seg, position, patient, self.links.encounter);
                self.problem = Some(problem);
                Some(problem)
            }
            "PR1" => {
                let patient = self.patient(seg)?;
                let done = procedure::pr1(ctx, seg, position, patient, self.links.encounter);
                self.participation = Some(participation::Scope::Procedure(done));
                Some(done)
            }
            "IN1" => {
                let insurance = coverage::in1(ctx, seg, position, self.patient(seg)?);
                self.insured = insurance.and_then(|i| i.insured);
                insurance.map(|i| i.coverage)
            }
            "IN2" => {
                if let Some(insured) = self.insured {
                    coverage::in2(ctx, seg, insured);
                }
                return Ok(());
            }
            "DB1" => {
                patient::db1(ctx, seg, self.patient(seg)?);
                return Ok(());
            }
            "ORC" => self.orc(ctx, seg, position),
            "OBR" => self.obr(ctx, seg, position)?,
            "OBX" => self.obx(ctx, seg, position),
            "SPM" => {
                let sample = self.spm(ctx, seg, position);
                self.sample = Some(sample);
                Some(sample)
            }
            "SAC" => {
                if let Some(sample) = self.sample {
                    specimen::sac(ctx, seg, sample);
                }
                return Ok(());
            }
            "NTE" => {
                if let Some(target) = self.note_target {
                    note::nte(ctx, seg, target);
                }
                return Ok(());
            }
            "RXA" => {
                self.patient(seg)?;
                let orc = self.orc.take();
                let given = immunization::rxa(ctx, seg, orc, position, self.links);
                if let Some(orc) = orc {
                    provenance::orc(ctx, orc, position, given);
                }
                self.order_participants(ctx, position, participation::Scope::Immunization(given));
                self.links.immunization = Some(given);
                Some(given)
            }
            "RXO" | "RXE" if self.kind == MessageKind::Pharmacy => {
                self.medication_order(ctx, seg, position)?
            }
            "RXD" if self.kind == MessageKind::Pharmacy => {
                let handed = dispense::rxd(ctx, seg, position, self.links, self.medication);
                self.dispense = Some(handed);
                Some(handed)
            }
            "TQ1" if self.kind == MessageKind::Pharmacy => {
                // Before the RXO (as OMP orders them) it waits for it.
                match self.medication {
                    Some(request) => medication::tq1(ctx, seg, request),
                    None => self.timings.push(seg),
                }
                return Ok(());
            }
            "TQ1" => {
                if let Some(request) = self.links.request {
                    order::tq1(ctx, seg, request);
                }
                return Ok(());
            }
            "RXC" => {
                if let Some(request) = self.medication {
                    medication::rxc(ctx, seg, request);
                }
                return Ok(());
            }
            "RXR" => {
                if let Some(given) = self.links.immunization {
                    immunization::rxr(ctx, seg, given);
                } else if let Some(handed) = self.dispense {
                    medication::rxr(ctx, seg, handed);
                } else if let Some(request) = self.medication {
                    medication::rxr(ctx, seg, request);
                }
                return Ok(());
            }
            "SCH" => {
                let booked = appointment::sch(ctx, seg, position, &self.trigger);
                self.appointment = Some(booked);
                self.booked_order = appointment::booked_order(ctx, seg, position, booked);
                Some(booked)
            }
            "AIS" | "AIG" | "AIL" | "AIP" => {
                if let Some(booked) = self.appointment {
                    appointment::resource(ctx, seg, booked);
                }
                if let (Some(order), "AIS") = (self.booked_order, seg.id()) {
                    appointment::ais_order(ctx, seg, order);
                }
                return Ok(());
            }
            "TXA" => {
                self.finish_document(ctx);
                let written = document::txa(ctx, seg, position, self.links, &self.trigger);
                provenance::txa(ctx, seg, position, written);
                self.document = Some((written, Vec::new()));
                Some(written)
            }
            _ => return Ok(()),
        };
        self.note_target = annotated;
        Ok(())
    }

    /// The current patient; a segment that needs one before any PID is an error.
    fn patient(&self, seg: Seg<'m>) -> Result<Handle, MapError> {
        self.links.patient.ok_or_else(|| MapError::Invalid {
            segment: "PID".into(),
            sequence: 1,
            field: 3,
            reason: format!("the message has no patient (PID) before {}", seg.id()),
        })
    }

    /// A new patient: what followed the previous one no longer applies.
    fn pid(&mut self, ctx: &mut Context<'m>, seg: Seg<'m>, position: usize) -> Option<Handle> {
        let patient = patient::pid(ctx, seg, position);
        self.account = account::pid(ctx, seg, patient);
        self.insured = None;
        for made in [self.referral, self.booked_order].into_iter().flatten() {
            adopt_subject(ctx, made, patient);
        }
        provenance::pid(ctx, seg, position, patient);
        self.participation = Some(participation::Scope::Patient(patient));
        self.collector = None;
        self.sample = None;
        self.links = Links {
            patient: Some(patient),
            ..Links::default()
        };
        self.report = None;
        self.medication = None;
        self.dispense = None;
        self.problem = None;
        self.timings.clear();
        if let Some(booked) = self.appointment {
            let actor = ctx.reference(patient);
            appointment::participant(ctx, booked, actor, None, "accepted", None);
        }
        None
    }

    /// An ORC starts an order group: a ServiceRequest with the group's first
    /// OBR, or, in vaccination and pharmacy messages, the order of the RXA
    /// or RXO that follows.
    fn orc(&mut self, ctx: &mut Context<'m>, seg: Seg<'m>, position: usize) -> Option<Handle> {
        self.orc = Some(seg);
        self.collector = None;
        self.sample = None;
        self.report = None;
        self.links.immunization = None;
        self.medication = None;
        self.dispense = None;
        self.problem = None;
        self.timings.clear();
        if matches!(self.kind, MessageKind::Vaccination | MessageKind::Pharmacy) {
            return None;
        }
        let obr = self.rest_of_group(position).find(|(_, s)| s.id() == "OBR");
        self.paired_obr = obr.map(|(at, _)| at);
        let obr = obr.map(|(_, s)| s);
        let links = self.links;
        let request = order::request(
            ctx,
            Some(seg),
            obr,
            position,
            links.patient,
            links.encounter,
        );
        self.links.request = Some(request);
        provenance::orc(ctx, seg, position, request);
        self.participation = Some(participation::Scope::Order {
            request,
            report: None,
        });
        Some(request)
    }

    /// An RXO (the placer's order) or RXE (the pharmacy's, `basedOn` the
    /// RXO's): a MedicationRequest, with the group's TQ1 that came before
    /// it. An RXO without a give code is skipped when an RXE of its group
    /// names the drug (some senders leave it empty in RDE).
    fn medication_order(
        &mut self,
        ctx: &mut Context<'m>,
        seg: Seg<'m>,
        position: usize,
    ) -> Result<Option<Handle>, MapError> {
        let encoded = seg.id() == "RXE";
        let group_has_rxe = || self.rest_of_group(position).any(|(_, s)| s.id() == "RXE");
        if !encoded && seg.text(1).is_none() && group_has_rxe() {
            return Ok(None);
        }
        let (fields, original) = if encoded {
            (&medication::RXE, self.medication)
        } else {
            (&medication::RXO, None)
        };
        let request =
            medication::request(ctx, seg, fields, self.orc, position, self.links, original);
        for tq1 in self.timings.drain(..) {
            medication::tq1(ctx, tq1, request);
        }
        let scope = participation::Scope::Order {
            request,
            report: None,
        };
        self.order_participants(ctx, position, scope);
        if self.medication.is_none()
            && let Some(orc) = self.orc
        {
            provenance::orc(ctx, orc, position, request);
        }
        self.medication = Some(request);
        self.dispense = None;
        Ok(Some(request))
    }

    /// The segments after `position` up to the next ORC or PID (the rest of
    /// its order group), with their positions.
    fn rest_of_group(&self, position: usize) -> impl Iterator<Item = (usize, Seg<'m>)> + '_ {
        let after = position + 1;
        self.segments[after..]
            .iter()
            .enumerate()
            .map(move |(offset, s)| (after + offset, *s))
            .take_while(|(_, s)| !matches!(s.id(), "ORC" | "PID"))
    }

    /// An OBR: the ServiceRequest (unless its ORC made it) and, in result
    /// messages, the DiagnosticReport.
    fn obr(
        &mut self,
        ctx: &mut Context<'m>,
        seg: Seg<'m>,
        position: usize,
    ) -> Result<Option<Handle>, MapError> {
        self.sample = None;
        let orc = if self.paired_obr == Some(position) {
            self.orc
        } else {
            let links = self.links;
            let request = order::request(
                ctx,
                None,
                Some(seg),
                position,
                links.patient,
                links.encounter,
            );
            self.links.request = Some(request);
            None
        };
        if self.kind == MessageKind::Results {
            self.report = Some(report::obr(ctx, orc, seg, position, self.links));
        }
        // The OBR describes the specimen only when no SPM of its own does.
        let described = self
            .rest_of_group(position)
            .take_while(|(_, s)| s.id() != "OBR")
            .any(|(_, s)| s.id() == "SPM");
        if !described && let Some(sample) = specimen::obr(ctx, seg, position, self.links.patient) {
            self.give_specimen(ctx, sample);
            self.sample = Some(sample);
        }
        if let Some(request) = self.links.request {
            self.participation = Some(participation::Scope::Order {
                request,
                report: self.report,
            });
        }
        Ok(self.links.request)
    }

    /// An OBX: part of the current document, else an Observation — a result
    /// of the current report, supporting information of the current order,
    /// or evidence of the current problem.
    fn obx(&mut self, ctx: &mut Context<'m>, seg: Seg<'m>, position: usize) -> Option<Handle> {
        if let Some((written, obxs)) = &mut self.document {
            obxs.push(seg);
            // The document's content: an NTE after it annotates the document.
            return Some(*written);
        }
        let result = observation::obx(ctx, seg, position, self.links);
        let reference = ctx.reference(result);
        match (self.report, self.links.request) {
            (Some(report), _) => push(ctx.resource_mut(report), "result", reference),
            (None, Some(request)) if self.kind == MessageKind::Orders => {
                push(ctx.resource_mut(request), "supportingInfo", reference);
            }
            (None, _) if let Some(problem) = self.problem => {
                let evidence = json!({ "detail": [reference] });
                push(ctx.resource_mut(problem), "evidence", evidence);
            }
            _ => {}
        }
        self.participation = Some(participation::Scope::Observation(result));
        Some(result)
    }

    /// An SPM: a Specimen of the current report and order.
    fn spm(&mut self, ctx: &mut Context<'m>, seg: Seg<'m>, position: usize) -> Handle {
        let sample = specimen::spm(ctx, seg, position, self.links.patient);
        self.give_specimen(ctx, sample);
        if let Some(collector) = &self.collector {
            let collection = &mut ctx.resource_mut(sample)["collection"];
            if collection.get("collector").is_none() {
                collection["collector"] = collector.clone();
            }
        }
        sample
    }

    /// Makes `sample` a specimen of the current report and order.
    fn give_specimen(&self, ctx: &mut Context<'m>, sample: Handle) {
        let reference = ctx.reference(sample);
        for owner in [self.report, self.links.request].into_iter().flatten() {
            push(ctx.resource_mut(owner), "specimen", reference.clone());
        }
    }

    /// Maps the PRT between the group's ORC and `position` in `scope`: in
    /// vaccination and pharmacy messages the ORC's participations describe
    /// the order that the RXA or RXO after them makes.
    fn order_participants(
        &self,
        ctx: &mut Context<'m>,
        position: usize,
        scope: participation::Scope,
    ) {
        let before = &self.segments[..position];
        let Some(start) = before
            .iter()
            .rposition(|s| !matches!(s.id(), "PRT" | "TQ1" | "TQ2" | "NTE"))
        else {
            return;
        };
        if before[start].id() != "ORC" {
            return;
        }
        for (offset, prt) in before[start + 1..].iter().enumerate() {
            if prt.id() == "PRT" {
                participation::prt(ctx, *prt, start + 1 + offset, scope);
            }
        }
    }

    fn finish_document(&mut self, ctx: &mut Context<'m>) {
        if let Some((written, obxs)) = self.document.take() {
            document::content(ctx, written, &obxs);
        }
    }
}

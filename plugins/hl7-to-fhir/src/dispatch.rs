//! Message-type dispatch: which kind of mapping a message type (MSH-9) gets.

/// The mappings by message family. Segments map the same way in every family;
/// the family decides what order and result segments become and which
/// resources the MessageHeader focuses on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// ADT (every trigger, merges included), BAR and DFT: patient, visit,
    /// allergies, diagnoses, procedures, insurance, charges.
    Admin,
    /// REF: an RF1 referral (a ServiceRequest) with its providers (PRD),
    /// and the patient's data as in ADT.
    Referral,
    /// ORU and OUL: OBR to ServiceRequest and DiagnosticReport, OBX to
    /// Observation results.
    Results,
    /// ORM, OML and OMG: ORC and OBR to ServiceRequest.
    Orders,
    /// VXU: RXA and RXR to Immunization.
    Vaccination,
    /// OMP, RDE and RDS: RXO, RXE, RXR and TQ1 (with the ORC) to
    /// MedicationRequest, RXD to MedicationDispense, and their Medication.
    Pharmacy,
    /// PPR: PRB to problem-list Conditions, with the OBX after a PRB as
    /// their evidence.
    Problems,
    /// SIU: SCH, AIS, AIG, AIL and AIP to Appointment.
    Scheduling,
    /// MDM: TXA with its OBX text to DocumentReference.
    Document,
}

impl MessageKind {
    /// The mapping for MSH-9.1 `code` (every trigger of a family maps alike);
    /// `None` for a type without one (ACK, queries, ...).
    pub fn of(code: &str) -> Option<MessageKind> {
        match code {
            "ADT" | "BAR" | "DFT" => Some(MessageKind::Admin),
            "REF" => Some(MessageKind::Referral),
            "ORU" | "OUL" => Some(MessageKind::Results),
            "ORM" | "OML" | "OMG" => Some(MessageKind::Orders),
            "VXU" => Some(MessageKind::Vaccination),
            "OMP" | "RDE" | "RDS" => Some(MessageKind::Pharmacy),
            "PPR" => Some(MessageKind::Problems),
            "SIU" => Some(MessageKind::Scheduling),
            "MDM" => Some(MessageKind::Document),
            _ => None,
        }
    }

    /// The resource types that MessageHeader.focus points at.
    pub(crate) fn focus_types(self) -> &'static [&'static str] {
        match self {
            MessageKind::Admin => &["Patient", "Encounter"],
            MessageKind::Referral => &["ServiceRequest"],
            MessageKind::Results => &["DiagnosticReport"],
            MessageKind::Orders => &["ServiceRequest"],
            MessageKind::Vaccination => &["Immunization"],
            MessageKind::Pharmacy => &["MedicationRequest", "MedicationDispense"],
            MessageKind::Problems => &["Condition"],
            MessageKind::Scheduling => &["Appointment"],
            MessageKind::Document => &["DocumentReference"],
        }
    }
}

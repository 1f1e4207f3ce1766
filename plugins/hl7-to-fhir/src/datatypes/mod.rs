//! HL7 v2 datatypes to FHIR datatypes, after the IG's datatype maps
//! (`CWE[CodeableConcept]`, `CX[Identifier]`, `XPN[HumanName]`, ...).
//!
//! Each function reads one datatype instance through [`crate::context::Parts`]
//! (a field repetition, or a component used as a datatype) and returns FHIR
//! JSON, or `None` when the instance holds nothing to map.

pub mod address;
pub mod attachment;
pub mod codes;
pub mod identifier;
pub mod name;
pub mod quantity;
pub mod telecom;
pub mod time;

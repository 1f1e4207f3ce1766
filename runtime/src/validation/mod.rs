//! Conformance profiles: the checks a channel makes between parsing a
//! message and storing it (DESIGN.md's "validate (profile)" step).
//!
//! A profile is written once under `[profiles.NAME]` and named by channels
//! with `validation_profile = "NAME"`:
//!
//! ```toml
//! [profiles.adt_in]
//! message_types = ["ADT^A01", "ADT^A04", "ADT^A08"]
//! versions = ["2.3", "2.5.1"]
//! [[profiles.adt_in.segments]]
//! id = "PID"
//! min = 1
//! max = 1
//! [[profiles.adt_in.fields]]
//! path = "PID-3.1"
//! required = true
//! [[profiles.adt_in.fields]]
//! path = "PID-11.5"
//! pattern = "[0-9]{5}(-[0-9]{4})?"
//! [[profiles.adt_in.fields]]
//! path = "PID-8"
//! values = ["F", "M", "O", "U", "A", "N"]
//! severity = "warning"
//! ```
//!
//! A message that breaks a rule of severity `error` gets AR with one ERR
//! segment per breach (code, place, and a text that never repeats the
//! value) and is not stored; warnings go into the ACK of a message that is
//! stored as usual.

mod check;
mod data_type;
mod profile;

pub use check::Findings;
pub use data_type::DataType;
pub use profile::{FieldRule, Profile, ProfileConfig, RuleSeverity, SegmentRule};

//! The people, organizations and places that segments point at, as shared
//! resources: one Practitioner per XCN, one Organization per HD/XON/CWE, one
//! Location per PL level. Their ids derive from their content, so the same
//! doctor named twice in a message (or in two messages) is one resource.

pub mod location;
pub mod organization;
pub mod practitioner;

//! The front door: one MLLP listener (or file source, `file_reader.rs`) per
//! channel, both through the same [`Intake`]. A handler per connection
//! reads a frame, parses MSH, dedupes, persists durably (group commit), and
//! only then ACKs AA; storage failures answer AE, malformed or oversized
//! frames AR with an ERR segment, and a frame without a readable MSH
//! closes the connection. With `ack_mode = "after_transform"` the ACK
//! waits for the pipeline's result instead (`transform_ack.rs`), with
//! `"after_delivery"` for the ACK destination's verdict
//! (`delivery_ack.rs`).

mod ack;
mod channel;
mod delivery_ack;
mod file_reader;
mod handler;
mod http_source;
mod intake;
mod listener;
mod transform_ack;
mod wait;

pub use ack::{AckIds, hl7_now};
pub use channel::ChannelRuntime;
pub use file_reader::{FileOutcome, FileReader, file_reference};
pub use handler::Handler;
pub use http_source::HttpSource;
pub use intake::{Answer, Intake};
pub use listener::Listener;

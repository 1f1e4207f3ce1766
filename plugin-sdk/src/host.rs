//! What the host offers a plugin: logging, lookup tables and the metadata of
//! the current message.

use crate::bindings::hl7wasm::plugin::host as wit;
pub use wit::Level;

use crate::Metadata;

/// Writes a line to the engine's log under the plugin's name. Never log
/// patient data.
pub fn log(level: Level, text: &str) {
    wit::log(level, text);
}

/// Looks `key` up in the administrator's read-only table `table`.
pub fn lookup(table: &str, key: &str) -> Option<String> {
    wit::lookup(table, key)
}

/// The metadata of the message being transformed.
pub fn metadata() -> Metadata {
    wit::message_metadata()
}

//! [`Lookup`]: where rules find their tables, and the message's metadata.

use std::collections::HashMap;

use crate::MetadataKey;

/// Read-only lookup tables by name, and the metadata of the message being
/// enriched: the host's, in the component, or held in memory.
pub trait Lookup {
    /// The value of `key` in `table`; `None` when the table or key is unknown.
    fn lookup(&self, table: &str, key: &str) -> Option<String>;

    /// The message's metadata item `key`; `None` when it has none (a
    /// message that did not come over mTLS has no certificate name).
    fn metadata(&self, key: MetadataKey) -> Option<String> {
        let _ = key;
        None
    }
}

/// Tables held in memory, keyed by table name then key; no metadata.
impl Lookup for HashMap<String, HashMap<String, String>> {
    fn lookup(&self, table: &str, key: &str) -> Option<String> {
        self.get(table)?.get(key).cloned()
    }
}

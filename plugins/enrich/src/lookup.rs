//! [`Lookup`]: where rules find their tables.

use std::collections::HashMap;

/// Read-only lookup tables by name: the host's, in the component, or tables
/// held in memory.
pub trait Lookup {
    /// The value of `key` in `table`; `None` when the table or key is unknown.
    fn lookup(&self, table: &str, key: &str) -> Option<String>;
}

/// Tables held in memory, keyed by table name then key.
impl Lookup for HashMap<String, HashMap<String, String>> {
    fn lookup(&self, table: &str, key: &str) -> Option<String> {
        self.get(table)?.get(key).cloned()
    }
}

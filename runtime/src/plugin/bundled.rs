//! The plugins built into the `hl7wasm` binary, so that a fresh install
//! runs its demo channel with no plugin directory. `runtime/build.rs`
//! builds them from `plugins/`; the registry loads them before the plugin
//! directory, where a newer version of the same plugin may sit.

/// Name and component bytes of each bundled plugin.
pub const PLUGINS: &[(&str, &[u8])] = &[
    (
        "hl7-to-fhir",
        include_bytes!(concat!(env!("HL7WASM_BUILT_PLUGINS"), "/hl7_to_fhir.wasm")),
    ),
    (
        "passthrough",
        include_bytes!(concat!(env!("HL7WASM_BUILT_PLUGINS"), "/passthrough.wasm")),
    ),
];

/// The bundled plugins' names.
pub fn names() -> Vec<&'static str> {
    PLUGINS.iter().map(|(name, _)| *name).collect()
}

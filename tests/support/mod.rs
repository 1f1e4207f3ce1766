//! Helpers shared by the end-to-end tests: built plugins, engines and
//! sample messages.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hl7wasm::plugin::{
    EngineSettings, Message, Metadata, PluginEngine, PluginLimits, PluginVersion, PluginWorker,
    StageSettings,
};

/// The path of a plugin that runtime/build.rs built from `plugins/`.
pub fn plugin_path(package: &str) -> PathBuf {
    Path::new(hl7wasm::BUILT_PLUGINS_DIR).join(format!("{}.wasm", package.replace('-', "_")))
}

/// The bytes of a built plugin.
pub fn plugin_bytes(package: &str) -> Vec<u8> {
    let path = plugin_path(package);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The component with a custom section appended: the same plugin, rebuilt,
/// with another content hash.
pub fn rebuilt(component: &[u8]) -> Vec<u8> {
    let name = b"hl7wasm-test-rebuild";
    let payload = b"2";
    let mut section = vec![name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(payload);
    let mut bytes = component.to_vec();
    bytes.push(0); // custom section id
    bytes.push(section.len() as u8); // its size (LEB128, < 128)
    bytes.extend(section);
    bytes
}

/// A plugin engine with default settings.
pub fn engine() -> PluginEngine {
    PluginEngine::new(&EngineSettings::default()).expect("plugin engine")
}

/// Loads a built plugin without an artifact cache.
pub fn load(engine: &PluginEngine, package: &str) -> Arc<PluginVersion> {
    PluginVersion::load(
        engine,
        None,
        &plugin_bytes(package),
        &PluginLimits::default(),
    )
    .unwrap_or_else(|e| panic!("load {package}: {e}"))
}

/// A worker for `version` with the given limits and JSON config.
pub fn worker(
    version: Arc<PluginVersion>,
    limits: PluginLimits,
    config_json: &str,
) -> PluginWorker {
    let settings = StageSettings {
        limits,
        config_json: config_json.to_string(),
        ..StageSettings::default()
    };
    PluginWorker::new(version, Arc::new(settings))
}

/// A small, realistic ADT^A01 with control id `control_id` and `extra`
/// appended to the PID segment's last field.
pub fn adt_a01(control_id: &str, extra: &str) -> Message {
    let body = format!(
        "MSH|^~\\&|SENDAPP|SENDFAC|RECVAPP|RECVFAC|20240102030405||ADT^A01^ADT_A01|{control_id}|P|2.5.1\r\
         EVN|A01|20240102030405\r\
         PID|1||123456^^^HOSP^MR||DOE^JOHN^Q||19800101|M|||1 MAIN ST^^SPRINGFIELD^IL^62701||(555)555-1234|||||{extra}\r\
         PV1|1|I|WARD^101^1|||||||MED\r"
    );
    Message {
        content_type: "application/hl7-v2+er7".into(),
        body,
    }
}

/// Metadata as a channel would attach it.
pub fn metadata(control_id: &str) -> Metadata {
    Metadata {
        channel: "test".into(),
        received_at_unix_ms: 1_700_000_000_000,
        peer_address: Some("127.0.0.1:40000".into()),
        peer_certificate_name: None,
        control_id: Some(control_id.into()),
    }
}

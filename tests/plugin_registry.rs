//! Ensures that the plugin registry loads good components, refuses bad ones
//! with a reason without disturbing the versions already loaded, identifies
//! versions by name, version and content hash, and reuses compiled
//! artifacts from its cache only when they are its own.

mod support;

use std::fs;
use std::sync::Arc;

use hl7wasm::plugin::{
    CompiledFrom, LoadError, PluginLimits, PluginRegistry, StageOutcome, content_hash,
};
use support::{adt_a01, engine, metadata, plugin_bytes, worker};

fn registry(dir: &tempfile::TempDir) -> PluginRegistry {
    PluginRegistry::open(
        &engine(),
        &dir.path().join("plugins"),
        &dir.path().join("cache"),
        PluginLimits::default(),
    )
    .expect("open registry")
}

fn refuse(registry: &PluginRegistry, bytes: &[u8]) -> LoadError {
    registry
        .add(bytes)
        .expect_err("the registry should refuse this file")
}

#[test]
fn loads_a_plugin_and_reports_its_info() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let bytes = plugin_bytes("passthrough");
    let version = registry.add(&bytes).expect("passthrough loads");
    assert_eq!(version.info.name, "passthrough");
    assert_eq!(version.info.version, "0.1.0");
    assert_eq!(version.sha256, content_hash(&bytes));
    assert!(Arc::ptr_eq(
        &registry.resolve("passthrough", "latest").unwrap(),
        &version
    ));
    assert!(Arc::ptr_eq(
        &registry
            .resolve("passthrough", &version.sha256[..12])
            .unwrap(),
        &version
    ));
    let stored = dir
        .path()
        .join("plugins")
        .join(format!("passthrough-0.1.0-{}.wasm", &version.sha256[..12]));
    assert_eq!(
        fs::read(stored).unwrap(),
        bytes,
        "uploads are kept in the plugin directory"
    );
}

#[test]
fn refuses_bytes_that_are_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let error = refuse(&registry, b"this is not wasm at all");
    assert!(matches!(error, LoadError::NotAComponent(_)), "{error}");
    let core_module = wat::parse_str("(module)").unwrap();
    let error = refuse(&registry, &core_module);
    assert!(error.to_string().contains("core Wasm module"), "{error}");
}

#[test]
fn refuses_a_component_of_another_world() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let empty = wat::parse_str("(component)").unwrap();
    let error = refuse(&registry, &empty);
    assert!(matches!(error, LoadError::WrongWorld(_)), "{error}");
}

#[test]
fn refuses_an_unknown_major_version_of_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let future = wat::parse_str(
        r#"(component
             (instance $transformer)
             (export "hl7wasm:plugin/transformer@1.0.0" (instance $transformer)))"#,
    )
    .unwrap();
    let error = refuse(&registry, &future);
    assert!(
        matches!(error, LoadError::UnsupportedVersion { .. }),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("hl7wasm:plugin@1.0.0") && text.contains("0.1.x"),
        "{text}"
    );
}

#[test]
fn refuses_a_plugin_whose_info_panics_and_keeps_running_versions() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&dir);
    let good = registry.add(&plugin_bytes("passthrough")).unwrap();
    let error = refuse(&registry, &plugin_bytes("info-panics"));
    assert!(matches!(error, LoadError::InfoFailed(_)), "{error}");
    assert!(
        error.to_string().contains("info is broken on purpose"),
        "{error}"
    );

    assert_eq!(registry.all().len(), 1);
    let running = registry.resolve("passthrough", "latest").unwrap();
    assert!(Arc::ptr_eq(&running, &good));
    let mut worker = worker(running, PluginLimits::default(), "{}");
    let message = adt_a01("AFTER-BAD-1", "");
    assert_eq!(
        worker.transform(message.clone(), metadata("AFTER-BAD-1")),
        StageOutcome::Forward(vec![message])
    );
}

#[test]
fn scan_loads_the_directory_and_lists_refused_files() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    fs::create_dir_all(&plugins).unwrap();
    fs::write(
        plugins.join("passthrough.wasm"),
        plugin_bytes("passthrough"),
    )
    .unwrap();
    fs::write(plugins.join("junk.wasm"), b"junk").unwrap();
    fs::write(plugins.join("notes.txt"), b"not a plugin").unwrap();
    let registry = registry(&dir);
    let refused = registry.scan();
    assert_eq!(refused.len(), 1);
    assert!(refused[0].path.ends_with("junk.wasm"));
    assert_eq!(registry.versions("passthrough").len(), 1);
}

#[test]
fn compiled_artifacts_are_reused_and_tampered_ones_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = plugin_bytes("passthrough");
    let first = registry(&dir).add(&bytes).unwrap();
    assert_eq!(first.compiled_from, CompiledFrom::Source);

    let second = registry(&dir).add(&bytes).unwrap();
    assert_eq!(second.compiled_from, CompiledFrom::Cache);

    let artifact = fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("an artifact was written");
    let mut tampered = fs::read(&artifact).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    fs::write(&artifact, tampered).unwrap();
    let third = registry(&dir).add(&bytes).unwrap();
    assert_eq!(
        third.compiled_from,
        CompiledFrom::Source,
        "a tampered artifact must not be deserialized"
    );
}

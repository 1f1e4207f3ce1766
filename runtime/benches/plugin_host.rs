//! Plugin host costs: instantiation, a call on a reused instance against a
//! fresh instance per message (which chooses the default lifecycle), and
//! loading a new version cold and from the artifact cache.
//!
//! Run: `cargo bench -p hl7wasm-runtime --bench plugin_host`

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use hl7wasm::plugin::{
    ArtifactCache, EngineSettings, InstancePolicy, Isolation, Message, Metadata, PluginEngine,
    PluginInstance, PluginLimits, PluginVersion, PluginWorker, StageOutcome, StageSettings,
};

fn passthrough_bytes() -> Vec<u8> {
    std::fs::read(Path::new(hl7wasm::BUILT_PLUGINS_DIR).join("passthrough.wasm"))
        .expect("built passthrough plugin")
}

/// A 1 KB ADT^A01.
fn message() -> Message {
    let body = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/adt_a01.hl7"
    ))
    .expect("sample message");
    let mut body = body;
    while body.len() < 1024 {
        body.push_str("NTE|1||padding to one kilobyte\r");
    }
    Message {
        content_type: "application/hl7-v2+er7".into(),
        body,
    }
}

fn metadata() -> Metadata {
    Metadata {
        channel: "bench".into(),
        received_at_unix_ms: 0,
        peer_address: None,
        peer_certificate_name: None,
        control_id: Some("MSG00001".into()),
    }
}

fn worker(version: &Arc<PluginVersion>, isolation: Isolation) -> PluginWorker {
    let settings = StageSettings {
        config_json: "{}".into(),
        policy: InstancePolicy {
            isolation,
            ..InstancePolicy::default()
        },
        ..StageSettings::default()
    };
    PluginWorker::new(version.clone(), Arc::new(settings))
}

fn lifecycle(c: &mut Criterion) {
    let engine = PluginEngine::new(&EngineSettings::default()).unwrap();
    let limits = PluginLimits::default();
    let version = PluginVersion::load(&engine, None, &passthrough_bytes(), &limits).unwrap();
    let message = message();

    c.bench_function("instantiate_and_configure", |b| {
        b.iter(|| {
            let instance = PluginInstance::start(
                &engine,
                version.pre(),
                "bench",
                &limits,
                Default::default(),
                "{}",
            );
            black_box(instance.is_ok())
        })
    });
    for (name, isolation) in [
        ("call_1kb_reused_instance", Isolation::Reuse),
        ("call_1kb_fresh_instance", Isolation::Strict),
    ] {
        let mut worker = worker(&version, isolation);
        c.bench_function(name, |b| {
            b.iter(|| {
                let outcome = worker.transform(message.clone(), metadata());
                assert!(matches!(outcome, StageOutcome::Forward(_)));
            })
        });
    }
}

fn loading(c: &mut Criterion) {
    let engine = PluginEngine::new(&EngineSettings::default()).unwrap();
    let limits = PluginLimits::default();
    let bytes = passthrough_bytes();
    let mut group = c.benchmark_group("load_version");
    group.sample_size(10);
    group.bench_function("cold_compile", |b| {
        b.iter(|| PluginVersion::load(&engine, None, &bytes, &limits).unwrap())
    });
    let dir = tempfile::tempdir().unwrap();
    let cache = ArtifactCache::open(dir.path(), engine.engine()).unwrap();
    PluginVersion::load(&engine, Some(&cache), &bytes, &limits).unwrap();
    group.bench_function("from_cache", |b| {
        b.iter(|| PluginVersion::load(&engine, Some(&cache), &bytes, &limits).unwrap())
    });
    group.finish();
}

criterion_group!(benches, lifecycle, loading);
criterion_main!(benches);

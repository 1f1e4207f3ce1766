//! Watching the plugin directory: a new or changed `.wasm` file is loaded
//! the way an upload is (compiled, checked against the world, `info()`
//! answered), and every stage configured with `version = "latest"` moves to
//! the newest version of its plugin (started and configured first, see
//! `active.rs`). A file that is refused is logged and counted
//! (`hl7wasm_plugin_files_refused_total`) once per content, and the
//! running versions stay. Files whose content is already loaded (uploads,
//! which the registry writes into the directory itself) are left alone.
//!
//! When a reload changes the signing policy, every file is looked at
//! again, so that one signed by a newly trusted key loads.
//!
//! The directory is polled: portable, and a few seconds' delay is
//! immaterial next to a deployment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::channel::ChannelPipeline;
use crate::metrics::Metrics;
use crate::plugin::{PluginRegistry, PluginVersion, content_hash};

/// What identifies a file's content between two looks: size and mtime.
type Stamp = (u64, Option<SystemTime>);

/// The channels' pipelines as they run now (a reload changes them).
pub type Pipelines = Box<dyn Fn() -> Vec<Arc<ChannelPipeline>> + Send + Sync>;

/// Polls `dir` every `interval` until `shutdown`.
pub async fn run(
    registry: Arc<PluginRegistry>,
    dir: PathBuf,
    pipelines: Pipelines,
    metrics: Arc<Metrics>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut seen = stamps(&dir);
    let mut policy = registry.signing_changes();
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = shutdown.cancelled() => return,
        }
        if registry.signing_changes() != policy {
            policy = registry.signing_changes();
            seen.clear();
        }
        let now = stamps(&dir);
        let changed: Vec<PathBuf> = now
            .iter()
            .filter(|(path, stamp)| seen.get(*path) != Some(stamp))
            .map(|(path, _)| path.clone())
            .collect();
        seen = now;
        if changed.is_empty() {
            continue;
        }
        let (registry, pipelines, metrics) = (registry.clone(), pipelines(), metrics.clone());
        tokio::task::spawn_blocking(move || {
            for path in changed {
                load(&registry, &pipelines, &metrics, &path);
            }
        })
        .await
        .expect("plugin watch thread panicked");
    }
}

/// The `.wasm` files in `dir` with their stamps.
fn stamps(dir: &Path) -> HashMap<PathBuf, Stamp> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "wasm"))
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            Some((entry.path(), (metadata.len(), metadata.modified().ok())))
        })
        .collect()
}

/// Loads one new or changed file and moves `latest` stages to it.
fn load(
    registry: &PluginRegistry,
    pipelines: &[Arc<ChannelPipeline>],
    metrics: &Metrics,
    path: &Path,
) {
    // A file still being copied in shows up again once its size settles.
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let sha256 = content_hash(&bytes);
    if registry
        .all()
        .iter()
        .any(|version| version.sha256 == sha256)
    {
        return;
    }
    match registry.load_file(path) {
        Ok(version) => follow_latest(registry, pipelines, &version),
        Err(error) => {
            metrics
                .plugin_files_refused
                .get_or_create(&Vec::new())
                .inc();
            tracing::error!(
                path = %path.display(),
                %error,
                "Plugin file refused; the running versions stay."
            );
        }
    }
}

/// Moves every stage that runs `version`'s plugin at `latest` to the
/// registry's latest version of it.
fn follow_latest(
    registry: &PluginRegistry,
    pipelines: &[Arc<ChannelPipeline>],
    version: &PluginVersion,
) {
    let name = &version.info.name;
    let Some(latest) = registry.resolve(name, "latest") else {
        return;
    };
    for pipeline in pipelines {
        for (index, stage) in pipeline.config.pipeline.iter().enumerate() {
            if stage.plugin != *name || stage.version != "latest" {
                continue;
            }
            let (_, running) = pipeline.stages.snapshot();
            if running[index].version.sha256 == latest.sha256 {
                continue;
            }
            match pipeline.stages.activate(index, latest.clone()) {
                Ok(previous) => tracing::info!(
                    channel = pipeline.name(),
                    stage = index,
                    from = %previous.label(),
                    to = %latest.label(),
                    "Plugin version activated from the plugin directory."
                ),
                Err(error) => tracing::error!(
                    channel = pipeline.name(),
                    stage = index,
                    plugin = %latest.label(),
                    %error,
                    "New plugin version not activated; the running one stays."
                ),
            }
        }
    }
}

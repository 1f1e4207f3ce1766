//! A loaded plugin version: compiled, checked against the world, and
//! described by its own `info()`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::artifact_cache::{ArtifactCache, CompiledFrom};
use super::bindings::{PACKAGE, PACKAGE_VERSION, PluginInfo, PluginPre};
use super::engine::PluginEngine;
use super::error::LoadError;
use super::instance::PluginInstance;
use super::limits::PluginLimits;

/// A plugin version that passed every check and can be instantiated.
pub struct PluginVersion {
    /// What the plugin says about itself.
    pub info: PluginInfo,
    /// The hex sha256 of the component bytes: the version's identity.
    pub sha256: String,
    /// Whether it was compiled now or loaded from the artifact cache.
    pub compiled_from: CompiledFrom,
    /// How long loading took (compile or deserialize, checks and `info`).
    pub load_time: Duration,
    pre: PluginPre<super::state::PluginState>,
    engine: PluginEngine,
}

impl std::fmt::Debug for PluginVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginVersion")
            .field("name", &self.info.name)
            .field("version", &self.info.version)
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// The hex sha256 of `bytes`.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl PluginVersion {
    /// Compiles (or loads from `cache`) and checks a component: it must be a
    /// component, target a compatible `hl7wasm:plugin` version, import
    /// nothing the host lacks, export `transformer`, and answer `info()`
    /// within the limits.
    ///
    /// # Errors
    /// A [`LoadError`] naming the first check that failed.
    pub fn load(
        engine: &PluginEngine,
        cache: Option<&ArtifactCache>,
        bytes: &[u8],
        limits: &PluginLimits,
    ) -> Result<Arc<Self>, LoadError> {
        let started = Instant::now();
        check_component_header(bytes)?;
        let sha256 = content_hash(bytes);
        let (component, compiled_from) = match cache {
            Some(cache) => cache.load(engine.engine(), &sha256, bytes),
            None => Component::new(engine.engine(), bytes)
                .map(|c| (c, CompiledFrom::Source))
                .map_err(anyhow::Error::from),
        }
        .map_err(|e| LoadError::NotAComponent(format!("{e:#}")))?;
        check_contract_version(engine, &component)?;
        let instance_pre = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnsatisfiedImport(format!("{e:#}")))?;
        let pre =
            PluginPre::new(instance_pre).map_err(|e| LoadError::WrongWorld(format!("{e:#}")))?;
        let info = PluginInstance::describe(engine, &pre, limits)
            .map_err(|failure| LoadError::InfoFailed(failure.text))?;
        check_info(&info)?;
        Ok(Arc::new(PluginVersion {
            info,
            sha256,
            compiled_from,
            load_time: started.elapsed(),
            pre,
            engine: engine.clone(),
        }))
    }

    /// The pre-instantiated component.
    pub fn pre(&self) -> &PluginPre<super::state::PluginState> {
        &self.pre
    }

    /// The engine it was compiled for.
    pub fn engine(&self) -> &PluginEngine {
        &self.engine
    }

    /// `name@version (sha256 prefix)`, for logs.
    pub fn label(&self) -> String {
        format!(
            "{}@{} ({})",
            self.info.name,
            self.info.version,
            &self.sha256[..12]
        )
    }

    /// Whether the plugin accepts an HL7 v2 message of `code^trigger`.
    pub fn accepts(&self, code: &str, trigger: &str) -> bool {
        self.info
            .message_types
            .iter()
            .any(|pattern| match pattern.split_once('^') {
                _ if pattern == "*" => true,
                Some((c, "*")) => c == code,
                Some((c, t)) => c == code && t == trigger,
                None => pattern == code,
            })
    }
}

/// Binary components start with `\0asm`, version 0x0d, layer 1; core modules
/// have layer 0. Telling them apart here gives a better message than the
/// compiler's.
fn check_component_header(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotAComponent(
            "the file does not start with the Wasm magic bytes".into(),
        ));
    }
    if bytes[6..8] == [0, 0] {
        return Err(LoadError::NotAComponent(
            "this is a core Wasm module; make it a component (cargo build --target wasm32-wasip2, or wasm-tools component new)".into(),
        ));
    }
    Ok(())
}

/// Refuses components built against another major version of the contract.
fn check_contract_version(engine: &PluginEngine, component: &Component) -> Result<(), LoadError> {
    let ty = component.component_type();
    let names: Vec<String> = ty
        .imports(engine.engine())
        .map(|(name, _)| name.to_string())
        .chain(
            ty.exports(engine.engine())
                .map(|(name, _)| name.to_string()),
        )
        .collect();
    let ours = semver::Version::parse(PACKAGE_VERSION).expect("valid package version");
    // Caret semantics: 0.1.0 accepts 0.1.x; 1.0.0 would accept 1.x.
    let requirement =
        semver::VersionReq::parse(&format!("^{PACKAGE_VERSION}")).expect("valid requirement");
    for name in names
        .iter()
        .filter(|n| n.starts_with(&format!("{PACKAGE}/")))
    {
        let Some((_, version)) = name.split_once('@') else {
            continue;
        };
        let compatible = semver::Version::parse(version).is_ok_and(|v| requirement.matches(&v));
        if !compatible {
            return Err(LoadError::UnsupportedVersion {
                found: format!("{PACKAGE}@{version}"),
                supported: PACKAGE_VERSION,
                supported_major: major_range(&ours),
            });
        }
    }
    let transformer = format!("{PACKAGE}/transformer@");
    if !names.iter().any(|n| n.starts_with(&transformer)) {
        return Err(LoadError::WrongWorld(format!(
            "it exports no {PACKAGE}/transformer interface (exports: {})",
            ty.exports(engine.engine())
                .map(|(n, _)| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

fn major_range(version: &semver::Version) -> String {
    if version.major == 0 {
        format!("0.{}.x", version.minor)
    } else {
        format!("{}.x", version.major)
    }
}

fn check_info(info: &PluginInfo) -> Result<(), LoadError> {
    if info.name.trim().is_empty() {
        return Err(LoadError::InfoFailed("the plugin has an empty name".into()));
    }
    let valid_name = info
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_name {
        return Err(LoadError::InfoFailed(format!(
            "plugin name {:?} may only hold ASCII letters, digits, '-', '_' and '.'",
            info.name
        )));
    }
    if semver::Version::parse(&info.version).is_err() {
        return Err(LoadError::InfoFailed(format!(
            "version {:?} is not semver",
            info.version
        )));
    }
    Ok(())
}

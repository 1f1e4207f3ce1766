//! The plugin registry: every loaded version of every plugin, from the
//! plugin directory and from uploads.
//!
//! A version is identified by its name and version (from `info()`) and its
//! content hash. Every version is kept, so rolling back is instant. A bad
//! file is refused with a reason and leaves the loaded versions alone.
//! Uploaded components are written into the directory as
//! `<name>-<version>-<sha256 prefix>.wasm`, so they survive a restart.
//!
//! The registry remembers where each version came from: the files it was
//! loaded from or written to, and whether it is built into the binary.
//! Removing a version deletes its files, so neither a restart nor the
//! directory watcher brings it back; a bundled version cannot be removed,
//! since every start loads it again.
//!
//! A change of the signing policy applies to what loads next. Versions
//! already loaded keep running, but those the new policy would refuse (an
//! operator removed their vendor's key, or began to require signatures)
//! are judged from their files at once and listed by
//! [`PluginRegistry::untrusted`], which the `plugin_untrusted` alert reads.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use thiserror::Error;

use super::artifact_cache::ArtifactCache;
use super::engine::PluginEngine;
use super::error::LoadError;
use super::limits::PluginLimits;
use super::signature::{self, SignatureError};
use super::version::{PluginVersion, content_hash};

/// A file in the plugin directory that was refused, with the reason.
#[derive(Debug)]
pub struct RefusedFile {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub error: LoadError,
}

/// A loaded version that the signing policy in force would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntrustedVersion {
    /// Its name and version, as `PluginVersion::label` gives them.
    pub label: String,
    /// Its content hash.
    pub sha256: String,
    /// Why the policy would refuse it.
    pub reason: String,
}

impl std::fmt::Display for UntrustedVersion {
    /// `label: reason`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.label, self.reason)
    }
}

/// Why a version was not removed; the registry is unchanged.
#[derive(Debug, Error)]
pub enum RemoveError {
    /// No loaded version has this content hash.
    #[error("no loaded plugin version has sha256 {0}")]
    Unknown(String),
    /// The version is built into the binary.
    #[error("{0} is built into the hl7wasm binary and is loaded again at every start")]
    Bundled(String),
    /// One of its files could not be deleted.
    #[error("cannot delete {path}: {cause}")]
    File {
        /// The file.
        path: String,
        /// The underlying error.
        cause: std::io::Error,
    },
}

/// Where one version came from.
#[derive(Debug, Default)]
struct Origin {
    /// Built into the binary.
    bundled: bool,
    /// Files in the plugin directory holding its bytes.
    files: BTreeSet<PathBuf>,
}

/// Where a version being kept came from.
enum Source<'a> {
    Bundled,
    File(&'a Path),
}

/// All loaded plugin versions.
pub struct PluginRegistry {
    engine: PluginEngine,
    cache: ArtifactCache,
    dir: PathBuf,
    limits: PluginLimits,
    /// Name → versions in load order.
    versions: RwLock<BTreeMap<String, Vec<Arc<PluginVersion>>>>,
    /// Content hash → where that version came from.
    origins: RwLock<HashMap<String, Origin>>,
    /// The public keys (hex) whose signatures are accepted, when signed
    /// plugins are required; `None` accepts unsigned ones.
    trusted_keys: RwLock<Option<Vec<String>>>,
    /// How many times the signing policy changed since the registry
    /// opened: the directory watcher looks at every file again when it
    /// grows.
    signing_changes: AtomicU64,
    /// Loaded versions the signing policy would refuse, as judged when it
    /// last changed (a version loaded since passed the policy in force).
    untrusted: RwLock<Vec<UntrustedVersion>>,
}

impl PluginRegistry {
    /// How many plugin instances may be alive at once (see
    /// [`PluginEngine::max_instances`]).
    pub fn max_instances(&self) -> u32 {
        self.engine.max_instances()
    }

    /// Opens the registry over `dir` (created if missing), with compiled
    /// artifacts cached in `cache_dir`.
    ///
    /// # Errors
    /// When the directories cannot be created.
    pub fn open(
        engine: &PluginEngine,
        dir: &Path,
        cache_dir: &Path,
        limits: PluginLimits,
    ) -> anyhow::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(PluginRegistry {
            engine: engine.clone(),
            cache: ArtifactCache::open(cache_dir, engine.engine())?,
            dir: dir.to_path_buf(),
            limits,
            versions: RwLock::default(),
            origins: RwLock::default(),
            trusted_keys: RwLock::default(),
            signing_changes: AtomicU64::new(0),
            untrusted: RwLock::default(),
        })
    }

    /// Loads every `.wasm` file in the directory; returns those refused.
    pub fn scan(&self) -> Vec<RefusedFile> {
        let mut paths: Vec<PathBuf> = match fs::read_dir(&self.dir) {
            Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).collect(),
            Err(error) => {
                return vec![RefusedFile {
                    path: self.dir.clone(),
                    error: LoadError::Io {
                        path: self.dir.display().to_string(),
                        cause: error,
                    },
                }];
            }
        };
        paths.retain(|p| p.extension().is_some_and(|ext| ext == "wasm"));
        paths.sort();
        paths
            .into_iter()
            .filter_map(|path| {
                self.load_file(&path)
                    .err()
                    .map(|error| RefusedFile { path, error })
            })
            .collect()
    }

    /// Loads one component file.
    ///
    /// # Errors
    /// The reason the file was refused.
    pub fn load_file(&self, path: &Path) -> Result<Arc<PluginVersion>, LoadError> {
        let bytes = fs::read(path).map_err(|source| LoadError::Io {
            path: path.display().to_string(),
            cause: source,
        })?;
        let version = self.keep(self.check(&bytes)?, Source::File(path));
        tracing::info!(plugin = %version.label(), path = %path.display(), "Plugin loaded.");
        Ok(version)
    }

    /// Loads uploaded bytes and keeps a copy in the plugin directory.
    ///
    /// # Errors
    /// The reason the upload was refused, or a failure to store it.
    pub fn add(&self, bytes: &[u8]) -> Result<Arc<PluginVersion>, LoadError> {
        self.store(self.check(bytes)?, bytes)
    }

    /// Keeps `version`, checked from `bytes` by [`PluginRegistry::check`],
    /// and a copy of `bytes` in the plugin directory.
    ///
    /// # Errors
    /// A failure to write the file; the version is then not kept.
    pub fn store(
        &self,
        version: Arc<PluginVersion>,
        bytes: &[u8],
    ) -> Result<Arc<PluginVersion>, LoadError> {
        let file = self.dir.join(format!(
            "{}-{}-{}.wasm",
            version.info.name,
            version.info.version,
            &version.sha256[..12]
        ));
        if !file.exists() {
            write_atomically(&file, bytes).map_err(|source| LoadError::Io {
                path: file.display().to_string(),
                cause: source,
            })?;
        }
        let version = self.keep(version, Source::File(&file));
        tracing::info!(plugin = %version.label(), "Plugin uploaded.");
        Ok(version)
    }

    /// Loads a plugin built into the binary (see `bundled`); it is not
    /// written to the plugin directory.
    ///
    /// # Errors
    /// The reason it was refused.
    pub fn add_bundled(&self, bytes: &[u8]) -> Result<Arc<PluginVersion>, LoadError> {
        let version = self.keep(self.compile(bytes)?, Source::Bundled);
        tracing::info!(plugin = %version.label(), "Bundled plugin loaded.");
        Ok(version)
    }

    /// The versions of `name`, in load order.
    pub fn versions(&self, name: &str) -> Vec<Arc<PluginVersion>> {
        self.read().get(name).cloned().unwrap_or_default()
    }

    /// Every loaded version, by name and then load order.
    pub fn all(&self) -> Vec<Arc<PluginVersion>> {
        self.read().values().flatten().cloned().collect()
    }

    /// The version of `name` to run for `wanted`: `latest` (the highest
    /// semver, the last loaded among equals), an exact version, or a content
    /// hash prefix of at least 8 hex digits.
    pub fn resolve(&self, name: &str, wanted: &str) -> Option<Arc<PluginVersion>> {
        let versions = self.versions(name);
        if wanted == "latest" {
            // max_by keeps the last of equal elements: the last loaded.
            return versions
                .iter()
                .max_by(|a, b| semver_of(a).cmp(&semver_of(b)))
                .cloned();
        }
        let by_version = versions.iter().rev().find(|v| v.info.version == wanted);
        by_version
            .or_else(|| {
                versions
                    .iter()
                    .find(|v| wanted.len() >= 8 && v.sha256.starts_with(wanted))
            })
            .cloned()
    }

    /// Loads `bytes` (compiled, checked against the world, `info()`
    /// answered) without keeping them; the version already kept when the
    /// content is known. Keep it with [`PluginRegistry::store`].
    ///
    /// # Errors
    /// The reason the component was refused.
    pub fn check(&self, bytes: &[u8]) -> Result<Arc<PluginVersion>, LoadError> {
        let trusted = self.trusted_keys.read().expect("registry lock").clone();
        let Some(trusted) = trusted else {
            return self.compile(bytes);
        };
        let metadata = signature::verify(bytes, &trusted)?;
        let version = self.compile(bytes)?;
        let info = &version.info;
        if metadata.name != info.name || metadata.version != info.version {
            return Err(LoadError::Signature(SignatureError::Malformed(format!(
                "the signed metadata names {}@{}, but info() says {}@{}",
                metadata.name, metadata.version, info.name, info.version
            ))));
        }
        Ok(version)
    }

    /// From now on, accepts only components signed by one of
    /// `trusted_keys` (ed25519 public keys in hex), or with `None` unsigned
    /// ones too, in uploads and in the plugin directory; bundled plugins
    /// are trusted as part of the binary. Versions already loaded stay;
    /// those the new policy would refuse are listed by
    /// [`PluginRegistry::untrusted`] from now on.
    pub fn set_signing(&self, trusted_keys: Option<Vec<String>>) {
        *self.trusted_keys.write().expect("registry lock") = trusted_keys.clone();
        let untrusted = self.refused_by(trusted_keys.as_deref());
        *self.untrusted.write().expect("registry lock") = untrusted;
        self.signing_changes.fetch_add(1, Ordering::Release);
    }

    /// The loaded versions that the signing policy in force would refuse,
    /// with the reason: they keep running until replaced or removed.
    pub fn untrusted(&self) -> Vec<UntrustedVersion> {
        self.untrusted.read().expect("registry lock").clone()
    }

    /// The loaded versions, bundled ones aside, whose files `trusted` (a
    /// policy as in [`PluginRegistry::set_signing`]) would refuse; nothing
    /// changes (a dry run asks this of the policy a reload would apply).
    pub fn refused_by(&self, trusted: Option<&[String]>) -> Vec<UntrustedVersion> {
        let Some(trusted) = trusted else {
            return Vec::new();
        };
        // The versions before the origins: `keep` takes the locks in that order.
        let versions = self.all();
        let files: Vec<(Arc<PluginVersion>, PathBuf)> = {
            let origins = self.origins.read().expect("registry lock");
            versions
                .into_iter()
                .filter_map(|version| {
                    let origin = origins.get(&version.sha256)?;
                    let file = origin.files.first().filter(|_| !origin.bundled)?.clone();
                    Some((version, file))
                })
                .collect()
        };
        files
            .into_iter()
            .filter_map(|(version, file)| {
                let reason = match fs::read(&file) {
                    Ok(bytes) => signature::verify(&bytes, trusted).err()?.to_string(),
                    Err(error) => format!(
                        "its file {} cannot be read to check its signature: {error}",
                        file.display()
                    ),
                };
                Some(UntrustedVersion {
                    label: version.label(),
                    sha256: version.sha256.clone(),
                    reason,
                })
            })
            .collect()
    }

    /// How many times [`PluginRegistry::set_signing`] was called.
    pub fn signing_changes(&self) -> u64 {
        self.signing_changes.load(Ordering::Acquire)
    }

    fn compile(&self, bytes: &[u8]) -> Result<Arc<PluginVersion>, LoadError> {
        let sha256 = content_hash(bytes);
        if let Some(known) = self.find(&sha256) {
            return Ok(known);
        }
        PluginVersion::load(&self.engine, Some(&self.cache), bytes, &self.limits)
    }

    /// The version with content hash `sha256`.
    pub fn find(&self, sha256: &str) -> Option<Arc<PluginVersion>> {
        self.read()
            .values()
            .flatten()
            .find(|v| v.sha256 == sha256)
            .cloned()
    }

    /// Removes the version with content hash `sha256` and deletes the files
    /// it was loaded from or written to; returns it.
    ///
    /// # Errors
    /// [`RemoveError`]: an unknown hash, a bundled version, or a file that
    /// cannot be deleted (files already deleted stay deleted; the version
    /// stays loaded).
    pub fn remove(&self, sha256: &str) -> Result<Arc<PluginVersion>, RemoveError> {
        let version = self
            .find(sha256)
            .ok_or_else(|| RemoveError::Unknown(sha256.to_owned()))?;
        // Both locks in the order `keep` takes them.
        let mut versions = self.versions.write().expect("registry lock");
        let mut origins = self.origins.write().expect("registry lock");
        let origin = origins.entry(version.sha256.clone()).or_default();
        if origin.bundled {
            return Err(RemoveError::Bundled(version.label()));
        }
        while let Some(path) = origin.files.pop_first() {
            match fs::remove_file(&path) {
                Err(source) if source.kind() != std::io::ErrorKind::NotFound => {
                    let error = RemoveError::File {
                        path: path.display().to_string(),
                        cause: source,
                    };
                    origin.files.insert(path);
                    return Err(error);
                }
                _ => tracing::info!(path = %path.display(), "Plugin file deleted."),
            }
        }
        origins.remove(&version.sha256);
        self.untrusted
            .write()
            .expect("registry lock")
            .retain(|untrusted| untrusted.sha256 != version.sha256);
        if let Some(list) = versions.get_mut(&version.info.name) {
            list.retain(|v| v.sha256 != version.sha256);
            if list.is_empty() {
                versions.remove(&version.info.name);
            }
        }
        tracing::info!(plugin = %version.label(), "Plugin version removed.");
        Ok(version)
    }

    /// Keeps `version` (or the one with the same content, when two loads
    /// raced) and notes where it came from.
    fn keep(&self, version: Arc<PluginVersion>, source: Source<'_>) -> Arc<PluginVersion> {
        let mut versions = self.versions.write().expect("registry lock");
        let list = versions.entry(version.info.name.clone()).or_default();
        let kept = match list.iter().find(|v| v.sha256 == version.sha256) {
            Some(known) => known.clone(),
            None => {
                list.push(version.clone());
                version
            }
        };
        let mut origins = self.origins.write().expect("registry lock");
        let origin = origins.entry(kept.sha256.clone()).or_default();
        match source {
            Source::Bundled => origin.bundled = true,
            Source::File(path) => {
                origin.files.insert(path.to_path_buf());
            }
        }
        kept
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Vec<Arc<PluginVersion>>>> {
        self.versions.read().expect("registry lock")
    }
}

fn semver_of(version: &PluginVersion) -> Option<semver::Version> {
    semver::Version::parse(&version.info.version).ok()
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = path.with_extension("wasm.tmp");
    fs::write(&temp, bytes)?;
    fs::File::open(&temp)?.sync_all()?;
    fs::rename(&temp, path)
}

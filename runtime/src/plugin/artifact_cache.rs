//! Compiled plugins cached on disk, so a restart or a rollback does not
//! recompile.
//!
//! ```text
//! <dir>/.key                        32 random bytes, mode 0600, made on first use
//! <dir>/<sha256>-<engine>.cwasm     HMAC-SHA256(key, artifact) ++ artifact
//! ```
//!
//! `<sha256>` is the component's content hash and `<engine>` a hash of the
//! engine's compatibility settings (wasmtime version, target, tunables), so
//! a changed engine never loads a stale artifact. Deserializing an artifact
//! runs its machine code, so only artifacts this engine wrote are trusted:
//! each carries a MAC under the cache's secret key, and a file that fails
//! the check is ignored and recompiled, never deserialized.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

type HmacSha256 = Hmac<Sha256>;

const MAC_LEN: usize = 32;

/// A directory of compiled components, keyed by content hash and engine.
pub struct ArtifactCache {
    dir: PathBuf,
    key: [u8; 32],
    engine_tag: String,
}

/// Where a component came from when it was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompiledFrom {
    /// Compiled now, and written to the cache.
    Source,
    /// Deserialized from an artifact this engine wrote before.
    Cache,
}

impl ArtifactCache {
    /// Opens (or creates) the cache in `dir` for `engine`.
    ///
    /// # Errors
    /// When the directory or its key cannot be created or read.
    pub fn open(dir: &Path, engine: &Engine) -> anyhow::Result<Self> {
        fs::create_dir_all(dir)?;
        let key = load_or_create_key(&dir.join(".key"))?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(ArtifactCache {
            dir: dir.to_path_buf(),
            key,
            engine_tag: format!("{:016x}", hasher.finish()),
        })
    }

    /// Loads the component with content hash `sha256` from the cache, or
    /// compiles `bytes` and stores the artifact.
    ///
    /// # Errors
    /// When `bytes` is not a valid component. A cache that cannot be written
    /// is only logged: the compiled component is still returned.
    pub fn load(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> anyhow::Result<(Component, CompiledFrom)> {
        let path = self.dir.join(format!("{sha256}-{}.cwasm", self.engine_tag));
        if let Some(component) = self.read_trusted(engine, &path) {
            return Ok((component, CompiledFrom::Cache));
        }
        let component = Component::new(engine, bytes)?;
        if let Err(error) = self.write(&path, &component) {
            tracing::warn!(path = %path.display(), %error, "Plugin artifact not cached.");
        }
        Ok((component, CompiledFrom::Source))
    }

    fn read_trusted(&self, engine: &Engine, path: &Path) -> Option<Component> {
        let file = fs::read(path).ok()?;
        if file.len() < MAC_LEN {
            return None;
        }
        let (tag, artifact) = file.split_at(MAC_LEN);
        let mut mac = self.mac();
        mac.update(artifact);
        if mac.verify_slice(tag).is_err() {
            tracing::warn!(path = %path.display(), "Plugin artifact failed its integrity check; recompiling.");
            return None;
        }
        // SAFETY: the artifact carries a valid MAC under this cache's secret
        // key, so this engine serialized it; wasmtime checks the engine
        // compatibility itself and fails (never misbehaves) on a mismatch.
        match unsafe { Component::deserialize(engine, artifact) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "Plugin artifact unusable; recompiling.");
                None
            }
        }
    }

    fn write(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        let artifact = component.serialize()?;
        let mut mac = self.mac();
        mac.update(&artifact);
        let tag = mac.finalize().into_bytes();
        let temp = path.with_extension("tmp");
        let mut file = fs::File::create(&temp)?;
        file.write_all(&tag)?;
        file.write_all(&artifact)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        Ok(())
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length")
    }
}

fn load_or_create_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    if let Ok(bytes) = fs::read(path)
        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(key);
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| anyhow::anyhow!("no randomness for the cache key: {e}"))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(&key)?;
    file.sync_all()?;
    Ok(key)
}

//! Precompiled plugin artifacts on disk, keyed by the sha256 of the component and the
//! engine's compatibility hash, so a plugin compiled once loads in about a millisecond.
//!
//! Every failure here (a missing folder, a stale artifact from another wasmtime, a corrupt
//! or truncated file) is a cache miss, never an error: the caller compiles instead. The
//! folder must be trusted like the binary itself, because `Component::deserialize` runs
//! the machine code it finds there; it lives in the user's cache dir by default.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

pub struct ArtifactCache {
    dir: PathBuf,
    /// Hex of the engine's precompile compatibility hash: artifacts from another engine
    /// configuration or wasmtime version never match.
    engine_key: String,
}

impl ArtifactCache {
    pub fn new(dir: PathBuf, engine: &Engine) -> ArtifactCache {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ArtifactCache { dir, engine_key: format!("{:016x}", hasher.finish()) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn artifact_path(&self, sha256_hex: &str) -> PathBuf {
        self.dir.join(format!("{sha256_hex}-{}.cwasm", self.engine_key))
    }

    /// The cached component for this sha256, or None on any kind of miss.
    pub fn get(&self, engine: &Engine, sha256_hex: &str) -> Option<Component> {
        let path = self.artifact_path(sha256_hex);
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: the artifact was written by `put` below from a component this engine
        // compiled; the file name binds it to the component's hash and the engine's
        // compatibility hash, and deserialize itself checks the header. A file that fails
        // to deserialize is treated as a miss and overwritten.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::debug!(path = %path.display(), %error, "stale or corrupt artifact; recompiling");
                None
            }
        }
    }

    /// Stores a compiled component. Written to a temp name and renamed, so a reader never
    /// sees half an artifact. Failures are logged and ignored: the cache is an optimisation.
    pub fn put(&self, sha256_hex: &str, component: &Component) {
        let result = (|| -> anyhow::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let bytes = component.serialize().map_err(anyhow::Error::from)?;
            let final_path = self.artifact_path(sha256_hex);
            let temp_path = final_path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&temp_path, bytes)?;
            std::fs::rename(&temp_path, &final_path)?;
            Ok(())
        })();
        if let Err(error) = result {
            tracing::warn!(dir = %self.dir.display(), %error, "could not write a plugin artifact to the cache");
        }
    }
}

//! Compiled components cached on disk, so that starting the app again (every
//! test does) skips Cranelift. Keyed on the wasm bytes and the engine's
//! compatibility hash; `DEVHOST_CACHE_DIR=off` disables it.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasmtime::component::Component;
use wasmtime::Engine;

fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("DEVHOST_CACHE_DIR") {
        Some(dir) if dir == "off" => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/streamia-devhost")),
    }
}

pub fn load_component(engine: &Engine, path: &Path) -> Result<Component> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let Some(dir) = cache_dir() else {
        return Component::new(engine, &bytes).map_err(Into::into);
    };
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let file = dir.join(format!("{:016x}.cwasm", hasher.finish()));
    if file.exists() {
        // SAFETY: the file was written by `Component::serialize` below, in a
        // directory of the user's own, for an engine with this same hash.
        match unsafe { Component::deserialize_file(engine, &file) } {
            Ok(component) => return Ok(component),
            Err(e) => crate::log::info(format_args!("ignoring unusable cache entry {}: {e}", file.display())),
        }
    }
    let component = Component::new(engine, &bytes)?;
    if let Err(e) = store(&component, &dir, &file) {
        crate::log::info(format_args!("could not cache the compiled component: {e:#}"));
    }
    Ok(component)
}

fn store(component: &Component, dir: &Path, file: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, component.serialize()?)?;
    // Rename is atomic, so a concurrent devhost never reads half a file.
    std::fs::rename(&tmp, file)?;
    Ok(())
}

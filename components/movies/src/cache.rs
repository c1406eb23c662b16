//! The key-value store as the catalogue's cache (shared with movies-events,
//! which invalidates it when rating aggregates arrive over Redis).

use streamia_movies::Cache;

/// The component's key-value store (spin.toml).
const CACHE_STORE: &str = "movies";

/// A cache that fails is a cache miss, never a failed request.
pub struct KvCache(Option<spin_sdk::key_value::Store>);

impl KvCache {
    pub fn open() -> Self {
        match spin_sdk::key_value::Store::open(CACHE_STORE) {
            Ok(store) => KvCache(Some(store)),
            Err(e) => {
                eprintln!("movies cache unavailable: {e:?}");
                KvCache(None)
            }
        }
    }
}

impl Cache for KvCache {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.as_ref()?.get(key).ok().flatten()
    }
    fn set(&self, key: &str, value: &[u8]) {
        if let Some(store) = &self.0 {
            if let Err(e) = store.set(key, value) {
                eprintln!("movies cache: set {key} failed: {e:?}");
            }
        }
    }
    fn delete(&self, key: &str) {
        if let Some(store) = &self.0 {
            if let Err(e) = store.delete(key) {
                eprintln!("movies cache: delete {key} failed: {e:?}");
            }
        }
    }
}

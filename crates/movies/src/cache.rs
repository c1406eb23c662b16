//! The catalogue's cache: one small trait, with Spin's key-value store behind
//! it in the components ([`KvCache`], shared by `movies` and
//! `movies-events`, which drops entries when rating aggregates arrive over
//! Redis) and a map in unit tests ([`MemoryCache`]).

use std::cell::RefCell;
use std::collections::HashMap;

pub trait Cache {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn set(&self, key: &str, value: &[u8]);
    fn delete(&self, key: &str);
}

#[derive(Default)]
pub struct MemoryCache(RefCell<HashMap<String, Vec<u8>>>);

impl Cache for MemoryCache {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.borrow().get(key).cloned()
    }
    fn set(&self, key: &str, value: &[u8]) {
        self.0.borrow_mut().insert(key.to_owned(), value.to_vec());
    }
    fn delete(&self, key: &str) {
        self.0.borrow_mut().remove(key);
    }
}

/// The components' key-value store (spin.toml's `key_value_stores`).
pub const CACHE_STORE: &str = "movies";

/// A Spin key-value store as the cache. A cache that fails is a cache miss,
/// never a failed request.
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

//! The catalogue's cache: one small trait, with Spin's key-value store behind
//! it in the components ([`KvCache`], shared by `movies` and
//! `movies-events`, which drops entries when rating aggregates arrive over
//! Redis) and a map in unit tests ([`MemoryCache`]); and the read-through
//! bookkeeping over it: entries with an expiry, the index of cached list
//! pages that every write drops, the hit and miss counters.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::domain::Movie;
use crate::service::{Movies, LIST_TTL_SECS, MAX_CACHED_LISTS};

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

#[derive(Serialize, Deserialize)]
struct Cached<T> {
    /// Unix seconds after which the entry is stale.
    exp: i64,
    value: T,
}

pub(crate) const LISTS_INDEX: &str = "movies:lists";
pub(crate) const HITS: &str = "movies:stats:hits";
pub(crate) const MISSES: &str = "movies:stats:misses";

pub(crate) fn movie_key(id: &str) -> String {
    format!("movies:movie:{id}")
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

impl CacheStats {
    pub fn read(cache: &dyn Cache) -> Self {
        let read = |k| {
            cache
                .get(k)
                .and_then(|b| String::from_utf8(b).ok()?.parse().ok())
                .unwrap_or(0)
        };
        CacheStats {
            hits: read(HITS),
            misses: read(MISSES),
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CachedPage {
    pub data: Vec<Movie>,
    pub total: u64,
}

impl Movies<'_> {
    pub(crate) fn cached<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Option<T> {
        let bytes = self.cache.get(key)?;
        let entry: Cached<T> = serde_json::from_slice(&bytes).ok()?;
        (entry.exp > self.now.unix()).then_some(entry.value)
    }
    pub(crate) fn store<T: Serialize>(&self, key: &str, value: &T, ttl: i64) {
        let entry = Cached {
            exp: self.now.unix() + ttl,
            value,
        };
        if let Ok(bytes) = serde_json::to_vec(&entry) {
            self.cache.set(key, &bytes);
        }
    }
    pub(crate) fn count(&self, key: &str) {
        let n: u64 = self
            .cache
            .get(key)
            .and_then(|b| String::from_utf8(b).ok()?.parse().ok())
            .unwrap_or(0);
        self.cache.set(key, (n + 1).to_string().as_bytes());
    }
    pub fn cache_stats(&self) -> CacheStats {
        CacheStats::read(self.cache)
    }

    /// Drop a movie's entry (if any) and every cached list page.
    pub(crate) fn invalidate(&self, id: Option<&str>) {
        if let Some(id) = id {
            self.cache.delete(&movie_key(id));
        }
        let keys: Vec<String> = self
            .cache
            .get(LISTS_INDEX)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        for key in keys {
            self.cache.delete(&key);
        }
        self.cache.delete(LISTS_INDEX);
    }

    pub(crate) fn remember_list(&self, key: &str, page: &CachedPage) {
        let mut keys: Vec<String> = self
            .cache
            .get(LISTS_INDEX)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if !keys.iter().any(|k| k == key) {
            if keys.len() >= MAX_CACHED_LISTS {
                return;
            }
            keys.push(key.to_owned());
            self.cache
                .set(LISTS_INDEX, &serde_json::to_vec(&keys).unwrap_or_default());
        }
        self.store(key, page, LIST_TTL_SECS);
    }
}

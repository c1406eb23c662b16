//! Read caches in a service's key-value store: one small trait ([`Cache`]),
//! Spin's key-value store behind it in the components ([`KvCache`]) and a
//! map in unit tests ([`MemoryCache`]); entries that carry their expiry
//! ([`put`], [`fresh`]). A service fills and drops its entries as its
//! writes and events change what they hold; the gateway, granted the same
//! store, answers a hit itself: one component instead of two and a
//! chained call.
//!
//! A cache that fails is a cache miss, never a failed request. On Spin's
//! embedded default a key-value store with a `path` commits every write to
//! a SQLite file, serialized: a hit writes nothing.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub trait Cache {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn set(&self, key: &str, value: &[u8]);
    fn delete(&self, key: &str);
}

/// A map, counting the writes a key-value store would commit.
#[derive(Default)]
pub struct MemoryCache {
    entries: RefCell<HashMap<String, Vec<u8>>>,
    writes: Cell<usize>,
}

impl MemoryCache {
    /// Sets and deletes so far.
    pub fn writes(&self) -> usize {
        self.writes.get()
    }
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }
}

impl Cache for MemoryCache {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.entries.borrow().get(key).cloned()
    }
    fn set(&self, key: &str, value: &[u8]) {
        self.writes.set(self.writes.get() + 1);
        self.entries.borrow_mut().insert(key.to_owned(), value.to_vec());
    }
    fn delete(&self, key: &str) {
        self.writes.set(self.writes.get() + 1);
        self.entries.borrow_mut().remove(key);
    }
}

/// A Spin key-value store (spin.toml's `key_value_stores`) as the cache.
pub struct KvCache {
    name: &'static str,
    store: Option<spin_sdk::key_value::Store>,
}

impl KvCache {
    /// The store `name`; one that cannot be opened is an empty cache (and
    /// the log says why).
    pub fn open(name: &'static str) -> Self {
        match spin_sdk::key_value::Store::open(name) {
            Ok(store) => KvCache {
                name,
                store: Some(store),
            },
            Err(e) => {
                streamia_log::warn(
                    streamia_log::component(),
                    "cache unavailable",
                    streamia_log::json!({"cache": name, "error": format!("{e:?}")}),
                );
                KvCache { name, store: None }
            }
        }
    }

    /// The store when this component has it, silently `None` otherwise (the
    /// gateway of a split deployment may not share it).
    pub fn open_if_granted(name: &'static str) -> Option<Self> {
        spin_sdk::key_value::Store::open(name).ok().map(|store| KvCache {
            name,
            store: Some(store),
        })
    }
}

impl Cache for KvCache {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.store.as_ref()?.get(key).ok().flatten()
    }
    fn set(&self, key: &str, value: &[u8]) {
        if let Some(store) = &self.store {
            if let Err(e) = store.set(key, value) {
                streamia_log::warn(
                    streamia_log::component(),
                    "cache write failed",
                    streamia_log::json!({"cache": self.name, "key": key, "error": format!("{e:?}")}),
                );
            }
        }
    }
    fn delete(&self, key: &str) {
        if let Some(store) = &self.store {
            if let Err(e) = store.delete(key) {
                streamia_log::warn(
                    streamia_log::component(),
                    "cache delete failed",
                    streamia_log::json!({"cache": self.name, "key": key, "error": format!("{e:?}")}),
                );
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Entry<T> {
    /// Unix seconds after which the entry is stale.
    exp: i64,
    /// When the read that filled it began (Unix ms), for an entry that
    /// [`drop_entry`] drops: it holds only if no drop came since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    began: Option<i64>,
    value: T,
}

/// Cache `value` under `key` until `now + ttl` (Unix seconds).
pub fn put<T: Serialize>(cache: &dyn Cache, key: &str, value: &T, now: i64, ttl: i64) {
    let entry = Entry {
        exp: now + ttl,
        began: None,
        value,
    };
    if let Ok(bytes) = serde_json::to_vec(&entry) {
        cache.set(key, &bytes);
    }
}

/// The value under `key`, if still fresh at `now` (Unix seconds).
pub fn fresh<T: for<'de> Deserialize<'de>>(cache: &dyn Cache, key: &str, now: i64) -> Option<T> {
    let bytes = cache.get(key)?;
    let entry: Entry<T> = serde_json::from_slice(&bytes).ok()?;
    (entry.exp > now).then_some(entry.value)
}

/// An entry [`drop_entry`] drops: the value under `key` if still fresh at
/// `now` (Unix seconds) and filled by a read that began after its last
/// drop (one that does not say when it began is a miss).
pub fn fresh_unless_dropped<T: for<'de> Deserialize<'de>>(cache: &dyn Cache, key: &str, now: i64) -> Option<T> {
    let bytes = cache.get(key)?;
    let entry: Entry<T> = serde_json::from_slice(&bytes).ok()?;
    let began = entry.began?;
    (entry.exp > now && !dropped_since(cache, key, began)).then_some(entry.value)
}

/// What a dropped entry holds: when it was dropped (Unix ms).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Dropped {
    dropped_at: i64,
}

/// Where the mark of `key`'s last drop is kept: beside the entry, so that
/// no fill overwrites it.
fn mark_key(key: &str) -> String {
    format!("{key}#dropped")
}

/// Was `key` dropped at or after `began_ms`?
fn dropped_since(cache: &dyn Cache, key: &str, began_ms: i64) -> bool {
    cache
        .get(&mark_key(key))
        .and_then(|b| serde_json::from_slice::<Dropped>(&b).ok())
        .is_some_and(|mark| mark.dropped_at >= began_ms)
}

/// Drop the entry under `key` after a change was committed at `now_ms`:
/// the entry replaced by a mark of when, and the mark kept beside it too.
/// Replacing the entry drops it whatever the clocks say (replicas' clocks
/// differ). A read that began before the change may have seen what was
/// there before it, and a key-value store has no compare-and-set, so such a
/// read may still fill the entry after the drop (its check and its write
/// are two calls, another process's drop can fall between them); the mark
/// beside it makes that entry a miss ([`fresh_unless_dropped`] compares
/// when its read began), and [`put_unless_dropped_since`] skips the write
/// when it can tell already.
pub fn drop_entry(cache: &dyn Cache, key: &str, now_ms: i64) {
    if let Ok(bytes) = serde_json::to_vec(&Dropped { dropped_at: now_ms }) {
        cache.set(&mark_key(key), &bytes);
        cache.set(key, &bytes);
    }
}

/// [`put`] a value read by a request that began at `read_began_ms`, unless
/// the entry was dropped since then (the value may be older than that
/// change; the next read fills it).
pub fn put_unless_dropped_since<T: Serialize>(cache: &dyn Cache, key: &str, value: &T, read_began_ms: i64, ttl: i64) {
    if !dropped_since(cache, key, read_began_ms) {
        put_began(cache, key, value, read_began_ms, ttl);
    }
}

fn put_began<T: Serialize>(cache: &dyn Cache, key: &str, value: &T, began_ms: i64, ttl: i64) {
    let entry = Entry {
        exp: began_ms.div_euclid(1000) + ttl,
        began: Some(began_ms),
        value,
    };
    if let Ok(bytes) = serde_json::to_vec(&entry) {
        cache.set(key, &bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_began_before_a_drop_does_not_fill_the_entry_again() {
        let c = MemoryCache::default();
        put_unless_dropped_since(&c, "k", &1, 10_000, 60);
        assert_eq!(fresh_unless_dropped::<i32>(&c, "k", 10), Some(1));
        drop_entry(&c, "k", 10_500);
        assert_eq!(fresh_unless_dropped::<i32>(&c, "k", 10), None, "dropped: a miss");
        put_unless_dropped_since(&c, "k", &1, 10_400, 60);
        assert_eq!(
            fresh_unless_dropped::<i32>(&c, "k", 11),
            None,
            "began before the drop: not filled"
        );
        put_unless_dropped_since(&c, "k", &2, 10_600, 60);
        assert_eq!(fresh_unless_dropped::<i32>(&c, "k", 11), Some(2), "began after: filled");
        put(&c, "k", &3, 11, 60);
        assert_eq!(
            fresh_unless_dropped::<i32>(&c, "k", 11),
            None,
            "an entry that does not say when its read began"
        );
    }

    #[test]
    fn a_fill_that_lands_after_a_drop_it_raced_is_a_miss() {
        let c = MemoryCache::default();
        // A read began at 10.4 s and saw the old value; its check found no
        // drop; a drop committed at 10.5 s fell between its check and its write.
        assert!(!dropped_since(&c, "k", 10_400));
        drop_entry(&c, "k", 10_500);
        put_began(&c, "k", &"old", 10_400, 60);
        assert_eq!(
            fresh_unless_dropped::<String>(&c, "k", 11),
            None,
            "the drop still holds"
        );
        put_unless_dropped_since(&c, "k", &"new", 10_600, 60);
        assert_eq!(fresh_unless_dropped::<String>(&c, "k", 11).as_deref(), Some("new"));
    }

    #[test]
    fn an_entry_is_fresh_until_its_expiry_and_a_bad_one_is_a_miss() {
        let c = MemoryCache::default();
        put(&c, "k", &vec![1, 2, 3], 100, 10);
        assert_eq!(fresh::<Vec<i32>>(&c, "k", 109), Some(vec![1, 2, 3]));
        assert_eq!(fresh::<Vec<i32>>(&c, "k", 110), None, "stale");
        assert_eq!(fresh::<String>(&c, "k", 100), None, "another shape is a miss");
        c.set("bad", b"not json");
        assert_eq!(fresh::<Vec<i32>>(&c, "bad", 0), None);
        assert_eq!(c.writes(), 2);
    }
}

//! Shared state as integer counters changed only by atomic increments. The
//! gateway's — rate-limit windows, breaker figures, metrics — are in its
//! key-value store (`wasi:keyvalue/atomics`): in memory on the embedded
//! default (one process; no file commit per request), Redis (`INCRBY`) when
//! the runtime config puts the store there, shared by every replica. A
//! service's breaker around a dependency keeps them in its own database.
//!
//! A counter that belongs to a time window carries its expiry in its key
//! (`x<unix ms>:…`), as a key-value store has no TTL: [`sweep`] deletes the
//! expired ones, and the gateway runs it on a sample of requests.

use std::cell::RefCell;
use std::collections::BTreeMap;

/// The store failed; the caller then lets the request through (an outage
/// of its own state must not take the API down) and says so in its log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("breaker and limit state: {0}")]
pub struct CounterError(pub String);

pub trait Counters {
    /// Adds `delta` to `key` (a missing key counts as 0) and returns the new
    /// value, atomically.
    fn add(&self, key: &str, delta: i64) -> Result<i64, CounterError>;
    fn keys(&self) -> Result<Vec<String>, CounterError>;
    fn remove(&self, key: &str) -> Result<(), CounterError>;

    fn get(&self, key: &str) -> Result<i64, CounterError> {
        self.add(key, 0)
    }

    /// Sets `key` to `value`. Two racing sets may leave either value, which
    /// is all the breaker's state changes need.
    fn set(&self, key: &str, value: i64) -> Result<(), CounterError> {
        let current = self.get(key)?;
        if current != value {
            self.add(key, value - current)?;
        }
        Ok(())
    }
}

/// The key of a counter that expires at `expires_ms`.
pub fn expiring(expires_ms: u64, key: &str) -> String {
    format!("x{expires_ms}:{key}")
}

/// When an expiring key expires; `None` for any other key.
fn expiry(key: &str) -> Option<u64> {
    key.strip_prefix('x')?.split_once(':')?.0.parse().ok()
}

/// Deletes the counters expired by `now_ms`; returns how many.
pub fn sweep(counters: &dyn Counters, now_ms: u64) -> Result<usize, CounterError> {
    let mut removed = 0;
    for key in counters.keys()? {
        if expiry(&key).is_some_and(|at| at <= now_ms) {
            counters.remove(&key)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Counters in a map: what unit tests use.
#[derive(Default)]
pub struct MemoryCounters(RefCell<BTreeMap<String, i64>>);

impl Counters for MemoryCounters {
    fn add(&self, key: &str, delta: i64) -> Result<i64, CounterError> {
        let mut map = self.0.borrow_mut();
        let value = map.entry(key.to_owned()).or_insert(0);
        *value += delta;
        Ok(*value)
    }

    fn keys(&self) -> Result<Vec<String>, CounterError> {
        Ok(self.0.borrow().keys().cloned().collect())
    }

    fn remove(&self, key: &str) -> Result<(), CounterError> {
        self.0.borrow_mut().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_only_expired_windows() {
        let c = MemoryCounters::default();
        c.add(&expiring(1_000, "rl:a"), 1).unwrap();
        c.add(&expiring(5_000, "rl:b"), 1).unwrap();
        c.add("m:requests", 3).unwrap();
        assert_eq!(sweep(&c, 2_000).unwrap(), 1);
        assert_eq!(
            c.keys().unwrap(),
            vec!["m:requests".to_owned(), expiring(5_000, "rl:b")]
        );
    }

    #[test]
    fn set_moves_a_counter_to_a_value() {
        let c = MemoryCounters::default();
        c.set("k", 42).unwrap();
        c.set("k", 7).unwrap();
        assert_eq!(c.get("k").unwrap(), 7);
    }
}

//! The gateway's shared state: [`Counters`] in its key-value store `gateway`
//! through `wasi:keyvalue` atomic increments. The runtime config decides
//! where they live: in memory on the embedded default (no file commit per
//! request), Redis with runtime-config.redis.toml (shared by replicas).

use spin_sdk::wit::wasi::keyvalue::{atomics, store};
use streamia_gateway::counters::{CounterError, Counters};

pub const STORE: &str = "gateway";

pub struct KvCounters(store::Bucket);

fn err(e: store::Error) -> CounterError {
    CounterError(match e {
        store::Error::NoSuchStore => format!("no key-value store {STORE:?} in the runtime config"),
        store::Error::AccessDenied => format!("the gateway may not use the key-value store {STORE:?}"),
        store::Error::Other(message) => message,
    })
}

impl KvCounters {
    pub fn open() -> Result<Self, CounterError> {
        store::open(STORE).map(KvCounters).map_err(err)
    }

    /// Whether the store answers a read (the gateway's readiness).
    pub fn answers(&self) -> Result<(), CounterError> {
        self.0.exists("health").map(|_| ()).map_err(err)
    }
}

impl Counters for KvCounters {
    fn add(&self, key: &str, delta: i64) -> Result<i64, CounterError> {
        atomics::increment(&self.0, key, delta).map_err(err)
    }

    fn keys(&self) -> Result<Vec<String>, CounterError> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self.0.list_keys(cursor.as_deref()).map_err(err)?;
            keys.extend(page.keys);
            match page.cursor {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                _ => return Ok(keys),
            }
        }
    }

    fn remove(&self, key: &str) -> Result<(), CounterError> {
        self.0.delete(key).map_err(err)
    }
}

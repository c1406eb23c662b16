//! The sent log: the newest e-mails sent, in the component's key-value
//! store (the `log` provider's mailbox on a development machine), trimmed
//! to [`SENT_LOG_MAX`] entries. Best effort: a failing store never fails
//! an e-mail.

use crate::domain::SentEntry;

const SENT_PREFIX: &str = "sent:";
/// The sent log keeps this many entries, dropping the oldest.
pub const SENT_LOG_MAX: usize = 500;

/// A key-value store: Spin's in the components, a map in unit tests.
pub trait KeyValue {
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String>;
    fn delete(&self, key: &str);
    fn keys(&self) -> Result<Vec<String>, String>;
}

pub struct SentLog<'a>(pub &'a dyn KeyValue);

impl SentLog<'_> {
    pub fn record(&self, entry: &SentEntry) {
        let value = serde_json::to_vec(entry).unwrap_or_default();
        if let Err(e) = self.0.set(&format!("{SENT_PREFIX}{}", entry.id), &value) {
            streamia_log::warn(crate::SERVICE, "sent log not written", streamia_log::because(e));
        }
        // Ids are UUIDv7: in key order the oldest come first.
        if let Ok(mut keys) = self.0.keys() {
            keys.retain(|k| k.starts_with(SENT_PREFIX));
            if keys.len() > SENT_LOG_MAX {
                keys.sort();
                for old in &keys[..keys.len() - SENT_LOG_MAX] {
                    self.0.delete(old);
                }
            }
        }
    }

    /// The newest `limit` entries, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<serde_json::Value>, String> {
        let mut keys = self.0.keys()?;
        keys.retain(|k| k.starts_with(SENT_PREFIX));
        keys.sort();
        keys.reverse();
        Ok(keys
            .iter()
            .take(limit)
            .filter_map(|k| self.0.get(k))
            .filter_map(|v| serde_json::from_slice(&v).ok())
            .collect())
    }
}

//! Streamia events (SPEC §5).
//!
//! Layout: the payload types and [`Event`] are generated from
//! `wit/events/events.wit` (see `build.rs`); [`Envelope`] is what travels;
//! [`outbox`] stores events in the producer's database in the same
//! transaction as the change and tracks their delivery; [`transport`]
//! delivers them over HTTP (service chaining, a service's URL, or a route of
//! the same app ([`internal`]), to subscribers' `/events`) or a Redis
//! stream ([`stream`]); [`consumer`] applies an event at most once
//! per service; [`dead_letter`] counts failed tries and parks what keeps
//! failing; [`tombstone`] remembers what a deletion saga removed;
//! [`known`] the movies a service has seen, so its writes need not ask.

pub mod consumer;
pub mod dead_letter;
pub mod internal;
pub mod known;
pub mod outbox;
pub mod retry;
pub mod stream;
pub mod tombstone;
pub mod transport;

#[cfg(test)]
mod delivery_tests;

mod payloads {
    include!(concat!(env!("OUT_DIR"), "/payloads.rs"));
}

pub use payloads::*;

use serde::{Deserialize, Serialize};

/// Channel of an event type: `streamia.<event type>`.
pub fn channel(event_type: &str) -> String {
    format!("streamia.{event_type}")
}

pub const ENVELOPE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub event_id: String,
    pub event_type: String,
    /// RFC 3339, UTC.
    pub occurred_at: String,
    /// The producing service.
    pub source: String,
    pub version: u32,
    pub data: serde_json::Value,
}

impl Envelope {
    /// `event` from `source`, occurring `now`.
    pub fn new(event: &Event, source: &str, now: streamia_clock::Now) -> Self {
        Envelope {
            event_id: uuid::Uuid::now_v7().to_string(),
            event_type: event.event_type().to_owned(),
            occurred_at: now.rfc3339(),
            source: source.to_owned(),
            version: ENVELOPE_VERSION,
            data: event.data(),
        }
    }

    /// The typed event; `Ok(None)` for a type this build does not know
    /// (consumers log and acknowledge those).
    pub fn event(&self) -> Result<Option<Event>, serde_json::Error> {
        Event::from_data(&self.event_type, self.data.clone())
    }

    pub fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn to_json(&self) -> String {
        // A struct of strings and a JSON value always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    const NOW: streamia_clock::Now = streamia_clock::Now::at(1_800_000_000);
    use super::*;

    #[test]
    fn envelopes_round_trip_in_camel_case() {
        let event = Event::UserRegistered(UserRegistered {
            user_id: "u1".into(),
            email: "ana@example.com".into(),
            username: "ana".into(),
            role: "user".into(),
        });
        let env = Envelope::new(&event, "users", NOW);
        let json: serde_json::Value = serde_json::from_str(&env.to_json()).unwrap();
        assert_eq!(json["eventType"], "user.registered");
        assert_eq!(json["source"], "users");
        assert_eq!(json["version"], 1);
        assert_eq!(json["data"]["userId"], "u1");
        assert!(json["occurredAt"].as_str().unwrap().ends_with('Z'));
        let back = Envelope::parse(env.to_json().as_bytes()).unwrap();
        assert_eq!(back.event().unwrap(), Some(event));
        assert_eq!(channel(&back.event_type), "streamia.user.registered");
    }

    #[test]
    fn unknown_event_types_are_not_errors_but_bad_data_is() {
        let mut env = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "u".into() }), "users", NOW);
        env.event_type = "something.new".into();
        assert_eq!(env.event().unwrap(), None);
        env.event_type = "user.deleted".into();
        env.data = serde_json::json!({"userId": 5});
        assert!(env.event().is_err());
    }

    /// The JSON Schemas in wit/schemas/ are kept in step with wit/events/events.wit;
    /// `UPDATE_SCHEMAS=1 cargo test -p streamia-events` rewrites them.
    #[test]
    fn checked_in_json_schemas_match_the_wit() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit/schemas");
        for (event_type, schema) in SCHEMAS {
            let value: serde_json::Value = serde_json::from_str(schema).unwrap();
            let pretty = serde_json::to_string_pretty(&value).unwrap() + "\n";
            let file = dir.join(format!("{event_type}.schema.json"));
            if std::env::var_os("UPDATE_SCHEMAS").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&file, &pretty).unwrap();
            }
            let on_disk = std::fs::read_to_string(&file).unwrap_or_default();
            assert_eq!(
                on_disk,
                pretty,
                "{} is out of date: run UPDATE_SCHEMAS=1 cargo test -p streamia-events",
                file.display()
            );
        }
        let files = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert_eq!(
            files,
            SCHEMAS.len(),
            "wit/schemas/ holds a schema for an event that no longer exists"
        );
    }
}

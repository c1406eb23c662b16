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
pub mod drain;
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
    /// The W3C `traceparent` of the request that wrote the event: its
    /// delivery over http carries it, and consumers log its trace id, so
    /// that a write and the effects it causes are found as one trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
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
            traceparent: None,
        }
    }

    /// The same event, written in the trace `traceparent` belongs to.
    pub fn traced(self, traceparent: Option<&str>) -> Self {
        Envelope {
            traceparent: traceparent.map(str::to_owned),
            ..self
        }
    }

    /// The trace id of the write that published it, if it was traced.
    pub fn trace_id(&self) -> Option<&str> {
        trace_id_of(self.traceparent.as_deref()?)
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

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`);
/// `None` unless it is well formed (it goes into logs and onward calls).
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let parts: Vec<&str> = traceparent.split('-').collect();
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    match parts.as_slice() {
        [version, trace, span, flags] if hex(version, 2) && hex(trace, 32) && hex(span, 16) && hex(flags, 2) => {
            Some(trace)
        }
        _ => None,
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
    fn only_a_well_formed_traceparent_gives_a_trace_id() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(trace_id_of(&format!("00-{id}-00f067aa0ba902b7-01")), Some(id));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nforged",
        ] {
            assert_eq!(trace_id_of(bad), None, "{bad:?}");
        }
        // Envelopes written before traces had no field: they still parse.
        let old =
            r#"{"eventId":"e","eventType":"user.deleted","occurredAt":"t","source":"users","version":1,"data":{}}"#;
        assert_eq!(Envelope::parse(old.as_bytes()).unwrap().trace_id(), None);
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

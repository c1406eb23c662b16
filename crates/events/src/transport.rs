//! Delivering the outbox (variable `event_transport`):
//! - `http`: POST the envelope to each subscriber's `/events` URL — over
//!   service chaining on one Spin app, or a service URL in a split
//!   deployment. Needs no Redis; the embedded default and Fermyon Cloud.
//! - `redis`: PUBLISH the envelope on `streamia.<event type>`; subscribers
//!   are `[[trigger.redis]]` components.

use streamia_db::{Db, DbError};

use crate::outbox::Outbox;
use crate::Envelope;

#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Http(Vec<Subscription>),
    Redis { address: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// An event type, or `*` for all.
    pub event_type: String,
    pub url: String,
}

/// The delivery key recorded for Redis (never the address: it may hold a password).
const REDIS_TARGET: &str = "redis";

impl Transport {
    /// `subscribers`: `event.type=url` entries separated by commas or
    /// whitespace, e.g. `user.registered=http://notifications.spin.internal/events`.
    pub fn parse(kind: &str, subscribers: &str, redis_url: &str) -> Result<Self, String> {
        match kind.trim() {
            "http" => {
                let mut subs = Vec::new();
                for entry in subscribers
                    .split([',', ' ', '\n'])
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                {
                    let (event_type, url) = entry
                        .split_once('=')
                        .ok_or_else(|| format!("event subscriber {entry:?} is not `event.type=url`"))?;
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(format!("event subscriber URL {url:?} must be http(s)"));
                    }
                    subs.push(Subscription {
                        event_type: event_type.trim().to_owned(),
                        url: url.trim().to_owned(),
                    });
                }
                Ok(Transport::Http(subs))
            }
            "redis" => {
                if !redis_url.starts_with("redis://") && !redis_url.starts_with("rediss://") {
                    return Err("event_transport = redis needs redis_url = redis://host:port".into());
                }
                Ok(Transport::Redis {
                    address: redis_url.to_owned(),
                })
            }
            other => Err(format!("event_transport must be http or redis, not {other:?}")),
        }
    }

    fn targets(&self, event_type: &str) -> Vec<&str> {
        match self {
            Transport::Http(subs) => subs
                .iter()
                .filter(|s| s.event_type == event_type || s.event_type == "*")
                .map(|s| s.url.as_str())
                .collect(),
            Transport::Redis { .. } => vec![REDIS_TARGET],
        }
    }

    async fn send(&self, target: &str, envelope: &Envelope) -> Result<(), String> {
        match self {
            Transport::Http(_) => {
                let req = spin_sdk::http::Request::builder()
                    .method(spin_sdk::http::Method::Post)
                    .uri(target)
                    .header("content-type", "application/json")
                    .header("x-streamia-event-type", envelope.event_type.as_str())
                    .body(envelope.to_json())
                    .build();
                let resp: spin_sdk::http::Response = spin_sdk::http::send(req)
                    .await
                    .map_err(|e| format!("POST {target}: {e}"))?;
                match *resp.status() {
                    200..=299 => Ok(()),
                    status => Err(format!("POST {target}: status {status}")),
                }
            }
            Transport::Redis { address } => {
                let conn = spin_sdk::redis::Connection::open(address).map_err(|e| format!("redis: {e:?}"))?;
                conn.publish(&crate::channel(&envelope.event_type), &envelope.to_json().into_bytes())
                    .map_err(|e| format!("redis publish: {e:?}"))
            }
        }
    }
}

#[derive(Debug, Default, PartialEq)]
pub struct FlushReport {
    pub delivered: usize,
    pub failed: usize,
}

/// Deliver this request's own events, then a few older ones that are due
/// (their request failed to deliver them, or never got to). Failures stay
/// for a later flush; delivery is at least once (consumers skip duplicates).
pub async fn flush(db: &dyn Db, outbox: &Outbox, transport: &Transport) -> Result<FlushReport, DbError> {
    let now = streamia_clock::Now::system().unix();
    let mut batch = outbox.own(db)?;
    for older in outbox.due(db, now, BACKLOG_PER_FLUSH)? {
        if !batch.iter().any(|p| p.envelope.event_id == older.envelope.event_id) {
            batch.push(older);
        }
    }
    let mut report = FlushReport::default();
    for pending in batch {
        let env = &pending.envelope;
        let done = match pending.attempts {
            0 => Vec::new(),
            _ => outbox.delivered_targets(db, &env.event_id)?,
        };
        let mut sent = Vec::new();
        let mut failure = None;
        for target in transport.targets(&env.event_type) {
            if done.iter().any(|d| d == target) {
                continue;
            }
            match transport.send(target, env).await {
                Ok(()) => sent.push(target),
                Err(e) => failure = Some(e),
            }
        }
        match failure {
            // One write when every target took it.
            None => {
                outbox.mark_delivered(db, &env.event_id)?;
                report.delivered += 1;
            }
            // The targets that took it are not sent it again.
            Some(e) => {
                for target in sent {
                    outbox.record_delivery(db, &env.event_id, target)?;
                }
                eprintln!(
                    "outbox {}: delivering {} {} failed (attempt {}): {e}",
                    outbox.source(),
                    env.event_type,
                    env.event_id,
                    pending.attempts + 1
                );
                outbox.mark_failed(db, &env.event_id, pending.attempts, &e, now)?;
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// Older due events one flush retries besides its own.
const BACKLOG_PER_FLUSH: u32 = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_parse_and_match() {
        let t = Transport::parse(
            "http",
            "user.registered=http://notifications.spin.internal/events, *=http://audit.spin.internal/events",
            "",
        )
        .unwrap();
        assert_eq!(
            t.targets("user.registered"),
            vec![
                "http://notifications.spin.internal/events",
                "http://audit.spin.internal/events"
            ]
        );
        assert_eq!(t.targets("user.deleted"), vec!["http://audit.spin.internal/events"]);
        assert_eq!(
            Transport::parse("http", "", "").unwrap().targets("x"),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn bad_configuration_is_refused() {
        assert!(Transport::parse("kafka", "", "").is_err());
        assert!(Transport::parse("http", "user.registered", "").is_err());
        assert!(Transport::parse("http", "a=ftp://x", "").is_err());
        assert!(Transport::parse("redis", "", "").is_err());
        assert_eq!(
            Transport::parse("redis", "", "redis://127.0.0.1:6379")
                .unwrap()
                .targets("user.deleted"),
            vec!["redis"]
        );
    }
}

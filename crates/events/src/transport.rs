//! Delivering the outbox (variable `event_transport`):
//! - `http`: POST the envelope to each subscriber's `/events` URL — over
//!   service chaining on one Spin app, a service URL in a split
//!   deployment, or a route of the same app where there is no chaining
//!   (Fermyon Cloud: [`crate::internal`]). Needs no Redis.
//! - `redis`: append the envelope to the stream every consuming service
//!   reads through its consumer group, and ring `streamia.<event type>`
//!   ([`crate::stream`]); consumers are `[[trigger.redis]]` components.

use streamia_db::{Db, DbError};

use crate::outbox::{Outbox, Pending};
use crate::retry::Retry;
use crate::Envelope;
use streamia_clock::Now;

#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Http(Vec<Subscription>),
    Redis { address: String, max_len: u64 },
}

/// The stream keeps about this many entries unless `event_stream_maxlen` says otherwise.
pub const DEFAULT_STREAM_MAX_LEN: u64 = 100_000;

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
    /// whitespace, e.g. `user.registered=http://notifications.spin.internal/events`;
    /// a URL may be a path, a route of this same app (`/internal/notifications/events`).
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
                    let url = url.trim();
                    if !(url.starts_with("http://") || url.starts_with("https://") || crate::internal::is_same_app(url))
                    {
                        return Err(format!(
                            "event subscriber URL {url:?} must be http(s), or a path of this app"
                        ));
                    }
                    subs.push(Subscription {
                        event_type: event_type.trim().to_owned(),
                        url: url.to_owned(),
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
                    max_len: DEFAULT_STREAM_MAX_LEN,
                })
            }
            other => Err(format!("event_transport must be http or redis, not {other:?}")),
        }
    }

    /// `event_stream_maxlen`: how many entries the Redis stream keeps (at least 1,000).
    pub fn with_stream_max_len(self, max_len: &str) -> Result<Self, String> {
        match self {
            Transport::Redis { address, .. } => match max_len.trim().parse::<u64>() {
                Ok(n) if n >= 1000 => Ok(Transport::Redis { address, max_len: n }),
                _ => Err(format!(
                    "event_stream_maxlen must be a whole number of at least 1000, not {max_len:?}"
                )),
            },
            http => Ok(http),
        }
    }

    pub fn is_redis(&self) -> bool {
        matches!(self, Transport::Redis { .. })
    }
}

/// Where events go and how one is sent: the [`Transport`] on a host, a
/// fake in the tests of delivery.
pub trait Courier {
    /// The targets an event of `event_type` goes to (delivery is recorded per target).
    fn targets(&self, event_type: &str) -> Vec<&str>;
    fn send(&self, target: &str, envelope: &Envelope) -> impl std::future::Future<Output = Result<(), String>>;
}

impl Courier for Transport {
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
                let mut req = spin_sdk::http::Request::builder()
                    .method(spin_sdk::http::Method::Post)
                    .uri(target)
                    .header("content-type", "application/json")
                    .header("x-streamia-event-type", envelope.event_type.as_str())
                    .body(envelope.to_json())
                    .build();
                // Spin puts the current span's context here when it traces
                // (a delivery right after the write is in the write's trace);
                // without tracing, the write's own is passed on.
                if let Some(traceparent) = &envelope.traceparent {
                    req.set_header("traceparent", traceparent.as_str());
                }
                crate::internal::sign(&mut req);
                let resp: spin_sdk::http::Response = spin_sdk::http::send(req)
                    .await
                    .map_err(|e| format!("POST {target}: {e}"))?;
                match *resp.status() {
                    200..=299 => Ok(()),
                    status => Err(format!("POST {target}: status {status}")),
                }
            }
            Transport::Redis { address, max_len } => crate::stream::append(address, envelope, *max_len),
        }
    }
}

#[derive(Debug, Default, PartialEq, serde::Serialize)]
pub struct FlushReport {
    pub delivered: usize,
    pub failed: usize,
}

/// Deliver this request's own events, then a few older ones that are due
/// (their request failed to deliver them, or never got to). Failures stay
/// for a later flush; delivery is at least once (consumers skip duplicates).
/// `retry` is asked only when a delivery fails.
pub async fn flush(
    db: &dyn Db,
    outbox: &Outbox,
    transport: &impl Courier,
    now: Now,
    retry: impl Fn() -> Retry,
) -> Result<FlushReport, DbError> {
    let mut batch = outbox.own(db)?;
    for older in outbox.claim_due(db, now.unix_ms(), BACKLOG_PER_FLUSH)? {
        if !batch.iter().any(|p| p.envelope.event_id == older.envelope.event_id) {
            batch.push(older);
        }
    }
    deliver(db, outbox, transport, batch, now, retry).await
}

/// The relay's pass: up to `limit` due events, oldest first, without a
/// request that wrote them.
pub async fn flush_due(
    db: &dyn Db,
    outbox: &Outbox,
    transport: &impl Courier,
    limit: u32,
    now: Now,
    retry: impl Fn() -> Retry,
) -> Result<FlushReport, DbError> {
    let batch = outbox.claim_due(db, now.unix_ms(), limit)?;
    deliver(db, outbox, transport, batch, now, retry).await
}

async fn deliver(
    db: &dyn Db,
    outbox: &Outbox,
    transport: &impl Courier,
    batch: Vec<Pending>,
    now: Now,
    retry: impl Fn() -> Retry,
) -> Result<FlushReport, DbError> {
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
                outbox.mark_delivered(db, &env.event_id, now)?;
                report.delivered += 1;
            }
            // The targets that took it are not sent it again.
            Some(e) => {
                for target in sent {
                    outbox.record_delivery(db, &env.event_id, target, now)?;
                }
                let fields = streamia_log::json!({"eventType": env.event_type, "eventId": env.event_id,
                    "attempt": pending.attempts + 1, "error": e});
                streamia_log::warn(outbox.source(), "event not delivered", fields);
                outbox.mark_failed(db, &env.event_id, pending.attempts, &e, now.unix_ms(), &retry())?;
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
        // A route of the same app (spin.cloud.toml).
        let same_app = Transport::parse("http", "user.deleted=/internal/ratings/events", "").unwrap();
        assert_eq!(same_app.targets("user.deleted"), vec!["/internal/ratings/events"]);
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
        assert!(Transport::parse("http", "a=ratings/events", "").is_err());
        assert!(Transport::parse("redis", "", "").is_err());
        let redis = Transport::parse("redis", "", "redis://127.0.0.1:6379").unwrap();
        assert_eq!(redis.targets("user.deleted"), vec!["redis"]);
        assert!(redis.clone().with_stream_max_len("999").is_err());
        assert!(redis.clone().with_stream_max_len("lots").is_err());
        assert_eq!(
            redis.with_stream_max_len("5000").unwrap(),
            Transport::Redis {
                address: "redis://127.0.0.1:6379".into(),
                max_len: 5000
            }
        );
        let http = Transport::parse("http", "", "").unwrap();
        assert_eq!(
            http.clone().with_stream_max_len("x").unwrap(),
            http,
            "http has no stream"
        );
    }
}

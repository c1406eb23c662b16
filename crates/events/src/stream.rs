//! The Redis transport's durable log. Every event is appended to one Redis
//! Stream, [`STREAM`], trimmed to about `event_stream_maxlen` entries, and
//! its channel `streamia.<event type>` is rung as a doorbell (the message is
//! the event id; consumers read the stream, never the message). Each
//! consuming service reads through its own consumer group, named after it:
//! entries new to the group, and entries another reader took but did not
//! acknowledge for a while (it failed, or died). Replicas of one service
//! share its group, so each entry goes to one of them; a service that was
//! down finds in its group everything it missed. An entry is acknowledged
//! once it is applied, known, or parked as a dead letter.

use spin_sdk::redis::{Connection, RedisParameter, RedisResult};
use streamia_clock::Now;
use streamia_db::{Db, DbError};

use crate::consumer::Consumed;
use crate::dead_letter::{Inbox, Received};
use crate::retry::Retry;
use crate::Envelope;

/// The stream every service appends to.
pub const STREAM: &str = "streamia:events";
/// The one field of an entry: the envelope's JSON.
const FIELD: &[u8] = b"e";

/// Entries one read takes: few, so that what a reader holds is applied
/// well within the retry base, before another reader may reclaim it.
const BATCH: i64 = 20;
/// How long one drain goes on while entries wait; then it rings its own
/// doorbell and stops. Spin hands a Redis trigger's messages to components
/// one at a time, so a drain that ran until a long backlog was gone would
/// hold up every other consumer's doorbell meanwhile; in turns of a second
/// they take theirs between ours, and the backlog still goes at full speed.
pub const DRAIN_BUDGET_MS: i64 = 1_000;
/// `XAUTOCLAIM`'s cursor at the start of the pending list, and the one it
/// answers when it has been through all of it.
const FIRST: &str = "0-0";

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub body: Vec<u8>,
}

fn bytes(s: &str) -> RedisParameter {
    RedisParameter::Binary(s.as_bytes().to_vec())
}

fn text(r: &RedisResult) -> Option<&[u8]> {
    match r {
        RedisResult::Binary(b) => Some(b),
        RedisResult::Status(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The entries in an `XREADGROUP` or `XAUTOCLAIM` reply as Spin hands it
/// over: nested arrays flattened, so `stream-or-cursor, id, "e", json, id,
/// "e", json, …` and, for `XAUTOCLAIM`, the ids of entries trimmed away at
/// the end (an id not followed by our field), which are skipped.
pub fn entries(reply: &[RedisResult]) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < reply.len() {
        let field = reply.get(i + 1).and_then(text);
        match (text(&reply[i]), field, reply.get(i + 2).and_then(text)) {
            (Some(id), Some(FIELD), Some(body)) => {
                out.push(Entry {
                    id: String::from_utf8_lossy(id).into_owned(),
                    body: body.to_vec(),
                });
                i += 3;
            }
            _ => i += 1,
        }
    }
    out
}

fn redis_error(what: &str, e: impl std::fmt::Debug) -> String {
    format!("redis {what}: {e:?}")
}

/// Append `envelope` to the stream, then ring its doorbell. Once appended
/// the event is safe: a doorbell that fails to ring is made up for by the
/// next event or the relay.
pub fn append(address: &str, envelope: &Envelope, max_len: u64) -> Result<(), String> {
    let conn = Connection::open(address).map_err(|e| redis_error("connect", e))?;
    conn.execute(
        "XADD",
        &[
            bytes(STREAM),
            bytes("MAXLEN"),
            bytes("~"),
            RedisParameter::Int64(i64::try_from(max_len).unwrap_or(i64::MAX)),
            bytes("*"),
            RedisParameter::Binary(FIELD.to_vec()),
            RedisParameter::Binary(envelope.to_json().into_bytes()),
        ],
    )
    .map_err(|e| redis_error("XADD", e))?;
    if let Err(e) = conn.publish(&crate::channel(&envelope.event_type), envelope.event_id.as_bytes()) {
        let fields = streamia_log::json!({"eventType": envelope.event_type, "error": format!("{e:?}")});
        streamia_log::warn(&envelope.source, "doorbell not rung", fields);
    }
    Ok(())
}

/// Whether Redis at `address` answers (a service's readiness).
pub fn ping(address: &str) -> Result<(), String> {
    let conn = Connection::open(address).map_err(|e| redis_error("connect", e))?;
    conn.execute("PING", &[])
        .map(|_| ())
        .map_err(|e| redis_error("PING", e))
}

/// What a drain does with a service's consumer group: [`Group`] on
/// Redis, an in-memory stream in the tests of delivery.
pub trait ConsumerGroup {
    /// Entries no reader of the group has taken yet.
    fn new_entries(&self) -> Result<Vec<Entry>, String>;
    /// One page of the entries taken but not acknowledged for
    /// `min_idle_ms`, from `cursor` on (`0-0`: the start), now this
    /// reader's; and the cursor of the next page (`0-0`: there is none).
    fn stale_entries(&self, min_idle_ms: i64, cursor: &str) -> Result<(String, Vec<Entry>), String>;
    fn ack(&self, ids: &[&str]) -> Result<(), String>;
    /// Wake this group's readers again (more waits than one drain takes).
    fn ring(&self, event_type: &str);
}

/// A service's consumer group on the stream.
pub struct Group {
    conn: Connection,
    name: String,
}

impl Group {
    pub fn open(address: &str, service: &str) -> Result<Self, String> {
        Ok(Group {
            conn: Connection::open(address).map_err(|e| redis_error("connect", e))?,
            name: service.to_owned(),
        })
    }

    /// `XGROUP CREATE … 0 MKSTREAM`: a group made now starts at the
    /// beginning of what the stream holds, so nothing published before a
    /// service first ran is missed. "Already exists" is not an error.
    fn create(&self) -> Result<(), String> {
        match self.conn.execute(
            "XGROUP",
            &[
                bytes("CREATE"),
                bytes(STREAM),
                bytes(&self.name),
                bytes("0"),
                bytes("MKSTREAM"),
            ],
        ) {
            Ok(_) => Ok(()),
            Err(e) if format!("{e:?}").contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(redis_error("XGROUP CREATE", e)),
        }
    }
}

impl ConsumerGroup for Group {
    fn new_entries(&self) -> Result<Vec<Entry>, String> {
        let read = || {
            self.conn.execute(
                "XREADGROUP",
                &[
                    bytes("GROUP"),
                    bytes(&self.name),
                    bytes(&self.name),
                    bytes("COUNT"),
                    RedisParameter::Int64(BATCH),
                    bytes("STREAMS"),
                    bytes(STREAM),
                    bytes(">"),
                ],
            )
        };
        let reply = match read() {
            Err(e) if format!("{e:?}").contains("NOGROUP") => {
                self.create()?;
                read()
            }
            other => other,
        }
        .map_err(|e| redis_error("XREADGROUP", e))?;
        Ok(entries(&reply))
    }

    fn stale_entries(&self, min_idle_ms: i64, cursor: &str) -> Result<(String, Vec<Entry>), String> {
        let reply = self.conn.execute(
            "XAUTOCLAIM",
            &[
                bytes(STREAM),
                bytes(&self.name),
                bytes(&self.name),
                RedisParameter::Int64(min_idle_ms),
                bytes(cursor),
                bytes("COUNT"),
                RedisParameter::Int64(BATCH),
            ],
        );
        match reply {
            Ok(reply) => {
                let next = reply.first().and_then(text).map(String::from_utf8_lossy);
                Ok((
                    next.map_or_else(|| FIRST.to_owned(), |c| c.into_owned()),
                    entries(&reply),
                ))
            }
            // No group yet: nothing was ever taken.
            Err(e) if format!("{e:?}").contains("NOGROUP") => Ok((FIRST.to_owned(), Vec::new())),
            Err(e) => Err(redis_error("XAUTOCLAIM", e)),
        }
    }

    fn ack(&self, ids: &[&str]) -> Result<(), String> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut args = vec![bytes(STREAM), bytes(&self.name)];
        args.extend(ids.iter().map(|id| bytes(id)));
        self.conn
            .execute("XACK", &args)
            .map(|_| ())
            .map_err(|e| redis_error("XACK", e))
    }

    fn ring(&self, event_type: &str) {
        if let Err(e) = self.conn.publish(&crate::channel(event_type), b"more") {
            streamia_log::warn(
                &self.name,
                "doorbell not rung",
                streamia_log::json!({"error": format!("{e:?}")}),
            );
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DrainReport {
    pub applied: u32,
    pub duplicate: u32,
    pub ignored: u32,
    pub failed: u32,
    pub dead_lettered: u32,
    /// Failed earlier, not yet due again.
    pub waiting: u32,
    /// The drain's time was up with entries still waiting: it rang its own
    /// doorbell, and the next message (or relay pass) goes on.
    pub more: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("{0}")]
    Redis(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Apply what waits in `service`'s group: first every entry left
/// unacknowledged (failed tries whose wait is over, or a dead reader's),
/// then new ones, until none are left or [`DRAIN_BUDGET_MS`] is spent; then
/// it rings its own doorbell ([`DrainReport::more`]). Only the event
/// types in `consumes` (`*`: all) reach `apply`; the others are
/// acknowledged unread, at no cost to the database. `apply` applies one
/// event once (the consumer's event-id record); what it fails is counted by
/// the service's [`Inbox`] and stays pending until its retry or its dead letter.
pub async fn drain(
    group: &impl ConsumerGroup,
    db: &dyn Db,
    service: &str,
    consumes: &[&str],
    retry: &Retry,
    clock: impl Fn() -> Now,
    apply: impl AsyncFn(&Envelope, Now) -> Result<Consumed, String>,
) -> Result<DrainReport, DrainError> {
    let turn = Turn {
        inbox: Inbox::new(db, service),
        service,
        consumes,
        retry,
    };
    let mut report = DrainReport::default();
    let time_up = clock().plus_millis(DRAIN_BUDGET_MS);
    let mut stale_from = Some(FIRST.to_owned());
    loop {
        let (batch, retrying) = match stale_from.take() {
            Some(cursor) => {
                let (next, batch) = group.stale_entries(retry.base_ms, &cursor).map_err(DrainError::Redis)?;
                stale_from = (next != FIRST).then_some(next);
                (batch, true)
            }
            None => (group.new_entries().map_err(DrainError::Redis)?, false),
        };
        if batch.is_empty() && !retrying {
            return Ok(report);
        }
        turn.apply_batch(group, &batch, retrying, &clock, &apply, &mut report)
            .await?;
        if clock() >= time_up {
            if let Some(event_type) = consumes.iter().find(|t| **t != "*") {
                group.ring(event_type);
            }
            report.more = true;
            let fields = streamia_log::json!({"applied": report.applied, "budgetMs": DRAIN_BUDGET_MS});
            streamia_log::info(
                service,
                "drain paused: events still waiting, the next turn rung",
                fields,
            );
            return Ok(report);
        }
    }
}

/// What applies one batch of a drain.
struct Turn<'a> {
    inbox: Inbox<'a>,
    service: &'a str,
    consumes: &'a [&'a str],
    retry: &'a Retry,
}

impl Turn<'_> {
    /// Apply `batch` (`retrying`: entries taken before, which wait for
    /// their retry), acknowledging each entry once it is done with.
    async fn apply_batch(
        &self,
        group: &impl ConsumerGroup,
        batch: &[Entry],
        retrying: bool,
        clock: &impl Fn() -> Now,
        apply: &impl AsyncFn(&Envelope, Now) -> Result<Consumed, String>,
        report: &mut DrainReport,
    ) -> Result<(), DrainError> {
        let service = self.service;
        let mut skipped = Vec::new();
        for entry in batch {
            let envelope = match Envelope::parse(&entry.body) {
                Ok(envelope) => envelope,
                Err(e) => {
                    // Not an event at all: nothing could ever apply it.
                    let fields = streamia_log::json!({"entryId": entry.id, "error": e.to_string()});
                    streamia_log::warn(service, "stream entry is not an event envelope; acknowledged", fields);
                    skipped.push(entry.id.as_str());
                    continue;
                }
            };
            if !self.consumes.iter().any(|t| *t == "*" || *t == envelope.event_type) {
                skipped.push(entry.id.as_str());
                continue;
            }
            // Each event is handled at one instant: its retry schedule and its effects.
            let now = clock();
            if retrying && !self.inbox.due(&envelope.event_id, now)? {
                report.waiting += 1;
                continue;
            }
            let outcome = apply(&envelope, now).await;
            let received = self.inbox.record(&envelope, outcome, self.retry, now)?;
            log(service, &envelope, &received);
            match received {
                Received::Done(Consumed::Applied) => report.applied += 1,
                Received::Done(Consumed::Duplicate) => report.duplicate += 1,
                Received::Done(Consumed::Ignored) => report.ignored += 1,
                Received::DeadLettered { .. } => report.dead_lettered += 1,
                Received::Retry { .. } => {
                    report.failed += 1;
                    continue;
                }
            }
            group.ack(&[entry.id.as_str()]).map_err(DrainError::Redis)?;
        }
        group.ack(&skipped).map_err(DrainError::Redis)
    }
}

/// One JSON line per event and what became of it (tests and operators
/// read these): `outcome` is `Applied`, `Duplicate`, `Ignored`, `Failed`
/// (retried later) or `DeadLettered`.
pub fn log(service: &str, envelope: &Envelope, received: &Received) {
    let (outcome, attempts, error) = match received {
        Received::Done(consumed) => (format!("{consumed:?}"), None, None),
        Received::Retry { attempts, error } => ("Failed".to_owned(), Some(*attempts), Some(error.as_str())),
        Received::DeadLettered { attempts, error } => {
            ("DeadLettered".to_owned(), Some(*attempts), Some(error.as_str()))
        }
    };
    let level = match error {
        Some(_) => streamia_log::Level::Warn,
        None => streamia_log::Level::Info,
    };
    let fields = streamia_log::json!({
        "eventType": envelope.event_type,
        "eventId": envelope.event_id,
        "source": envelope.source,
        // The write's trace: over Redis the consumer's own span starts a
        // trace of its own (a message carries no context), this ties them.
        "traceId": envelope.trace_id(),
        "outcome": outcome,
        "attempts": attempts,
        "error": error,
    });
    streamia_log::write(level, service, "event", fields);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> RedisResult {
        RedisResult::Binary(s.as_bytes().to_vec())
    }

    #[test]
    fn flattened_readgroup_replies_give_their_entries() {
        let reply = vec![
            b(STREAM),
            b("1-0"),
            b("e"),
            b("{\"a\":1}"),
            b("2-0"),
            b("e"),
            b("{\"b\":2}"),
        ];
        let got = entries(&reply);
        assert_eq!(
            got,
            vec![
                Entry {
                    id: "1-0".into(),
                    body: b"{\"a\":1}".to_vec()
                },
                Entry {
                    id: "2-0".into(),
                    body: b"{\"b\":2}".to_vec()
                },
            ]
        );
        assert!(entries(&[RedisResult::Nil]).is_empty(), "nothing new");
        assert!(entries(&[]).is_empty());
    }

    #[test]
    fn autoclaim_replies_skip_the_cursor_and_trimmed_ids() {
        // cursor, one entry, then the id of an entry trimmed from the stream
        let reply = vec![b("0-0"), b("5-0"), b("e"), b("{}"), b("3-0")];
        let got = entries(&reply);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, "5-0");
        // a pending entry whose fields are gone (older servers): id, nil
        let reply = vec![b(STREAM), b("4-0"), RedisResult::Nil, b("6-0"), b("e"), b("{}")];
        assert_eq!(
            entries(&reply).iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            vec!["6-0"]
        );
    }
}

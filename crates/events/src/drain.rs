//! A consuming service's drain of its consumer group: what waits is
//! applied once, in turns of a time budget, whatever holds the group
//! ([`crate::stream::Group`] on Redis, an in-memory one in the tests).

use streamia_clock::Now;
use streamia_db::{Db, DbError};

use crate::consumer::Consumed;
use crate::dead_letter::{Inbox, Received};
use crate::retry::Retry;
use crate::Envelope;

/// How long one drain goes on while entries wait; then it rings its own
/// doorbell and stops. Spin hands a Redis trigger's messages to components
/// one at a time, so a drain that ran until a long backlog was gone would
/// hold up every other consumer's doorbell meanwhile; in turns of a second
/// they take theirs between ours, and the backlog still goes at full speed.
pub const DRAIN_BUDGET_MS: i64 = 1_000;
/// `XAUTOCLAIM`'s cursor at the start of the pending list, and the one it
/// answers when it has been through all of it.
pub const START: &str = "0-0";

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub body: Vec<u8>,
}

/// What a drain does with a service's consumer group: [`crate::stream::Group`] on
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

/// Why a consumer did not apply an event.
#[derive(Debug, Clone, PartialEq)]
pub enum NotApplied {
    /// It failed: counted, tried again after its backoff, parked as a dead
    /// letter after the last try.
    Failed(String),
    /// Something it depends on is down (Cloudinary, say): an outage, not a
    /// poison event. Not counted: the entry stays for a later drain.
    Unavailable(String),
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
    /// Left for a later drain: a dependency of the consumer is down.
    pub unavailable: u32,
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
/// the service's [`Inbox`] and stays pending until its retry or its dead
/// letter; what waits on a dependency that is down ([`NotApplied::Unavailable`])
/// stays pending uncounted, for a later drain.
pub async fn drain(
    group: &impl ConsumerGroup,
    db: &dyn Db,
    service: &str,
    consumes: &[&str],
    retry: &Retry,
    clock: impl Fn() -> Now,
    apply: impl AsyncFn(&Envelope, Now) -> Result<Consumed, NotApplied>,
) -> Result<DrainReport, DrainError> {
    let turn = Turn {
        inbox: Inbox::new(db, service),
        service,
        consumes,
        retry,
    };
    let mut report = DrainReport::default();
    let time_up = clock().plus_millis(DRAIN_BUDGET_MS);
    let mut stale_from = Some(START.to_owned());
    loop {
        let (batch, retrying) = match stale_from.take() {
            Some(cursor) => {
                let (next, batch) = group.stale_entries(retry.base_ms, &cursor).map_err(DrainError::Redis)?;
                stale_from = (next != START).then_some(next);
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
        apply: &impl AsyncFn(&Envelope, Now) -> Result<Consumed, NotApplied>,
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
            let outcome = match apply(&envelope, now).await {
                Ok(consumed) => Ok(consumed),
                Err(NotApplied::Failed(why)) => Err(why),
                Err(NotApplied::Unavailable(why)) => {
                    let fields = streamia_log::json!({"eventId": envelope.event_id,
                        "eventType": envelope.event_type, "error": why});
                    streamia_log::warn(service, "event waits: a dependency is unavailable", fields);
                    report.unavailable += 1;
                    continue;
                }
            };
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

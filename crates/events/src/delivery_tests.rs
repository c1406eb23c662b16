//! Event delivery end to end in `cargo test`: the outbox, flush and relay,
//! the stream drain, retries, dead letters and their replay, against
//! in-memory fakes of what the host gives (an HTTP or Redis courier, a
//! Redis consumer group) and a database in memory. The fault tests that
//! need a real host and Redis stay in the end-to-end suite.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use streamia_clock::Now;
use streamia_db::MemoryDb;

use crate::consumer::Consumed;
use crate::dead_letter::Inbox;
use crate::drain::{self, drain, ConsumerGroup, DrainReport, Entry, NotApplied};
use crate::outbox::Outbox;
use crate::retry::Retry;
use crate::transport::{flush, flush_due, Courier, FlushReport};
use crate::{Envelope, Event, MovieDeleted, UserDeleted};

const T0: Now = Now::at(1_800_000_000);
const RETRY: Retry = Retry {
    max_attempts: 3,
    base_ms: 100,
};

/// Runs a future the fakes complete without waiting.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a fake never waits"),
    }
}

fn database() -> MemoryDb {
    let db = MemoryDb::new();
    streamia_db::migrate(
        &db,
        "s",
        &[&crate::outbox_schema!("s"), &crate::dead_letter_schema!("s")],
    )
    .unwrap();
    db
}

fn user_deleted(id: &str) -> Event {
    Event::UserDeleted(UserDeleted { user_id: id.into() })
}

/// Subscribers by event type; the targets named in `down` refuse.
#[derive(Default)]
struct FakeCourier {
    subscribers: BTreeMap<&'static str, Vec<&'static str>>,
    down: RefCell<BTreeSet<&'static str>>,
    /// `(target, event id)` of every send that got through.
    received: RefCell<Vec<(String, String)>>,
}

impl FakeCourier {
    fn new(subscribers: &[(&'static str, &'static str)]) -> Self {
        let mut by_type: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
        for (event_type, target) in subscribers {
            by_type.entry(event_type).or_default().push(target);
        }
        FakeCourier {
            subscribers: by_type,
            ..FakeCourier::default()
        }
    }

    fn received_by(&self, target: &str) -> Vec<String> {
        let received = self.received.borrow();
        received
            .iter()
            .filter(|(t, _)| t == target)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

impl Courier for FakeCourier {
    fn targets(&self, event_type: &str) -> Vec<&str> {
        self.subscribers.get(event_type).cloned().unwrap_or_default()
    }

    async fn send(&self, target: &str, envelope: &Envelope) -> Result<(), String> {
        if self.down.borrow().contains(target) {
            return Err(format!("POST {target}: connection refused"));
        }
        self.received
            .borrow_mut()
            .push((target.to_owned(), envelope.event_id.clone()));
        Ok(())
    }
}

#[test]
fn a_requests_events_go_to_every_subscriber_once_and_leave_the_outbox() {
    let db = database();
    let courier = FakeCourier::new(&[("user.deleted", "ratings"), ("user.deleted", "comments")]);
    let outbox = Outbox::new("s", T0);
    let a = outbox.add(&db, &user_deleted("a")).unwrap();
    let b = outbox.add(&db, &user_deleted("b")).unwrap();
    assert_eq!(
        a.occurred_at,
        T0.rfc3339(),
        "an event occurs when its request is handled"
    );
    let report = block_on(flush(&db, &outbox, &courier, T0, || RETRY)).unwrap();
    assert_eq!(
        report,
        FlushReport {
            delivered: 2,
            failed: 0
        }
    );
    assert_eq!(courier.received_by("ratings"), [a.event_id.clone(), b.event_id.clone()]);
    assert_eq!(courier.received_by("comments"), [a.event_id, b.event_id]);
    assert_eq!(outbox.backlog(&db).unwrap(), 0);
    // The relay later finds nothing to send again.
    let relay = Outbox::new("s", T0.plus_millis(60_000));
    let again = block_on(flush_due(&db, &relay, &courier, 200, T0.plus_millis(60_000), || RETRY)).unwrap();
    assert_eq!(again, FlushReport::default());
    assert_eq!(courier.received.borrow().len(), 4);
}

#[test]
fn a_subscriber_that_is_down_gets_the_event_after_its_backoff_and_the_others_only_once() {
    let db = database();
    let courier = FakeCourier::new(&[("user.deleted", "ratings"), ("user.deleted", "comments")]);
    courier.down.borrow_mut().insert("comments");
    let outbox = Outbox::new("s", T0);
    let event = outbox.add(&db, &user_deleted("a")).unwrap();
    let report = block_on(flush(&db, &outbox, &courier, T0, || RETRY)).unwrap();
    assert_eq!(
        report,
        FlushReport {
            delivered: 0,
            failed: 1
        }
    );
    assert_eq!(outbox.backlog(&db).unwrap(), 1, "kept until every subscriber has it");

    courier.down.borrow_mut().clear();
    let early = T0.plus_millis(RETRY.base_ms - 1);
    let waiting = block_on(flush_due(&db, &Outbox::new("s", early), &courier, 200, early, || RETRY)).unwrap();
    assert_eq!(waiting, FlushReport::default(), "not before its backoff");

    let due = T0.plus_millis(RETRY.base_ms);
    let retried = block_on(flush_due(&db, &Outbox::new("s", due), &courier, 200, due, || RETRY)).unwrap();
    assert_eq!(
        retried,
        FlushReport {
            delivered: 1,
            failed: 0
        }
    );
    assert_eq!(courier.received_by("comments"), std::slice::from_ref(&event.event_id));
    assert_eq!(
        courier.received_by("ratings"),
        [event.event_id],
        "the subscriber that took it is not sent it again"
    );
    assert_eq!(outbox.backlog(&db).unwrap(), 0);
}

#[test]
fn the_producer_retries_without_end_ever_further_apart() {
    let db = database();
    let courier = FakeCourier::new(&[("user.deleted", "ratings")]);
    courier.down.borrow_mut().insert("ratings");
    let outbox = Outbox::new("s", T0);
    outbox.add(&db, &user_deleted("a")).unwrap();
    let mut now = T0;
    let mut waits = Vec::new();
    block_on(flush(&db, &outbox, &courier, now, || RETRY)).unwrap();
    for _ in 0..6 {
        // Step a millisecond at a time to when it is due again.
        let mut wait = 0;
        loop {
            wait += 1;
            let at = now.plus_millis(wait);
            let pass = block_on(flush_due(&db, &Outbox::new("s", at), &courier, 200, at, || RETRY)).unwrap();
            if pass.failed == 1 {
                break;
            }
            assert!(wait < 10_000, "never due again");
        }
        waits.push(wait);
        now = now.plus_millis(wait);
    }
    assert_eq!(
        waits,
        [100, 200, 400, 800, 1_600, 3_200],
        "a consumer's dead letters are its own; a producer keeps trying"
    );
    assert_eq!(outbox.backlog(&db).unwrap(), 1);
}

/// A consumer group in memory: entries not yet read, and those read and
/// not acknowledged (which a later drain reclaims).
#[derive(Default)]
struct MemoryGroup {
    unread: RefCell<VecDeque<Entry>>,
    pending: RefCell<Vec<Entry>>,
    acked: RefCell<Vec<String>>,
    rung: RefCell<Vec<String>>,
}

impl MemoryGroup {
    fn publish(&self, envelope: &Envelope) {
        self.push(envelope.to_json().into_bytes());
    }

    fn push(&self, body: Vec<u8>) {
        let id = format!(
            "{}-0",
            self.unread.borrow().len() + self.acked.borrow().len() + self.pending.borrow().len() + 1
        );
        self.unread.borrow_mut().push_back(Entry { id, body });
    }
}

impl ConsumerGroup for MemoryGroup {
    fn new_entries(&self) -> Result<Vec<Entry>, String> {
        let mut unread = self.unread.borrow_mut();
        let batch = unread.len().min(20);
        let taken: Vec<Entry> = unread.drain(..batch).collect();
        self.pending.borrow_mut().extend(taken.iter().cloned());
        Ok(taken)
    }

    /// Pages of 20, as `XAUTOCLAIM … COUNT 20`; the cursor is the id of
    /// the first entry of the next page.
    fn stale_entries(&self, _min_idle_ms: i64, cursor: &str) -> Result<(String, Vec<Entry>), String> {
        let seq = |id: &str| id.split('-').next().unwrap().parse::<u64>().unwrap();
        let from = seq(cursor);
        let pending = self.pending.borrow();
        let mut page = pending.iter().filter(|e| seq(&e.id) >= from);
        let taken: Vec<Entry> = page.by_ref().take(20).cloned().collect();
        let next = page.next().map_or_else(|| "0-0".to_owned(), |e| e.id.clone());
        Ok((next, taken))
    }

    fn ack(&self, ids: &[&str]) -> Result<(), String> {
        self.pending.borrow_mut().retain(|e| !ids.contains(&e.id.as_str()));
        self.acked.borrow_mut().extend(ids.iter().map(|id| (*id).to_owned()));
        Ok(())
    }

    fn ring(&self, event_type: &str) {
        self.rung.borrow_mut().push(event_type.to_owned());
    }
}

/// Drains `group` at `now` with a consumer of `user.deleted` that fails
/// while `failing` holds, recording what it applied.
fn drain_at(
    db: &MemoryDb,
    group: &MemoryGroup,
    now: Now,
    failing: bool,
    applied: &RefCell<Vec<String>>,
) -> DrainReport {
    block_on(drain(
        group,
        db,
        "s",
        &["user.deleted"],
        &RETRY,
        || now,
        async |envelope, at| {
            assert_eq!(at, now, "the event is handled at the drain's instant");
            if failing {
                return Err(NotApplied::Failed("the database is read-only".to_owned()));
            }
            applied.borrow_mut().push(envelope.event_id.clone());
            Ok(Consumed::Applied)
        },
    ))
    .unwrap()
}

#[test]
fn a_drain_applies_what_the_service_consumes_and_acknowledges_everything_else_unread() {
    let db = database();
    let group = MemoryGroup::default();
    let wanted = Envelope::new(&user_deleted("a"), "users", T0);
    let other = Envelope::new(
        &Event::MovieDeleted(MovieDeleted { movie_id: "m".into() }),
        "movies",
        T0,
    );
    group.publish(&wanted);
    group.publish(&other);
    group.push(b"not an envelope".to_vec());
    let applied = RefCell::new(Vec::new());
    let report = drain_at(&db, &group, T0, false, &applied);
    assert_eq!(report.applied, 1);
    assert_eq!(*applied.borrow(), [wanted.event_id]);
    assert_eq!(
        group.acked.borrow().len(),
        3,
        "what cannot or need not apply is acknowledged too"
    );
    assert!(group.pending.borrow().is_empty());
    assert_eq!(drain_at(&db, &group, T0, false, &applied), DrainReport::default());
}

#[test]
fn a_failing_entry_waits_its_backoff_then_is_parked_and_replayed_once_fixed() {
    let db = database();
    let group = MemoryGroup::default();
    let event = Envelope::new(&user_deleted("a"), "users", T0);
    group.publish(&event);
    let applied = RefCell::new(Vec::new());

    let first = drain_at(&db, &group, T0, true, &applied);
    assert_eq!(
        (first.failed, group.pending.borrow().len()),
        (1, 1),
        "kept unacknowledged for a retry"
    );
    let early = drain_at(&db, &group, T0.plus_millis(99), true, &applied);
    assert_eq!(early.waiting, 1, "not before its wait is over");
    let second = drain_at(&db, &group, T0.plus_millis(100), true, &applied);
    assert_eq!(second.failed, 1);
    let third = drain_at(&db, &group, T0.plus_millis(300), true, &applied);
    assert_eq!(third.dead_lettered, 1, "the third try of three parks it");
    assert!(
        group.pending.borrow().is_empty(),
        "a dead letter no longer holds the group up"
    );

    let inbox = Inbox::new(&db, "s");
    let (letters, total) = inbox.list(10, 0).unwrap();
    assert_eq!((total, letters[0].attempts), (1, 3));
    assert_eq!(letters[0].error, "the database is read-only");

    let still_failing = block_on(inbox.replay(&event.event_id, T0.plus_millis(1_000), async |_| {
        Err("still read-only".to_owned())
    }))
    .unwrap()
    .unwrap();
    assert!(still_failing.1.is_err());
    let (letters, _) = inbox.list(10, 0).unwrap();
    assert_eq!((letters[0].attempts, letters[0].error.as_str()), (4, "still read-only"));

    let fixed = block_on(inbox.replay(&event.event_id, T0.plus_millis(2_000), async |envelope| {
        applied.borrow_mut().push(envelope.event_id.clone());
        Ok(Consumed::Applied)
    }))
    .unwrap()
    .unwrap();
    assert_eq!(fixed.1, Ok(Consumed::Applied));
    assert_eq!(*applied.borrow(), std::slice::from_ref(&event.event_id));
    assert_eq!(inbox.count().unwrap(), 0, "gone once applied");
    assert!(
        block_on(inbox.replay(&event.event_id, T0, async |_| Ok(Consumed::Applied)))
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_long_backlog_is_drained_in_turns_of_the_time_budget_that_ring_for_the_next() {
    let db = database();
    let group = MemoryGroup::default();
    for i in 0..1_005 {
        group.publish(&Envelope::new(&user_deleted(&format!("u{i}")), "users", T0));
    }
    // Each event takes a millisecond of the drain's budget.
    let clock = Cell::new(T0);
    let tick = || {
        clock.set(clock.get().plus_millis(1));
        clock.get()
    };
    let applied = Cell::new(0);
    let mut turns = Vec::new();
    loop {
        let report = block_on(drain(
            &group,
            &db,
            "s",
            &["user.deleted"],
            &RETRY,
            tick,
            async |_, _| {
                applied.set(applied.get() + 1);
                Ok(Consumed::Applied)
            },
        ))
        .unwrap();
        turns.push(report.applied);
        if !report.more {
            break;
        }
    }
    assert!(turns.len() >= 2, "more than one turn: {turns:?}");
    assert!(
        turns[0] < 1_005 && u64::from(turns[0]) <= drain::DRAIN_BUDGET_MS as u64,
        "the first stopped at its budget: {turns:?}"
    );
    assert_eq!(
        group.rung.borrow().len(),
        turns.len() - 1,
        "each turn but the last rang for the next"
    );
    assert!(group.rung.borrow().iter().all(|t| t == "user.deleted"));
    assert_eq!(
        (applied.get(), turns.iter().sum::<u32>()),
        (1_005, 1_005),
        "each applied once"
    );
    assert!(group.unread.borrow().is_empty() && group.pending.borrow().is_empty());
}

#[test]
fn every_entry_a_dead_reader_left_is_reclaimed_by_the_next_drain_page_after_page() {
    let db = database();
    let group = MemoryGroup::default();
    for i in 0..65 {
        group.publish(&Envelope::new(&user_deleted(&format!("u{i}")), "users", T0));
    }
    // A reader took 60 entries (three reads) and died before applying any.
    for _ in 0..3 {
        group.new_entries().unwrap();
    }
    assert_eq!(group.pending.borrow().len(), 60);
    let applied = RefCell::new(Vec::new());
    let report = drain_at(&db, &group, T0, false, &applied);
    assert_eq!((report.applied, report.more), (65, false), "{report:?}");
    assert!(group.pending.borrow().is_empty(), "none left for a later doorbell");
    assert!(group.rung.borrow().is_empty());
}

#[test]
fn an_event_whose_dependency_is_down_waits_uncounted_and_is_applied_once_it_is_back() {
    let db = database();
    let group = MemoryGroup::default();
    group.publish(&Envelope::new(&user_deleted("a"), "users", T0));
    let down = Cell::new(true);
    let drain_at = |at: Now| {
        block_on(drain(
            &group,
            &db,
            "s",
            &["user.deleted"],
            &RETRY,
            || at,
            async |_, _| {
                if down.get() {
                    Err(NotApplied::Unavailable("Cloudinary answered 500".into()))
                } else {
                    Ok(Consumed::Applied)
                }
            },
        ))
        .unwrap()
    };
    // Ten drains, more than RETRY's three tries: an outage parks nothing.
    for i in 0..10 {
        assert_eq!(drain_at(T0.plus_millis(i * 1_000)).unavailable, 1);
    }
    assert_eq!(Inbox::new(&db, "s").count().unwrap(), 0, "never a dead letter");
    assert_eq!(group.pending.borrow().len(), 1, "kept for a later drain");
    down.set(false);
    assert_eq!(drain_at(T0.plus_millis(20_000)).applied, 1);
    assert!(group.pending.borrow().is_empty());
}

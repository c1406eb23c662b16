//! The transactional outbox: an event is written to the producer's database
//! in the same transaction as the change that causes it, then delivered by
//! [`crate::transport::flush`]. Undelivered events stay and are retried with
//! backoff, so nothing is lost while a consumer or Redis is down.

use streamia_clock::Now;
use streamia_db::{Db, DbError, Value};

use crate::retry::Retry;
use crate::{Envelope, Event};

/// The outbox tables of `service`, for its migrations.
#[macro_export]
macro_rules! outbox_schema {
    ($service:literal) => {
        [
            concat!(
                "CREATE TABLE ",
                $service,
                "_outbox (event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, envelope TEXT NOT NULL, ",
                "created_at TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL DEFAULT 0, ",
                "delivered_at TEXT, last_error TEXT)"
            ),
            concat!("CREATE INDEX ", $service, "_outbox_pending ON ", $service, "_outbox (delivered_at, next_attempt_at)"),
            concat!(
                "CREATE TABLE ",
                $service,
                "_outbox_deliveries (event_id TEXT NOT NULL, target TEXT NOT NULL, delivered_at TEXT NOT NULL, ",
                "PRIMARY KEY (event_id, target))"
            ),
        ]
    };
}

/// The outbox as the write itself: an `effect` column (JSON) that the
/// service's trigger on its outbox applies to its own tables as the event's
/// row goes in (see [`Outbox::write`]). Add it to a service's migrations
/// with the trigger.
#[macro_export]
macro_rules! outbox_effect_schema {
    ($service:literal) => {
        concat!("ALTER TABLE ", $service, "_outbox ADD COLUMN effect TEXT")
    };
}

/// A new event belongs to the request that wrote it for this long (ms): that
/// request delivers it right after its response, and other requests leave
/// it alone until then, so that concurrent writers do not each deliver
/// everyone's fresh events again (which multiplied deliveries under load).
pub const CLAIM_MS: i64 = 10_000;

pub struct Outbox {
    source: &'static str,
    table: String,
    deliveries: String,
    /// The events this request added, to deliver after it; `true` for one
    /// known to be committed (written by [`Outbox::write`], its own statement).
    added: std::cell::RefCell<Vec<(Envelope, bool)>>,
    /// When the events this request adds occur.
    now: Now,
    /// The request's trace, carried by the events it adds.
    traceparent: Option<String>,
}

pub struct Pending {
    pub envelope: Envelope,
    pub attempts: i64,
}

impl Outbox {
    /// The outbox of `service` for one request (or event) handled `now`.
    pub fn new(service: &'static str, now: Now) -> Self {
        Outbox {
            now,
            source: service,
            table: format!("{service}_outbox"),
            deliveries: format!("{service}_outbox_deliveries"),
            added: Default::default(),
            traceparent: None,
        }
    }

    /// The outbox of a request traced as `traceparent` (a well-formed one;
    /// anything else is dropped): its events carry it.
    pub fn traced(self, traceparent: Option<&str>) -> Self {
        Outbox {
            traceparent: traceparent
                .filter(|t| crate::trace_id_of(t).is_some())
                .map(str::to_owned),
            ..self
        }
    }

    pub fn source(&self) -> &str {
        self.source
    }

    /// Record `event`; call inside the transaction that makes the change.
    pub fn add(&self, db: &dyn Db, event: &Event) -> Result<Envelope, DbError> {
        let envelope = Envelope::new(event, self.source, self.now).traced(self.traceparent.as_deref());
        let claimed_until = self.now.unix_ms() + CLAIM_MS;
        db.execute(
            &format!(
                "INSERT INTO {} (event_id, event_type, envelope, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)",
                self.table
            ),
            &[
                (&envelope.event_id).into(),
                (&envelope.event_type).into(),
                envelope.to_json().into(),
                (&envelope.occurred_at).into(),
                claimed_until.into(),
            ],
        )?;
        self.added.borrow_mut().push((envelope.clone(), false));
        Ok(envelope)
    }

    /// A write in one statement: `event`'s outbox row, with `effect` — the
    /// change it announces, as a JSON object the service's trigger on its
    /// outbox applies to its own tables in the same statement — inserted
    /// only while `condition` (SQL, with `params`) holds. `None`: the
    /// condition did not hold, and nothing was written.
    ///
    /// Why: a write that is several statements inside `BEGIN IMMEDIATE …
    /// COMMIT` holds SQLite's lock across as many host calls, and under
    /// load each of them waits for the instance to be scheduled again
    /// while every other writer waits for the lock. Here the lock is held
    /// only inside the one host call; a service reads what it needs before
    /// (without a lock) and makes `condition` check that it still holds.
    pub fn write(
        &self,
        db: &dyn Db,
        event: &Event,
        effect: &serde_json::Value,
        condition: &str,
        params: &[Value],
    ) -> Result<Option<Envelope>, DbError> {
        let envelope = Envelope::new(event, self.source, self.now).traced(self.traceparent.as_deref());
        let claimed_until = self.now.unix_ms() + CLAIM_MS;
        let mut all: Vec<Value> = vec![
            (&envelope.event_id).into(),
            (&envelope.event_type).into(),
            envelope.to_json().into(),
            (&envelope.occurred_at).into(),
            claimed_until.into(),
            effect.to_string().into(),
        ];
        all.extend_from_slice(params);
        let rows = db.execute(
            &format!(
                "INSERT INTO {} (event_id, event_type, envelope, created_at, next_attempt_at, effect)
                    SELECT ?, ?, ?, ?, ?, ? WHERE {condition} RETURNING event_id",
                self.table
            ),
            &all,
        )?;
        if rows.is_empty() {
            return Ok(None);
        }
        self.added.borrow_mut().push((envelope.clone(), true));
        Ok(Some(envelope))
    }

    /// The undelivered events this request added and committed (a rolled
    /// back one has no row), in the order they were added.
    pub fn own(&self, db: &dyn Db) -> Result<Vec<Pending>, DbError> {
        let mut out = Vec::new();
        for (envelope, committed) in self.added.borrow().iter() {
            if *committed {
                // Its own statement committed it: no need to read it back.
                out.push(Pending {
                    envelope: envelope.clone(),
                    attempts: 0,
                });
                continue;
            }
            let event_id = &envelope.event_id;
            let rows = db.execute(
                &format!(
                    "SELECT envelope, attempts FROM {} WHERE event_id = ? AND delivered_at IS NULL",
                    self.table
                ),
                &[event_id.into()],
            )?;
            out.extend(pending(&rows)?);
        }
        Ok(out)
    }

    /// Undelivered events whose next attempt is due at `now_ms` (Unix milliseconds), oldest first.
    pub fn due(&self, db: &dyn Db, now_ms: i64, limit: u32) -> Result<Vec<Pending>, DbError> {
        let rows = db.execute(
            &format!(
                "SELECT envelope, attempts FROM {} WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY created_at, event_id LIMIT ?",
                self.table
            ),
            &[now_ms.into(), i64::from(limit).into()],
        )?;
        pending(&rows)
    }

    /// Claim up to `limit` due events for one delivery pass, oldest first:
    /// each goes to one pass at a time (for [`CLAIM_MS`], until it is
    /// delivered or marked failed), so that concurrent requests do not all
    /// retry the same backlog at a consumer that is already struggling
    /// (under load that multiplied the very deliveries that were failing).
    /// Nothing is written when nothing is due.
    pub fn claim_due(&self, db: &dyn Db, now_ms: i64, limit: u32) -> Result<Vec<Pending>, DbError> {
        let candidates = self.due(db, now_ms, limit)?;
        if candidates.is_empty() {
            return Ok(candidates);
        }
        let marks = vec!["?"; candidates.len()].join(", ");
        let mut params: Vec<Value> = vec![now_ms.saturating_add(CLAIM_MS).into(), now_ms.into()];
        params.extend(candidates.iter().map(|p| Value::from(&p.envelope.event_id)));
        // Only the pass whose update still finds an event due takes it.
        let rows = db.execute(
            &format!(
                "UPDATE {} SET next_attempt_at = ? WHERE delivered_at IS NULL AND next_attempt_at <= ?
                    AND event_id IN ({marks}) RETURNING event_id",
                self.table
            ),
            &params,
        )?;
        let taken = rows.iter().map(|r| r.text("event_id")).collect::<Result<Vec<_>, _>>()?;
        Ok(candidates
            .into_iter()
            .filter(|p| taken.contains(&p.envelope.event_id))
            .collect())
    }

    pub fn delivered_targets(&self, db: &dyn Db, event_id: &str) -> Result<Vec<String>, DbError> {
        let rows = db.execute(
            &format!("SELECT target FROM {} WHERE event_id = ?", self.deliveries),
            &[event_id.into()],
        )?;
        rows.iter().map(|r| r.text("target")).collect()
    }

    pub fn record_delivery(&self, db: &dyn Db, event_id: &str, target: &str, now: Now) -> Result<(), DbError> {
        db.execute(
            &format!(
                "INSERT OR IGNORE INTO {} (event_id, target, delivered_at) VALUES (?, ?, ?)",
                self.deliveries
            ),
            &[event_id.into(), target.into(), now.rfc3339().into()],
        )?;
        Ok(())
    }

    pub fn mark_delivered(&self, db: &dyn Db, event_id: &str, now: Now) -> Result<(), DbError> {
        db.execute(
            &format!(
                "UPDATE {} SET delivered_at = ?, last_error = NULL WHERE event_id = ?",
                self.table
            ),
            &[now.rfc3339().into(), event_id.into()],
        )?;
        Ok(())
    }

    /// Count a failed attempt and push the next one back: the retry base
    /// times 2^attempts, capped.
    pub fn mark_failed(
        &self,
        db: &dyn Db,
        event_id: &str,
        attempts: i64,
        error: &str,
        now_ms: i64,
        retry: &Retry,
    ) -> Result<(), DbError> {
        let backoff = retry.backoff_ms(attempts);
        let error: String = error.chars().take(500).collect();
        db.execute(
            &format!(
                "UPDATE {} SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE event_id = ?",
                self.table
            ),
            &[Value::Integer(now_ms + backoff), error.into(), event_id.into()],
        )?;
        Ok(())
    }

    /// How many events wait for delivery (for health and metrics).
    pub fn backlog(&self, db: &dyn Db) -> Result<u64, DbError> {
        db.count(
            &format!("SELECT COUNT(*) AS n FROM {} WHERE delivered_at IS NULL", self.table),
            &[],
        )
    }

    /// How many events have been delivered (kept in the outbox, so a count).
    pub fn delivered(&self, db: &dyn Db) -> Result<u64, DbError> {
        db.count(
            &format!(
                "SELECT COUNT(*) AS n FROM {} WHERE delivered_at IS NOT NULL",
                self.table
            ),
            &[],
        )
    }
}

fn pending(rows: &streamia_db::Rows) -> Result<Vec<Pending>, DbError> {
    rows.iter()
        .map(|row| {
            let text = row.text("envelope")?;
            let envelope =
                Envelope::parse(text.as_bytes()).map_err(|e| DbError::Sql(format!("corrupt outbox row: {e}")))?;
            Ok(Pending {
                envelope,
                attempts: row.int("attempts")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    const NOW: streamia_clock::Now = streamia_clock::Now::at(1_800_000_000);
    use super::*;
    use crate::UserDeleted;
    use streamia_db::MemoryDb;

    fn setup() -> (MemoryDb, Outbox) {
        let db = MemoryDb::new();
        streamia_db::migrate(&db, "t", &[&crate::outbox_schema!("t")]).unwrap();
        (db, Outbox::new("t", NOW))
    }

    fn event(id: &str) -> Event {
        Event::UserDeleted(UserDeleted { user_id: id.into() })
    }

    #[test]
    fn a_traced_requests_events_carry_its_traceparent_and_keep_it_in_the_outbox() {
        let (db, _) = setup();
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let outbox = Outbox::new("t", NOW).traced(Some(traceparent));
        let added = outbox.add(&db, &event("a")).unwrap();
        assert_eq!(added.trace_id(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        let kept = outbox.due(&db, NOW.unix_ms() + CLAIM_MS, 10).unwrap();
        let stored = kept.iter().find(|p| p.envelope.event_id == added.event_id).unwrap();
        assert_eq!(
            stored.envelope.traceparent.as_deref(),
            Some(traceparent),
            "stored with the event"
        );
        let untraced = Outbox::new("t", NOW).traced(Some("00-not-a-trace-01"));
        assert_eq!(
            untraced.add(&db, &event("b")).unwrap().traceparent,
            None,
            "a malformed one is dropped"
        );
    }

    #[test]
    fn events_wait_until_delivered_and_back_off_when_failing() {
        let (db, outbox) = setup();
        let a = outbox.add(&db, &event("a")).unwrap();
        let b = outbox.add(&db, &event("b")).unwrap();
        let now = NOW.unix_ms();
        assert_eq!(outbox.due(&db, now, 10).unwrap().len(), 0, "claimed by their request");
        assert_eq!(outbox.own(&db).unwrap().len(), 2);
        assert_eq!(outbox.due(&db, now + CLAIM_MS, 10).unwrap().len(), 2);

        let t = now + CLAIM_MS;
        let retry = Retry {
            max_attempts: 5,
            base_ms: 100,
        };
        outbox
            .mark_failed(&db, &a.event_id, 0, "connection refused", t, &retry)
            .unwrap();
        let due: Vec<String> = outbox
            .due(&db, t, 10)
            .unwrap()
            .into_iter()
            .map(|p| p.envelope.event_id)
            .collect();
        assert_eq!(due, vec![b.event_id.clone()], "a failed event waits for its backoff");
        let later = outbox.due(&db, t + 100, 10).unwrap();
        assert_eq!(later.len(), 2);
        assert_eq!(
            later
                .iter()
                .find(|p| p.envelope.event_id == a.event_id)
                .unwrap()
                .attempts,
            1
        );

        outbox.mark_delivered(&db, &b.event_id, NOW).unwrap();
        assert_eq!(outbox.backlog(&db).unwrap(), 1);
    }

    #[test]
    fn a_due_event_goes_to_one_delivery_pass_at_a_time() {
        let (db, outbox) = setup();
        let a = outbox.add(&db, &event("a")).unwrap();
        let t = NOW.unix_ms() + CLAIM_MS;
        assert!(
            outbox.claim_due(&db, t - CLAIM_MS, 10).unwrap().is_empty(),
            "its own request's"
        );
        let first = outbox.claim_due(&db, t, 10).unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].envelope.event_id, a.event_id);
        assert!(
            outbox.claim_due(&db, t, 10).unwrap().is_empty(),
            "taken by the first pass"
        );
        // A pass that never finished (its instance gone) frees it after the claim.
        assert_eq!(outbox.claim_due(&db, t + CLAIM_MS, 10).unwrap().len(), 1);
        let retry = Retry::default();
        outbox
            .mark_failed(&db, &a.event_id, 0, "refused", t + CLAIM_MS, &retry)
            .unwrap();
        assert!(outbox.claim_due(&db, t + CLAIM_MS + 999, 10).unwrap().is_empty());
        assert_eq!(outbox.claim_due(&db, t + CLAIM_MS + 1000, 10).unwrap()[0].attempts, 1);
    }

    #[test]
    fn deliveries_are_tracked_per_target() {
        let (db, outbox) = setup();
        let a = outbox.add(&db, &event("a")).unwrap();
        outbox.record_delivery(&db, &a.event_id, "http://x", NOW).unwrap();
        outbox.record_delivery(&db, &a.event_id, "http://x", NOW).unwrap();
        assert_eq!(
            outbox.delivered_targets(&db, &a.event_id).unwrap(),
            vec!["http://x".to_owned()]
        );
    }

    #[test]
    fn a_rolled_back_change_leaves_no_event() {
        let (db, outbox) = setup();
        let r: Result<(), DbError> = streamia_db::transaction(&db, || {
            outbox.add(&db, &event("a"))?;
            Err(DbError::Sql("the change failed".into()))
        });
        assert!(r.is_err());
        assert_eq!(outbox.backlog(&db).unwrap(), 0);
        assert!(outbox.own(&db).unwrap().is_empty(), "nothing to deliver");
    }
}

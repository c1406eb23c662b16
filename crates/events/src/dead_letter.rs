//! What a consumer does with an event it fails to apply: each failed try is
//! counted in its database, the next one waits (the retry base, doubling),
//! and the try that reaches the limit parks the event as a dead letter, with
//! its last error and the count, out of the way of the events behind it.
//! An operator lists dead letters, replays one (or all) once the cause is
//! fixed, or discards one. The same on both transports.

use serde::Serialize;
use streamia_clock::Now;
use streamia_db::{Db, DbError, Row};

use crate::consumer::Consumed;
use crate::retry::Retry;
use crate::Envelope;

/// The failure and dead-letter tables of `service`, for its migrations.
#[macro_export]
macro_rules! dead_letter_schema {
    ($service:literal) => {
        [
            concat!(
                "CREATE TABLE ",
                $service,
                "_event_failures (event_id TEXT PRIMARY KEY, attempts INTEGER NOT NULL, ",
                "next_attempt_at INTEGER NOT NULL, last_error TEXT NOT NULL)"
            ),
            concat!(
                "CREATE TABLE ",
                $service,
                "_dead_letters (event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, source TEXT NOT NULL, ",
                "envelope TEXT NOT NULL, error TEXT NOT NULL, attempts INTEGER NOT NULL, dead_at TEXT NOT NULL)"
            ),
        ]
    };
}

/// What became of one try of an event.
#[derive(Debug, PartialEq)]
pub enum Received {
    /// Applied, or known: the transport may forget it.
    Done(Consumed),
    /// Failed; it is tried again after its backoff.
    Retry { attempts: u32, error: String },
    /// Failed for the last time and parked; the transport may forget it.
    DeadLettered { attempts: u32, error: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub event_id: String,
    pub event_type: String,
    pub source: String,
    pub error: String,
    pub attempts: u32,
    pub dead_at: String,
    pub envelope: serde_json::Value,
}

impl DeadLetter {
    pub fn envelope(&self) -> Result<Envelope, DbError> {
        serde_json::from_value(self.envelope.clone()).map_err(|e| DbError::Sql(format!("corrupt dead letter: {e}")))
    }
}

/// Error texts kept at most this long.
const ERROR_CHARS: usize = 500;

pub struct Inbox<'a> {
    db: &'a dyn Db,
    failures: String,
    dead: String,
}

impl<'a> Inbox<'a> {
    pub fn new(db: &'a dyn Db, service: &str) -> Self {
        Inbox {
            db,
            failures: format!("{service}_event_failures"),
            dead: format!("{service}_dead_letters"),
        }
    }

    /// May `event_id` be tried at `now`: never failed, or its wait is over?
    pub fn due(&self, event_id: &str, now: Now) -> Result<bool, DbError> {
        let rows = self.db.execute(
            &format!("SELECT next_attempt_at FROM {} WHERE event_id = ?", self.failures),
            &[event_id.into()],
        )?;
        let due = match rows.iter().next() {
            None => true,
            Some(row) => row.int("next_attempt_at")? <= now.unix_ms(),
        };
        Ok(due)
    }

    /// Count what one try of `envelope` came to. A success costs nothing
    /// here; the try that reaches `retry.max_attempts` parks the event.
    pub fn record(
        &self,
        envelope: &Envelope,
        outcome: Result<Consumed, String>,
        retry: &Retry,
        now: Now,
    ) -> Result<Received, DbError> {
        let error = match outcome {
            Ok(consumed) => return Ok(Received::Done(consumed)),
            Err(e) => e.chars().take(ERROR_CHARS).collect::<String>(),
        };
        streamia_db::transaction(self.db, || {
            let rows = self.db.execute(
                &format!("SELECT attempts FROM {} WHERE event_id = ?", self.failures),
                &[(&envelope.event_id).into()],
            )?;
            let before = match rows.iter().next() {
                Some(row) => row.int("attempts")?,
                None => 0,
            };
            let attempts = u32::try_from(before + 1).unwrap_or(u32::MAX);
            if attempts >= retry.max_attempts {
                self.db.execute(
                    &format!("DELETE FROM {} WHERE event_id = ?", self.failures),
                    &[(&envelope.event_id).into()],
                )?;
                self.db.execute(
                    &format!(
                        "INSERT OR REPLACE INTO {} (event_id, event_type, source, envelope, error, attempts, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        self.dead
                    ),
                    &[
                        (&envelope.event_id).into(),
                        (&envelope.event_type).into(),
                        (&envelope.source).into(),
                        envelope.to_json().into(),
                        error.as_str().into(),
                        i64::from(attempts).into(),
                        now.rfc3339().into(),
                    ],
                )?;
                return Ok(Received::DeadLettered { attempts, error });
            }
            self.db.execute(
                &format!(
                    "INSERT OR REPLACE INTO {} (event_id, attempts, next_attempt_at, last_error) VALUES (?, ?, ?, ?)",
                    self.failures
                ),
                &[
                    (&envelope.event_id).into(),
                    i64::from(attempts).into(),
                    (now.unix_ms() + retry.backoff_ms(before)).into(),
                    error.as_str().into(),
                ],
            )?;
            Ok(Received::Retry { attempts, error })
        })
    }

    /// Dead letters, oldest first.
    pub fn list(&self, limit: u32, offset: i64) -> Result<(Vec<DeadLetter>, u64), DbError> {
        let total = self.count()?;
        let rows = self.db.execute(
            &format!(
                "SELECT * FROM {} ORDER BY dead_at, event_id LIMIT ? OFFSET ?",
                self.dead
            ),
            &[i64::from(limit).into(), offset.into()],
        )?;
        let list = rows.iter().map(|r| dead_letter(&r)).collect::<Result<_, _>>()?;
        Ok((list, total))
    }

    pub fn get(&self, event_id: &str) -> Result<Option<DeadLetter>, DbError> {
        let rows = self.db.execute(
            &format!("SELECT * FROM {} WHERE event_id = ?", self.dead),
            &[event_id.into()],
        )?;
        let found = rows.iter().next().map(|r| dead_letter(&r)).transpose();
        found
    }

    /// The ids of every dead letter, oldest first (for "replay all").
    pub fn ids(&self, limit: u32) -> Result<Vec<String>, DbError> {
        let rows = self.db.execute(
            &format!("SELECT event_id FROM {} ORDER BY dead_at, event_id LIMIT ?", self.dead),
            &[i64::from(limit).into()],
        )?;
        rows.iter().map(|r| r.text("event_id")).collect()
    }

    /// Forget a dead letter (replayed, or discarded); whether there was one.
    pub fn remove(&self, event_id: &str) -> Result<bool, DbError> {
        let found = self.get(event_id)?.is_some();
        self.db.execute(
            &format!("DELETE FROM {} WHERE event_id = ?", self.dead),
            &[event_id.into()],
        )?;
        Ok(found)
    }

    /// A replay failed again: the dead letter stays, with this error and one more try.
    pub fn replay_failed(&self, event_id: &str, error: &str, now: Now) -> Result<(), DbError> {
        let error: String = error.chars().take(ERROR_CHARS).collect();
        self.db.execute(
            &format!(
                "UPDATE {} SET error = ?, attempts = attempts + 1, dead_at = ? WHERE event_id = ?",
                self.dead
            ),
            &[error.into(), now.rfc3339().into(), event_id.into()],
        )?;
        Ok(())
    }

    pub fn count(&self) -> Result<u64, DbError> {
        self.db.count(&format!("SELECT COUNT(*) AS n FROM {}", self.dead), &[])
    }

    /// Apply the dead letter `event_id` again with `apply`: gone once
    /// applied; kept, with the new error and one more try, when it fails
    /// again. `None`: there is no such dead letter.
    pub async fn replay(
        &self,
        event_id: &str,
        now: Now,
        apply: impl AsyncFnOnce(&Envelope) -> Result<Consumed, String>,
    ) -> Result<Option<(Envelope, Result<Consumed, String>)>, DbError> {
        let Some(letter) = self.get(event_id)? else {
            return Ok(None);
        };
        let envelope = letter.envelope()?;
        let outcome = apply(&envelope).await;
        match &outcome {
            Ok(_) => {
                self.remove(event_id)?;
            }
            Err(error) => self.replay_failed(event_id, error, now)?,
        }
        Ok(Some((envelope, outcome)))
    }
}

fn dead_letter(row: &Row<'_>) -> Result<DeadLetter, DbError> {
    let envelope = row.text("envelope")?;
    Ok(DeadLetter {
        event_id: row.text("event_id")?,
        event_type: row.text("event_type")?,
        source: row.text("source")?,
        error: row.text("error")?,
        attempts: u32::try_from(row.int("attempts")?).unwrap_or(u32::MAX),
        dead_at: row.text("dead_at")?,
        envelope: serde_json::from_str(&envelope).map_err(|e| DbError::Sql(format!("corrupt dead letter: {e}")))?,
    })
}

#[cfg(test)]
mod tests {
    const NOW: streamia_clock::Now = streamia_clock::Now::at(1_800_000_000);
    use super::*;
    use crate::{Event, UserDeleted};
    use streamia_db::MemoryDb;

    fn setup() -> MemoryDb {
        let db = MemoryDb::new();
        streamia_db::migrate(&db, "s", &[&crate::dead_letter_schema!("s")]).unwrap();
        db
    }

    fn envelope(user: &str) -> Envelope {
        Envelope::new(&Event::UserDeleted(UserDeleted { user_id: user.into() }), "users", NOW)
    }

    const RETRY: Retry = Retry {
        max_attempts: 3,
        base_ms: 100,
    };

    #[test]
    fn failures_wait_longer_each_time_and_the_last_one_parks_the_event() {
        let db = setup();
        let inbox = Inbox::new(&db, "s");
        let env = envelope("u1");
        let t0 = Now::at(1_800_000_000);
        assert!(inbox.due(&env.event_id, t0).unwrap());

        let first = inbox.record(&env, Err("disk says no".into()), &RETRY, t0).unwrap();
        assert_eq!(
            first,
            Received::Retry {
                attempts: 1,
                error: "disk says no".into()
            }
        );
        assert!(!inbox.due(&env.event_id, t0.plus_millis(99)).unwrap());
        assert!(inbox.due(&env.event_id, t0.plus_millis(100)).unwrap());

        let t1 = t0.plus_millis(100);
        inbox.record(&env, Err("disk says no".into()), &RETRY, t1).unwrap();
        assert!(
            !inbox.due(&env.event_id, t1.plus_millis(199)).unwrap(),
            "the wait doubles"
        );
        assert!(inbox.due(&env.event_id, t1.plus_millis(200)).unwrap());
        assert_eq!(inbox.count().unwrap(), 0);

        let last = inbox
            .record(&env, Err("still no".into()), &RETRY, t1.plus_millis(200))
            .unwrap();
        assert_eq!(
            last,
            Received::DeadLettered {
                attempts: 3,
                error: "still no".into()
            }
        );
        let (list, total) = inbox.list(10, 0).unwrap();
        assert_eq!(total, 1);
        assert_eq!(list[0].event_id, env.event_id);
        assert_eq!(list[0].event_type, "user.deleted");
        assert_eq!(list[0].attempts, 3);
        assert_eq!(list[0].error, "still no");
        assert_eq!(list[0].envelope().unwrap(), env);
        assert!(inbox.due(&env.event_id, t0).unwrap(), "a replay is not held back");
    }

    #[test]
    fn a_success_is_done_and_writes_nothing() {
        let db = setup();
        let inbox = Inbox::new(&db, "s");
        let env = envelope("u1");
        let done = inbox.record(&env, Ok(Consumed::Applied), &RETRY, Now::at(1)).unwrap();
        assert_eq!(done, Received::Done(Consumed::Applied));
        assert_eq!(db.execute("SELECT * FROM s_event_failures", &[]).unwrap().len(), 0);
    }

    #[test]
    fn dead_letters_page_replay_and_discard() {
        let db = setup();
        let inbox = Inbox::new(&db, "s");
        let once = Retry {
            max_attempts: 1,
            base_ms: 100,
        };
        let envs: Vec<Envelope> = (0..3).map(|i| envelope(&format!("u{i}"))).collect();
        for (i, env) in envs.iter().enumerate() {
            let at = Now::at(1_800_000_000 + i as i64);
            assert!(matches!(
                inbox.record(env, Err("boom".into()), &once, at).unwrap(),
                Received::DeadLettered { attempts: 1, .. }
            ));
        }
        let (page, total) = inbox.list(2, 2).unwrap();
        assert_eq!((page.len(), total), (1, 3));
        assert_eq!(page[0].event_id, envs[2].event_id, "oldest first");
        assert_eq!(inbox.ids(10).unwrap().len(), 3);

        inbox
            .replay_failed(&envs[0].event_id, "boom again", Now::at(1_900_000_000))
            .unwrap();
        let again = inbox.get(&envs[0].event_id).unwrap().unwrap();
        assert_eq!((again.attempts, again.error.as_str()), (2, "boom again"));

        assert!(inbox.remove(&envs[1].event_id).unwrap());
        assert!(!inbox.remove(&envs[1].event_id).unwrap(), "gone already");
        assert_eq!(inbox.count().unwrap(), 2);
        assert_eq!(inbox.get("nope").unwrap(), None);
    }
}

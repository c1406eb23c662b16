//! Idempotent consumption: the event id is recorded in the same transaction
//! as the effect, so a redelivered event is recognised and skipped.

use streamia_db::{Db, DbError};

use crate::{Envelope, Event};

/// The consumer's bookkeeping table, for its migrations.
#[macro_export]
macro_rules! consumer_schema {
    ($service:literal) => {
        [concat!(
            "CREATE TABLE ",
            $service,
            "_processed_events (event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, processed_at TEXT NOT NULL)"
        )]
    };
}

/// A consumer whose effect is one statement: an `effect` column (JSON) on
/// its processed events, which the service's trigger applies as the event's
/// id is recorded (see [`consume_in_one`]).
#[macro_export]
macro_rules! consumer_effect_schema {
    ($service:literal) => {
        concat!("ALTER TABLE ", $service, "_processed_events ADD COLUMN effect TEXT")
    };
}

#[derive(Debug, PartialEq)]
pub enum Consumed {
    Applied,
    /// Seen before: nothing was done.
    Duplicate,
    /// An event type this service does not handle: recorded, nothing done.
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumeError<E> {
    #[error("the event's data does not match its type: {0}")]
    BadData(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("applying the event failed: {0}")]
    Apply(E),
}

/// Apply `envelope` once: `apply` runs inside the transaction that records
/// the event id; it returns `Ok(false)` for event types it does not handle.
pub fn consume<E>(
    db: &dyn Db,
    service: &str,
    envelope: &Envelope,
    now: streamia_clock::Now,
    apply: impl FnOnce(&Event) -> Result<bool, E>,
) -> Result<Consumed, ConsumeError<E>> {
    let event = envelope.event().map_err(|e| ConsumeError::BadData(e.to_string()))?;
    streamia_db::transaction(db, || {
        let inserted = db.execute(
            &format!("INSERT INTO {service}_processed_events (event_id, event_type, processed_at) VALUES (?, ?, ?)"),
            &[
                (&envelope.event_id).into(),
                (&envelope.event_type).into(),
                now.rfc3339().into(),
            ],
        );
        match inserted {
            Err(DbError::Unique(_)) => return Ok(Consumed::Duplicate),
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        match &event {
            None => Ok(Consumed::Ignored),
            Some(event) => match apply(event).map_err(ConsumeError::Apply)? {
                true => Ok(Consumed::Applied),
                false => Ok(Consumed::Ignored),
            },
        }
    })
}

/// [`consume`] in one statement: the event id recorded with `effect` (what
/// `apply` makes of the event: the JSON the service's trigger on its
/// processed events applies), so that SQLite's lock is held only inside that
/// one host call, not across a transaction's. `None` from `apply`: a type
/// this service does not handle (recorded, nothing done). For effects that
/// are one change of the service's own tables.
pub fn consume_in_one(
    db: &dyn Db,
    service: &str,
    envelope: &Envelope,
    now: streamia_clock::Now,
    apply: impl FnOnce(&Event) -> Option<serde_json::Value>,
) -> Result<Consumed, ConsumeError<DbError>> {
    let event = envelope.event().map_err(|e| ConsumeError::BadData(e.to_string()))?;
    let effect = event.as_ref().and_then(apply);
    let inserted = db.execute(
        &format!(
            "INSERT INTO {service}_processed_events (event_id, event_type, processed_at, effect) VALUES (?, ?, ?, ?)"
        ),
        &[
            (&envelope.event_id).into(),
            (&envelope.event_type).into(),
            now.rfc3339().into(),
            effect.as_ref().map(|e| e.to_string()).into(),
        ],
    );
    match inserted {
        Err(DbError::Unique(_)) => Ok(Consumed::Duplicate),
        Err(e) => Err(ConsumeError::Db(e)),
        Ok(_) if effect.is_some() => Ok(Consumed::Applied),
        Ok(_) => Ok(Consumed::Ignored),
    }
}

/// Whether `service` took the event `event_id` in already: for a consumer
/// whose effect is outside its database, asked before it acts.
pub fn processed(db: &dyn Db, service: &str, event_id: &str) -> Result<bool, DbError> {
    let n = db.count(
        &format!("SELECT COUNT(*) AS n FROM {service}_processed_events WHERE event_id = ?"),
        &[event_id.into()],
    )?;
    Ok(n > 0)
}

/// How many events `service` has taken in (applied or ignored; not duplicates).
pub fn consumed_count(db: &dyn Db, service: &str) -> Result<u64, DbError> {
    db.count(&format!("SELECT COUNT(*) AS n FROM {service}_processed_events"), &[])
}

#[cfg(test)]
mod tests {
    const NOW: streamia_clock::Now = streamia_clock::Now::at(1_800_000_000);
    use super::*;
    use crate::{UserDeleted, UserRegistered};
    use streamia_db::MemoryDb;

    #[test]
    fn an_effect_of_one_statement_is_applied_once_with_its_record() {
        let db = MemoryDb::new();
        streamia_db::migrate(
            &db,
            "s",
            &[
                &crate::consumer_schema!("s"),
                &[
                    crate::consumer_effect_schema!("s"),
                    "CREATE TABLE s_gone (user_id TEXT)",
                    "CREATE TRIGGER s_effect AFTER INSERT ON s_processed_events WHEN NEW.effect IS NOT NULL BEGIN
                        INSERT INTO s_gone (user_id) VALUES (json_extract(NEW.effect, '$.userId')); END",
                ],
            ],
        )
        .unwrap();
        let effect = |e: &Event| match e {
            Event::UserDeleted(d) => Some(serde_json::json!({"userId": d.user_id})),
            _ => None,
        };
        let env = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "u1".into() }), "users", NOW);
        assert_eq!(consume_in_one(&db, "s", &env, NOW, effect).unwrap(), Consumed::Applied);
        assert_eq!(
            consume_in_one(&db, "s", &env, NOW, effect).unwrap(),
            Consumed::Duplicate
        );
        let gone = db.execute("SELECT user_id FROM s_gone", &[]).unwrap();
        assert_eq!(gone.len(), 1);
        let other = Envelope::new(
            &Event::UserRegistered(UserRegistered {
                user_id: "u".into(),
                email: "e".into(),
                username: "n".into(),
                role: "user".into(),
            }),
            "users",
            NOW,
        );
        assert_eq!(
            consume_in_one(&db, "s", &other, NOW, effect).unwrap(),
            Consumed::Ignored
        );
        assert_eq!(consumed_count(&db, "s").unwrap(), 2);
    }

    #[test]
    fn an_event_delivered_twice_is_applied_once() {
        let db = MemoryDb::new();
        streamia_db::migrate(
            &db,
            "s",
            &[&crate::consumer_schema!("s"), &["CREATE TABLE s_seen (user_id TEXT)"]],
        )
        .unwrap();
        let env = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "u1".into() }), "users", NOW);
        let apply = |e: &Event| -> Result<bool, DbError> {
            if let Event::UserDeleted(d) = e {
                db.execute("INSERT INTO s_seen (user_id) VALUES (?)", &[(&d.user_id).into()])?;
                return Ok(true);
            }
            Ok(false)
        };
        assert_eq!(consume(&db, "s", &env, NOW, apply).unwrap(), Consumed::Applied);
        assert_eq!(consume(&db, "s", &env, NOW, apply).unwrap(), Consumed::Duplicate);
        assert_eq!(db.execute("SELECT * FROM s_seen", &[]).unwrap().len(), 1);

        let other = Envelope::new(
            &Event::UserRegistered(UserRegistered {
                user_id: "u".into(),
                email: "e".into(),
                username: "n".into(),
                role: "user".into(),
            }),
            "users",
            NOW,
        );
        assert_eq!(consume(&db, "s", &other, NOW, apply).unwrap(), Consumed::Ignored);
    }

    #[test]
    fn a_failed_effect_does_not_mark_the_event_processed() {
        let db = MemoryDb::new();
        streamia_db::migrate(&db, "s", &[&crate::consumer_schema!("s")]).unwrap();
        let env = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "u1".into() }), "users", NOW);
        let failing = |_: &Event| -> Result<bool, &str> { Err("boom") };
        assert!(matches!(
            consume(&db, "s", &env, NOW, failing),
            Err(ConsumeError::Apply("boom"))
        ));
        let ok = |_: &Event| -> Result<bool, &str> { Ok(true) };
        assert_eq!(
            consume(&db, "s", &env, NOW, ok).unwrap(),
            Consumed::Applied,
            "retried after the failure"
        );
    }
}

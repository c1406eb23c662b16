//! Shared by both test sinks (tests/components/event-sink and
//! event-sink-redis): record an envelope once in the `sink` database.

use streamia_db::{Db, SpinDb};
use streamia_events::consumer::{consume, ConsumeError, Consumed};
use streamia_events::Envelope;

pub const MIGRATIONS: &[&[&str]] = &[
    &streamia_events::consumer_schema!("sink"),
    &["CREATE TABLE sink_received (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, event_type TEXT NOT NULL, transport TEXT NOT NULL, envelope TEXT NOT NULL)"],
    &streamia_events::dead_letter_schema!("sink"),
    // Tries of each event by the Redis sink, kept outside the consumer's transaction.
    &["CREATE TABLE sink_tries (event_id TEXT PRIMARY KEY, tries INTEGER NOT NULL)"],
    // Never written (the sink produces nothing); the shared Redis glue reads it.
    &streamia_events::outbox_schema!("sink"),
];

pub fn open() -> Result<SpinDb, String> {
    let db = SpinDb::open("sink").map_err(|e| e.to_string())?;
    streamia_db::migrate(&db, "sink", MIGRATIONS).map_err(|e| e.to_string())?;
    Ok(db)
}

pub fn record(envelope: &Envelope, transport: &str) -> Result<Consumed, String> {
    record_in(&open()?, envelope, transport)
}

/// The Redis sink's consumer: each try is counted first (autocommit, so a
/// failed try still counts), and the first `fail_first` tries of every
/// event fail, as a handler that fails twice and then succeeds would.
pub fn record_redis(db: &dyn Db, envelope: &Envelope, fail_first: u32) -> Result<Consumed, String> {
    db.execute(
        "INSERT INTO sink_tries (event_id, tries) VALUES (?, 1) ON CONFLICT (event_id) DO UPDATE SET tries = tries + 1",
        &[(&envelope.event_id).into()],
    )
    .map_err(|e| e.to_string())?;
    let tries = db
        .count(
            "SELECT tries AS n FROM sink_tries WHERE event_id = ?",
            &[(&envelope.event_id).into()],
        )
        .map_err(|e| e.to_string())?;
    if tries <= u64::from(fail_first) {
        return Err(format!(
            "the sink fails try {tries} of {} on purpose",
            envelope.event_id
        ));
    }
    record_in(db, envelope, "redis")
}

fn record_in(db: &dyn Db, envelope: &Envelope, transport: &str) -> Result<Consumed, String> {
    let raw = envelope.to_json();
    consume(db, "sink", envelope, streamia_clock::Now::system(), |_event| {
        db.execute(
            "INSERT INTO sink_received (event_id, event_type, transport, envelope) VALUES (?, ?, ?, ?)",
            &[
                (&envelope.event_id).into(),
                (&envelope.event_type).into(),
                transport.into(),
                raw.clone().into(),
            ],
        )?;
        Ok::<_, streamia_db::DbError>(true)
    })
    .map_err(|e: ConsumeError<streamia_db::DbError>| e.to_string())
}

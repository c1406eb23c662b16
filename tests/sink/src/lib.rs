//! Shared by both test sinks (tests/components/event-sink and
//! event-sink-redis): record an envelope once in the `sink` database.

use streamia_db::{Db, SpinDb};
use streamia_events::consumer::{consume, ConsumeError, Consumed};
use streamia_events::Envelope;

const MIGRATIONS: &[&[&str]] = &[
    &streamia_events::consumer_schema!("sink"),
    &["CREATE TABLE sink_received (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, event_type TEXT NOT NULL, transport TEXT NOT NULL, envelope TEXT NOT NULL)"],
];

pub fn open() -> Result<SpinDb, String> {
    let db = SpinDb::open("sink").map_err(|e| e.to_string())?;
    streamia_db::migrate(&db, MIGRATIONS).map_err(|e| e.to_string())?;
    Ok(db)
}

pub fn record(envelope: &Envelope, transport: &str) -> Result<Consumed, String> {
    let db = open()?;
    let raw = envelope.to_json();
    consume(&db, "sink", envelope, |_event| {
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

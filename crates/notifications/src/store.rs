//! The notifications service's schema and SQL: one row per e-mail, from
//! pending to sent or failed.

use streamia_api::ApiError;
use streamia_db::{Db, DbError, Row};

use crate::domain::Job;
use crate::message::{Address, Message};
use crate::templates::Template;

pub const MIGRATIONS: &[&[&str]] = &[
    &[
        // One row per e-mail; the bodies are kept only until it is sent or
        // has failed (a reset e-mail carries a live token).
        "CREATE TABLE notifications_emails (id TEXT PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, template TEXT NOT NULL,
            recipient TEXT NOT NULL, subject TEXT NOT NULL, html TEXT, text TEXT, status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, provider TEXT, message_id TEXT,
            created_unix INTEGER NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX notifications_emails_status ON notifications_emails (status, created_unix)",
    ],
    &streamia_events::outbox_schema!("notifications"),
    &streamia_events::consumer_schema!("notifications"),
    // Failed tries and dead letters of the events this service consumes.
    &streamia_events::dead_letter_schema!("notifications"),
];

fn job_from(row: &Row<'_>) -> Result<Job, ApiError> {
    let template = Template::parse(&row.text("template")?)
        .ok_or_else(|| ApiError::internal("unknown template in notifications_emails"))?;
    Ok(Job {
        id: row.text("id")?,
        event_id: row.text("event_id")?,
        message: Message {
            to: Address::parse(&row.text("recipient")?).map_err(ApiError::internal)?,
            subject: row.text("subject")?,
            template,
            html: row.opt_text("html")?.unwrap_or_default(),
            text: row.opt_text("text")?.unwrap_or_default(),
        },
    })
}

/// An e-mail as an event planned it: pending with its bodies, or failed
/// at once with the reason.
pub struct NewEmail<'a> {
    pub id: &'a str,
    pub event_id: &'a str,
    pub template: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub status: &'a str,
    pub html: Option<&'a str>,
    pub text: Option<&'a str>,
    pub error: Option<&'a str>,
    pub created_unix: i64,
    pub at: &'a str,
}

pub fn insert(db: &dyn Db, e: &NewEmail<'_>) -> Result<(), DbError> {
    db.execute(
        "INSERT INTO notifications_emails (id, event_id, template, recipient, subject, html, text, status,
            last_error, created_unix, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            e.id.into(),
            e.event_id.into(),
            e.template.into(),
            e.recipient.into(),
            e.subject.into(),
            e.html.into(),
            e.text.into(),
            e.status.into(),
            e.error.into(),
            e.created_unix.into(),
            e.at.into(),
        ],
    )?;
    Ok(())
}

/// Pending e-mails created at or before `cutoff`, oldest first.
pub fn pending_before(db: &dyn Db, cutoff: i64, limit: u32) -> Result<Vec<Job>, ApiError> {
    let rows = db.execute(
        "SELECT id, event_id, template, recipient, subject, html, text FROM notifications_emails
            WHERE status = 'pending' AND created_unix <= ? ORDER BY created_unix LIMIT ?",
        &[cutoff.into(), i64::from(limit).into()],
    )?;
    rows.iter().map(|r| job_from(&r)).collect()
}

/// Restart a stale pending e-mail's clock; `false` if another request
/// claimed it first.
pub fn claim(db: &dyn Db, id: &str, cutoff: i64, now: i64) -> Result<bool, DbError> {
    let claimed = db.execute(
        "UPDATE notifications_emails SET created_unix = ? WHERE id = ? AND status = 'pending'
            AND created_unix <= ? RETURNING id",
        &[now.into(), id.into(), cutoff.into()],
    )?;
    Ok(!claimed.is_empty())
}

/// How a pending e-mail ended.
pub struct Finished<'a> {
    pub status: &'a str,
    pub attempts: u32,
    pub error: Option<&'a str>,
    pub provider: &'a str,
    pub message_id: Option<&'a str>,
    pub at: &'a str,
}

/// Record the end and drop the bodies; `false` if it was no longer pending.
pub fn finish(db: &dyn Db, id: &str, f: &Finished<'_>) -> Result<bool, DbError> {
    let updated = db.execute(
        "UPDATE notifications_emails SET status = ?, attempts = ?, last_error = ?, provider = ?, message_id = ?,
            html = NULL, text = NULL, updated_at = ? WHERE id = ? AND status = 'pending' RETURNING id",
        &[
            f.status.into(),
            i64::from(f.attempts).into(),
            f.error.into(),
            f.provider.into(),
            f.message_id.into(),
            f.at.into(),
            id.into(),
        ],
    )?;
    Ok(!updated.is_empty())
}

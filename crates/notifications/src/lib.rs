//! The notifications service's logic, in plain Rust so native tests run it:
//! which e-mail an event causes ([`message`]), its templates
//! ([`templates`]), SendGrid's API ([`sendgrid`]), the retry loop
//! ([`deliver`]) and the bookkeeping that makes an event send one e-mail
//! even when it is delivered twice ([`Notifications`]).
//! `components/notifications` wires it to Spin.

pub mod message;
pub mod sendgrid;
pub mod templates;

use std::future::Future;

use serde::Serialize;
use streamia_api::ApiError;
use streamia_db::{transaction, Db, Row};
use streamia_events::consumer::{consume, Consumed};
use streamia_events::outbox::Outbox;
use streamia_events::{Envelope, Event, NotificationFailed, NotificationSent};

use message::{Address, Message};
use sendgrid::Attempt;
use templates::Template;

pub const SERVICE: &str = "notifications";

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
];

/// Where e-mail goes (variable `email_provider`).
#[derive(Debug, Clone, PartialEq)]
pub enum Provider {
    /// The embedded default: the log and the key-value sent log.
    Log,
    SendGrid {
        base_url: String,
        api_key: String,
    },
}

impl Provider {
    pub fn configure(kind: &str, base_url: &str, api_key: &str) -> Result<Self, String> {
        match kind.trim() {
            "" | "log" => Ok(Provider::Log),
            "sendgrid" if api_key.trim().is_empty() => {
                Err("email_provider = sendgrid needs the secret variable sendgrid_api_key".into())
            }
            "sendgrid" if !(base_url.starts_with("https://") || base_url.starts_with("http://")) => {
                Err("sendgrid_base_url must be an http(s) URL".into())
            }
            "sendgrid" => Ok(Provider::SendGrid {
                base_url: base_url.trim().to_owned(),
                api_key: api_key.trim().to_owned(),
            }),
            other => Err(format!("email_provider must be log or sendgrid, not {other:?}")),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Provider::Log => "log",
            Provider::SendGrid { .. } => "sendgrid",
        }
    }
}

/// How hard to try (variables `email_max_attempts`, `email_retry_base_ms`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_ms: u64,
    /// No single wait is longer: the request that carries the event waits.
    pub max_wait_ms: u64,
}

impl RetryPolicy {
    pub fn parse(max_attempts: &str, base_ms: &str) -> Result<Self, String> {
        let max_attempts: u32 = max_attempts
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=10).contains(n))
            .ok_or("email_max_attempts must be a whole number from 1 to 10")?;
        let base_ms: u64 = base_ms
            .trim()
            .parse()
            .ok()
            .filter(|n| *n <= 10_000)
            .ok_or("email_retry_base_ms must be a whole number of milliseconds up to 10000")?;
        Ok(RetryPolicy {
            max_attempts,
            base_ms,
            max_wait_ms: 5_000,
        })
    }
}

/// An e-mail to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub event_id: String,
    pub message: Message,
}

/// How delivering one e-mail ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Sent { message_id: Option<String>, attempts: u32 },
    Failed { reason: String, attempts: u32 },
}

/// Try `send_once` until it sends, fails for good, or `policy` runs out,
/// calling `wait(ms)` between tries.
pub async fn deliver<F, Fut>(policy: &RetryPolicy, mut send_once: F, mut wait: impl FnMut(u64)) -> Delivery
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt>,
{
    let mut attempt = 1;
    loop {
        match send_once().await {
            Attempt::Sent { message_id } => {
                return Delivery::Sent {
                    message_id,
                    attempts: attempt,
                }
            }
            Attempt::Fail { reason } => {
                return Delivery::Failed {
                    reason,
                    attempts: attempt,
                }
            }
            Attempt::Retry { reason, .. } if attempt >= policy.max_attempts => {
                return Delivery::Failed {
                    reason: format!("{reason} (gave up after {attempt} tries)"),
                    attempts: attempt,
                }
            }
            Attempt::Retry { retry_after_secs, .. } => {
                attempt += 1;
                wait(sendgrid::backoff_ms(
                    attempt,
                    policy.base_ms,
                    retry_after_secs,
                    policy.max_wait_ms,
                ));
            }
        }
    }
}

/// An entry of the key-value sent log. The bodies are kept only for the
/// `log` provider, whose sent log is the mailbox of a development machine.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SentEntry {
    pub id: String,
    pub event_id: String,
    pub to: String,
    pub subject: String,
    pub template: String,
    pub provider: String,
    pub message_id: Option<String>,
    pub attempts: u32,
    pub sent_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

pub struct Notifications<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
    /// Where links in e-mails point (variable `frontend_url`).
    pub frontend_url: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// A pending e-mail older than this was left by a request that died; the
/// next request sends it.
pub const STALE_AFTER_SECS: i64 = 60;

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

impl Notifications<'_> {
    pub fn migrate(&self) -> Result<(), ApiError> {
        Ok(streamia_db::migrate(self.db, MIGRATIONS)?)
    }

    /// Take an event once: the e-mail it causes is recorded as pending and
    /// handed back to be sent; an event that cannot become an e-mail is
    /// recorded as failed (notification.failed). A duplicate yields nothing.
    pub fn accept(&self, envelope: &Envelope) -> Result<(Consumed, Option<Job>), ApiError> {
        let mut job = None;
        let outcome = consume(self.db, SERVICE, envelope, |event: &Event| -> Result<bool, ApiError> {
            let Some(planned) = message::plan(event, self.frontend_url) else {
                return Ok(false);
            };
            let id = uuid::Uuid::now_v7().to_string();
            let (template, recipient, subject, status, html, text, error) = match &planned {
                Ok(m) => (
                    m.template.name().to_owned(),
                    m.to.as_str().to_owned(),
                    m.subject.clone(),
                    "pending",
                    Some(m.html.clone()),
                    Some(m.text.clone()),
                    None,
                ),
                Err(reason) => (
                    requested_template(event),
                    String::new(),
                    String::new(),
                    "failed",
                    None,
                    None,
                    Some(reason.clone()),
                ),
            };
            self.db.execute(
                "INSERT INTO notifications_emails (id, event_id, template, recipient, subject, html, text, status,
                    last_error, created_unix, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    (&id).into(),
                    (&envelope.event_id).into(),
                    (&template).into(),
                    (&recipient).into(),
                    (&subject).into(),
                    html.into(),
                    text.into(),
                    status.into(),
                    error.clone().into(),
                    self.now.into(),
                    streamia_events::now_rfc3339().into(),
                ],
            )?;
            match planned {
                Ok(message) => {
                    job = Some(Job {
                        id,
                        event_id: envelope.event_id.clone(),
                        message,
                    })
                }
                Err(reason) => {
                    self.outbox.add(
                        self.db,
                        &Event::NotificationFailed(NotificationFailed {
                            notification_id: id,
                            source_event_id: envelope.event_id.clone(),
                            template,
                            attempts: 0,
                            reason,
                        }),
                    )?;
                }
            }
            Ok(true)
        })?;
        Ok((outcome, job))
    }

    /// Pending e-mails a request that died left behind (at most `limit`),
    /// each claimed for this request (its clock restarts), so two requests
    /// never pick up the same one.
    pub fn stale(&self, limit: u32) -> Result<Vec<Job>, ApiError> {
        let cutoff = self.now - STALE_AFTER_SECS;
        let rows = self.db.execute(
            "SELECT id, event_id, template, recipient, subject, html, text FROM notifications_emails
                WHERE status = 'pending' AND created_unix <= ? ORDER BY created_unix LIMIT ?",
            &[cutoff.into(), i64::from(limit).into()],
        )?;
        let mut jobs = Vec::new();
        for row in rows.iter() {
            let job = job_from(&row)?;
            let claimed = self.db.execute(
                "UPDATE notifications_emails SET created_unix = ? WHERE id = ? AND status = 'pending'
                    AND created_unix <= ? RETURNING id",
                &[self.now.into(), (&job.id).into(), cutoff.into()],
            )?;
            if !claimed.is_empty() {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    /// Record how `job` ended and announce it; the sent log entry for a
    /// sent e-mail is returned for the key-value store.
    pub fn finish(&self, job: &Job, provider: &Provider, delivery: &Delivery) -> Result<Option<SentEntry>, ApiError> {
        let template = job.message.template.name().to_owned();
        transaction(self.db, || {
            let (status, attempts, error, message_id) = match delivery {
                Delivery::Sent { message_id, attempts } => ("sent", *attempts, None, message_id.clone()),
                Delivery::Failed { reason, attempts } => ("failed", *attempts, Some(reason.clone()), None),
            };
            let updated = self.db.execute(
                "UPDATE notifications_emails SET status = ?, attempts = ?, last_error = ?, provider = ?, message_id = ?,
                    html = NULL, text = NULL, updated_at = ? WHERE id = ? AND status = 'pending' RETURNING id",
                &[
                    status.into(),
                    i64::from(attempts).into(),
                    error.clone().into(),
                    provider.name().into(),
                    message_id.clone().into(),
                    streamia_events::now_rfc3339().into(),
                    (&job.id).into(),
                ],
            )?;
            if updated.is_empty() {
                // Another request finished it first.
                return Ok(None);
            }
            let event = match delivery {
                Delivery::Sent { .. } => Event::NotificationSent(NotificationSent {
                    notification_id: job.id.clone(),
                    source_event_id: job.event_id.clone(),
                    template: template.clone(),
                    provider: provider.name().to_owned(),
                    message_id: message_id.clone(),
                }),
                Delivery::Failed { reason, attempts } => Event::NotificationFailed(NotificationFailed {
                    notification_id: job.id.clone(),
                    source_event_id: job.event_id.clone(),
                    template: template.clone(),
                    attempts: *attempts,
                    reason: reason.clone(),
                }),
            };
            self.outbox.add(self.db, &event)?;
            let Delivery::Sent { attempts, .. } = delivery else {
                return Ok(None);
            };
            let keep_bodies = *provider == Provider::Log;
            Ok(Some(SentEntry {
                id: job.id.clone(),
                event_id: job.event_id.clone(),
                to: job.message.to.as_str().to_owned(),
                subject: job.message.subject.clone(),
                template,
                provider: provider.name().to_owned(),
                message_id,
                attempts: *attempts,
                sent_at: streamia_events::now_rfc3339(),
                text: keep_bodies.then(|| job.message.text.clone()),
                html: keep_bodies.then(|| job.message.html.clone()),
            }))
        })
    }
}

/// The template an event asked for, for the record of one that failed to build.
fn requested_template(event: &Event) -> String {
    match event {
        Event::UserRegistered(_) => Template::Welcome.name().to_owned(),
        Event::PasswordResetRequested(_) => Template::PasswordReset.name().to_owned(),
        Event::NotificationSendEmail(e) => e.template.chars().take(50).collect(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use streamia_db::MemoryDb;
    use streamia_events::{NotificationSendEmail, UserRegistered};

    struct Fixture {
        db: MemoryDb,
        outbox: Outbox,
    }

    impl Fixture {
        fn new() -> Self {
            let f = Fixture {
                db: MemoryDb::new(),
                outbox: Outbox::new(SERVICE),
            };
            f.at(0).migrate().unwrap();
            f
        }

        fn at(&self, now: i64) -> Notifications<'_> {
            Notifications {
                db: &self.db,
                outbox: &self.outbox,
                frontend_url: "https://streamia.example",
                now: 1_800_000_000 + now,
            }
        }

        fn events(&self) -> Vec<Event> {
            self.outbox
                .due(&self.db, i64::MAX, 100)
                .unwrap()
                .into_iter()
                .map(|p| p.envelope.event().unwrap().unwrap())
                .collect()
        }
    }

    fn registered() -> Envelope {
        Envelope::new(
            &Event::UserRegistered(UserRegistered {
                user_id: "u1".into(),
                email: "ana@example.com".into(),
                username: "ana".into(),
                role: "user".into(),
            }),
            "users",
        )
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        futures_executor::block_on(f)
    }

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 3,
        base_ms: 100,
        max_wait_ms: 5_000,
    };

    #[test]
    fn an_event_delivered_twice_yields_one_e_mail() {
        let f = Fixture::new();
        let env = registered();
        let (first, job) = f.at(0).accept(&env).unwrap();
        assert_eq!(first, Consumed::Applied);
        let job = job.expect("an e-mail to send");
        assert_eq!(job.message.to.as_str(), "ana@example.com");
        let (again, none) = f.at(0).accept(&env).unwrap();
        assert_eq!((again, none), (Consumed::Duplicate, None));

        let sent = Delivery::Sent {
            message_id: Some("m1".into()),
            attempts: 2,
        };
        let entry = f.at(0).finish(&job, &Provider::Log, &sent).unwrap().unwrap();
        assert_eq!(entry.attempts, 2);
        assert!(
            entry.text.as_deref().unwrap().contains("ana"),
            "the log provider keeps the bodies"
        );
        assert_eq!(
            f.at(0).finish(&job, &Provider::Log, &sent).unwrap(),
            None,
            "finished once"
        );
        assert!(matches!(f.events().as_slice(), [Event::NotificationSent(e)] if e.message_id.as_deref() == Some("m1")));
    }

    #[test]
    fn sendgrid_entries_keep_no_bodies_and_failures_are_announced() {
        let f = Fixture::new();
        let (_, job) = f.at(0).accept(&registered()).unwrap();
        let provider = Provider::configure("sendgrid", "https://api.sendgrid.com", "SG.key").unwrap();
        let failed = Delivery::Failed {
            reason: "SendGrid 400".into(),
            attempts: 1,
        };
        assert_eq!(f.at(0).finish(job.as_ref().unwrap(), &provider, &failed).unwrap(), None);
        assert!(matches!(f.events().as_slice(), [Event::NotificationFailed(e)] if e.attempts == 1));

        let (_, job) = f
            .at(0)
            .accept(&Envelope::new(
                &Event::UserRegistered(UserRegistered {
                    user_id: "u2".into(),
                    email: "bob@example.com".into(),
                    username: "bob".into(),
                    role: "user".into(),
                }),
                "users",
            ))
            .unwrap();
        let sent = Delivery::Sent {
            message_id: None,
            attempts: 1,
        };
        let entry = f
            .at(0)
            .finish(job.as_ref().unwrap(), &provider, &sent)
            .unwrap()
            .unwrap();
        assert_eq!((entry.text, entry.html), (None, None));
    }

    #[test]
    fn an_event_that_cannot_become_an_e_mail_fails_at_once() {
        let f = Fixture::new();
        let serde_json::Value::Object(data) = serde_json::json!({}) else {
            unreachable!()
        };
        let bad = Envelope::new(
            &Event::NotificationSendEmail(NotificationSendEmail {
                to: "not-an-address".into(),
                subject: "s".into(),
                template: "notification".into(),
                data,
            }),
            "movies",
        );
        let (outcome, job) = f.at(0).accept(&bad).unwrap();
        assert_eq!((outcome, job), (Consumed::Applied, None));
        assert!(
            matches!(f.events().as_slice(), [Event::NotificationFailed(e)] if e.attempts == 0 && e.template == "notification")
        );
    }

    #[test]
    fn pending_e_mails_of_a_dead_request_are_picked_up_later() {
        let f = Fixture::new();
        f.at(0).accept(&registered()).unwrap();
        assert!(f.at(STALE_AFTER_SECS - 1).stale(10).unwrap().is_empty());
        let stale = f.at(STALE_AFTER_SECS).stale(10).unwrap();
        assert_eq!(stale.len(), 1);
        assert!(stale[0].message.html.contains("ana"));
        assert!(
            f.at(STALE_AFTER_SECS).stale(10).unwrap().is_empty(),
            "claimed: another request does not send it too"
        );
    }

    #[test]
    fn delivery_retries_what_is_worth_retrying_up_to_the_bound() {
        let run = |answers: Vec<Attempt>| {
            let answers = RefCell::new(answers.into_iter());
            let waits = RefCell::new(Vec::new());
            let out = block_on(deliver(
                &POLICY,
                || {
                    let next = answers.borrow_mut().next().expect("no more tries expected");
                    async move { next }
                },
                |ms| waits.borrow_mut().push(ms),
            ));
            (out, waits.into_inner())
        };
        let retry = |after| Attempt::Retry {
            reason: "SendGrid 429".into(),
            retry_after_secs: after,
        };
        let sent = Attempt::Sent {
            message_id: Some("id".into()),
        };
        assert_eq!(
            run(vec![retry(None), sent.clone()]),
            (
                Delivery::Sent {
                    message_id: Some("id".into()),
                    attempts: 2
                },
                vec![100]
            )
        );
        let (out, waits) = run(vec![retry(None), retry(Some(1)), retry(None)]);
        assert!(matches!(out, Delivery::Failed { attempts: 3, .. }), "{out:?}");
        assert_eq!(waits, [100, 1000]);
        let (out, waits) = run(vec![Attempt::Fail {
            reason: "SendGrid 400".into(),
        }]);
        assert_eq!(
            out,
            Delivery::Failed {
                reason: "SendGrid 400".into(),
                attempts: 1
            }
        );
        assert!(waits.is_empty());
    }

    #[test]
    fn configuration_is_checked() {
        assert_eq!(Provider::configure("", "", "").unwrap(), Provider::Log);
        assert!(Provider::configure("sendgrid", "https://api.sendgrid.com", "").is_err());
        assert!(Provider::configure("smtp", "", "").is_err());
        assert!(RetryPolicy::parse("0", "100").is_err());
        assert!(RetryPolicy::parse("3", "x").is_err());
        assert_eq!(RetryPolicy::parse("4", "250").unwrap().max_attempts, 4);
    }
}

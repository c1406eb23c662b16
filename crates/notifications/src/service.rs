//! The notifications service's operations: sending what an event asked
//! for (and what a dead request left pending) with bounded retries, and the
//! bookkeeping that makes an event send one e-mail even when delivered twice.

use std::future::Future;

use streamia_api::ApiError;
use streamia_clock::Now;
use streamia_db::{transaction, Db};
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::{Envelope, Event, NotificationFailed, NotificationSent};

use crate::domain::{Config, Delivery, Job, Provider, RetryPolicy, SentEntry};
use crate::message::{Message, Sender};
use crate::sendgrid::{self, Attempt};
use crate::sent_log::SentLog;
use crate::store::{self, Finished};
use crate::MIGRATIONS;

/// A pending e-mail older than this was left by a request that died; the
/// next request sends it.
pub const STALE_AFTER_SECS: i64 = 60;
/// Pending e-mails of dead requests picked up per event.
pub const STALE_PER_EVENT: u32 = 5;

/// One try at handing an e-mail to SendGrid's v3 mail send API (over Spin's
/// outbound HTTP in the components, scripted in unit tests).
pub trait MailApi {
    fn send_once(
        &self,
        base_url: &str,
        api_key: &str,
        from: &Sender,
        message: &Message,
    ) -> impl Future<Output = Attempt>;
}

pub struct Notifications<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
    /// Where links in e-mails point (variable `frontend_url`).
    pub frontend_url: &'a str,
    pub now: Now,
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

impl Notifications<'_> {
    pub fn migrate(&self) -> Result<(), ApiError> {
        Ok(streamia_db::migrate(self.db, crate::SERVICE, MIGRATIONS)?)
    }

    /// Take `envelope` once and send the e-mail it causes, plus any a dead
    /// request left pending; `wait(ms)` sleeps between tries.
    pub async fn handle(
        &self,
        envelope: &Envelope,
        config: &Config,
        api: &impl MailApi,
        sent_log: &SentLog<'_>,
        mut wait: impl FnMut(u64),
    ) -> Result<Consumed, ApiError> {
        let (outcome, job) = self.accept(envelope)?;
        let mut jobs: Vec<Job> = job.into_iter().collect();
        jobs.extend(self.stale(STALE_PER_EVENT)?);
        for job in &jobs {
            let delivery = match &config.provider {
                Provider::Log => {
                    // The development mailbox: the log (and the sent log).
                    let mail = streamia_log::json!({"emailId": job.id, "to": job.message.to.as_str(),
                        "subject": job.message.subject, "text": job.message.text});
                    streamia_log::info(crate::SERVICE, "e-mail (log provider)", mail);
                    Delivery::Sent {
                        message_id: None,
                        attempts: 1,
                    }
                }
                Provider::SendGrid { base_url, api_key } => {
                    let send_once = || api.send_once(base_url, api_key, &config.from, &job.message);
                    deliver(&config.policy, send_once, &mut wait).await
                }
            };
            if let Delivery::Failed { reason, attempts } = &delivery {
                let fields = streamia_log::json!({"template": job.message.template.name(), "emailId": job.id,
                    "eventId": job.event_id, "attempts": attempts, "error": reason});
                streamia_log::warn(crate::SERVICE, "e-mail not sent", fields);
            }
            if let Some(entry) = self.finish(job, &config.provider, &delivery)? {
                sent_log.record(&entry);
            }
        }
        Ok(outcome)
    }

    /// Pending e-mails a request that died left behind (at most `limit`),
    /// each claimed for this request (its clock restarts), so two requests
    /// never pick up the same one.
    pub fn stale(&self, limit: u32) -> Result<Vec<Job>, ApiError> {
        let cutoff = self.now.unix() - STALE_AFTER_SECS;
        let mut jobs = Vec::new();
        for job in store::pending_before(self.db, cutoff, limit)? {
            if store::claim(self.db, &job.id, cutoff, self.now.unix())? {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    /// Record how `job` ended and announce it; the sent log entry for a
    /// sent e-mail is returned for the key-value store.
    pub fn finish(&self, job: &Job, provider: &Provider, delivery: &Delivery) -> Result<Option<SentEntry>, ApiError> {
        let template = job.message.template.name().to_owned();
        let at = self.now.rfc3339();
        transaction(self.db, || {
            let (status, attempts, error, message_id) = match delivery {
                Delivery::Sent { message_id, attempts } => ("sent", *attempts, None, message_id.clone()),
                Delivery::Failed { reason, attempts } => ("failed", *attempts, Some(reason.as_str()), None),
            };
            let finished = Finished {
                status,
                attempts,
                error,
                provider: provider.name(),
                message_id: message_id.as_deref(),
                at: &at,
            };
            if !store::finish(self.db, &job.id, &finished)? {
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
                sent_at: at.clone(),
                text: keep_bodies.then(|| job.message.text.clone()),
                html: keep_bodies.then(|| job.message.html.clone()),
            }))
        })
    }
}

//! Taking an event and sending the e-mail it causes: shared by the HTTP
//! component (`POST /events`) and the Redis consumer (notifications-events).

use std::time::Duration;

use spin_sdk::http::{Method, Request, Response};
use streamia_api::ApiError;
use streamia_db::Db;
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::Envelope;
use streamia_notifications::message::{Message, Sender};
use streamia_notifications::sendgrid::{self, Attempt};
use streamia_notifications::{deliver, Delivery, Job, Notifications, Provider, RetryPolicy, SentEntry, SERVICE};
use streamia_spin::variable;

/// The component's key-value store: the sent log.
const SENT_LOG: &str = "notifications";
const SENT_PREFIX: &str = "sent:";
/// The sent log keeps this many entries, dropping the oldest.
const SENT_LOG_MAX: usize = 500;
/// Pending e-mails of dead requests picked up per event.
const STALE_PER_EVENT: u32 = 5;

pub struct Config {
    provider: Provider,
    policy: RetryPolicy,
    from: Sender,
    frontend_url: String,
}

fn misconfigured(message: String) -> ApiError {
    ApiError::Unavailable {
        code: "misconfigured",
        message,
    }
}

impl Config {
    pub fn load() -> Result<Self, ApiError> {
        let var = |name: &str| variable(SERVICE, name);
        Ok(Config {
            provider: Provider::configure(
                &var("email_provider")?,
                &var("sendgrid_base_url")?,
                &var("sendgrid_api_key")?,
            )
            .map_err(misconfigured)?,
            policy: RetryPolicy::parse(&var("email_max_attempts")?, &var("email_retry_base_ms")?)
                .map_err(misconfigured)?,
            from: Sender::parse(&var("email_from")?).map_err(|e| misconfigured(format!("email_from: {e}")))?,
            frontend_url: var("frontend_url")?,
        })
    }
}

/// Take `envelope` once and send the e-mail it causes (plus any a dead
/// request left pending). A misconfigured service takes nothing, so the
/// producer's outbox keeps the event until it is fixed.
pub async fn handle(db: &dyn Db, outbox: &Outbox, envelope: &Envelope) -> Result<Consumed, ApiError> {
    let config = Config::load()?;
    let service = Notifications {
        db,
        outbox,
        frontend_url: &config.frontend_url,
        now: streamia_spin::unix_now(),
    };
    let (outcome, job) = service.accept(envelope)?;
    let mut jobs: Vec<Job> = job.into_iter().collect();
    jobs.extend(service.stale(STALE_PER_EVENT)?);
    for job in &jobs {
        let delivery = send(&config, job).await;
        if let Delivery::Failed { reason, attempts } = &delivery {
            eprintln!(
                "notifications: {} e-mail {} (event {}) failed after {attempts} tries: {reason}",
                job.message.template.name(),
                job.id,
                job.event_id
            );
        }
        if let Some(entry) = service.finish(job, &config.provider, &delivery)? {
            record_sent(&entry);
        }
    }
    Ok(outcome)
}

async fn send(config: &Config, job: &Job) -> Delivery {
    match &config.provider {
        Provider::Log => {
            // The development mailbox: the log (and the sent log).
            println!(
                "notifications: e-mail {} to {} — {}\n{}",
                job.id,
                job.message.to.as_str(),
                job.message.subject,
                job.message.text
            );
            Delivery::Sent {
                message_id: None,
                attempts: 1,
            }
        }
        Provider::SendGrid { base_url, api_key } => {
            deliver(
                &config.policy,
                || send_once(base_url, api_key, &config.from, &job.message),
                |ms| std::thread::sleep(Duration::from_millis(ms)),
            )
            .await
        }
    }
}

async fn send_once(base_url: &str, api_key: &str, from: &Sender, message: &Message) -> Attempt {
    let req = Request::builder()
        .method(Method::Post)
        .uri(sendgrid::endpoint(base_url))
        .header("authorization", format!("Bearer {api_key}"))
        .header("content-type", "application/json")
        .body(sendgrid::body(from, message).to_string())
        .build();
    match spin_sdk::http::send::<_, Response>(req).await {
        Ok(resp) => {
            let header = |name: &str| resp.header(name).and_then(|v| v.as_str());
            sendgrid::judge(
                *resp.status(),
                header("x-message-id"),
                header("retry-after"),
                resp.body(),
            )
        }
        Err(e) => Attempt::Retry {
            reason: format!("SendGrid unreachable: {e}"),
            retry_after_secs: None,
        },
    }
}

fn record_sent(entry: &SentEntry) {
    let store = match spin_sdk::key_value::Store::open(SENT_LOG) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("notifications: sent log unavailable: {e:?}");
            return;
        }
    };
    let value = serde_json::to_vec(entry).unwrap_or_default();
    if let Err(e) = store.set(&format!("{SENT_PREFIX}{}", entry.id), &value) {
        eprintln!("notifications: sent log: {e:?}");
    }
    // Ids are UUIDv7: in key order the oldest come first.
    if let Ok(mut keys) = store.get_keys() {
        keys.retain(|k| k.starts_with(SENT_PREFIX));
        if keys.len() > SENT_LOG_MAX {
            keys.sort();
            for old in &keys[..keys.len() - SENT_LOG_MAX] {
                store.delete(old).ok();
            }
        }
    }
}

/// The newest `limit` entries of the sent log, newest first.
pub fn sent_log(limit: usize) -> Result<Vec<serde_json::Value>, ApiError> {
    let store = spin_sdk::key_value::Store::open(SENT_LOG).map_err(|e| ApiError::internal(format!("{e:?}")))?;
    let mut keys = store.get_keys().map_err(|e| ApiError::internal(format!("{e:?}")))?;
    keys.retain(|k| k.starts_with(SENT_PREFIX));
    keys.sort();
    keys.reverse();
    Ok(keys
        .iter()
        .take(limit)
        .filter_map(|k| store.get(k).ok().flatten())
        .filter_map(|v| serde_json::from_slice(&v).ok())
        .collect())
}

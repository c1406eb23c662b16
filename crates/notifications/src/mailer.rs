//! The service on Spin, shared by the HTTP component (`POST /events`) and
//! the Redis consumer (notifications-events): configuration from Spin
//! variables, SendGrid over Spin's outbound HTTP, the sent log in the
//! component's key-value store.

use std::time::Duration;

use spin_sdk::http::{Method, Request, Response};
use streamia_api::{ApiError, Settings};
use streamia_clock::Now;
use streamia_db::Db;
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::Envelope;

use crate::domain::Config;
use crate::message::{Message, Sender};
use crate::sendgrid::{self, Attempt};
use crate::sent_log::{KeyValue, SentLog};
use crate::service::MailApi;
use crate::{Notifications, SERVICE};

/// The component's key-value store: the sent log.
pub const SENT_LOG_STORE: &str = "notifications";

fn load_config() -> Result<Config, ApiError> {
    Ok(Config::load(&Settings::of_service(SERVICE))?)
}

/// Take `envelope` once and send the e-mail it causes (plus any a dead
/// request left pending). A misconfigured service takes nothing, so the
/// producer's outbox keeps the event until it is fixed.
pub async fn handle(db: &dyn Db, outbox: &Outbox, now: Now, envelope: &Envelope) -> Result<Consumed, ApiError> {
    let config = load_config()?;
    let service = Notifications {
        db,
        outbox,
        frontend_url: &config.frontend_url,
        now,
    };
    let store = SpinKv::open();
    let wait = |ms| std::thread::sleep(Duration::from_millis(ms));
    service
        .handle(envelope, &config, &SendGridHttp, &SentLog(&store), wait)
        .await
}

/// The event types this service consumes (its Redis consumer's channels).
pub const CONSUMES: &[&str] = &["user.registered", "password.reset.requested", "notification.send_email"];

/// [`handle`] as the service's consumer: the boxed future its components are handed.
pub fn consume<'a>(
    db: &'a dyn Db,
    outbox: &'a Outbox,
    now: Now,
    envelope: &'a Envelope,
) -> streamia_spin::Applying<'a> {
    Box::pin(handle(db, outbox, now, envelope))
}

/// The newest `limit` entries of the sent log, newest first.
pub fn sent_log(limit: usize) -> Result<Vec<serde_json::Value>, ApiError> {
    let store = spin_sdk::key_value::Store::open(SENT_LOG_STORE).map_err(|e| ApiError::internal(format!("{e:?}")))?;
    SentLog(&SpinKv(Some(store))).recent(limit).map_err(ApiError::internal)
}

/// SendGrid's API over Spin's outbound HTTP.
struct SendGridHttp;

impl MailApi for SendGridHttp {
    async fn send_once(&self, base_url: &str, api_key: &str, from: &Sender, message: &Message) -> Attempt {
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
}

/// The component's key-value store; one that cannot be opened keeps nothing.
struct SpinKv(Option<spin_sdk::key_value::Store>);

impl SpinKv {
    fn open() -> Self {
        match spin_sdk::key_value::Store::open(SENT_LOG_STORE) {
            Ok(store) => SpinKv(Some(store)),
            Err(e) => {
                streamia_log::warn(
                    SERVICE,
                    "sent log unavailable",
                    streamia_log::json!({"error": format!("{e:?}")}),
                );
                SpinKv(None)
            }
        }
    }

    fn store(&self) -> Result<&spin_sdk::key_value::Store, String> {
        self.0.as_ref().ok_or_else(|| "unavailable".to_owned())
    }
}

impl KeyValue for SpinKv {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.store().ok()?.get(key).ok().flatten()
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.store()?.set(key, value).map_err(|e| format!("{e:?}"))
    }
    fn delete(&self, key: &str) {
        if let Ok(store) = self.store() {
            store.delete(key).ok();
        }
    }
    fn keys(&self) -> Result<Vec<String>, String> {
        self.store()?.get_keys().map_err(|e| format!("{e:?}"))
    }
}

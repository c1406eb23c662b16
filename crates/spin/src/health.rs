//! A service's health routes: `/health/live` (the component runs),
//! `/health/ready` (everything it needs answers: its database, Redis when
//! events go over Redis, its key-value store; 503 otherwise) and
//! `/health/detailed` (the same checks with their latencies and errors).
//! Both also carry the event counts the gateway's `/metrics` shows.

use spin_sdk::http::Response;
use streamia_api::health::{Check, Readiness};
use streamia_api::ApiError;
use streamia_events::transport::Transport;

use crate::builtin_routes::dead_letter_count;
use crate::event_transport;
use crate::service::Call;

pub fn route(call: &Call<'_>, rest: &[&str]) -> Result<Response, ApiError> {
    let service = call.service;
    match rest {
        [] | ["ready"] | ["detailed"] => {
            let readiness = checks(call);
            let (db, outbox) = (call.db, call.outbox);
            let backlog = outbox.backlog(db).ok();
            let dead_letters = dead_letter_count(service, db);
            let mut body = serde_json::json!({
                "service": service.name,
                "status": readiness.word(),
                "checks": readiness.outcomes(),
                "outbox": backlog,
                "deadLetters": dead_letters,
                "events": {
                    "published": outbox.delivered(db).ok(),
                    "waiting": backlog,
                    "consumed": service.consumer.and_then(|_| streamia_events::consumer::consumed_count(db, service.name).ok()),
                    "deadLetters": dead_letters,
                },
            });
            if rest == ["detailed"] {
                body["checks"] = readiness.detailed();
            }
            if !readiness.ready() {
                let fields = streamia_log::json!({"requestId": call.ctx.request_id, "failing": readiness.failing()});
                streamia_log::warn(service.name, "not ready", fields);
            }
            Ok(call.ctx.json(readiness.status(), &body))
        }
        ["live"] => Ok(call
            .ctx
            .json(200, &serde_json::json!({"service": service.name, "status": "ok"}))),
        _ => Err(ApiError::NotFound("no such health check".into())),
    }
}

/// What this service needs, each checked now.
fn checks(call: &Call<'_>) -> Readiness {
    let mut readiness = Readiness::default();
    readiness.push(Check::run("sqlite", || {
        call.outbox.backlog(call.db).map(|_| ()).map_err(|e| e.to_string())
    }));
    match event_transport(&call.settings()) {
        Ok(Transport::Redis { address, .. }) => {
            readiness.push(Check::run("redis", || streamia_events::stream::ping(&address)))
        }
        Ok(_) => {}
        // Misconfigured events are a reason not to be ready, named as such.
        Err(e) => readiness.push(Check::run("events", || Err(e.to_string()))),
    }
    if let Some((store, answers)) = call.service.key_value {
        readiness.push(Check::run("keyValue", || answers(store)));
    }
    readiness
}

/// Whether the key-value store `store` answers a read: the check a service
/// with a store passes to [`crate::Service::keeping`].
pub fn key_value_answers(store: &str) -> Result<(), String> {
    let store = spin_sdk::key_value::Store::open(store).map_err(|e| format!("key-value store {store:?}: {e}"))?;
    store
        .exists("health")
        .map(|_| ())
        .map_err(|e| format!("key-value read: {e}"))
}

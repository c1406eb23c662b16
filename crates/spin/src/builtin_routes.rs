//! The routes every service answers besides its own: events coming in, on
//! both transports, what an operator does with the ones that keep failing,
//! and the release's and the migration's jobs:
//! - `POST /events` (http): one envelope, applied once; an invalid one is
//!   400; a failure answers 503 so the producer's outbox retries it with
//!   backoff, and the try that reaches `event_max_attempts` parks it as a
//!   dead letter (answered 200 `dead_lettered`, so the producer stops); a
//!   dependency down answers 503 uncounted (an outage, never parked).
//! - a Redis doorbell ([`on_redis_message`]): the service's consumer group
//!   is drained ([`streamia_events::drain::drain`]).
//! - `POST /relay`: what runs without a user request — the outbox's due
//!   events, and on Redis the consumer group (catch-up and retries).
//! - `POST /migrate`: the database schema brought up to date (the release's
//!   migration job).
//! - `/dead-letters…` (admins): list, replay one or all, discard one.

use spin_sdk::http::{Method, Response};
use streamia_api::{ApiError, Paginated, Settings};
use streamia_clock::Now;
use streamia_db::Db;
use streamia_events::consumer::Consumed;
use streamia_events::dead_letter::{Inbox, Received};
use streamia_events::drain::{self, DrainReport, NotApplied};
use streamia_events::outbox::Outbox;
use streamia_events::retry::Retry;
use streamia_events::stream::Group;
use streamia_events::transport::{self, Transport};
use streamia_events::Envelope;

use crate::service::{Call, Consumer, Service};
use crate::{event_transport, require_admin};

/// A failure as the text kept with the event.
fn describe(error: ApiError) -> String {
    match error {
        ApiError::Internal(cause) => cause,
        other => format!("{}: {other}", other.code()),
    }
}

/// A consumer's error as a drain takes it: a dependency down (Cloudinary,
/// say) is an outage, retried without counting; anything else a failure.
fn not_applied(error: ApiError) -> NotApplied {
    match error {
        ApiError::DependencyUnavailable { .. } => NotApplied::Unavailable(describe(error)),
        other => NotApplied::Failed(describe(other)),
    }
}

/// `event_max_attempts` and `event_retry_base_ms`, read when a try failed
/// (or a stream is drained); unset, the defaults; unreadable, the defaults
/// and a line in the log.
pub fn retry(service: &str) -> Retry {
    let settings = Settings::of_service(service);
    let get = |name: &str| settings.optional(name);
    let default = Retry::default();
    let max = get("event_max_attempts").unwrap_or_else(|| default.max_attempts.to_string());
    let base = get("event_retry_base_ms").unwrap_or_else(|| default.base_ms.to_string());
    Retry::parse(&max, &base).unwrap_or_else(|e| {
        streamia_log::warn(
            service,
            "retry settings unreadable; using the defaults",
            streamia_log::json!({"error": e, "defaults": format!("{default:?}")}),
        );
        default
    })
}

/// What one try came to; a success costs no write here.
fn receive(
    service: &str,
    db: &dyn Db,
    envelope: &Envelope,
    outcome: Result<Consumed, String>,
    now: Now,
) -> Result<Received, ApiError> {
    let received = match outcome {
        Ok(consumed) => Received::Done(consumed),
        Err(e) => Inbox::new(db, service).record(envelope, Err(e), &retry(service), now)?,
    };
    drain::log(service, envelope, &received);
    Ok(received)
}

fn result_name(consumed: &Consumed) -> String {
    format!("{consumed:?}").to_lowercase()
}

/// `POST /events` (http transport).
pub async fn events_route(call: &Call<'_>, consumer: Consumer) -> Result<Response, ApiError> {
    let envelope = Envelope::parse(call.req.body()).map_err(|e| ApiError::BadRequest {
        code: "invalid_event",
        message: e.to_string(),
    })?;
    let outcome = match consumer.apply(call.db, call.outbox, call.now, &envelope).await {
        Ok(consumed) => Ok(consumed),
        // An event that is not what its type says is refused, and nothing
        // is recorded: no retry could make it apply.
        Err(e) if e.status() < 500 => return Err(e),
        Err(e) => match not_applied(e) {
            NotApplied::Failed(why) => Err(why),
            // An outage: 503, not counted, so the producer's outbox retries
            // it without end, with its backoff.
            NotApplied::Unavailable(why) => {
                return Err(ApiError::Unavailable {
                    code: "event_not_applied",
                    message: format!("{} could not apply the event: {why}", call.service.name),
                })
            }
        },
    };
    match receive(call.service.name, call.db, &envelope, outcome, call.now)? {
        Received::Done(consumed) => Ok(call
            .ctx
            .json(200, &serde_json::json!({"result": result_name(&consumed)}))),
        Received::DeadLettered { attempts, .. } => Ok(call.ctx.json(
            200,
            &serde_json::json!({"result": "dead_lettered", "attempts": attempts}),
        )),
        Received::Retry { attempts, .. } => Err(ApiError::Unavailable {
            code: "event_not_applied",
            message: format!(
                "{} could not apply the event (attempt {attempts}); it is kept for a retry",
                call.service.name
            ),
        }),
    }
}

/// Drain `service`'s consumer group on the Redis stream.
async fn drain(
    service: &Service,
    db: &dyn Db,
    outbox: &Outbox,
    consumer: Consumer,
    address: &str,
) -> Result<DrainReport, String> {
    let group = Group::open(address, service.name)?;
    drain::drain(
        &group,
        db,
        service.name,
        service.consumes,
        &retry(service.name),
        Now::system,
        async |envelope, now| consumer.apply(db, outbox, now, envelope).await.map_err(not_applied),
    )
    .await
    .map_err(|e| e.to_string())
}

/// Deliver what is due in the outbox; failures stay there for later.
pub async fn deliver_outbox(
    service: &str,
    db: &dyn Db,
    outbox: &Outbox,
    transport: &Transport,
    now: Now,
    request_id: &str,
) {
    if let Err(e) = transport::flush(db, outbox, transport, now, || retry(service)).await {
        streamia_log::warn(
            service,
            "outbox flush failed",
            streamia_log::json!({"requestId": request_id, "error": e.to_string()}),
        );
    }
}

/// A message on a `[[trigger.redis]]` channel rings the doorbell: drain the
/// service's group, then deliver what the consumer wrote to the outbox. An
/// error (Redis unreachable, say) makes Spin log it; nothing is lost, the
/// entries wait in the group.
pub async fn on_redis_message(service: &Service, _doorbell: &[u8]) -> anyhow::Result<()> {
    streamia_log::set_component(service.name);
    let consumer = service
        .consumer
        .ok_or_else(|| anyhow::anyhow!("{} consumes no events", service.name))?;
    let now = Now::system();
    let (db, outbox) = service.open(now);
    let transport = event_transport(&Settings::of_service(service.name)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Transport::Redis { address, .. } = &transport else {
        anyhow::bail!("{}: a Redis message, but event_transport is not redis", service.name);
    };
    let drained = drain(service, &db, &outbox, consumer, address).await;
    deliver_outbox(service.name, &db, &outbox, &transport, now, "redis").await;
    drained.map(|_| ()).map_err(anyhow::Error::msg)
}

/// `POST /relay`: due outbox events, then (Redis) the consumer group.
pub async fn relay(call: &Call<'_>) -> Result<Response, ApiError> {
    let service = call.service;
    let transport = event_transport(&Settings::of_service(service.name))?;
    let outbox = transport::flush_due(call.db, call.outbox, &transport, RELAY_BATCH, call.now, || {
        retry(service.name)
    })
    .await?;
    let consumed = match (&transport, service.consumer) {
        (Transport::Redis { address, .. }, Some(consumer)) => Some(
            drain(service, call.db, call.outbox, consumer, address)
                .await
                .map_err(|e| ApiError::Unavailable {
                    code: "redis_unavailable",
                    message: format!("the event stream could not be read: {e}"),
                })?,
        ),
        _ => None,
    };
    Ok(call.ctx.json(
        200,
        &serde_json::json!({
            "service": service.name,
            "outbox": {"delivered": outbox.delivered, "failed": outbox.failed, "waiting": call.outbox.backlog(call.db)?},
            "consumed": consumed,
        }),
    ))
}

/// Due outbox events one relay pass delivers at most.
const RELAY_BATCH: u32 = 200;

/// Dead letters one "replay all" takes at most.
const REPLAY_ALL_LIMIT: u32 = 100;

/// `/dead-letters…`, for admins (the token checked here again).
pub async fn dead_letters(call: &Call<'_>, consumer: Consumer, rest: &[&str]) -> Result<Response, ApiError> {
    require_admin(&call.claims()?)?;
    let (ctx, db) = (call.ctx, call.db);
    let inbox = Inbox::new(db, call.service.name);
    match (&call.method, rest) {
        // GET /dead-letters?page&limit: oldest first
        (Method::Get, []) => {
            let page = ctx.page()?;
            let (list, total) = inbox.list(page.limit(), page.offset())?;
            Ok(ctx.json(200, &Paginated::new(list, page, total)))
        }
        // POST /dead-letters/replay: all (up to 100), oldest first
        (Method::Post, ["replay"]) => {
            let mut counts = serde_json::Map::new();
            let ids = inbox.ids(REPLAY_ALL_LIMIT)?;
            for id in &ids {
                let outcome = match replay(call, consumer, &inbox, id).await? {
                    Ok(consumed) => result_name(&consumed),
                    Err(_) => "failed".to_owned(),
                };
                let n = counts.get(&outcome).and_then(|v| v.as_u64()).unwrap_or(0);
                counts.insert(outcome, (n + 1).into());
            }
            Ok(ctx.json(
                200,
                &serde_json::json!({"replayed": ids.len(), "results": counts, "remaining": inbox.count()?}),
            ))
        }
        // POST /dead-letters/{eventId}/replay
        (Method::Post, [event_id, "replay"]) => match replay(call, consumer, &inbox, event_id).await? {
            Ok(consumed) => Ok(ctx.json(
                200,
                &serde_json::json!({"eventId": event_id, "result": result_name(&consumed)}),
            )),
            Err(error) => Err(ApiError::Unprocessable {
                code: "replay_failed",
                message: format!("the event failed again and stays a dead letter: {error}"),
            }),
        },
        // DELETE /dead-letters/{eventId}: discard
        (Method::Delete, [event_id]) => match inbox.remove(event_id)? {
            true => {
                streamia_log::info(
                    call.service.name,
                    "dead letter discarded",
                    streamia_log::json!({"eventId": event_id}),
                );
                Ok(ctx.no_content())
            }
            false => Err(no_dead_letter(event_id)),
        },
        (_, [] | ["replay"] | [_] | [_, "replay"]) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound("no such dead-letter route".into())),
    }
}

fn no_dead_letter(event_id: &str) -> ApiError {
    ApiError::NotFound(format!("no dead letter {event_id}"))
}

/// Apply a dead letter again: gone once applied; kept, with the new error
/// and one more try, when it fails again.
async fn replay(
    call: &Call<'_>,
    consumer: Consumer,
    inbox: &Inbox<'_>,
    event_id: &str,
) -> Result<Result<Consumed, String>, ApiError> {
    let apply = async |envelope: &Envelope| {
        consumer
            .apply(call.db, call.outbox, call.now, envelope)
            .await
            .map_err(describe)
    };
    let (envelope, outcome) = inbox
        .replay(event_id, call.now, apply)
        .await?
        .ok_or_else(|| no_dead_letter(event_id))?;
    if let Ok(consumed) = &outcome {
        let fields = streamia_log::json!({"eventId": event_id, "eventType": envelope.event_type,
            "outcome": format!("{consumed:?}")});
        streamia_log::info(call.service.name, "dead letter replayed", fields);
    }
    Ok(outcome)
}

/// The dead-letter count for `/health` (only a consuming service has one).
pub fn dead_letter_count(service: &Service, db: &dyn Db) -> Option<u64> {
    service.consumer?;
    Inbox::new(db, service.name).count().ok()
}

/// The routes every consuming service answers besides its own.
pub fn is_builtin_route(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["events"] | ["relay"] | ["migrate"] | ["import", _] | ["dead-letters", ..]
    )
}

/// `POST /migrate`: the service's schema brought up to date now, whatever
/// `schema_migrations` says (the release's migration job calls it through
/// the gateway's `/api/admin/migrate`); the versions before and after.
fn migrate(call: &Call<'_>) -> Result<Response, ApiError> {
    let (from, to) = call.db.migrate_now()?;
    if from != to {
        streamia_log::info(
            call.service.name,
            "schema migrated",
            streamia_log::json!({"from": from, "to": to}),
        );
    }
    Ok(call.ctx.json(
        200,
        &serde_json::json!({"service": call.service.name, "schemaVersion": {"from": from, "to": to}}),
    ))
}

/// The largest batch body `POST /import` reads: what the gateway lets through.
const IMPORT_BODY_LIMIT: usize = streamia_api::DEFAULT_BODY_LIMIT;

/// `POST /import/{kind}` (admins): one batch of the old system's rows,
/// written by the service's importer in one transaction; 404 where it has none.
fn import(call: &Call<'_>, kind: &str) -> Result<Response, ApiError> {
    require_admin(&call.claims()?)?;
    let Some(importer) = call.service.importer else {
        return Err(ApiError::NotFound(format!(
            "the {} service keeps none of the old system's data",
            call.service.name
        )));
    };
    let mut batch: streamia_api::import::ImportBatch = streamia_api::json_body(call.req, IMPORT_BODY_LIMIT)?;
    batch.kind = kind.to_owned();
    let imported = importer(call, &batch)?;
    let fields =
        streamia_log::json!({"kind": batch.kind, "written": imported.written, "unchanged": imported.unchanged});
    streamia_log::info(call.service.name, "import", fields);
    Ok(call.ctx.json(200, &imported))
}

/// Route a request to a built-in route (see [`is_builtin_route`]).
pub async fn route(call: &Call<'_>) -> Result<Response, ApiError> {
    let consumer = call.service.consumer;
    match (&call.method, call.segments.as_slice(), consumer) {
        (Method::Post, ["relay"], _) => relay(call).await,
        (Method::Post, ["migrate"], _) => migrate(call),
        (_, ["migrate"], _) => Err(ApiError::MethodNotAllowed),
        (Method::Post, ["import", kind], _) => import(call, kind),
        (_, ["import", _], _) => Err(ApiError::MethodNotAllowed),
        (Method::Post, ["events"], Some(consumer)) => events_route(call, consumer).await,
        (_, ["dead-letters", rest @ ..], Some(consumer)) => dead_letters(call, consumer, rest).await,
        (_, ["events"] | ["relay"], Some(_)) | (_, ["relay"], None) => Err(ApiError::MethodNotAllowed),
        _ => Err(ApiError::NotFound(format!(
            "the {} service consumes no events",
            call.service.name
        ))),
    }
}

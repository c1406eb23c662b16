//! Adapts our services to Spin: what every service component does the same way.
//!
//! Layout: [`serve`] runs a component's route table with what each request
//! needs around it (context, clock, database, outbox, health routes, outbox
//! delivery) and takes Redis messages ([`on_redis_message`]); below, the
//! pieces it is made of: configuration from Spin variables
//! ([`Common::load`]), the caller's token checked again (defence in depth:
//! [`authenticate`], [`require_admin`]), event intake over http
//! ([`events_route`]) and Redis ([`redis_message_done`]), outbox delivery
//! ([`deliver_outbox`]). [`movies`] asks the movies service about a movie.
//! Wasm-only glue; the logic it calls is tested in the crates it wires.

pub mod movies;
mod serve;

pub use serve::{on_redis_message, serve, Call, Service};

use spin_sdk::http::{Request, Response};
use streamia_api::{ApiError, Ctx};
use streamia_auth::{Claims, JwtKeys, Role};
use streamia_clock::Now;
use streamia_db::Db;
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::transport::{self, Transport};
use streamia_events::Envelope;

/// A Spin variable of `service`; a missing one is 503 `misconfigured`.
pub fn variable(service: &str, name: &str) -> Result<String, ApiError> {
    spin_sdk::variables::get(name).map_err(|e| ApiError::Unavailable {
        code: "misconfigured",
        message: format!("the {service} service is misconfigured ({name}: {e:?})"),
    })
}

/// The configuration every service has: token keys and the event transport.
pub struct Common {
    pub keys: JwtKeys,
    pub transport: Transport,
}

impl Common {
    pub fn load(service: &str) -> Result<Self, ApiError> {
        let misconfigured = |what: String| ApiError::Unavailable {
            code: "misconfigured",
            message: what,
        };
        let keys =
            JwtKeys::new(&variable(service, "jwt_secret")?).map_err(|e| misconfigured(format!("jwt_secret: {e}")))?;
        Ok(Common {
            keys,
            transport: event_transport(service)?,
        })
    }
}

/// How this service's events leave (`event_transport`, `event_subscribers`, `redis_url`).
pub fn event_transport(service: &str) -> Result<Transport, ApiError> {
    Transport::parse(
        &variable(service, "event_transport")?,
        &variable(service, "event_subscribers")?,
        &variable(service, "redis_url")?,
    )
    .map_err(|message| ApiError::Unavailable {
        code: "misconfigured",
        message,
    })
}

/// The bearer token's claims; any failure is 401.
pub fn authenticate(req: &Request, keys: &JwtKeys, now: Now) -> Result<Claims, ApiError> {
    let header = req.header("authorization").and_then(|v| v.as_str());
    let token = streamia_auth::bearer(header).map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    keys.verify(token, now.unix().max(0) as u64)
        .map_err(|e| ApiError::Unauthorized(e.to_string()))
}

pub fn require_admin(claims: &Claims) -> Result<(), ApiError> {
    match claims.role {
        Role::Admin => Ok(()),
        Role::User => Err(ApiError::Forbidden("admins only".into())),
    }
}

/// Deliver what is due in the outbox; failures stay there for a later request.
pub async fn deliver_outbox(db: &dyn Db, outbox: &Outbox, transport: &Transport, request_id: &str) {
    if let Err(e) = transport::flush(db, outbox, transport).await {
        eprintln!("request {request_id}: outbox flush failed: {e}");
    }
}

/// `POST /events` (http transport): the envelope in the body, applied once;
/// answers `{"result":"applied"|"duplicate"|"ignored"}`.
pub fn events_route(
    ctx: &Ctx,
    req: &Request,
    apply: impl FnOnce(&Envelope) -> Result<Consumed, ApiError>,
) -> Result<Response, ApiError> {
    let envelope = parse_envelope(req)?;
    let outcome = apply(&envelope)?;
    Ok(event_reply(ctx, &envelope, outcome))
}

/// The envelope of a `POST /events`; 400 `invalid_event` if it is not one.
pub fn parse_envelope(req: &Request) -> Result<Envelope, ApiError> {
    Envelope::parse(req.body()).map_err(|e| ApiError::BadRequest {
        code: "invalid_event",
        message: e.to_string(),
    })
}

/// Log what became of an event and answer the transport.
pub fn event_reply(ctx: &Ctx, envelope: &Envelope, outcome: Consumed) -> Response {
    println!(
        "request {}: {} {} from {}: {outcome:?}",
        ctx.request_id, envelope.event_type, envelope.event_id, envelope.source
    );
    ctx.json(
        200,
        &serde_json::json!({"result": format!("{outcome:?}").to_lowercase()}),
    )
}

/// The envelope a Redis message carries.
pub fn redis_envelope(message: &[u8]) -> Result<Envelope, String> {
    Envelope::parse(message).map_err(|e| format!("not an event envelope: {e}"))
}

/// After a Redis message was applied (by [`on_redis_message`], or by a
/// consumer whose effect is async): deliver the outbox — after a failure too,
/// since earlier events may be due — then log the outcome, or hand Spin the
/// error with its cause.
pub async fn redis_message_done(
    service: &str,
    db: &dyn Db,
    outbox: &Outbox,
    envelope: &Envelope,
    outcome: Result<Consumed, ApiError>,
) -> Result<(), String> {
    let transport = event_transport(service).map_err(|e| e.to_string())?;
    deliver_outbox(db, outbox, &transport, &envelope.event_id).await;
    let outcome = outcome.map_err(|e| match e {
        ApiError::Internal(cause) => cause,
        other => other.to_string(),
    })?;
    println!(
        "{service}: {} {} from {}: {outcome:?}",
        envelope.event_type, envelope.event_id, envelope.source
    );
    Ok(())
}

//! Adapts our services to Spin: what every service component does the same way.
//!
//! Layers, each using only those below it:
//! 1. [`serve`]: a component's route table with what each request needs
//!    around it (context, clock, database, outbox, health routes, outbox
//!    delivery after the response);
//! 2. [`builtin_routes`]: the routes every service answers besides its own
//!    (events in over http and Redis, the relay, migrations, the import,
//!    dead letters), on `streamia_events`' consumer pipeline (drain →
//!    inbox → consumer → outbox);
//! 3. `service`: what a [`Service`] is (its database, the events it
//!    consumes and its [`Consumer`]) and one request to it ([`Call`]);
//! 4. here: the configuration every service has ([`ServiceConfig`], from
//!    its settings), the caller's token checked again (defence in depth:
//!    [`authenticate`], [`require_admin`]).
//!
//! Beside them, [`movies`] asks the movies service about a movie and
//! [`deadline`] sends an outbound call that gives up in time.
//! Wasm-only glue; the logic it calls is tested in the crates it wires.

pub mod builtin_routes;
pub mod deadline;
mod health;
pub mod movies;
mod serve;
mod service;

pub use builtin_routes::on_redis_message;
pub use health::key_value_answers;
pub use serve::serve;
pub use service::{Applying, Call, Consumer, Service};

use spin_sdk::http::Request;
use streamia_api::{ApiError, Settings};
use streamia_auth::{Claims, JwtKeys, Role};
use streamia_clock::Now;
use streamia_events::transport::Transport;

/// The configuration every service has: token keys and the event transport.
pub struct ServiceConfig {
    pub keys: JwtKeys,
    pub transport: Transport,
}

impl ServiceConfig {
    pub fn load(settings: &Settings<'_>) -> Result<Self, ApiError> {
        Ok(ServiceConfig {
            keys: settings.parsed("jwt_secret", JwtKeys::new)?,
            transport: event_transport(settings)?,
        })
    }
}

/// How this service's events leave (`event_transport`, `event_subscribers`,
/// `redis_url`, and for Redis `event_stream_maxlen` when set).
pub fn event_transport(settings: &Settings<'_>) -> Result<Transport, ApiError> {
    let subscribers = settings.text("event_subscribers")?;
    let redis_url = settings.text("redis_url")?;
    let transport = settings.parsed("event_transport", |kind| {
        Transport::parse(kind, &subscribers, &redis_url)
    })?;
    if !transport.is_redis() {
        return Ok(transport);
    }
    match settings.optional("event_stream_maxlen") {
        Some(max_len) => Ok(transport
            .with_stream_max_len(&max_len)
            .map_err(|why| settings.misconfigured("event_stream_maxlen", why))?),
        None => Ok(transport),
    }
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

//! Adapts our services to Spin: what every service component does the same way.
//!
//! Layout: [`serve`] runs a component's route table with what each request
//! needs around it (context, clock, database, outbox, health routes, outbox
//! delivery); [`intake`] takes events over http and Redis, runs the relay
//! and serves dead letters. Below, the pieces they share: configuration from
//! Spin variables ([`Common::load`]), the caller's token checked again
//! (defence in depth: [`authenticate`], [`require_admin`]). [`movies`] asks
//! the movies service about a movie; [`deadline`] sends an outbound call
//! that gives up in time.
//! Wasm-only glue; the logic it calls is tested in the crates it wires.

pub mod deadline;
pub mod intake;
pub mod movies;
mod serve;

pub use intake::{on_redis_message, Consumer};
pub use serve::{serve, Call, Service};

use spin_sdk::http::Request;
use streamia_api::ApiError;
use streamia_auth::{Claims, JwtKeys, Role};
use streamia_clock::Now;
use streamia_events::transport::Transport;

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

/// How this service's events leave (`event_transport`, `event_subscribers`,
/// `redis_url`, and for Redis `event_stream_maxlen` when set).
pub fn event_transport(service: &str) -> Result<Transport, ApiError> {
    let misconfigured = |message| ApiError::Unavailable {
        code: "misconfigured",
        message,
    };
    let transport = Transport::parse(
        &variable(service, "event_transport")?,
        &variable(service, "event_subscribers")?,
        &variable(service, "redis_url")?,
    )
    .map_err(misconfigured)?;
    if !transport.is_redis() {
        return Ok(transport);
    }
    match spin_sdk::variables::get("event_stream_maxlen") {
        Ok(max_len) => transport.with_stream_max_len(&max_len).map_err(misconfigured),
        Err(_) => Ok(transport),
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

//! What every service component does the same way: read its configuration
//! from Spin variables ([`Common::load`]), check the caller's token again
//! (defence in depth: [`authenticate`], [`require_admin`]), and deliver its
//! outbox after a request ([`deliver_outbox`]). Wasm-only glue; the logic it
//! calls is tested in the crates it wires.

use spin_sdk::http::Request;
use streamia_api::ApiError;
use streamia_auth::{Claims, JwtKeys, Role};
use streamia_db::Db;
use streamia_events::outbox::Outbox;
use streamia_events::transport::{self, Transport};

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
        let transport = Transport::parse(
            &variable(service, "event_transport")?,
            &variable(service, "event_subscribers")?,
            &variable(service, "redis_url")?,
        )
        .map_err(misconfigured)?;
        Ok(Common { keys, transport })
    }
}

/// The bearer token's claims; any failure is 401.
pub fn authenticate(req: &Request, keys: &JwtKeys, now: i64) -> Result<Claims, ApiError> {
    let header = req.header("authorization").and_then(|v| v.as_str());
    let token = streamia_auth::bearer(header).map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    keys.verify(token, now.max(0) as u64)
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

pub fn unix_now() -> i64 {
    transport::unix_now()
}

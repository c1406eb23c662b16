//! What every service component does around its route table: one request
//! context, one clock reading, its database (opened and migrated on first
//! use) and outbox, the health routes, the configuration only when a route
//! asks for it, and delivery of the outbox after every request that may
//! have written. A component keeps only its routes (`fn routes(&Call)`).

use std::cell::OnceCell;

use spin_sdk::http::{Method, Request, Response};
use streamia_api::{ApiError, Ctx};
use streamia_auth::Claims;
use streamia_clock::Now;
use streamia_db::{Db, LazySpinDb};
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::Envelope;

use crate::{authenticate, event_transport, variable, Common};

/// A service as its components serve it.
pub struct Service {
    /// The service's name: its events' `source`, its outbox and its variables' owner.
    pub name: &'static str,
    /// Its SQLite database (`sqlite_databases` in spin.toml).
    pub database: &'static str,
    pub migrations: &'static [&'static [&'static str]],
    /// A named part of `/health` beyond the database check (movies: its cache counters).
    pub health_extra: Option<fn() -> (&'static str, serde_json::Value)>,
}

impl Service {
    pub const fn new(
        name: &'static str,
        database: &'static str,
        migrations: &'static [&'static [&'static str]],
    ) -> Self {
        Service {
            name,
            database,
            migrations,
            health_extra: None,
        }
    }

    pub const fn with_health(self, extra: fn() -> (&'static str, serde_json::Value)) -> Self {
        Service {
            health_extra: Some(extra),
            ..self
        }
    }

    fn open(&self) -> (LazySpinDb, Outbox) {
        (LazySpinDb::new(self.database, self.migrations), Outbox::new(self.name))
    }
}

/// One request as a route sees it.
pub struct Call<'a> {
    pub ctx: &'a Ctx,
    pub req: &'a Request,
    pub method: Method,
    /// The path's segments: `/api/movies/42` is `["api", "movies", "42"]`.
    pub segments: Vec<&'a str>,
    pub db: &'a LazySpinDb,
    pub outbox: &'a Outbox,
    /// The clock, read once for the whole request.
    pub now: Now,
    service: &'a Service,
    common: OnceCell<Common>,
}

impl Call<'_> {
    /// Token keys and event transport, read from Spin variables on first use.
    pub fn common(&self) -> Result<&Common, ApiError> {
        if let Some(common) = self.common.get() {
            return Ok(common);
        }
        let common = Common::load(self.service.name)?;
        Ok(self.common.get_or_init(|| common))
    }

    /// A Spin variable of this service.
    pub fn variable(&self, name: &str) -> Result<String, ApiError> {
        variable(self.service.name, name)
    }

    /// The caller's claims from the bearer token, checked again here
    /// (defence in depth); any failure is 401.
    pub fn claims(&self) -> Result<Claims, ApiError> {
        authenticate(self.req, &self.common()?.keys, self.now)
    }

    /// The claims when a token is sent (and valid), `None` when none is.
    pub fn optional_claims(&self) -> Result<Option<Claims>, ApiError> {
        match self.req.header("authorization") {
            Some(_) => self.claims().map(Some),
            None => Ok(None),
        }
    }

    /// `POST /events` (http transport): the envelope in the body, applied once.
    pub fn events_route(
        &self,
        apply: impl FnOnce(&Envelope) -> Result<Consumed, ApiError>,
    ) -> Result<Response, ApiError> {
        crate::events_route(self.ctx, self.req, apply)
    }

    pub fn no_route(&self) -> ApiError {
        ApiError::NotFound(format!("no route for {}", self.req.path()))
    }
}

/// Serve `req` with `routes` (everything but `/health…`), then deliver the
/// outbox unless the request was a GET.
pub async fn serve(
    service: &Service,
    req: Request,
    routes: impl AsyncFnOnce(&Call<'_>) -> Result<Response, ApiError>,
) -> Response {
    let ctx = Ctx::new(&req);
    let (db, outbox) = service.open();
    let path = req.path().to_owned();
    let call = Call {
        ctx: &ctx,
        req: &req,
        method: req.method().clone(),
        segments: path.split('/').filter(|s| !s.is_empty()).collect(),
        db: &db,
        outbox: &outbox,
        now: Now::system(),
        service,
        common: OnceCell::new(),
    };
    if let ["health", rest @ ..] = call.segments.as_slice() {
        return ctx.respond(health(&ctx, service, rest, db.is_ready()));
    }
    let result = routes(&call).await;
    if call.method != Method::Get {
        deliver(&call).await;
    }
    ctx.respond(result)
}

/// Deliver what is due in the outbox; what fails stays there for later.
async fn deliver(call: &Call<'_>) {
    let transport = match call.common.get() {
        Some(common) => Ok(common.transport.clone()),
        None => event_transport(call.service.name),
    };
    match transport {
        Ok(transport) => crate::deliver_outbox(call.db, call.outbox, &transport, &call.ctx.request_id).await,
        Err(e) => eprintln!("request {}: outbox not delivered: {e}", call.ctx.request_id),
    }
}

/// `GET /health` and `/health/ready` (503 unless the database answers), `/health/live`.
fn health(ctx: &Ctx, service: &Service, rest: &[&str], ready: bool) -> Result<Response, ApiError> {
    match rest {
        [] | ["ready"] => {
            let mut body = serde_json::json!({
                "service": service.name,
                "status": if ready { "ok" } else { "unavailable" },
                "checks": {"sqlite": ready},
            });
            if let Some(extra) = service.health_extra {
                let (name, value) = extra();
                body[name] = value;
            }
            Ok(ctx.json(if ready { 200 } else { 503 }, &body))
        }
        ["live"] => Ok(ctx.json(200, &serde_json::json!({"service": service.name, "status": "ok"}))),
        _ => Err(ApiError::NotFound("no such health check".into())),
    }
}

/// A message from a `[[trigger.redis]]` channel: applied once on the
/// service's database by `apply(db, outbox, now, envelope)`, then the outbox
/// is delivered. An error makes Spin log the failure.
pub async fn on_redis_message(
    service: &Service,
    message: &[u8],
    apply: impl FnOnce(&dyn Db, &Outbox, Now, &Envelope) -> Result<Consumed, ApiError>,
) -> anyhow::Result<()> {
    let (db, outbox) = service.open();
    let envelope = crate::redis_envelope(message).map_err(anyhow::Error::msg)?;
    let outcome = apply(&db, &outbox, Now::system(), &envelope);
    crate::redis_message_done(service.name, &db, &outbox, &envelope, outcome)
        .await
        .map_err(anyhow::Error::msg)
}

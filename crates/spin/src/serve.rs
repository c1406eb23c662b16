//! What every service component does around its route table: one request
//! context, one clock reading, its database (opened and migrated on first
//! use) and outbox, the health routes, the configuration only when a route
//! asks for it, and delivery of the outbox after every request that may
//! have written — once the response has been sent, so that a write answers
//! as soon as its own transaction commits. A component keeps only its
//! routes (`fn routes(&Call)`).

use std::cell::OnceCell;

use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use streamia_api::{send_response, ApiError, Ctx};
use streamia_clock::Now;

use crate::builtin_routes;
use crate::event_transport;
use crate::health;
use crate::service::{Call, Service};

/// Serve `req` with `routes` (everything but `/health…` and the built-in
/// routes: `/events`, `/relay`, `/dead-letters…`, see [`builtin_routes`]) and send
/// the response; then, unless the request was a GET, deliver the outbox. The
/// host keeps the component running after the response is complete (Spin
/// and devhost both do), and what it fails to deliver stays in the outbox,
/// as before: the guarantees are the same, the client no longer waits.
pub async fn serve(
    service: &Service,
    req: Request,
    out: ResponseOutparam,
    routes: impl AsyncFnOnce(&Call<'_>) -> Result<Response, ApiError>,
) {
    let started = std::time::Instant::now();
    streamia_log::set_component(service.name);
    let ctx = Ctx::new(&req);
    let path = routed_path(&req).to_owned();
    if path != req.path() {
        if let Err(e) = internal_caller(service, &req) {
            return send_response(out, ctx.respond(Err(e)));
        }
    }
    let now = Now::system();
    let (db, outbox) = service.open(now);
    let outbox = outbox.traced(streamia_api::request_id::traceparent(&req));
    let call = Call {
        ctx: &ctx,
        req: &req,
        method: req.method().clone(),
        path: &path,
        segments: path.split('/').filter(|s| !s.is_empty()).collect(),
        db: &db,
        outbox: &outbox,
        now,
        service,
        config: OnceCell::new(),
        user: OnceCell::new(),
    };
    if let ["health", rest @ ..] = call.segments.as_slice() {
        return send_response(out, ctx.respond(health::route(&call, rest)));
    }
    let result = match builtin_routes::is_builtin_route(&call.segments) {
        true => builtin_routes::route(&call).await,
        false => routes(&call).await,
    };
    let mut resp = ctx.respond(result);
    if let Some(trace_id) = streamia_api::request_id::trace_id(call.req) {
        resp.set_header(streamia_api::request_id::TRACE_HEADER, trace_id);
    }
    log_request(&call, *resp.status(), started);
    send_response(out, resp);
    if call.method != Method::Get {
        deliver(&call).await;
    }
}

/// The path the service routes on: what its route's wildcard captured
/// (`spin-path-info`). A service mounted under a prefix of its app
/// (`/internal/users/...`, spin.cloud.toml) sees its paths as everywhere
/// else; on a catch-all or private route it is the whole path.
fn routed_path(req: &Request) -> &str {
    req.header("spin-path-info")
        .and_then(|v| v.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or(req.path())
}

/// A service mounted under a prefix is on a public route of an app without
/// service chaining (Fermyon Cloud): only the app's own components, which
/// hold the internal token, may call it. Without the variable set, nobody
/// may: its routes never open to the internet by omission.
fn internal_caller(service: &Service, req: &Request) -> Result<(), ApiError> {
    use streamia_events::internal;
    let refused = || {
        ApiError::Forbidden(format!(
            "the {} service is internal: call the API at /api",
            service.name
        ))
    };
    let Some(expected) = internal::token() else {
        let why = streamia_log::json!({"error": "internal_token is not set"});
        streamia_log::warn(service.name, "a call on a public route refused", why);
        return Err(refused());
    };
    match req.header(internal::HEADER).and_then(|v| v.as_str()) {
        Some(presented) if streamia_auth::secret_matches(presented, &expected) => Ok(()),
        _ => Err(refused()),
    }
}

/// One JSON line per request: the gateway's request id and the W3C trace
/// id (Spin propagates `traceparent` on service chaining) tie it to the
/// gateway's line and to the trace; never a token or a body.
fn log_request(call: &Call<'_>, status: u16, started: std::time::Instant) {
    let trace_id = streamia_api::request_id::trace_id(call.req);
    let level = match status {
        500.. => streamia_log::Level::Error,
        _ => streamia_log::Level::Info,
    };
    let fields = streamia_log::json!({
        "requestId": call.ctx.request_id,
        "traceId": trace_id,
        "method": call.method.to_string(),
        "route": streamia_gateway::routes::template(&call.method.to_string(), call.path),
        "path": call.path,
        "status": status,
        "userId": call.user.get(),
        "durationMs": (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0,
    });
    streamia_log::write(level, call.service.name, "request", fields);
}

/// Deliver what is due in the outbox; what fails stays there for later.
async fn deliver(call: &Call<'_>) {
    let transport = match call.config.get() {
        Some(config) => Ok(config.transport.clone()),
        None => event_transport(&call.settings()),
    };
    match transport {
        Ok(transport) => {
            builtin_routes::deliver_outbox(
                call.service.name,
                call.db,
                call.outbox,
                &transport,
                call.now,
                &call.ctx.request_id,
            )
            .await
        }
        Err(e) => streamia_log::warn(
            call.service.name,
            "outbox not delivered",
            streamia_log::json!({"requestId": call.ctx.request_id, "error": e.to_string()}),
        ),
    }
}

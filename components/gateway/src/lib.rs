//! The gateway component: the app's only public route (`/...`). It answers
//! CORS preflights, checks size, type and token before anything is parsed,
//! and forwards `/api/<service>/...` to the service's base URL — service
//! chaining (`http://users.spin.internal`) on one Spin app, any URL in a
//! split deployment. A public read a service's cache holds (the catalogue,
//! rating statistics, comment pages) is answered here, from that cache
//! (`X-Cache: hit`): one component instead of two and a chained call.
//!
//! Around every `/api` request: the route table (404, or 405 with `Allow`),
//! a rate limit (429), a circuit breaker per service and route group and a
//! deadline per service call (503), bulkheads (503 `overloaded`), metrics
//! (`GET /metrics`), all in the gateway's shared counters (`state`); the
//! counting happens after the response is sent. One JSON log line per
//! request. The rules are `streamia_gateway`'s, tested there; this crate is
//! the Spin glue: here [`handle`] and the dispatch, in [`forward`] the
//! service call, in [`operations`] health, metrics and the operators'
//! passes.

mod bulkheads;
mod forward;
mod operations;
mod state;
mod upstream;

use std::cell::OnceCell;
use std::time::Instant;

use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;
use streamia_api::{request_id, ApiError, Ctx, Settings};
use streamia_clock::Now;
use streamia_gateway::counters::Counters;
use streamia_gateway::guard::{self, Incoming, Outcome};
use streamia_gateway::metrics;
use streamia_gateway::operations::Pass;
use streamia_gateway::routes::{self, Lookup};
use streamia_gateway::{event_admin, resolve, Config, Cors, EventAdmin, Preflight, Service};

/// The OpenAPI document of the public API, served at `/api/openapi.json`.
const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// One request's gateway: its configuration and its shared counters,
/// each opened on first use.
struct Gateway {
    config: Config<'static>,
    /// `None` when the store cannot be opened (then nothing is limited or
    /// counted, and the log says why).
    counters: OnceCell<Option<state::KvCounters>>,
}

impl Gateway {
    fn new() -> Self {
        Gateway {
            config: Config::new(Settings::spin("the gateway")),
            counters: OnceCell::new(),
        }
    }

    fn counters(&self) -> Option<&dyn Counters> {
        self.counters
            .get_or_init(|| match state::KvCounters::open() {
                Ok(c) => Some(c),
                Err(e) => {
                    warn("rate limits, breakers and metrics are off", e);
                    None
                }
            })
            .as_ref()
            .map(|c| c as &dyn Counters)
    }

    /// The caller's claims, from a valid access token (else 401).
    fn claims(&self, req: &Request) -> Result<streamia_auth::Claims, ApiError> {
        streamia_spin::authenticate(req, self.config.keys()?, Now::system())
    }

    fn admin_only(&self, req: &Request) -> Result<(), ApiError> {
        streamia_spin::require_admin(&self.claims(req)?)
    }
}

fn warn(message: &str, e: impl std::fmt::Display) {
    streamia_log::warn("gateway", message, streamia_log::because(e));
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name).and_then(|v| v.as_str())
}

fn header_of(resp: &Response, name: &str) -> Option<String> {
    resp.header(name).and_then(|v| v.as_str()).map(str::to_owned)
}

/// The parts of `req` the protection reads.
fn incoming<'r>(req: &'r Request, method: &'r str) -> Incoming<'r> {
    Incoming {
        method,
        path: req.path(),
        client_addr: header(req, "spin-client-addr"),
        forwarded_for: header(req, "x-forwarded-for"),
        body: req.body(),
    }
}

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    let started = Instant::now();
    streamia_log::set_component("gateway");
    let now_ms = Now::system().unix_ms().max(0) as u64;
    let ctx = Ctx::new(&req);
    let origin = header(&req, "origin").map(str::to_owned);
    let trace_id = request_id::trace_id(&req);
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let gateway = Gateway::new();
    let mut outcome = Outcome::default();
    let result = serve(&gateway, &ctx, req, &mut outcome, now_ms).await;
    let mut resp = ctx.respond(result);
    resp.set_header(request_id::HEADER, ctx.request_id.as_str());
    // The gateway cannot see the trace Spin started for it; the service it
    // called can (Spin passes the context on) and names it in its answer.
    let trace_id = trace_id.or_else(|| header_of(&resp, request_id::TRACE_HEADER));
    if let Some(id) = &trace_id {
        resp.set_header(request_id::TRACE_HEADER, id.as_str());
    }
    // Without an Origin there is no CORS to answer, only the cache hint.
    let cors = match origin {
        Some(_) => gateway
            .config
            .cors()
            .map(|c| c.response_headers(origin.as_deref()))
            .unwrap_or_default(),
        None => Cors::no_origin(),
    };
    for (name, value) in cors {
        resp.set_header(name, value);
    }
    if let Some(verdict) = outcome.verdict {
        for (name, value) in verdict.headers() {
            resp.set_header(name, value);
        }
    }
    if let Some(seconds) = outcome.retry_after {
        resp.set_header("retry-after", seconds.to_string());
    }
    if let Some(allow) = &outcome.allow {
        resp.set_header("allow", allow.as_str());
    }
    let status = *resp.status();
    let route = routes::template(&method, &path);
    let micros = started.elapsed().as_micros() as u64;
    streamia_log::info(
        "gateway",
        "request",
        serde_json::json!({
            "requestId": ctx.request_id,
            "traceId": trace_id,
            "method": method,
            "route": route.unwrap_or(metrics::UNMATCHED),
            "path": path,
            "status": status,
            "upstream": outcome.service.map(Service::name),
            "userId": outcome.claims.as_ref().map(|c| c.sub.as_str()),
            "durationMs": (micros as f64 / 100.0).round() / 10.0,
        }),
    );
    let counters = gateway.counters();
    if let Err(e) = guard::judge(&gateway.config, counters, &outcome, status, now_ms) {
        warn(&format!("request {}: breaker or login not counted", ctx.request_id), e);
    }
    // Metrics wait until the client has its answer.
    streamia_api::send_response(out, resp);
    if let Err(e) = guard::count(&gateway.config, counters, route, &method, status, micros, now_ms) {
        warn(&format!("request {}: not counted", ctx.request_id), e);
    }
}

/// The response, or the error to answer with.
async fn serve(
    gateway: &Gateway,
    ctx: &Ctx,
    req: Request,
    outcome: &mut Outcome,
    now_ms: u64,
) -> Result<Response, ApiError> {
    let path = req.path().to_owned();
    let method = req.method().to_string();
    if *req.method() == Method::Options {
        return options(gateway, ctx, &req, outcome);
    }
    let no_route = || ApiError::NotFound(format!("no route for {method} {path}"));
    let found = match routes::lookup(&method, &path) {
        Lookup::Found(route) => Some(route),
        Lookup::MethodNotAllowed { allow } => {
            outcome.allow = Some(allow);
            return Err(ApiError::MethodNotAllowed);
        }
        Lookup::NotFound => None,
    };
    if let Some(rest) = path.strip_prefix("/health") {
        return operations::health(gateway, ctx, rest, now_ms).await;
    }
    if path == "/metrics" {
        return operations::metrics(gateway, ctx, &req, now_ms).await;
    }
    if !path.starts_with("/api/") {
        return Err(no_route());
    }
    // Checked once: the rate limit counts per user, the routes need it.
    outcome.claims = header(&req, "authorization").and_then(|_| gateway.claims(&req).ok());
    guard::rate_limit(
        &gateway.config,
        gateway.counters(),
        &incoming(&req, &method),
        outcome,
        now_ms,
    )?;
    if found.is_none() {
        return Err(no_route());
    }
    if path == "/api/openapi.json" {
        let year = streamia_movies::domain::year_of(Now::system().unix());
        let document = streamia_gateway::openapi::served(OPENAPI, year).map_err(ApiError::internal)?;
        return Ok(streamia_api::json_bytes(200, document.into_bytes(), &ctx.request_id));
    }
    if let Some(pass) = Pass::of_path(&path) {
        return operations::fan_out(gateway, ctx, &req, pass).await;
    }
    match event_admin(&path) {
        Some(Ok(EventAdmin::DeadLetters { service, path })) => {
            outcome.service = Some(service);
            return forward::operations_call(gateway, ctx, req, service, &path, outcome, now_ms).await;
        }
        Some(Err(message)) => return Err(ApiError::NotFound(message)),
        Some(Ok(EventAdmin::Relay)) | None => {}
    }
    if let Some((service, kind)) = streamia_gateway::import_kind(&path) {
        outcome.service = Some(service);
        let private = format!("/import/{kind}");
        return forward::operations_call(gateway, ctx, req, service, &private, outcome, now_ms).await;
    }
    let route = resolve(&method, &path).ok_or_else(no_route)?;
    outcome.service = Some(route.service);
    forward::forward(gateway, ctx, req, route, &path, outcome, now_ms).await
}

/// `OPTIONS`: a browser's CORS preflight (it names the method it wants,
/// `Access-Control-Request-Method`), or else the methods the path takes
/// (204 with `Allow`).
fn options(gateway: &Gateway, ctx: &Ctx, req: &Request, outcome: &mut Outcome) -> Result<Response, ApiError> {
    let wanted = header(req, "access-control-request-method");
    if wanted.is_none() {
        let allow = routes::allowed(req.path())
            .ok_or_else(|| ApiError::NotFound(format!("no route for OPTIONS {}", req.path())))?;
        outcome.allow = Some(allow);
        return Ok(ctx.no_content());
    }
    match gateway.config.cors()?.preflight(header(req, "origin"), wanted) {
        Preflight::Allowed(headers) => {
            let mut resp = ctx.no_content();
            for (name, value) in headers {
                resp.set_header(name, value);
            }
            Ok(resp)
        }
        Preflight::Refused => Err(ApiError::Forbidden("CORS: this origin or method is not allowed".into())),
    }
}

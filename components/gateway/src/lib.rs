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
//! deadline per service call (503), metrics (`GET /metrics`), all in the
//! gateway's shared counters (`state`); the counting happens after the
//! response is sent. One JSON log line per request.

mod bulkheads;
mod state;
mod upstream;

use std::cell::OnceCell;
use std::time::Instant;

use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;
use streamia_api::{request_id, ApiError, Ctx};
use streamia_cache::KvCache;
use streamia_clock::Now;
use streamia_gateway::breaker::{self, Admission, BreakerConfig, Caller};
use streamia_gateway::counters::{sweep, CounterError, Counters};
use streamia_gateway::limits::{self, Limit, Scope, Verdict};
use streamia_gateway::metrics::{self, EventCounts};
use streamia_gateway::routes::Lookup;
use streamia_gateway::{
    breaker_name, breakers, content_type_ok, enabled_services, event_admin, resolve, routes, Access, BodyKind, Cors,
    EventAdmin, Preflight, Route, Service,
};
use upstream::Reply;

/// The OpenAPI document of the public API, served at `/api/openapi.json`.
const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// The gateway's Spin variables, each read on first use: a catalogue cache
/// hit reads none, another anonymous request two (the service's URL and the
/// enabled list), a browser's a third (the CORS origins), an authenticated
/// request the signing key as well.
/// Every variable read is a host call on every request.
#[derive(Default)]
struct Config {
    keys: OnceCell<streamia_auth::JwtKeys>,
    cors: OnceCell<Cors>,
    enabled: OnceCell<Vec<Service>>,
    breaker: OnceCell<Option<BreakerConfig>>,
    metrics: OnceCell<bool>,
    /// The shared counters; `None` when the store cannot be opened (then
    /// nothing is limited or counted, and the log says why).
    counters: OnceCell<Option<state::KvCounters>>,
}

fn var(name: &str) -> Result<String, ApiError> {
    spin_sdk::variables::get(name).map_err(|e| ApiError::Unavailable {
        code: "misconfigured",
        message: format!("the gateway is misconfigured ({name}: {e:?})"),
    })
}

/// `cell`'s value, made by `make` the first time.
fn once<T>(cell: &OnceCell<T>, make: impl FnOnce() -> Result<T, ApiError>) -> Result<&T, ApiError> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let value = make()?;
    Ok(cell.get_or_init(|| value))
}

impl Config {
    fn keys(&self) -> Result<&streamia_auth::JwtKeys, ApiError> {
        once(&self.keys, || {
            streamia_auth::JwtKeys::new(&var("jwt_secret")?).map_err(|e| ApiError::Unavailable {
                code: "misconfigured",
                message: format!("jwt_secret: {e}"),
            })
        })
    }

    fn cors(&self) -> Result<&Cors, ApiError> {
        once(&self.cors, || Ok(Cors::new(&var("cors_origins")?)))
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, ApiError> {
        let text = var(name)?;
        text.trim().parse().map_err(|_| ApiError::Unavailable {
            code: "misconfigured",
            message: format!("the gateway is misconfigured ({name}: {text:?} is not a number)"),
        })
    }

    fn switch(&self, name: &str) -> Result<bool, ApiError> {
        match var(name)?.trim() {
            "on" => Ok(true),
            "off" => Ok(false),
            other => Err(ApiError::Unavailable {
                code: "misconfigured",
                message: format!("the gateway is misconfigured ({name}: {other:?} is neither \"on\" nor \"off\")"),
            }),
        }
    }

    /// The limit for `scope` (`rate_limit_*`); `None` when it is off.
    fn limit(&self, scope: Scope) -> Result<Option<Limit>, ApiError> {
        let name = match scope {
            Scope::Anonymous => "rate_limit_anonymous",
            Scope::User => "rate_limit_user",
            Scope::Auth => "rate_limit_auth",
            Scope::Account => "rate_limit_login_failures",
        };
        Limit::parse(&var(name)?).map_err(|e| ApiError::Unavailable {
            code: "misconfigured",
            message: format!("the gateway is misconfigured ({name}: {e})"),
        })
    }

    fn timeout_ms(&self) -> Result<u64, ApiError> {
        self.number("upstream_timeout_ms")
    }

    /// The breakers' figures; `None` when `breaker = "off"`.
    fn breaker(&self) -> Result<Option<&BreakerConfig>, ApiError> {
        once(&self.breaker, || {
            if !self.switch("breaker")? {
                return Ok(None);
            }
            Ok(Some(BreakerConfig {
                failure_percent: self.number("breaker_failure_percent")?,
                min_calls: self.number("breaker_min_calls")?,
                window_ms: self.number::<u64>("breaker_window_s")? * 1000,
                open_ms: self.number::<u64>("breaker_open_s")? * 1000,
                probe_ms: self.timeout_ms()? + 1000,
            }))
        })
        .map(Option::as_ref)
    }

    fn metrics_on(&self) -> Result<bool, ApiError> {
        once(&self.metrics, || self.switch("metrics")).copied()
    }

    fn counters(&self) -> Option<&dyn Counters> {
        self.counters
            .get_or_init(|| match state::KvCounters::open() {
                Ok(c) => Some(c),
                Err(e) => {
                    log_warning(&format!("rate limits, breakers and metrics are off: {e}"));
                    None
                }
            })
            .as_ref()
            .map(|c| c as &dyn Counters)
    }

    fn enabled(&self) -> Result<&[Service], ApiError> {
        once(&self.enabled, || Ok(enabled_services(&var("enabled_services")?))).map(Vec::as_slice)
    }

    /// The base URL of an enabled service; `None` when it is not deployed.
    fn url(&self, service: Service) -> Result<Option<String>, ApiError> {
        if !self.enabled()?.contains(&service) {
            return Ok(None);
        }
        let url = var(&format!("{}_url", service.name()))?;
        let url = url.trim_end_matches('/');
        Ok((!url.is_empty()).then(|| url.to_owned()))
    }
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.header(name).and_then(|v| v.as_str())
}

/// What serving a request learned that the log line and the counting
/// after the response need.
#[derive(Default)]
struct Outcome {
    service: Option<Service>,
    /// The caller's claims, from a valid token (checked once, for the rate limit).
    claims: Option<streamia_auth::Claims>,
    verdict: Option<Verdict>,
    /// A login's e-mail, counted against its account if the login fails.
    login_email: Option<String>,
    /// A service call through a breaker, to be recorded.
    upstream: Option<Guarded>,
    /// A breaker refused the call: `Retry-After`.
    retry_after: Option<u64>,
    /// 405: the methods the path takes (`Allow`).
    allow: Option<String>,
}

/// A service call through its route group's breaker: how it was admitted
/// and whether it failed.
struct Guarded {
    breaker: String,
    admission: Admission,
    failed: bool,
    /// The client's IP when nobody authenticated the call: its failures
    /// count against that client alone.
    anonymous_client: Option<String>,
}

fn log_warning(message: &str) {
    eprintln!(
        "{}",
        serde_json::json!({"level": "warn", "service": "gateway", "msg": message})
    );
}

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    let started = Instant::now();
    let now_ms = Now::system().unix_ms().max(0) as u64;
    let ctx = Ctx::new(&req);
    let origin = header(&req, "origin").map(str::to_owned);
    let trace_id = request_id::trace_id(&req);
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let config = Config::default();
    let mut outcome = Outcome::default();
    let result = serve(&config, &ctx, req, &mut outcome, now_ms).await;
    let mut resp = ctx.respond(result);
    resp.set_header(request_id::HEADER, ctx.request_id.as_str());
    // Without an Origin there is no CORS to answer, only the cache hint.
    let cors = match origin {
        Some(_) => config
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
    let line = serde_json::json!({
        "level": "info",
        "msg": "request",
        "service": "gateway",
        "requestId": ctx.request_id,
        "traceId": trace_id,
        "method": method,
        "route": route.unwrap_or(metrics::UNMATCHED),
        "path": path,
        "status": status,
        "upstream": outcome.service.map(Service::name),
        "userId": outcome.claims.as_ref().map(|c| c.sub.as_str()),
        "durationMs": (micros as f64 / 100.0).round() / 10.0,
    });
    println!("{line}");
    // What the next request must see is counted before this one is
    // answered: a client that retries at once meets the opened breaker or
    // the locked account. Metrics wait until the client has its answer.
    if let Err(e) = judge(&config, &outcome, status, now_ms) {
        log_warning(&format!(
            "request {}: breaker or login not counted: {e}",
            ctx.request_id
        ));
    }
    streamia_api::send_response(out, resp);
    if let Err(e) = count(&config, route, &method, status, micros, now_ms) {
        log_warning(&format!("request {}: not counted: {e}", ctx.request_id));
    }
}

/// The breaker's record of the service call, and a failed login against its account.
fn judge(config: &Config, outcome: &Outcome, status: u16, now_ms: u64) -> Result<(), CounterError> {
    let Some(counters) = config.counters() else {
        return Ok(());
    };
    if let (Some(call), Ok(Some(cfg))) = (&outcome.upstream, config.breaker()) {
        let caller = match call.anonymous_client {
            Some(_) => Caller::Anonymous,
            None => Caller::Accountable,
        };
        let change = breaker::record(
            counters,
            &call.breaker,
            cfg,
            call.admission,
            call.failed,
            caller,
            now_ms,
        )?;
        let change = match change {
            Some(breaker::Transition::Opened { calls, failures }) => {
                Some(("warn", format!("opened: {failures} of {calls} calls failed")))
            }
            Some(breaker::Transition::Reopened) => Some(("warn", "reopened: the probe failed".to_owned())),
            Some(breaker::Transition::Closed) => Some(("info", "closed: the probe succeeded".to_owned())),
            None => None,
        };
        if let Some((level, what)) = change {
            println!(
                "{}",
                serde_json::json!({"level": level, "service": "gateway", "msg": "circuit breaker", "breaker": call.breaker, "change": what})
            );
        }
        if let (Some(client), true) = (&call.anonymous_client, call.failed) {
            if breaker::client_failed(counters, &call.breaker, client, cfg, now_ms)? {
                println!(
                    "{}",
                    serde_json::json!({"level": "warn", "service": "gateway", "msg": "circuit breaker", "breaker": call.breaker, "client": client, "change": "opened for one anonymous client: its calls kept failing"})
                );
            }
        }
    }
    if let (Some(email), 401) = (&outcome.login_email, status) {
        if let Ok(Some(limit)) = config.limit(Scope::Account) {
            limits::account_failed(counters, email, limit, now_ms)?;
        }
    }
    Ok(())
}

/// After the response: metrics, and now and then a sweep of expired windows.
fn count(
    config: &Config,
    route: Option<&str>,
    method: &str,
    status: u16,
    micros: u64,
    now_ms: u64,
) -> Result<(), CounterError> {
    let Some(counters) = config.counters() else {
        return Ok(());
    };
    if config.metrics_on().unwrap_or(false) {
        metrics::record(counters, route.unwrap_or(metrics::UNMATCHED), method, status, micros)?;
    }
    // About one request in 256 sweeps the windows that have ended.
    if micros.is_multiple_of(256) {
        sweep(counters, now_ms)?;
    }
    Ok(())
}

/// The response, or the error to answer with.
async fn serve(
    config: &Config,
    ctx: &Ctx,
    req: Request,
    outcome: &mut Outcome,
    now_ms: u64,
) -> Result<Response, ApiError> {
    let path = req.path().to_owned();
    if *req.method() == Method::Options {
        return options(config, ctx, &req, outcome);
    }
    let found = match routes::lookup(&req.method().to_string(), &path) {
        Lookup::Found(route) => Some(route),
        Lookup::MethodNotAllowed { allow } => {
            outcome.allow = Some(allow);
            return Err(ApiError::MethodNotAllowed);
        }
        Lookup::NotFound => None,
    };
    if let Some(rest) = path.strip_prefix("/health") {
        return health(config, ctx, rest, now_ms).await;
    }
    if path == "/metrics" {
        return metrics_route(config, ctx, &req, now_ms).await;
    }
    if !path.starts_with("/api/") {
        return Err(ApiError::NotFound(format!("no route for {} {path}", req.method())));
    }
    rate_limit(config, &req, outcome, now_ms)?;
    if found.is_none() {
        return Err(ApiError::NotFound(format!("no route for {} {path}", req.method())));
    }
    if path == "/api/openapi.json" {
        let year = streamia_movies::domain::year_of(Now::system().unix());
        let document = streamia_gateway::openapi::served(OPENAPI, year).map_err(ApiError::internal)?;
        return Ok(streamia_api::json_bytes(200, document.into_bytes(), &ctx.request_id));
    }
    if path == "/api/admin/migrate" {
        return fan_out(config, ctx, &req, Pass::Migrate).await;
    }
    match event_admin(&path) {
        Some(Ok(EventAdmin::Relay)) => return fan_out(config, ctx, &req, Pass::Relay).await,
        Some(Ok(EventAdmin::DeadLetters { service, path })) => {
            outcome.service = Some(service);
            return operations_call(config, ctx, req, service, &path, outcome, now_ms).await;
        }
        Some(Err(message)) => return Err(ApiError::NotFound(message)),
        None => {}
    }
    if let Some((service, kind)) = streamia_gateway::import_kind(&path) {
        outcome.service = Some(service);
        let private = format!("/import/{kind}");
        return operations_call(config, ctx, req, service, &private, outcome, now_ms).await;
    }
    let Some(route) = resolve(&req.method().to_string(), &path) else {
        return Err(ApiError::NotFound(format!("no route for {} {path}", req.method())));
    };
    outcome.service = Some(route.service);
    forward(config, ctx, req, route, outcome, now_ms).await
}

/// Counts the request against its limit (see [`limits::scope_for`]); over
/// it, 429. A login is also refused while its account has failed too often.
fn rate_limit(config: &Config, req: &Request, outcome: &mut Outcome, now_ms: u64) -> Result<(), ApiError> {
    outcome.claims = header(req, "authorization").and_then(|_| claims(config, req).ok());
    let claims = outcome.claims.clone();
    let method = req.method().to_string();
    let scope = limits::scope_for(&method, req.path(), claims.is_some());
    let Some(limit) = config.limit(scope)? else {
        return Ok(());
    };
    let Some(counters) = config.counters() else {
        return Ok(());
    };
    let who = match (&claims, scope) {
        (Some(c), Scope::User) => c.sub.clone(),
        _ => limits::client_ip(
            header(req, "spin-client-addr"),
            header(req, "x-forwarded-for"),
            config.number("trusted_proxy_hops")?,
        ),
    };
    let refuse = |verdict: Verdict, scope: Scope| {
        if let Err(e) = metrics::rejected(counters, scope) {
            log_warning(&e.to_string());
        }
        Err(ApiError::TooManyRequests {
            retry_after: verdict.reset_s.max(1),
        })
    };
    match limits::hit(counters, scope, &who, limit, now_ms) {
        Ok(verdict) => {
            outcome.verdict = Some(verdict);
            if !verdict.allowed {
                return refuse(verdict, scope);
            }
        }
        Err(e) => log_warning(&format!("rate limit not checked: {e}")),
    }
    if method == "POST" && req.path().trim_end_matches('/') == "/api/users/login" {
        let Some(account_limit) = config.limit(Scope::Account)? else {
            return Ok(());
        };
        let email = serde_json::from_slice::<serde_json::Value>(req.body())
            .ok()
            .and_then(|v| v.get("email").and_then(|e| e.as_str()).map(str::to_owned));
        if let Some(email) = email {
            match limits::account_open(counters, &email, account_limit, now_ms) {
                Ok(verdict) if !verdict.allowed => {
                    outcome.verdict = Some(verdict);
                    return refuse(verdict, Scope::Account);
                }
                Ok(_) => outcome.login_email = Some(email),
                Err(e) => log_warning(&format!("login limit not checked: {e}")),
            }
        }
    }
    Ok(())
}

/// `OPTIONS`: a browser's CORS preflight (it names the method it wants,
/// `Access-Control-Request-Method`), or else the methods the path takes
/// (204 with `Allow`).
fn options(config: &Config, ctx: &Ctx, req: &Request, outcome: &mut Outcome) -> Result<Response, ApiError> {
    if header(req, "access-control-request-method").is_some() {
        return preflight(config, ctx, req);
    }
    let allow = routes::allowed(req.path())
        .ok_or_else(|| ApiError::NotFound(format!("no route for OPTIONS {}", req.path())))?;
    outcome.allow = Some(allow);
    Ok(ctx.no_content())
}

fn preflight(config: &Config, ctx: &Ctx, req: &Request) -> Result<Response, ApiError> {
    match config
        .cors()?
        .preflight(header(req, "origin"), header(req, "access-control-request-method"))
    {
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

/// The caller's claims, from a valid access token (else 401).
fn claims(config: &Config, req: &Request) -> Result<streamia_auth::Claims, ApiError> {
    let token =
        streamia_auth::bearer(header(req, "authorization")).map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    config
        .keys()?
        .verify(token, Now::system().unix().max(0) as u64)
        .map_err(|e| ApiError::Unauthorized(e.to_string()))
}

fn admin_only(config: &Config, req: &Request) -> Result<(), ApiError> {
    match claims(config, req)?.role {
        streamia_auth::Role::Admin => Ok(()),
        streamia_auth::Role::User => Err(ApiError::Forbidden("admins only".into())),
    }
}

/// An operators' call for one service (admins): `/api/admin/events/{service}/dead-letters…`
/// or `/api/admin/import/{kind}`, to the service's private route, which checks the token again.
async fn operations_call(
    config: &Config,
    ctx: &Ctx,
    req: Request,
    service: Service,
    path: &str,
    outcome: &mut Outcome,
    now_ms: u64,
) -> Result<Response, ApiError> {
    admin_only(config, &req)?;
    let route = Route {
        service,
        access: Access::Authenticated,
        body: BodyKind::Json,
        group: routes::OPERATIONS,
    };
    forward_to(config, ctx, req, route, path, outcome, now_ms).await
}

/// What the operators' automation asks of every enabled service at once.
#[derive(Clone, Copy)]
enum Pass {
    /// `POST /api/admin/events/relay` → each service's `/relay`: due outbox
    /// events, and on Redis its consumer group (the deployment's ticker).
    Relay,
    /// `POST /api/admin/migrate` → each service's `/migrate`: its database
    /// schema brought up to date (the release's migration job).
    Migrate,
}

impl Pass {
    fn path(self) -> &'static str {
        match self {
            Pass::Relay => "/relay",
            Pass::Migrate => "/migrate",
        }
    }
}

/// Run `pass` on every enabled service, with `relay_token` (a secret
/// variable; unset, only admins may) or an admin's token; 503 `degraded`
/// unless every service answered 200.
async fn fan_out(config: &Config, ctx: &Ctx, req: &Request, pass: Pass) -> Result<Response, ApiError> {
    let token =
        streamia_auth::bearer(header(req, "authorization")).map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let relay_token = spin_sdk::variables::get("relay_token").unwrap_or_default();
    if relay_token.is_empty() || !streamia_auth::secret_matches(token, &relay_token) {
        admin_only(config, req)?;
    }
    let mut services = serde_json::Map::new();
    let mut all_ok = true;
    for service in config.enabled()? {
        let Some(base) = config.url(*service)? else { continue };
        let out = Request::builder()
            .method(Method::Post)
            .uri(format!("{base}{}", pass.path()))
            .header(request_id::HEADER, ctx.request_id.as_str())
            .build();
        // A relay pass may deliver hundreds of events, a migration rewrite
        // a table: ten deadlines' worth.
        let answer = match upstream::send(out, config.timeout_ms()? * 10).await {
            Reply::Answered(resp) if *resp.status() == 200 => {
                serde_json::from_slice(resp.body()).unwrap_or(serde_json::Value::Null)
            }
            Reply::Answered(resp) => {
                all_ok = false;
                serde_json::json!({"status": resp.status()})
            }
            Reply::Unreachable(e) => {
                log_warning(&format!(
                    "request {}: {} of {} failed: {e}",
                    ctx.request_id,
                    pass.path(),
                    service.name()
                ));
                all_ok = false;
                serde_json::json!({"status": "unreachable"})
            }
            Reply::TimedOut => {
                all_ok = false;
                serde_json::json!({"status": "timeout"})
            }
        };
        services.insert(service.name().into(), answer);
    }
    let body = serde_json::json!({"status": if all_ok { "ok" } else { "degraded" }, "services": services});
    Ok(ctx.json(if all_ok { 200 } else { 503 }, &body))
}

/// Size, type and token are checked before the service sees anything.
async fn forward(
    config: &Config,
    ctx: &Ctx,
    req: Request,
    route: Route,
    outcome: &mut Outcome,
    now_ms: u64,
) -> Result<Response, ApiError> {
    let path = req.path().to_owned();
    forward_to(config, ctx, req, route, &path, outcome, now_ms).await
}

fn unavailable(service: Service, why: &str) -> ApiError {
    ApiError::Unavailable {
        code: "service_unavailable",
        message: format!("the {} service {why}", service.name()),
    }
}

/// How the breakers admit a call on `route`: its route group's breaker,
/// shared by everyone; for a call nobody authenticated, also that client's
/// own (its failures count against it alone). `None`: breakers are off or
/// their state is unreadable (then the call goes through).
fn admit(
    config: &Config,
    req: &Request,
    route: Route,
    outcome: &Outcome,
    now_ms: u64,
) -> Result<Option<Guarded>, ApiError> {
    let (Some(cfg), Some(counters)) = (config.breaker()?, config.counters()) else {
        return Ok(None);
    };
    if route.group == routes::OPERATIONS {
        return Ok(None);
    }
    let name = route.breaker();
    let anonymous_client = match outcome.claims {
        Some(_) => None,
        None => Some(limits::client_ip(
            header(req, "spin-client-addr"),
            header(req, "x-forwarded-for"),
            config.number("trusted_proxy_hops")?,
        )),
    };
    let admitted = breaker::admit(counters, &name, cfg, now_ms).and_then(|shared| match (&anonymous_client, shared) {
        (Some(client), Admission::Closed) => breaker::admit_client(counters, &name, client, cfg, now_ms),
        _ => Ok(shared),
    });
    match admitted {
        Ok(admission) => Ok(Some(Guarded {
            breaker: name,
            admission,
            failed: false,
            anonymous_client,
        })),
        Err(e) => {
            log_warning(&format!("breaker not checked: {e}"));
            Ok(None)
        }
    }
}

/// [`forward`] to `path` on the service, through its route group's circuit
/// breaker and within the upstream deadline.
async fn forward_to(
    config: &Config,
    ctx: &Ctx,
    req: Request,
    route: Route,
    path: &str,
    outcome: &mut Outcome,
    now_ms: u64,
) -> Result<Response, ApiError> {
    let limit = route.body.limit();
    let declared = header(&req, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    if declared > limit || req.body().len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let has_body = !req.body().is_empty() || declared > 0;
    if has_body && !content_type_ok(route.body, header(&req, "content-type")) {
        return Err(ApiError::UnsupportedMediaType {
            expected: route.body.media_type(),
        });
    }
    // Already checked when it is valid; without valid claims, the reason (401).
    if route.access == Access::Authenticated && outcome.claims.is_none() {
        claims(config, &req)?;
    }
    // A hit needs no variable: only a deployed service fills the store
    // this gateway reads.
    if let Some(hit) = cached_read(ctx, &req, route) {
        return Ok(hit);
    }
    let base = config
        .url(route.service)?
        .ok_or_else(|| unavailable(route.service, "is not deployed"))?;
    let mut guarded = admit(config, &req, route, outcome, now_ms)?;
    if let Some(Guarded {
        admission: Admission::Open { retry_after_s },
        anonymous_client,
        ..
    }) = &guarded
    {
        outcome.retry_after = Some(*retry_after_s);
        let why = match anonymous_client {
            Some(_) => "did not answer your recent calls of this kind; retry shortly (circuit open for this client)",
            None => "is failing on calls of this kind; they resume shortly (circuit open)",
        };
        return Err(unavailable(route.service, why));
    }

    let query = req.query();
    let url = if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    };
    // HEAD is served as GET; the host sends the head alone.
    let method = match req.method() {
        Method::Head => Method::Get,
        other => other.clone(),
    };
    let mut out = Request::builder();
    out.method(method)
        .uri(url)
        .header(request_id::HEADER, ctx.request_id.as_str());
    // X-Cld-*: Cloudinary's notification signature, checked by the movies service.
    for name in [
        "authorization",
        "content-type",
        "accept",
        "traceparent",
        "tracestate",
        "x-cld-timestamp",
        "x-cld-signature",
    ] {
        if let Some(value) = header(&req, name) {
            out.header(name, value);
        }
    }
    if let Some(client) = header(&req, "spin-client-addr") {
        out.header("x-forwarded-for", client.rsplit_once(':').map_or(client, |(ip, _)| ip));
    }
    let out = out.body(req.into_body()).build();
    // Uploads wait on the movies service's call to Cloudinary.
    let timeout_ms = match route.body {
        BodyKind::Json => config.timeout_ms()?,
        BodyKind::Upload => config.number("upload_timeout_ms")?,
    };
    let held = bulkheads::enter(config, route, timeout_ms + 1_000, now_ms, &mut outcome.retry_after).await?;
    let reply = upstream::send(out, timeout_ms).await;
    drop(held);
    if let Some(guarded) = guarded.as_mut() {
        guarded.failed = upstream::failed(&reply);
    }
    outcome.upstream = guarded;
    match reply {
        Reply::Answered(resp) => Ok(pass_back(resp)),
        Reply::Unreachable(e) => {
            log_warning(&format!(
                "request {}: {} unreachable: {e}",
                ctx.request_id,
                route.service.name()
            ));
            Err(unavailable(route.service, "is unavailable"))
        }
        Reply::TimedOut => Err(unavailable(
            route.service,
            &format!("did not answer within {timeout_ms} ms"),
        )),
    }
}

/// A public read answered from the cache its service keeps, when this
/// gateway shares that service's key-value store (one app, or a split
/// deployment whose stores are the same Redis) and the entry is there:
/// `GET /api/movies/{id}` and `GET /api/movies?…` (the movies cache),
/// `GET /api/ratings/movie/{id}/stats` (the ratings cache), and
/// `GET /api/comments/movie/{id}?…` for someone not signed in (the comments
/// cache). The body is the service's own; a miss goes to the service,
/// which fills its cache.
fn cached_read(ctx: &Ctx, req: &Request, route: Route) -> Option<Response> {
    if *req.method() != Method::Get {
        return None;
    }
    let path = req.path();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ["api", _, rest @ ..] = segments.as_slice() else {
        return None;
    };
    let query = |k: &str| ctx.query(k).map(str::to_owned);
    let now = Now::system();
    let body = match route.service {
        Service::Movies => {
            let cache = KvCache::open_if_granted(streamia_movies::cache::CACHE_STORE)?;
            streamia_movies::cache::cached_read(&cache, rest, query, now)?
        }
        Service::Ratings => {
            let cache = KvCache::open_if_granted(streamia_ratings::cache::CACHE_STORE)?;
            streamia_ratings::cache::cached_read(&cache, rest, now.unix())?
        }
        Service::Comments if header(req, "authorization").is_none() => {
            let cache = KvCache::open_if_granted(streamia_comments::cache::CACHE_STORE)?;
            streamia_comments::cache::cached_read(&cache, rest, query, now.unix())?
        }
        _ => return None,
    };
    let mut resp = streamia_api::json_bytes(200, body, &ctx.request_id);
    resp.set_header("x-cache", "hit");
    Some(resp)
}

/// The service's answer with only the headers a client should see.
fn pass_back(resp: Response) -> Response {
    let mut out = Response::builder();
    out.status(*resp.status());
    for name in [
        "content-type",
        "retry-after",
        "www-authenticate",
        "location",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-cache",
    ] {
        if let Some(value) = resp.header(name).and_then(|v| v.as_str()) {
            out.header(name, value);
        }
    }
    out.body(resp.into_body()).build()
}

async fn health(config: &Config, ctx: &Ctx, rest: &str, now_ms: u64) -> Result<Response, ApiError> {
    match rest.trim_end_matches('/') {
        "/live" => Ok(ctx.json(200, &serde_json::json!({"service": "gateway", "status": "ok"}))),
        "/ready" => Ok(ctx.json(200, &serde_json::json!({"service": "gateway", "status": "ok"}))),
        "" => {
            let mut services = serde_json::Map::new();
            let mut all_ok = true;
            for service in config.enabled()? {
                let ok = probe(config, *service).await.is_ok_and(|(status, _)| status == 200);
                all_ok &= ok;
                services.insert(service.name().into(), (if ok { "ok" } else { "unavailable" }).into());
            }
            // A breaker not closed refuses some calls: degraded.
            let mut breakers = serde_json::Map::new();
            for (service, group, state) in breaker_states(config, now_ms)? {
                all_ok &= state.state == "closed";
                breakers.insert(
                    breaker_name(service, group),
                    serde_json::json!({"state": state.state, "calls": state.calls, "failures": state.failures}),
                );
            }
            let body = serde_json::json!({
                "status": if all_ok { "ok" } else { "degraded" },
                "gateway": "ok",
                "services": services,
                "breakers": breakers,
            });
            Ok(ctx.json(if all_ok { 200 } else { 503 }, &body))
        }
        other => {
            let name = other.trim_start_matches('/');
            let service =
                Service::parse(name).ok_or_else(|| ApiError::NotFound(format!("no service named {name:?}")))?;
            let (status, body) = probe(config, service).await?;
            Ok(Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .header(request_id::HEADER, ctx.request_id.as_str())
                .body(body)
                .build())
        }
    }
}

/// Every breaker of the enabled services now (none when breakers are off
/// or their state is unreadable).
fn breaker_states(
    config: &Config,
    now_ms: u64,
) -> Result<Vec<(Service, &'static str, breaker::BreakerState)>, ApiError> {
    let (Some(cfg), Some(counters)) = (config.breaker()?, config.counters()) else {
        return Ok(Vec::new());
    };
    let enabled = config.enabled()?;
    let mut states = Vec::new();
    for (service, group) in breakers().into_iter().filter(|(s, _)| enabled.contains(s)) {
        match breaker::state(counters, &breaker_name(service, group), cfg, now_ms) {
            Ok(state) => states.push((service, group, state)),
            Err(e) => log_warning(&format!("breaker state unreadable: {e}")),
        }
    }
    Ok(states)
}

/// A service's `/health/ready`: its status and body.
async fn probe(config: &Config, service: Service) -> Result<(u16, Vec<u8>), ApiError> {
    let base = config
        .url(service)?
        .ok_or_else(|| unavailable(service, "is not deployed"))?;
    let req = Request::get(format!("{base}/health/ready")).build();
    match upstream::send(req, config.timeout_ms()?).await {
        Reply::Answered(resp) => Ok((*resp.status(), resp.into_body())),
        Reply::Unreachable(_) => Err(unavailable(service, "is unavailable")),
        Reply::TimedOut => Err(unavailable(service, "did not answer in time")),
    }
}

/// `GET /metrics` (Bearer `metrics_token`): the Prometheus text format.
async fn metrics_route(config: &Config, ctx: &Ctx, req: &Request, now_ms: u64) -> Result<Response, ApiError> {
    if !config.metrics_on()? {
        return Err(ApiError::NotFound("metrics are off (metrics = \"off\")".into()));
    }
    // No credentials: 401 (with `WWW-Authenticate`), whether or not a token is set.
    let token =
        streamia_auth::bearer(header(req, "authorization")).map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let expected = var("metrics_token")?;
    if expected.is_empty() {
        return Err(ApiError::Forbidden(
            "metrics are shown only with a token: set the metrics_token variable".into(),
        ));
    }
    if !streamia_auth::secret_matches(token, &expected) {
        return Err(ApiError::Forbidden("this token may not read the metrics".into()));
    }
    let counters = config.counters().ok_or_else(|| ApiError::Unavailable {
        code: "state_unavailable",
        message: format!("the gateway's key-value store {:?} is not available", state::STORE),
    })?;
    let breakers: Vec<(&str, &str, breaker::BreakerState)> = breaker_states(config, now_ms)?
        .into_iter()
        .map(|(service, group, state)| (service.name(), group, state))
        .collect();
    let mut events = Vec::new();
    for service in config.enabled()? {
        if let Ok((200, body)) = probe(config, *service).await {
            if let Ok(health) = serde_json::from_slice::<serde_json::Value>(&body) {
                events.push((service.name(), event_counts(&health["events"])));
            }
        }
    }
    let text = metrics::render(
        counters,
        &metrics::Scrape {
            breakers: &breakers,
            events: &events,
            in_flight: &bulkheads::in_flight(config, config.timeout_ms()? + 1_000, now_ms),
        },
    )
    .map_err(ApiError::internal)?;
    Ok(Response::builder()
        .status(200)
        .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
        .header(request_id::HEADER, ctx.request_id.as_str())
        .body(text)
        .build())
}

/// The `events` of a service's health: `{published, waiting, consumed, deadLetters}`.
fn event_counts(events: &serde_json::Value) -> EventCounts {
    let n = |name: &str| events[name].as_u64();
    EventCounts {
        published: n("published").unwrap_or(0),
        waiting: n("waiting").unwrap_or(0),
        consumed: n("consumed"),
        dead_letters: n("deadLetters"),
    }
}

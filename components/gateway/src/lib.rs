//! The gateway component: the app's only public route (`/...`). It answers
//! CORS preflights, checks size, type and token before anything is parsed,
//! and forwards `/api/<service>/...` to the service's base URL — service
//! chaining (`http://users.spin.internal`) on one Spin app, any URL in a
//! split deployment. A catalogue read the movies cache holds is answered
//! here, from that cache (`X-Cache: hit`): one component instead of two and
//! a chained call. One JSON log line per request.

use std::cell::OnceCell;
use std::time::Instant;

use spin_sdk::http::{Method, Request, Response, ResponseOutparam};
use spin_sdk::http_component;
use streamia_api::{request_id, ApiError, Ctx};
use streamia_clock::Now;
use streamia_gateway::{
    content_type_ok, enabled_services, event_admin, resolve, Access, Cors, EventAdmin, Preflight, Route, Service,
};

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

#[http_component]
async fn handle(req: Request, out: ResponseOutparam) {
    let started = Instant::now();
    let ctx = Ctx::new(&req);
    let origin = header(&req, "origin").map(str::to_owned);
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let config = Config::default();
    let (result, service) = serve(&config, &ctx, req).await;
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
    let line = serde_json::json!({
        "level": "info",
        "msg": "request",
        "requestId": ctx.request_id,
        "method": method,
        "path": path,
        "status": resp.status(),
        "service": service.map(Service::name),
        "durationMs": (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
    });
    println!("{line}");
    streamia_api::send_response(out, resp);
}

/// The response (or error) and the service that served it, for the log.
async fn serve(config: &Config, ctx: &Ctx, req: Request) -> (Result<Response, ApiError>, Option<Service>) {
    let path = req.path().to_owned();
    if *req.method() == Method::Options {
        return (preflight(config, ctx, &req), None);
    }
    if let Some(rest) = path.strip_prefix("/health") {
        return (health(config, ctx, rest).await, None);
    }
    match event_admin(&path) {
        Some(Ok(EventAdmin::Relay)) => return (relay(config, ctx, &req).await, None),
        Some(Ok(EventAdmin::DeadLetters { service, path })) => {
            return (dead_letters(config, ctx, req, service, &path).await, Some(service))
        }
        Some(Err(message)) => return (Err(ApiError::NotFound(message)), None),
        None => {}
    }
    let Some(route) = resolve(&req.method().to_string(), &path) else {
        return (
            Err(ApiError::NotFound(format!("no route for {} {path}", req.method()))),
            None,
        );
    };
    (forward(config, ctx, req, route).await, Some(route.service))
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

/// `/api/admin/events/{service}/dead-letters…` (admins): to the service's
/// private route, which checks the token again.
async fn dead_letters(
    config: &Config,
    ctx: &Ctx,
    req: Request,
    service: Service,
    path: &str,
) -> Result<Response, ApiError> {
    admin_only(config, &req)?;
    let route = Route {
        service,
        access: Access::Authenticated,
        body: streamia_gateway::BodyKind::Json,
    };
    forward_to(config, ctx, req, route, path).await
}

/// `POST /api/admin/events/relay`: every enabled service's relay pass (due
/// outbox events; on Redis, its consumer group). The deployment's ticker
/// calls it with `relay_token` (a secret variable; unset, only admins may).
async fn relay(config: &Config, ctx: &Ctx, req: &Request) -> Result<Response, ApiError> {
    if *req.method() != Method::Post {
        return Err(ApiError::MethodNotAllowed);
    }
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
            .uri(format!("{base}/relay"))
            .header(request_id::HEADER, ctx.request_id.as_str())
            .build();
        let answer = match spin_sdk::http::send::<_, Response>(out).await {
            Ok(resp) if *resp.status() == 200 => serde_json::from_slice(resp.body()).unwrap_or(serde_json::Value::Null),
            Ok(resp) => {
                all_ok = false;
                serde_json::json!({"status": resp.status()})
            }
            Err(e) => {
                eprintln!("request {}: relay of {} failed: {e}", ctx.request_id, service.name());
                all_ok = false;
                serde_json::json!({"status": "unreachable"})
            }
        };
        services.insert(service.name().into(), answer);
    }
    let body = serde_json::json!({"status": if all_ok { "ok" } else { "degraded" }, "services": services});
    Ok(ctx.json(if all_ok { 200 } else { 503 }, &body))
}

/// Size, type and token are checked before the service sees anything.
async fn forward(config: &Config, ctx: &Ctx, req: Request, route: Route) -> Result<Response, ApiError> {
    let path = req.path().to_owned();
    forward_to(config, ctx, req, route, &path).await
}

/// [`forward`] to `path` on the service.
async fn forward_to(config: &Config, ctx: &Ctx, req: Request, route: Route, path: &str) -> Result<Response, ApiError> {
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
    if route.access == Access::Authenticated {
        claims(config, &req)?;
    }
    // A hit needs no variable: only a deployed movies service fills the
    // store this gateway reads.
    if let Some(hit) = cached_catalogue_read(ctx, &req, route) {
        return Ok(hit);
    }
    let base = config.url(route.service)?.ok_or_else(|| ApiError::Unavailable {
        code: "service_unavailable",
        message: format!("the {} service is not deployed", route.service.name()),
    })?;

    let query = req.query();
    let url = if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    };
    let mut out = Request::builder();
    out.method(req.method().clone())
        .uri(url)
        .header(request_id::HEADER, ctx.request_id.as_str());
    // X-Cld-*: Cloudinary's notification signature, checked by the movies service.
    for name in [
        "authorization",
        "content-type",
        "accept",
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
    let resp: Response = spin_sdk::http::send(out).await.map_err(|e| {
        eprintln!("request {}: {} unreachable: {e}", ctx.request_id, route.service.name());
        ApiError::Unavailable {
            code: "service_unavailable",
            message: format!("the {} service is unavailable", route.service.name()),
        }
    })?;
    Ok(pass_back(resp))
}

/// `GET /api/movies/{id}` or `GET /api/movies?…` from the movies cache, when
/// this gateway shares the movies service's key-value store (one app, or a
/// split deployment whose stores are the same Redis) and the entry is
/// there. The body is the movies service's own (`streamia_movies::cache`);
/// a miss goes to the service, which fills the cache.
fn cached_catalogue_read(ctx: &Ctx, req: &Request, route: Route) -> Option<Response> {
    if route.service != Service::Movies || *req.method() != Method::Get {
        return None;
    }
    let path = req.path();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ["api", "movies", rest @ ..] = segments.as_slice() else {
        return None;
    };
    let cache = streamia_movies::KvCache::open_if_granted()?;
    let body = streamia_movies::cache::cached_read(&cache, rest, |k| ctx.query(k).map(str::to_owned), Now::system())?;
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

async fn health(config: &Config, ctx: &Ctx, rest: &str) -> Result<Response, ApiError> {
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
            let body = serde_json::json!({"status": if all_ok { "ok" } else { "degraded" }, "gateway": "ok", "services": services});
            Ok(ctx.json(if all_ok { 200 } else { 503 }, &body))
        }
        other => {
            let name = other.trim_start_matches('/');
            let service =
                Service::parse(name).ok_or_else(|| ApiError::NotFound(format!("no service named {name:?}")))?;
            match probe(config, service).await {
                Ok((status, body)) => Ok(Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .header(request_id::HEADER, ctx.request_id.as_str())
                    .body(body)
                    .build()),
                Err(e) => Err(e),
            }
        }
    }
}

/// A service's `/health/ready`: its status and body.
async fn probe(config: &Config, service: Service) -> Result<(u16, Vec<u8>), ApiError> {
    let unavailable = || ApiError::Unavailable {
        code: "service_unavailable",
        message: format!("the {} service is unavailable", service.name()),
    };
    let base = config.url(service)?.ok_or_else(unavailable)?;
    let req = Request::get(format!("{base}/health/ready")).build();
    let resp: Response = spin_sdk::http::send(req).await.map_err(|_| unavailable())?;
    Ok((*resp.status(), resp.into_body()))
}

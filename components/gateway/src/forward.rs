//! A request's way to its service: the body checks, the token, a cached
//! public read answered here, the breakers, the bulkheads, the call within
//! its deadline, and the answer with only the headers a client should see.

use spin_sdk::http::{Method, Request, Response};
use streamia_api::{request_id, ApiError, Ctx};
use streamia_cache::KvCache;
use streamia_clock::Now;
use streamia_gateway::breaker::Admission;
use streamia_gateway::guard::{self, Guarded, Outcome};
use streamia_gateway::upstream::{self as rules, unavailable, FORWARDED_HEADERS, PASSED_BACK_HEADERS};
use streamia_gateway::{routes, Access, BodyKind, Route, Service};

use crate::upstream::{self, Reply};
use crate::{bulkheads, header, incoming, warn, Gateway};

/// An operators' call for one service (admins): `/api/admin/events/{service}/dead-letters…`
/// or `/api/admin/import/{kind}`, to the service's private route, which checks the token again.
pub async fn operations_call(
    gateway: &Gateway,
    ctx: &Ctx,
    req: Request,
    service: Service,
    path: &str,
    outcome: &mut Outcome,
    now_ms: u64,
) -> Result<Response, ApiError> {
    gateway.admin_only(&req)?;
    let route = Route {
        service,
        access: Access::Authenticated,
        body: BodyKind::Json,
        group: routes::OPERATIONS,
    };
    forward(gateway, ctx, req, route, path, outcome, now_ms).await
}

/// `req` to `path` on the route's service, through its route group's
/// circuit breaker and the bulkheads, within the upstream deadline.
pub async fn forward(
    gateway: &Gateway,
    ctx: &Ctx,
    req: Request,
    route: Route,
    path: &str,
    outcome: &mut Outcome,
    now_ms: u64,
) -> Result<Response, ApiError> {
    let config = &gateway.config;
    rules::check_body(
        route,
        header(&req, "content-length"),
        req.body().len(),
        header(&req, "content-type"),
    )?;
    // Already checked when it is valid; without valid claims, the reason (401).
    if route.access == Access::Authenticated && outcome.claims.is_none() {
        gateway.claims(&req)?;
    }
    // A hit needs no variable: only a deployed service fills the store
    // this gateway reads.
    if let Some(hit) = cached_read(ctx, &req, route) {
        return Ok(hit);
    }
    let base = config
        .url(route.service)?
        .ok_or_else(|| unavailable(route.service, "is not deployed"))?;
    let method = req.method().to_string();
    let mut guarded = guard::admit(
        config,
        gateway.counters(),
        &incoming(&req, &method),
        route,
        outcome,
        now_ms,
    )?;
    if let Some(
        open @ Guarded {
            admission: Admission::Open { retry_after_s },
            ..
        },
    ) = &guarded
    {
        outcome.retry_after = Some(*retry_after_s);
        return Err(unavailable(route.service, guard::circuit_open(open)));
    }
    // HEAD is served as GET; the host sends the head alone.
    let method = match req.method() {
        Method::Head => Method::Get,
        other => other.clone(),
    };
    let mut out = Request::builder();
    out.method(method)
        .uri(rules::url(&base, path, req.query()))
        .header(request_id::HEADER, ctx.request_id.as_str());
    for name in FORWARDED_HEADERS {
        if let Some(value) = header(&req, name) {
            out.header(name, value);
        }
    }
    if let Some(client) = header(&req, "spin-client-addr") {
        out.header("x-forwarded-for", rules::forwarded_for(client));
    }
    let out = out.body(req.into_body()).build();
    let timeout_ms = rules::timeout_ms(route, config.timeout_ms()?, config.upload_timeout_ms()?);
    let held = bulkheads::enter(gateway, route, timeout_ms + 1_000, now_ms, &mut outcome.retry_after).await?;
    let reply = upstream::send(out, timeout_ms).await;
    drop(held);
    if let Some(guarded) = guarded.as_mut() {
        guarded.failed = upstream::failed(&reply);
    }
    outcome.upstream = guarded;
    match reply {
        Reply::Answered(resp) => Ok(pass_back(resp)),
        Reply::Unreachable(e) => {
            warn(
                &format!("request {}: {} unreachable", ctx.request_id, route.service.name()),
                e,
            );
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
    for name in PASSED_BACK_HEADERS {
        if let Some(value) = resp.header(name).and_then(|v| v.as_str()) {
            out.header(name, value);
        }
    }
    out.body(resp.into_body()).build()
}

//! The gateway's answers about the services behind it: `/health`,
//! `/metrics`, and the operators' passes over every service (relay,
//! migrate). The bodies are `streamia_gateway::operations`'.

use std::time::Instant;

use spin_sdk::http::{Method, Request, Response};
use streamia_api::health::{Check, Readiness};
use streamia_api::{request_id, ApiError, Ctx};
use streamia_gateway::breaker::{self, BreakerState};
use streamia_gateway::operations::{
    event_counts, health_summary, pass_summary, readiness_summary, service_check, Answer, Pass,
};
use streamia_gateway::upstream::unavailable;
use streamia_gateway::{breaker_name, breakers, metrics, Service};

use crate::upstream::{self, Reply};
use crate::{bulkheads, header, state, warn, Gateway};

/// Run `pass` on every enabled service, with `relay_token` (a secret
/// variable; unset, only admins may) or an admin's token; 503 `degraded`
/// unless every service answered 200.
pub async fn fan_out(gateway: &Gateway, ctx: &Ctx, req: &Request, pass: Pass) -> Result<Response, ApiError> {
    let config = &gateway.config;
    let token =
        streamia_auth::bearer(header(req, "authorization")).map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let relay_token = config.secret("relay_token");
    if !relay_token.is_some_and(|expected| streamia_auth::secret_matches(token, &expected)) {
        gateway.admin_only(req)?;
    }
    let mut answers = Vec::new();
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
            Reply::Answered(resp) => Answer::Answered(
                *resp.status(),
                serde_json::from_slice(resp.body()).unwrap_or(serde_json::Value::Null),
            ),
            Reply::Unreachable(e) => {
                warn(
                    &format!(
                        "request {}: {} of {} failed",
                        ctx.request_id,
                        pass.path(),
                        service.name()
                    ),
                    e,
                );
                Answer::Unreachable
            }
            Reply::TimedOut => Answer::TimedOut,
        };
        answers.push((*service, answer));
    }
    let (status, body) = pass_summary(answers);
    Ok(ctx.json(status, &body))
}

pub async fn health(gateway: &Gateway, ctx: &Ctx, rest: &str, now_ms: u64) -> Result<Response, ApiError> {
    match rest.trim_end_matches('/') {
        "/live" => Ok(ctx.json(200, &serde_json::json!({"service": "gateway", "status": "ok"}))),
        "/ready" | "/detailed" => {
            let detailed = rest.trim_end_matches('/') == "/detailed";
            let readiness = readiness(gateway, detailed).await?;
            let (status, body) = readiness_summary(&readiness, &breaker_states(gateway, now_ms)?, detailed);
            if status != 200 {
                let fields = streamia_log::json!({"requestId": ctx.request_id, "failing": readiness.failing()});
                streamia_log::warn("gateway", "not ready", fields);
            }
            Ok(ctx.json(status, &body))
        }
        "" => {
            let mut ready = Vec::new();
            for service in gateway.config.enabled()? {
                let ok = matches!(probe(gateway, *service, "ready").await, Ok(Answer::Answered(200, _)));
                ready.push((*service, ok));
            }
            let (status, body) = health_summary(&ready, &breaker_states(gateway, now_ms)?);
            Ok(ctx.json(status, &body))
        }
        other => {
            let name = other.trim_start_matches('/');
            let service =
                Service::parse(name).ok_or_else(|| ApiError::NotFound(format!("no service named {name:?}")))?;
            match probe(gateway, service, "ready").await? {
                Answer::Answered(status, body) => Ok(ctx.json(status, &body)),
                Answer::Unreachable => Err(unavailable(service, "is unavailable")),
                Answer::TimedOut => Err(unavailable(service, "did not answer in time")),
            }
        }
    }
}

/// The gateway's own key-value store (its limits, breakers, metrics) and
/// each service it routes to, each timed; `detailed` asks each service for
/// its own checks' latencies too.
async fn readiness(gateway: &Gateway, detailed: bool) -> Result<Readiness, ApiError> {
    let mut readiness = Readiness::default();
    readiness.push(Check::run("keyValue", || {
        state::KvCounters::open()
            .and_then(|store| store.answers())
            .map_err(|e| e.to_string())
    }));
    for service in gateway.config.enabled()? {
        let started = Instant::now();
        let check = if detailed { "detailed" } else { "ready" };
        let answer = probe(gateway, *service, check).await.unwrap_or(Answer::Unreachable);
        readiness.push(service_check(*service, answer, started.elapsed()));
    }
    Ok(readiness)
}

/// Every breaker of the enabled services now (none when breakers are off
/// or their state is unreadable).
fn breaker_states(gateway: &Gateway, now_ms: u64) -> Result<Vec<(Service, &'static str, BreakerState)>, ApiError> {
    let (Some(cfg), Some(counters)) = (gateway.config.breaker()?, gateway.counters()) else {
        return Ok(Vec::new());
    };
    let enabled = gateway.config.enabled()?;
    let mut states = Vec::new();
    for (service, group) in breakers().into_iter().filter(|(s, _)| enabled.contains(s)) {
        match breaker::state(counters, &breaker_name(service, group), cfg, now_ms) {
            Ok(state) => states.push((service, group, state)),
            Err(e) => warn("breaker state unreadable", e),
        }
    }
    Ok(states)
}

/// A service's `/health/{check}` (`ready` or `detailed`): how it answered.
async fn probe(gateway: &Gateway, service: Service, check: &str) -> Result<Answer, ApiError> {
    let base = gateway
        .config
        .url(service)?
        .ok_or_else(|| unavailable(service, "is not deployed"))?;
    let req = Request::get(format!("{base}/health/{check}")).build();
    Ok(match upstream::send(req, gateway.config.timeout_ms()?).await {
        Reply::Answered(resp) => {
            Answer::Answered(*resp.status(), serde_json::from_slice(resp.body()).unwrap_or_default())
        }
        Reply::Unreachable(_) => Answer::Unreachable,
        Reply::TimedOut => Answer::TimedOut,
    })
}

/// `GET /metrics` (Bearer `metrics_token`): the Prometheus text format.
pub async fn metrics(gateway: &Gateway, ctx: &Ctx, req: &Request, now_ms: u64) -> Result<Response, ApiError> {
    let config = &gateway.config;
    if !config.metrics_on()? {
        return Err(ApiError::NotFound("metrics are off (metrics = \"off\")".into()));
    }
    // No credentials: 401 (with `WWW-Authenticate`), whether or not a token is set.
    let token =
        streamia_auth::bearer(header(req, "authorization")).map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let Some(expected) = config.secret("metrics_token") else {
        return Err(ApiError::Forbidden(
            "metrics are shown only with a token: set the metrics_token variable".into(),
        ));
    };
    if !streamia_auth::secret_matches(token, &expected) {
        return Err(ApiError::Forbidden("this token may not read the metrics".into()));
    }
    let counters = gateway.counters().ok_or_else(|| ApiError::Unavailable {
        code: "state_unavailable",
        message: format!("the gateway's key-value store {:?} is not available", state::STORE),
    })?;
    let breakers: Vec<(&str, &str, BreakerState)> = breaker_states(gateway, now_ms)?
        .into_iter()
        .map(|(service, group, state)| (service.name(), group, state))
        .collect();
    let mut events = Vec::new();
    for service in config.enabled()? {
        if let Ok(Answer::Answered(200, health)) = probe(gateway, *service, "ready").await {
            events.push((service.name(), event_counts(&health["events"])));
        }
    }
    let text = metrics::render(
        counters,
        &metrics::Scrape {
            breakers: &breakers,
            events: &events,
            in_flight: &bulkheads::in_flight(gateway, config.timeout_ms()? + 1_000, now_ms),
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

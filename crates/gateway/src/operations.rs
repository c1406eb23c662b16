//! The gateway's answers about the services behind it: `/health` (each
//! enabled service's readiness and every breaker), and the passes the
//! operators' automation runs on every service at once (the relay, the
//! schema migration).

use std::time::Duration;

use serde_json::{json, Map, Value};
use streamia_api::health::{Check, Readiness};

use crate::breaker::BreakerState;
use crate::metrics::EventCounts;
use crate::{breaker_name, Service};

/// What the operators' automation asks of every enabled service at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// `POST /api/admin/events/relay` → each service's `/relay`: due outbox
    /// events, and on Redis its consumer group (the deployment's ticker).
    Relay,
    /// `POST /api/admin/migrate` → each service's `/migrate`: its database
    /// schema brought up to date (the release's migration job).
    Migrate,
}

impl Pass {
    /// The pass a public path asks for.
    pub fn of_path(path: &str) -> Option<Pass> {
        match path.trim_end_matches('/') {
            "/api/admin/events/relay" => Some(Pass::Relay),
            "/api/admin/migrate" => Some(Pass::Migrate),
            _ => None,
        }
    }

    /// The service's private route for it.
    pub fn path(self) -> &'static str {
        match self {
            Pass::Relay => "/relay",
            Pass::Migrate => "/migrate",
        }
    }
}

/// How one service answered a pass or a probe.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Its status and body.
    Answered(u16, Value),
    Unreachable,
    TimedOut,
}

/// A pass's answer: each service's own report, 200 `ok` when every
/// service answered 200, else 503 `degraded`.
pub fn pass_summary(answers: Vec<(Service, Answer)>) -> (u16, Value) {
    let mut services = Map::new();
    let mut all_ok = true;
    for (service, answer) in answers {
        all_ok &= matches!(answer, Answer::Answered(200, _));
        let report = match answer {
            Answer::Answered(200, body) => body,
            Answer::Answered(status, _) => json!({"status": status}),
            Answer::Unreachable => json!({"status": "unreachable"}),
            Answer::TimedOut => json!({"status": "timeout"}),
        };
        services.insert(service.name().into(), report);
    }
    summary(all_ok, json!({"services": services}))
}

/// `/health`: each enabled service ready or not, and every breaker; a
/// service unready or a breaker not closed (it refuses some calls) makes
/// the whole `degraded` (503).
pub fn health_summary(ready: &[(Service, bool)], breakers: &[(Service, &str, BreakerState)]) -> (u16, Value) {
    let mut all_ok = true;
    let mut services = Map::new();
    for (service, ok) in ready {
        all_ok &= ok;
        services.insert(service.name().into(), (if *ok { "ok" } else { "unavailable" }).into());
    }
    let mut states = Map::new();
    for (service, group, state) in breakers {
        all_ok &= state.state == "closed";
        states.insert(
            breaker_name(*service, group),
            json!({"state": state.state, "calls": state.calls, "failures": state.failures}),
        );
    }
    summary(
        all_ok,
        json!({"gateway": "ok", "services": services, "breakers": states}),
    )
}

fn summary(all_ok: bool, mut body: Value) -> (u16, Value) {
    body["status"] = (if all_ok { "ok" } else { "degraded" }).into();
    (if all_ok { 200 } else { 503 }, body)
}

/// One service's readiness as the gateway saw it: answered 200 (ready),
/// another status (its body says which of its checks failed), or no answer.
pub fn service_check(service: Service, answer: Answer, latency: Duration) -> Check {
    let (outcome, details) = match answer {
        Answer::Answered(200, body) => (Ok(()), Some(body)),
        Answer::Answered(status, body) => (Err(format!("answered {status}")), Some(body)),
        Answer::Unreachable => (Err("unreachable".to_owned()), None),
        Answer::TimedOut => (Err("did not answer in time".to_owned()), None),
    };
    let check = Check::timed(service.name(), outcome, latency);
    match details.map(|body| body["checks"].clone()) {
        Some(checks) if !checks.is_null() => check.with_details(checks),
        _ => check,
    }
}

/// `/health/ready` and `/health/detailed`: ready (200) when the gateway's
/// own store and every service it routes to answer; each breaker not
/// closed is named (it refuses some calls: `/health` is `degraded`), and
/// `detailed` shows every breaker, each check's latency, each service's own checks.
pub fn readiness_summary(
    readiness: &Readiness,
    breakers: &[(Service, &str, BreakerState)],
    detailed: bool,
) -> (u16, Value) {
    let not_closed: Vec<String> = breakers
        .iter()
        .filter(|(_, _, state)| state.state != "closed")
        .map(|(service, group, _)| breaker_name(*service, group))
        .collect();
    let mut body = json!({
        "service": "gateway",
        "status": readiness.word(),
        "checks": if detailed { readiness.detailed() } else { readiness.outcomes() },
        "openBreakers": not_closed,
    });
    if detailed {
        body["breakers"] = breakers
            .iter()
            .map(|(service, group, state)| {
                (
                    breaker_name(*service, group),
                    json!({"state": state.state, "calls": state.calls, "failures": state.failures}),
                )
            })
            .collect::<Map<String, Value>>()
            .into();
    }
    (readiness.status(), body)
}

/// The `events` of a service's health: `{published, waiting, consumed, deadLetters}`.
pub fn event_counts(events: &Value) -> EventCounts {
    let n = |name: &str| events[name].as_u64();
    EventCounts {
        published: n("published").unwrap_or(0),
        waiting: n("waiting").unwrap_or(0),
        consumed: n("consumed"),
        dead_letters: n("deadLetters"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(state: &'static str) -> BreakerState {
        BreakerState {
            state,
            calls: 12,
            failures: 9,
        }
    }

    #[test]
    fn the_gateway_is_ready_only_when_its_store_and_every_service_answer() {
        let ms = Duration::from_millis;
        let mut readiness = Readiness::default();
        readiness.push(Check::timed("keyValue", Ok(()), ms(1)));
        readiness.push(service_check(
            Service::Users,
            Answer::Answered(200, json!({"checks": {"sqlite": true}})),
            ms(2),
        ));
        let breakers = [(Service::Movies, "catalogue", breaker("open"))];
        let (status, body) = readiness_summary(&readiness, &breakers, false);
        assert_eq!(
            status, 200,
            "an open breaker is named, the gateway still serves: {body}"
        );
        assert_eq!(body["checks"], json!({"keyValue": true, "users": true}));
        assert_eq!(body["openBreakers"], json!(["movies.catalogue"]));

        readiness.push(service_check(
            Service::Ratings,
            Answer::Answered(503, json!({"checks": {"sqlite": true, "redis": false}})),
            ms(3),
        ));
        readiness.push(service_check(Service::Comments, Answer::Unreachable, ms(4)));
        let (status, body) = readiness_summary(&readiness, &breakers, true);
        assert_eq!(status, 503);
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["checks"]["ratings"]["error"], "answered 503");
        assert_eq!(body["checks"]["ratings"]["details"]["redis"], false);
        assert_eq!(body["checks"]["comments"]["error"], "unreachable");
        assert_eq!(body["checks"]["comments"]["latencyMs"], 4.0);
        assert_eq!(body["breakers"]["movies.catalogue"]["state"], "open");
    }

    #[test]
    fn a_pass_is_ok_only_when_every_service_answered_200() {
        let (status, body) = pass_summary(vec![
            (
                Service::Users,
                Answer::Answered(200, json!({"service": "users", "delivered": 2})),
            ),
            (Service::Movies, Answer::Answered(200, json!({"service": "movies"}))),
        ]);
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["services"]["users"]["delivered"], 2);
        let (status, body) = pass_summary(vec![
            (Service::Users, Answer::Answered(200, json!({"service": "users"}))),
            (Service::Movies, Answer::Answered(500, json!({"error": "x"}))),
            (Service::Ratings, Answer::Unreachable),
            (Service::Comments, Answer::TimedOut),
        ]);
        assert_eq!(status, 503);
        assert_eq!(body["status"], "degraded");
        assert_eq!(body["services"]["movies"], json!({"status": 500}));
        assert_eq!(body["services"]["ratings"], json!({"status": "unreachable"}));
        assert_eq!(body["services"]["comments"], json!({"status": "timeout"}));
    }

    #[test]
    fn health_is_degraded_by_an_unready_service_or_a_breaker_not_closed() {
        let closed = BreakerState {
            state: "closed",
            calls: 3,
            failures: 0,
        };
        let (status, body) = health_summary(&[(Service::Movies, true)], &[(Service::Movies, "catalogue", closed)]);
        assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
        assert_eq!(body["breakers"]["movies.catalogue"]["calls"], 3);
        let open = BreakerState {
            state: "open",
            calls: 10,
            failures: 9,
        };
        let (status, body) = health_summary(&[(Service::Movies, true)], &[(Service::Movies, "catalogue", open)]);
        assert_eq!((status, body["status"].as_str()), (503, Some("degraded")));
        let (status, body) = health_summary(&[(Service::Users, false)], &[]);
        assert_eq!((status, body["services"]["users"].as_str()), (503, Some("unavailable")));
    }

    #[test]
    fn event_counts_read_what_a_service_reports_and_none_for_what_it_has_not() {
        let counts = event_counts(&json!({"published": 3, "waiting": 1, "consumed": 7, "deadLetters": 0}));
        assert_eq!(
            (counts.published, counts.waiting, counts.consumed, counts.dead_letters),
            (3, 1, Some(7), Some(0))
        );
        let users = event_counts(&json!({"published": 3, "waiting": 0, "consumed": null, "deadLetters": null}));
        assert_eq!((users.consumed, users.dead_letters), (None, None));
        assert_eq!(Pass::of_path("/api/admin/migrate/"), Some(Pass::Migrate));
        assert_eq!(Pass::of_path("/api/admin/events/relay").map(Pass::path), Some("/relay"));
    }
}

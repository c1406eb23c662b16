//! The protection around one `/api` request, as the gateway applies it:
//! the rate limits before anything is forwarded ([`rate_limit`]), the
//! circuit breakers' admission of the service call ([`admit`]), and once
//! the answer is known, what the next request must see ([`judge`]: the
//! breaker's record, a failed login against its account) and the metrics
//! ([`count`]). What serving learned along the way is the [`Outcome`].

use serde_json::json;
use streamia_api::ApiError;
use streamia_auth::Claims;

use crate::breaker::{self, Admission, Caller, Transition};
use crate::config::Config;
use crate::counters::{sweep, CounterError, Counters};
use crate::limits::{self, Scope, Verdict};
use crate::{metrics, routes, Route, Service};

/// The parts of a request the protection reads.
pub struct Incoming<'r> {
    pub method: &'r str,
    pub path: &'r str,
    /// The peer Spin saw (`spin-client-addr`, `ip:port`).
    pub client_addr: Option<&'r str>,
    pub forwarded_for: Option<&'r str>,
    pub body: &'r [u8],
}

impl Incoming<'_> {
    /// The client's IP, as far as the trusted proxies vouch for it.
    pub fn client_ip(&self, config: &Config<'_>) -> Result<String, ApiError> {
        Ok(limits::client_ip(
            self.client_addr,
            self.forwarded_for,
            config.trusted_proxy_hops()?,
        ))
    }

    fn is_login(&self) -> bool {
        self.method == "POST" && self.path.trim_end_matches('/') == "/api/users/login"
    }
}

/// What serving a request learned that the log line and the counting
/// after the response need.
#[derive(Default)]
pub struct Outcome {
    pub service: Option<Service>,
    /// The caller's claims, from a valid token (checked once, for the rate limit).
    pub claims: Option<Claims>,
    pub verdict: Option<Verdict>,
    /// A login's e-mail, counted against its account if the login fails.
    pub login_email: Option<String>,
    /// A service call through a breaker, to be recorded.
    pub upstream: Option<Guarded>,
    /// A breaker or a bulkhead refused the call: `Retry-After`.
    pub retry_after: Option<u64>,
    /// 405: the methods the path takes (`Allow`).
    pub allow: Option<String>,
}

/// A service call through its route group's breaker: how it was admitted
/// and whether it failed.
#[derive(Debug)]
pub struct Guarded {
    pub breaker: String,
    pub admission: Admission,
    pub failed: bool,
    /// The client's IP when nobody authenticated the call: its failures
    /// count against that client alone.
    pub anonymous_client: Option<String>,
}

fn warn(message: &str, e: impl std::fmt::Display) {
    streamia_log::warn("gateway", message, streamia_log::because(e));
}

/// Counts the request against its limit (see [`limits::scope_for`]); over
/// it, 429. A login is also refused while its account has failed too often.
/// `outcome.claims` is already what the token says.
pub fn rate_limit(
    config: &Config<'_>,
    counters: Option<&dyn Counters>,
    req: &Incoming<'_>,
    outcome: &mut Outcome,
    now_ms: u64,
) -> Result<(), ApiError> {
    let scope = limits::scope_for(req.method, req.path, outcome.claims.is_some());
    let (Some(limit), Some(counters)) = (config.limit(scope)?, counters) else {
        return Ok(());
    };
    let who = match (&outcome.claims, scope) {
        (Some(c), Scope::User) => c.sub.clone(),
        _ => req.client_ip(config)?,
    };
    let refuse = |verdict: Verdict, scope: Scope| {
        if let Err(e) = metrics::rejected(counters, scope) {
            warn("a refusal not counted", e);
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
        Err(e) => warn("rate limit not checked", e),
    }
    if !req.is_login() {
        return Ok(());
    }
    let Some(account_limit) = config.limit(Scope::Account)? else {
        return Ok(());
    };
    let email = serde_json::from_slice::<serde_json::Value>(req.body)
        .ok()
        .and_then(|v| v.get("email").and_then(|e| e.as_str()).map(str::to_owned));
    if let Some(email) = email {
        match limits::account_open(counters, &email, account_limit, now_ms) {
            Ok(verdict) if !verdict.allowed => {
                outcome.verdict = Some(verdict);
                return refuse(verdict, Scope::Account);
            }
            Ok(_) => outcome.login_email = Some(email),
            Err(e) => warn("login limit not checked", e),
        }
    }
    Ok(())
}

/// How the breakers admit a call on `route`: its route group's breaker,
/// shared by everyone; for a call nobody authenticated, also that client's
/// own (its failures count against it alone). `None`: breakers are off or
/// their state is unreadable (then the call goes through).
pub fn admit(
    config: &Config<'_>,
    counters: Option<&dyn Counters>,
    req: &Incoming<'_>,
    route: Route,
    outcome: &Outcome,
    now_ms: u64,
) -> Result<Option<Guarded>, ApiError> {
    let (Some(cfg), Some(counters)) = (config.breaker()?, counters) else {
        return Ok(None);
    };
    if route.group == routes::OPERATIONS {
        return Ok(None);
    }
    let name = route.breaker();
    let anonymous_client = match outcome.claims {
        Some(_) => None,
        None => Some(req.client_ip(config)?),
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
            warn("breaker not checked", e);
            Ok(None)
        }
    }
}

/// Why a call the breakers refused was refused (the 503's message).
pub fn circuit_open(guarded: &Guarded) -> &'static str {
    match guarded.anonymous_client {
        Some(_) => "did not answer your recent calls of this kind; retry shortly (circuit open for this client)",
        None => "is failing on calls of this kind; they resume shortly (circuit open)",
    }
}

/// The breaker's record of the service call, and a failed login against
/// its account: what the next request must see, counted before this one
/// is answered (a client that retries at once meets the opened breaker or
/// the locked account).
pub fn judge(
    config: &Config<'_>,
    counters: Option<&dyn Counters>,
    outcome: &Outcome,
    status: u16,
    now_ms: u64,
) -> Result<(), CounterError> {
    let Some(counters) = counters else {
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
        if let Some(change) = change {
            // A breaker closing is good news; opening, a warning.
            let level = match change {
                Transition::Closed => streamia_log::Level::Info,
                Transition::Opened { .. } | Transition::Reopened => streamia_log::Level::Warn,
            };
            let fields = json!({"breaker": call.breaker, "change": change.describe()});
            streamia_log::write(level, "gateway", "circuit breaker", fields);
        }
        if let (Some(client), true) = (&call.anonymous_client, call.failed) {
            if breaker::client_failed(counters, &call.breaker, client, cfg, now_ms)? {
                streamia_log::warn(
                    "gateway",
                    "circuit breaker",
                    json!({"breaker": call.breaker, "client": client,
                           "change": "opened for one anonymous client: its calls kept failing"}),
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
pub fn count(
    config: &Config<'_>,
    counters: Option<&dyn Counters>,
    route: Option<&str>,
    method: &str,
    status: u16,
    micros: u64,
    now_ms: u64,
) -> Result<(), CounterError> {
    let Some(counters) = counters else {
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use streamia_api::Settings;

    use super::*;
    use crate::counters::MemoryCounters;
    use crate::resolve;

    fn settings() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            ("rate_limit_anonymous", "3/1m"),
            ("rate_limit_user", "off"),
            ("rate_limit_auth", "100/1m"),
            ("rate_limit_login_failures", "2/15m"),
            ("trusted_proxy_hops", "0"),
            ("breaker", "on"),
            ("breaker_failure_percent", "50"),
            ("breaker_min_calls", "4"),
            ("breaker_window_s", "30"),
            ("breaker_open_s", "10"),
            ("upstream_timeout_ms", "3000"),
            ("metrics", "on"),
        ])
    }

    fn get<'r>(path: &'r str, client: &'r str) -> Incoming<'r> {
        Incoming {
            method: "GET",
            path,
            client_addr: Some(client),
            forwarded_for: None,
            body: b"",
        }
    }

    #[test]
    fn an_anonymous_client_over_its_limit_is_refused_alone_and_told_when_to_retry() {
        let source = settings();
        let config = Config::new(Settings::new("the gateway", &source));
        let counters = MemoryCounters::default();
        let at = 5_000;
        for _ in 0..3 {
            let mut outcome = Outcome::default();
            rate_limit(
                &config,
                Some(&counters),
                &get("/api/movies", "10.0.0.1:5000"),
                &mut outcome,
                at,
            )
            .unwrap();
            assert!(outcome.verdict.unwrap().allowed);
        }
        let mut outcome = Outcome::default();
        let refused = rate_limit(
            &config,
            Some(&counters),
            &get("/api/movies", "10.0.0.1:5001"),
            &mut outcome,
            at,
        );
        assert!(matches!(refused, Err(ApiError::TooManyRequests { retry_after: 55 })));
        let mut other = Outcome::default();
        rate_limit(
            &config,
            Some(&counters),
            &get("/api/movies", "10.0.0.2:5000"),
            &mut other,
            at,
        )
        .unwrap();
        // Without the gateway's state nothing is limited.
        rate_limit(
            &config,
            None,
            &get("/api/movies", "10.0.0.1:5000"),
            &mut Outcome::default(),
            at,
        )
        .unwrap();
    }

    #[test]
    fn failed_logins_lock_their_account_whatever_address_they_come_from() {
        let source = settings();
        let config = Config::new(Settings::new("the gateway", &source));
        let counters = MemoryCounters::default();
        let body = br#"{"email":" Ana@Example.com ","password":"guess"}"#;
        let login = |client: &'static str| Incoming {
            method: "POST",
            path: "/api/users/login",
            client_addr: Some(client),
            forwarded_for: None,
            body,
        };
        for client in ["10.0.0.1:1", "10.0.0.2:1"] {
            let mut outcome = Outcome::default();
            rate_limit(&config, Some(&counters), &login(client), &mut outcome, 0).unwrap();
            assert_eq!(outcome.login_email.as_deref(), Some(" Ana@Example.com "));
            judge(&config, Some(&counters), &outcome, 401, 0).unwrap();
        }
        let mut outcome = Outcome::default();
        let refused = rate_limit(&config, Some(&counters), &login("10.0.0.3:1"), &mut outcome, 1_000);
        assert!(matches!(refused, Err(ApiError::TooManyRequests { .. })), "{refused:?}");
        assert!(!outcome.verdict.unwrap().allowed);
    }

    #[test]
    fn accountable_failures_open_the_groups_breaker_and_an_anonymous_clients_only_its_own() {
        let source = settings();
        let config = Config::new(Settings::new("the gateway", &source));
        let counters = MemoryCounters::default();
        let route = resolve("GET", "/api/movies").unwrap();
        let call = |claims: Option<Claims>, client: &'static str, now_ms: u64| {
            let outcome = Outcome {
                claims,
                ..Outcome::default()
            };
            let mut guarded = admit(
                &config,
                Some(&counters),
                &get("/api/movies", client),
                route,
                &outcome,
                now_ms,
            )
            .unwrap()
            .unwrap();
            guarded.failed = true;
            let admission = guarded.admission;
            let outcome = Outcome {
                upstream: Some(guarded),
                ..outcome
            };
            judge(&config, Some(&counters), &outcome, 500, now_ms).unwrap();
            admission
        };
        // Anonymous failures: the client's own breaker opens, nobody else's.
        for i in 0..10 {
            call(None, "10.0.0.9:1", 1_000 + i);
        }
        assert!(matches!(call(None, "10.0.0.9:1", 2_000), Admission::Open { .. }));
        assert_eq!(call(None, "10.0.0.8:1", 2_000), Admission::Closed);
        let member = || {
            Some(Claims {
                sub: "u1".into(),
                role: streamia_auth::Role::User,
                exp: 0,
                iat: 0,
                jti: "j".into(),
            })
        };
        for i in 0..4 {
            call(member(), "10.0.0.7:1", 3_000 + i);
        }
        let refused = call(member(), "10.0.0.7:1", 3_100);
        assert!(matches!(refused, Admission::Open { .. }), "{refused:?}");
        let open = Guarded {
            breaker: route.breaker(),
            admission: refused,
            failed: false,
            anonymous_client: None,
        };
        assert!(circuit_open(&open).contains("circuit open"));
    }
}

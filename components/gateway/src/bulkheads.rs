//! The bulkheads around the gateway's service calls
//! ([`streamia_gateway::bulkhead`]): every upstream call counts against
//! `bulkhead_total`, each against its service's `bulkhead_per_service`, and
//! a sign-in (a password hash, about 0.1 s of a core) against
//! `sign_in_concurrency` as well. A call over any of them is refused at
//! once: 503 `overloaded` with `Retry-After` — but for a sign-in, which may
//! wait up to [`SIGN_IN_WAIT_MS`] for a hash to finish if no more than
//! [`SIGN_IN_QUEUE`] × `sign_in_concurrency` others wait already: a burst of
//! sign-ins is served in turn, a flood beyond what the hash allows refused.

use streamia_api::ApiError;
use streamia_gateway::bulkhead::{self, Bound, Permit};
use streamia_gateway::counters::Counters;
use streamia_gateway::{metrics, Route};

use crate::{log_warning, Config};

/// How long a sign-in may wait for a hash to finish.
pub const SIGN_IN_WAIT_MS: u64 = 2_000;
/// Sign-ins that may wait, per sign-in that may hash at once.
pub const SIGN_IN_QUEUE: u32 = 4;
/// How often a waiting sign-in looks again.
const POLL_MS: u64 = 25;

/// The bulkheads a call on `route` goes through: `(name, variable)`.
fn bulkheads(route: Route) -> Vec<(String, &'static str)> {
    let mut names = vec![
        ("all".to_owned(), "bulkhead_total"),
        (route.service.name().to_owned(), "bulkhead_per_service"),
    ];
    if route.breaker() == "users.sign-in" {
        names.push(("users.sign-in".to_owned(), "sign_in_concurrency"));
    }
    names
}

/// The permits of one call, given back when it ends.
pub struct Held<'a> {
    counters: &'a dyn Counters,
    permits: Vec<Permit>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        for permit in self.permits.drain(..) {
            if let Err(e) = bulkhead::release(self.counters, permit) {
                log_warning(&format!("bulkhead not released: {e}"));
            }
        }
    }
}

/// Lets a call on `route` in, or refuses it (503 `overloaded`, with the
/// `Retry-After` in `retry_after`). Without the gateway's state, calls go
/// through (and the log says why).
pub async fn enter<'a>(
    config: &'a Config,
    route: Route,
    hold_ms: u64,
    now_ms: u64,
    retry_after: &mut Option<u64>,
) -> Result<Option<Held<'a>>, ApiError> {
    let Some(counters) = config.counters() else {
        return Ok(None);
    };
    let mut held = Held {
        counters,
        permits: Vec::new(),
    };
    for (name, variable) in bulkheads(route) {
        let bound = Bound {
            limit: config.number(variable)?,
            hold_ms,
        };
        let entered = match bulkhead::enter(counters, &name, &bound, now_ms) {
            Ok(None) if name == "users.sign-in" => wait_for_sign_in(counters, &bound, hold_ms, now_ms).await,
            other => other,
        };
        match entered {
            Ok(Some(permit)) => held.permits.push(permit),
            Ok(None) => {
                if let Err(e) = metrics::shed(counters, &name) {
                    log_warning(&e.to_string());
                }
                *retry_after = Some(1);
                let what = match name.as_str() {
                    "all" => "the gateway is at its limit of calls in flight".to_owned(),
                    "users.sign-in" => "sign-ins are at capacity (each is a password hash)".to_owned(),
                    service => format!("the {service} service is at its limit of calls in flight"),
                };
                return Err(ApiError::Unavailable {
                    code: "overloaded",
                    message: format!("{what}; retry in a second"),
                });
            }
            Err(e) => log_warning(&format!("bulkhead {name} not checked: {e}")),
        }
    }
    Ok(Some(held))
}

/// A sign-in waits its turn if the queue has room: `None` when it has
/// none, or no hash finished within [`SIGN_IN_WAIT_MS`].
async fn wait_for_sign_in(
    counters: &dyn Counters,
    bound: &Bound,
    hold_ms: u64,
    now_ms: u64,
) -> Result<Option<Permit>, streamia_gateway::counters::CounterError> {
    let queue = Bound {
        limit: bound.limit.saturating_mul(SIGN_IN_QUEUE),
        hold_ms: hold_ms + SIGN_IN_WAIT_MS,
    };
    let Some(place) = bulkhead::enter(counters, "users.sign-in.queue", &queue, now_ms)? else {
        return Ok(None);
    };
    let _place = Held {
        counters,
        permits: vec![place],
    };
    let mut waited = 0;
    while waited < SIGN_IN_WAIT_MS {
        streamia_spin::deadline::pause(POLL_MS).await;
        waited += POLL_MS;
        let now = streamia_clock::Now::system().unix_ms().max(0) as u64;
        if let Some(permit) = bulkhead::enter(counters, "users.sign-in", bound, now)? {
            return Ok(Some(permit));
        }
    }
    Ok(None)
}

/// Calls in flight in each bulkhead the routes have, for `/metrics`.
pub fn in_flight(config: &Config, hold_ms: u64, now_ms: u64) -> Vec<(String, i64, u32)> {
    let Some(counters) = config.counters() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut names = vec![("all".to_owned(), "bulkhead_total")];
    for service in config.enabled().unwrap_or_default() {
        names.push((service.name().to_owned(), "bulkhead_per_service"));
    }
    names.push(("users.sign-in".to_owned(), "sign_in_concurrency"));
    for (name, variable) in names {
        let Ok(limit) = config.number::<u32>(variable) else {
            continue;
        };
        let bound = Bound { limit, hold_ms };
        if let Ok(n) = bulkhead::in_flight(counters, &name, &bound, now_ms) {
            out.push((name, n, limit));
        }
    }
    out
}

//! The bulkheads around the gateway's service calls
//! ([`streamia_gateway::bulkhead`]): every upstream call counts against
//! `bulkhead_total`, each against its service's `bulkhead_per_service`, and
//! a sign-in (a password hash, about 0.1 s of a core) against
//! `sign_in_concurrency` as well. A call over any of them is refused at
//! once: 503 `overloaded` with `Retry-After`.

use streamia_api::ApiError;
use streamia_gateway::bulkhead::{self, Bound, Permit};
use streamia_gateway::counters::Counters;
use streamia_gateway::{metrics, Route};

use crate::{log_warning, Config};

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
pub fn enter<'a>(
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
        match bulkhead::enter(counters, &name, &bound, now_ms) {
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

//! The bulkheads around the gateway's service calls
//! ([`streamia_gateway::bulkhead`]): every upstream call counts against
//! `bulkhead_total`, each against its service's `bulkhead_per_service`, and
//! a sign-in against `sign_in_concurrency` as well. A call over any of them
//! is refused at once: 503 `overloaded` with `Retry-After` — but for a
//! sign-in, which may wait up to [`SIGN_IN_WAIT_MS`] for a hash to finish
//! if no more than [`SIGN_IN_QUEUE`] × `sign_in_concurrency` others wait
//! already: a burst of sign-ins is served in turn, a flood beyond what the
//! hash allows refused.

use streamia_api::ApiError;
use streamia_gateway::bulkhead::{self, Bound, Permit, SIGN_IN, SIGN_IN_QUEUE, SIGN_IN_QUEUE_NAME, SIGN_IN_WAIT_MS};
use streamia_gateway::counters::{CounterError, Counters};
use streamia_gateway::{metrics, Route};

use crate::{warn, Gateway};

/// How often a waiting sign-in looks again.
const POLL_MS: u64 = 25;

/// The permits of one call, given back when it ends.
pub struct Held<'a> {
    counters: &'a dyn Counters,
    permits: Vec<Permit>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        for permit in self.permits.drain(..) {
            if let Err(e) = bulkhead::release(self.counters, permit) {
                warn("bulkhead not released", e);
            }
        }
    }
}

/// Lets a call on `route` in, or refuses it (503 `overloaded`, with the
/// `Retry-After` in `retry_after`). Without the gateway's state, calls go
/// through (and the log says why).
pub async fn enter<'a>(
    gateway: &'a Gateway,
    route: Route,
    hold_ms: u64,
    now_ms: u64,
    retry_after: &mut Option<u64>,
) -> Result<Option<Held<'a>>, ApiError> {
    let Some(counters) = gateway.counters() else {
        return Ok(None);
    };
    let mut held = Held {
        counters,
        permits: Vec::new(),
    };
    for (name, setting) in bulkhead::for_route(route) {
        let bound = Bound {
            limit: gateway.config.number(setting)?,
            hold_ms,
        };
        let entered = match bulkhead::enter(counters, &name, &bound, now_ms) {
            Ok(None) if name == SIGN_IN => wait_for_sign_in(counters, &bound, hold_ms, now_ms).await,
            other => other,
        };
        match entered {
            Ok(Some(permit)) => held.permits.push(permit),
            Ok(None) => {
                if let Err(e) = metrics::shed(counters, &name) {
                    warn("a refusal not counted", e);
                }
                *retry_after = Some(1);
                return Err(bulkhead::refused(&name));
            }
            Err(e) => warn(&format!("bulkhead {name} not checked"), e),
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
) -> Result<Option<Permit>, CounterError> {
    let queue = Bound {
        limit: bound.limit.saturating_mul(SIGN_IN_QUEUE),
        hold_ms: hold_ms + SIGN_IN_WAIT_MS,
    };
    let Some(place) = bulkhead::enter(counters, SIGN_IN_QUEUE_NAME, &queue, now_ms)? else {
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
        if let Some(permit) = bulkhead::enter(counters, SIGN_IN, bound, now)? {
            return Ok(Some(permit));
        }
    }
    Ok(None)
}

/// Calls in flight in each bulkhead the routes have, for `/metrics`.
pub fn in_flight(gateway: &Gateway, hold_ms: u64, now_ms: u64) -> Vec<(String, i64, u32)> {
    let Some(counters) = gateway.counters() else {
        return Vec::new();
    };
    let enabled = gateway.config.enabled().unwrap_or_default();
    let mut out = Vec::new();
    for (name, setting) in bulkhead::all(enabled) {
        let Ok(limit) = gateway.config.number::<u32>(setting) else {
            continue;
        };
        let bound = Bound { limit, hold_ms };
        if let Ok(n) = bulkhead::in_flight(counters, &name, &bound, now_ms) {
            out.push((name, n, limit));
        }
    }
    out
}

//! Bulkheads: a bound on the calls in flight to one kind of work — all
//! upstream calls, one service's, the sign-ins (each a password hash) —
//! so that a slow service or path cannot hold every instance the host has
//! (Spin's pool is 1,000 by default; a request waiting holds the
//! gateway's and the service's). The call over the bound is refused at once
//! (503 with `Retry-After`), not queued until a deadline.
//!
//! Counted in the gateway's [`Counters`] by the second the call started:
//! a call adds one to its second's count and takes it off again when it
//! ends; the calls in flight are the counts of the last `hold_ms`. A call
//! whose end is never counted (its instance stopped by the host) is
//! forgotten once its second leaves that span, so a lost release can never
//! leave a bulkhead shut.

use streamia_api::ApiError;

use crate::counters::{expiring, CounterError, Counters};
use crate::{Route, Service};

/// The bulkhead of every upstream call.
pub const ALL: &str = "all";
/// The sign-ins' bulkhead (each a password hash, about 0.1 s of a core).
pub const SIGN_IN: &str = "users.sign-in";
/// The sign-ins waiting for a place in [`SIGN_IN`].
pub const SIGN_IN_QUEUE_NAME: &str = "users.sign-in.queue";
/// How long a sign-in may wait for a hash to finish.
pub const SIGN_IN_WAIT_MS: u64 = 2_000;
/// Sign-ins that may wait, per sign-in that may hash at once.
pub const SIGN_IN_QUEUE: u32 = 4;

/// The bulkheads a call on `route` goes through, each with the setting
/// that bounds it: every call `bulkhead_total`, each its service's
/// `bulkhead_per_service`, a sign-in `sign_in_concurrency` as well.
pub fn for_route(route: Route) -> Vec<(String, &'static str)> {
    let mut names = vec![
        (ALL.to_owned(), "bulkhead_total"),
        (route.service.name().to_owned(), "bulkhead_per_service"),
    ];
    if route.breaker() == SIGN_IN {
        names.push((SIGN_IN.to_owned(), "sign_in_concurrency"));
    }
    names
}

/// Every bulkhead the enabled services' routes have, for `/metrics`.
pub fn all(enabled: &[Service]) -> Vec<(String, &'static str)> {
    let mut names = vec![(ALL.to_owned(), "bulkhead_total")];
    for service in enabled {
        names.push((service.name().to_owned(), "bulkhead_per_service"));
    }
    names.push((SIGN_IN.to_owned(), "sign_in_concurrency"));
    names
}

/// 503 `overloaded` for a call `name` refused (sent with `Retry-After: 1`).
pub fn refused(name: &str) -> ApiError {
    let what = match name {
        ALL => "the gateway is at its limit of calls in flight".to_owned(),
        SIGN_IN => "sign-ins are at capacity (each is a password hash)".to_owned(),
        service => format!("the {service} service is at its limit of calls in flight"),
    };
    ApiError::Unavailable {
        code: "overloaded",
        message: format!("{what}; retry in a second"),
    }
}

/// One bulkhead's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Calls in flight at most.
    pub limit: u32,
    /// No call lasts longer (the upstream deadline and a margin): the span
    /// over which calls are counted as in flight.
    pub hold_ms: u64,
}

const SLOT_MS: u64 = 1_000;
/// How long a second's count is kept: longer than any call's hold, and the
/// same for every call, so that all find the same keys.
const KEEP_MS: u64 = 120_000;

fn slot_key(name: &str, slot: u64) -> String {
    expiring((slot + 1) * SLOT_MS + KEEP_MS, &format!("bh:{name}:{slot}"))
}

/// The first second whose calls may still be in flight.
fn earliest(slot: u64, bound: &Bound) -> u64 {
    slot.saturating_sub(bound.hold_ms.min(KEEP_MS).div_ceil(SLOT_MS))
}

/// A call let in; [`release`] it when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permit {
    key: String,
}

/// Lets a call into `name` if fewer than `bound.limit` are in flight;
/// `None`: refused (nothing is counted).
pub fn enter(c: &dyn Counters, name: &str, bound: &Bound, now_ms: u64) -> Result<Option<Permit>, CounterError> {
    let slot = now_ms / SLOT_MS;
    let key = slot_key(name, slot);
    let mine = c.add(&key, 1)?;
    let mut in_flight = mine;
    for earlier in earliest(slot, bound)..slot {
        in_flight += c.get(&slot_key(name, earlier))?.max(0);
    }
    if in_flight > i64::from(bound.limit) {
        c.add(&key, -1)?;
        return Ok(None);
    }
    Ok(Some(Permit { key }))
}

/// The call is over.
pub fn release(c: &dyn Counters, permit: Permit) -> Result<(), CounterError> {
    c.add(&permit.key, -1).map(drop)
}

/// Calls in flight now, for `/health` and `/metrics`.
pub fn in_flight(c: &dyn Counters, name: &str, bound: &Bound, now_ms: u64) -> Result<i64, CounterError> {
    let slot = now_ms / SLOT_MS;
    let mut n = 0;
    for s in earliest(slot, bound)..=slot {
        n += c.get(&slot_key(name, s))?.max(0);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sign_in_goes_through_three_bulkheads_and_other_calls_through_two() {
        let login = crate::resolve("POST", "/api/users/login").unwrap();
        let names: Vec<String> = super::for_route(login).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["all", "users", "users.sign-in"]);
        let read = crate::resolve("GET", "/api/movies").unwrap();
        assert_eq!(super::for_route(read).len(), 2);
        assert_eq!(
            super::refused("ratings").to_string(),
            "the ratings service is at its limit of calls in flight; retry in a second"
        );
        let all = super::all(&[crate::Service::Movies]);
        assert_eq!(
            all.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["all", "movies", "users.sign-in"]
        );
    }

    use super::*;
    use crate::counters::MemoryCounters;

    const BOUND: Bound = Bound {
        limit: 2,
        hold_ms: 4_000,
    };

    #[test]
    fn calls_over_the_limit_are_refused_until_one_ends() {
        let c = MemoryCounters::default();
        let a = enter(&c, "users", &BOUND, 10_000).unwrap().expect("first");
        let b = enter(&c, "users", &BOUND, 11_500)
            .unwrap()
            .expect("second, a second later");
        assert_eq!(enter(&c, "users", &BOUND, 11_600).unwrap(), None, "a third is refused");
        assert_eq!(
            in_flight(&c, "users", &BOUND, 11_600).unwrap(),
            2,
            "the refusal is not counted"
        );
        assert!(enter(&c, "movies", &BOUND, 11_600).unwrap().is_some(), "per name");
        release(&c, a).unwrap();
        let c2 = enter(&c, "users", &BOUND, 11_700).unwrap().expect("one ended");
        release(&c, b).unwrap();
        release(&c, c2).unwrap();
        assert_eq!(in_flight(&c, "users", &BOUND, 11_800).unwrap(), 0);
    }

    #[test]
    fn a_call_whose_end_is_lost_is_forgotten_after_the_hold() {
        let c = MemoryCounters::default();
        let _lost = enter(&c, "users", &BOUND, 10_000).unwrap().unwrap();
        let _also = enter(&c, "users", &BOUND, 10_100).unwrap().unwrap();
        assert_eq!(
            enter(&c, "users", &BOUND, 13_900).unwrap(),
            None,
            "within the hold: still in flight"
        );
        assert!(
            enter(&c, "users", &BOUND, 15_000).unwrap().is_some(),
            "its second has left the span"
        );
    }
}

//! Circuit breakers over atomic [`Counters`]. A breaker has a name — what
//! it guards: one route group of a service at the gateway
//! (`movies.catalogue`, `movies.media`), or one dependency of a service
//! (`cloudinary` in the movies service) — and counts calls and failures in
//! a rolling window of [`BUCKETS`] buckets. At `failure_percent` of at least
//! `min_calls` calls it opens: calls are refused at once (503) for
//! `open_ms`; then one probe at a time is let through (half-open), whose
//! success closes it and whose failure opens it again.
//!
//! What counts as a failure is the caller's to say (no answer in time, no
//! connection, an error the dependency did not choose); who may open a
//! shared breaker too ([`Caller`]): a call nobody authenticated is counted
//! only against its own client ([`admit_client`], [`client_failed`]), so
//! that an anonymous client can close a breaker with a successful probe but
//! never open one for others.
//!
//! Layout: this file the breakers; [`counters`] the store they (and the
//! gateway's rate limits and metrics) count in.

pub mod counters;

use crate::counters::{expiring, CounterError, Counters};

/// The window is counted in this many buckets, so it rolls a sixth at a time.
pub const BUCKETS: u64 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    pub failure_percent: u32,
    pub min_calls: u32,
    pub window_ms: u64,
    pub open_ms: u64,
    /// How long a probe may take before another may be let through.
    pub probe_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_percent: 50,
            min_calls: 10,
            window_ms: 30_000,
            open_ms: 30_000,
            probe_ms: 4_000,
        }
    }
}

/// Who made a call: only calls someone answers for count against a shared breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A caller with a valid token, or the service itself (its own dependency).
    Accountable,
    /// Nobody authenticated: its failures count against its own client only.
    Anonymous,
}

/// What a call may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Closed,
    /// The one call let through while half-open.
    Probe,
    /// Refused: 503 with `Retry-After`.
    Open {
        retry_after_s: u64,
    },
}

/// A change worth a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Opened { calls: i64, failures: i64 },
    Reopened,
    Closed,
}

impl Transition {
    /// The change as a breaker's log line says it.
    pub fn describe(&self) -> String {
        match self {
            Transition::Opened { calls, failures } => format!("opened: {failures} of {calls} calls failed"),
            Transition::Reopened => "reopened: the probe failed".to_owned(),
            Transition::Closed => "closed: the probe succeeded".to_owned(),
        }
    }
}

/// The breaker as `/health` and `/metrics` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerState {
    pub state: &'static str,
    pub calls: i64,
    pub failures: i64,
}

fn open_key(service: &str) -> String {
    format!("cb:{service}:open_until")
}

fn since_key(service: &str) -> String {
    format!("cb:{service}:since")
}

impl BreakerConfig {
    fn bucket_ms(&self) -> u64 {
        (self.window_ms / BUCKETS).max(1)
    }

    fn bucket_keys(&self, service: &str, bucket: u64) -> (String, String) {
        let expires = (bucket + 1) * self.bucket_ms() + self.window_ms;
        (
            expiring(expires, &format!("cb:{service}:calls:{bucket}")),
            expiring(expires, &format!("cb:{service}:failures:{bucket}")),
        )
    }

    /// Calls and failures in the window ending now, since the breaker last closed.
    fn window(&self, c: &dyn Counters, service: &str, now_ms: u64) -> Result<(i64, i64), CounterError> {
        let since = c.get(&since_key(service))?.max(0) as u64;
        let current = now_ms / self.bucket_ms();
        let (mut calls, mut failures) = (0, 0);
        for bucket in current.saturating_sub(BUCKETS - 1)..=current {
            if (bucket + 1) * self.bucket_ms() <= since {
                continue;
            }
            let (calls_key, failures_key) = self.bucket_keys(service, bucket);
            calls += c.get(&calls_key)?;
            failures += c.get(&failures_key)?;
        }
        Ok((calls, failures))
    }
}

/// May a call to `service` go out now?
pub fn admit(c: &dyn Counters, service: &str, cfg: &BreakerConfig, now_ms: u64) -> Result<Admission, CounterError> {
    let open_until = c.get(&open_key(service))?.max(0) as u64;
    if open_until == 0 {
        return Ok(Admission::Closed);
    }
    if now_ms < open_until {
        return Ok(Admission::Open {
            retry_after_s: (open_until - now_ms).div_ceil(1000),
        });
    }
    // Half-open: the first call of each probe slot is the probe.
    let slot = (now_ms - open_until) / cfg.probe_ms;
    let slot_ends = open_until + (slot + 1) * cfg.probe_ms;
    let probe = expiring(slot_ends, &format!("cb:{service}:probe:{open_until}:{slot}"));
    Ok(match c.add(&probe, 1)? {
        1 => Admission::Probe,
        _ => Admission::Open {
            retry_after_s: (slot_ends - now_ms).div_ceil(1000),
        },
    })
}

/// Records how an admitted call went. An anonymous call's success as the
/// probe closes the breaker; nothing else it does changes the breaker.
pub fn record(
    c: &dyn Counters,
    service: &str,
    cfg: &BreakerConfig,
    admission: Admission,
    failed: bool,
    caller: Caller,
    now_ms: u64,
) -> Result<Option<Transition>, CounterError> {
    let (calls_key, failures_key) = cfg.bucket_keys(service, now_ms / cfg.bucket_ms());
    match (admission, caller) {
        (Admission::Open { .. }, _) => Ok(None),
        // A failed anonymous probe leaves the breaker half-open: the next
        // probe slot lets another call try.
        (Admission::Probe, Caller::Anonymous) if failed => Ok(None),
        (Admission::Closed, Caller::Anonymous) => Ok(None),
        (Admission::Probe, Caller::Accountable) if failed => {
            c.set(&open_key(service), (now_ms + cfg.open_ms) as i64)?;
            Ok(Some(Transition::Reopened))
        }
        (Admission::Probe, _) => {
            // Closed afresh: what failed before no longer counts.
            c.set(&since_key(service), now_ms as i64)?;
            c.set(&calls_key, 0)?;
            c.set(&failures_key, 0)?;
            c.set(&open_key(service), 0)?;
            Ok(Some(Transition::Closed))
        }
        (Admission::Closed, Caller::Accountable) => {
            c.add(&calls_key, 1)?;
            if !failed {
                return Ok(None);
            }
            c.add(&failures_key, 1)?;
            let (calls, failures) = cfg.window(c, service, now_ms)?;
            let tripped = calls >= i64::from(cfg.min_calls) && failures * 100 >= calls * i64::from(cfg.failure_percent);
            if !tripped || c.get(&open_key(service))? != 0 {
                return Ok(None);
            }
            c.set(&open_key(service), (now_ms + cfg.open_ms) as i64)?;
            Ok(Some(Transition::Opened { calls, failures }))
        }
    }
}

/// The failures one client may have in a window before it is refused:
/// as many as would open a shared breaker at its fewest calls.
fn client_threshold(cfg: &BreakerConfig) -> i64 {
    let failures = u64::from(cfg.min_calls) * u64::from(cfg.failure_percent);
    failures.div_ceil(100).max(1) as i64
}

/// A client's failures are counted in slots of half a window, and the
/// current slot and the one before it are read together: failures a few
/// milliseconds apart are counted together wherever a slot boundary falls.
fn client_slot_ms(cfg: &BreakerConfig) -> u64 {
    (cfg.window_ms / 2).max(1)
}

fn client_key(service: &str, client: &str, cfg: &BreakerConfig, slot: u64) -> String {
    // Read again in the next slot, so kept until that one ends.
    let expires = (slot + 2) * client_slot_ms(cfg);
    expiring(expires, &format!("cbc:{service}:{client}:{slot}"))
}

/// May `client` (an anonymous caller, by IP) call `service` now? Refused
/// once its own calls failed [`client_threshold`] times in the last half
/// to whole window, until those failures age out; nobody else is.
pub fn admit_client(
    c: &dyn Counters,
    service: &str,
    client: &str,
    cfg: &BreakerConfig,
    now_ms: u64,
) -> Result<Admission, CounterError> {
    let slot_ms = client_slot_ms(cfg);
    let slot = now_ms / slot_ms;
    let current = c.get(&client_key(service, client, cfg, slot))?;
    let previous = match slot {
        0 => 0,
        _ => c.get(&client_key(service, client, cfg, slot - 1))?,
    };
    let threshold = client_threshold(cfg);
    if current + previous < threshold {
        return Ok(Admission::Closed);
    }
    // The previous slot's failures age out when this slot ends; this
    // slot's own when the next one does.
    let until = match current >= threshold {
        true => (slot + 2) * slot_ms,
        false => (slot + 1) * slot_ms,
    };
    Ok(Admission::Open {
        retry_after_s: (until - now_ms).div_ceil(1000),
    })
}

/// Counts a failed call of `client`; `true` when it has just reached the
/// threshold (worth a log line).
pub fn client_failed(
    c: &dyn Counters,
    service: &str,
    client: &str,
    cfg: &BreakerConfig,
    now_ms: u64,
) -> Result<bool, CounterError> {
    let slot = now_ms / client_slot_ms(cfg);
    let current = c.add(&client_key(service, client, cfg, slot), 1)?;
    let previous = match slot {
        0 => 0,
        _ => c.get(&client_key(service, client, cfg, slot - 1))?,
    };
    Ok(current + previous == client_threshold(cfg))
}

/// The breaker of `service` now, for `/health` and `/metrics`.
pub fn state(c: &dyn Counters, service: &str, cfg: &BreakerConfig, now_ms: u64) -> Result<BreakerState, CounterError> {
    let open_until = c.get(&open_key(service))?.max(0) as u64;
    let (calls, failures) = cfg.window(c, service, now_ms)?;
    let state = match open_until {
        0 => "closed",
        until if now_ms < until => "open",
        _ => "half-open",
    };
    Ok(BreakerState { state, calls, failures })
}

#[cfg(test)]
mod tests;

//! Readiness as probes and operators read it: each thing a component needs
//! (its database, Redis, its key-value store, the services behind the
//! gateway) checked and timed; ready only when every check passed.
//! `/health/ready` shows each check's outcome, `/health/detailed` its
//! latency and, when it failed, why.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

/// One check's outcome and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub outcome: Result<(), String>,
    pub latency: Duration,
    /// What the checked thing reported of itself (a service's own checks,
    /// as the gateway saw them), shown by `/health/detailed`.
    pub details: Option<Value>,
}

impl Check {
    /// Run `probe` and time it.
    pub fn run(name: impl Into<String>, probe: impl FnOnce() -> Result<(), String>) -> Check {
        let started = Instant::now();
        let outcome = probe();
        Check::timed(name, outcome, started.elapsed())
    }

    pub fn timed(name: impl Into<String>, outcome: Result<(), String>, latency: Duration) -> Check {
        Check {
            name: name.into(),
            outcome,
            latency,
            details: None,
        }
    }

    pub fn with_details(self, details: Value) -> Check {
        Check {
            details: Some(details),
            ..self
        }
    }

    pub fn ok(&self) -> bool {
        self.outcome.is_ok()
    }

    fn detailed(&self) -> Value {
        let mut check = json!({
            "ok": self.ok(),
            // Tenths of a millisecond: a local SQLite answer takes less than one.
            "latencyMs": (self.latency.as_secs_f64() * 10_000.0).round() / 10.0,
        });
        if let Err(error) = &self.outcome {
            check["error"] = error.as_str().into();
        }
        if let Some(details) = &self.details {
            check["details"] = details.clone();
        }
        check
    }
}

/// Every check of one component.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Readiness {
    pub checks: Vec<Check>,
}

impl Readiness {
    pub fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    pub fn ready(&self) -> bool {
        self.checks.iter().all(Check::ok)
    }

    /// 200 when ready, else 503.
    pub fn status(&self) -> u16 {
        if self.ready() {
            200
        } else {
            503
        }
    }

    /// `"ok"` or `"unavailable"`.
    pub fn word(&self) -> &'static str {
        if self.ready() {
            "ok"
        } else {
            "unavailable"
        }
    }

    /// `{"sqlite": true, "redis": false, …}`: for `/health/ready`.
    pub fn outcomes(&self) -> Value {
        let map: Map<String, Value> = self.checks.iter().map(|c| (c.name.clone(), c.ok().into())).collect();
        Value::Object(map)
    }

    /// `{"sqlite": {"ok": true, "latencyMs": 0.3}, "redis": {"ok": false,
    /// "latencyMs": 2.1, "error": "…"}}`: for `/health/detailed`.
    pub fn detailed(&self) -> Value {
        let map: Map<String, Value> = self.checks.iter().map(|c| (c.name.clone(), c.detailed())).collect();
        Value::Object(map)
    }

    /// The names of the checks that failed.
    pub fn failing(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| !c.ok())
            .map(|c| c.name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_passed() {
        let mut readiness = Readiness::default();
        assert!(readiness.ready(), "nothing to check is ready");
        readiness.push(Check::run("sqlite", || Ok(())));
        assert_eq!((readiness.status(), readiness.word()), (200, "ok"));
        readiness.push(Check::timed(
            "redis",
            Err("connection refused".into()),
            Duration::from_micros(2_140),
        ));
        assert_eq!((readiness.status(), readiness.word()), (503, "unavailable"));
        assert_eq!(readiness.failing(), vec!["redis"]);
        assert_eq!(readiness.outcomes(), json!({"sqlite": true, "redis": false}));
    }

    #[test]
    fn the_detailed_view_gives_each_latency_and_why_a_check_failed() {
        let readiness = Readiness {
            checks: vec![
                Check::timed("sqlite", Ok(()), Duration::from_micros(340)),
                Check::timed("redis", Err("connection refused".into()), Duration::from_micros(2_140)),
                Check::timed("movies", Ok(()), Duration::from_millis(3)).with_details(json!({"sqlite": {"ok": true}})),
            ],
        };
        assert_eq!(
            readiness.detailed(),
            json!({
                "sqlite": {"ok": true, "latencyMs": 0.3},
                "redis": {"ok": false, "latencyMs": 2.1, "error": "connection refused"},
                "movies": {"ok": true, "latencyMs": 3.0, "details": {"sqlite": {"ok": true}}},
            })
        );
    }
}

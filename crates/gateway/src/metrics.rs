//! Request metrics in the gateway's [`Counters`], and `GET /metrics` in the
//! Prometheus text format (version 0.0.4) rendered from them.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::breaker::BreakerState;
use crate::counters::{CounterError, Counters};
use crate::limits::Scope;

/// The latency histogram's upper bounds, in seconds: the seeds' 0.1, 0.3,
/// 1.2 and 5 s among them.
pub const LATENCY_BUCKETS_S: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.3, 0.5, 1.2, 2.5, 5.0];

/// A request's route label: its template, or `unmatched` (a path no route
/// has: its text would make a label per typo).
pub const UNMATCHED: &str = "unmatched";

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Counts one answered request: 3 increments.
pub fn record(c: &dyn Counters, route: &str, method: &str, status: u16, micros: u64) -> Result<(), CounterError> {
    let method = METHODS.iter().find(|m| **m == method).copied().unwrap_or("OTHER");
    c.add(&format!("m:req|{route}|{method}|{status}"), 1)?;
    let seconds = micros as f64 / 1e6;
    let bucket = LATENCY_BUCKETS_S
        .iter()
        .position(|le| seconds <= *le)
        .unwrap_or(LATENCY_BUCKETS_S.len());
    c.add(&format!("m:lat|{route}|{bucket}"), 1)?;
    c.add(&format!("m:latsum|{route}"), micros as i64)?;
    Ok(())
}

/// Counts a request refused by a rate limit.
pub fn rejected(c: &dyn Counters, scope: Scope) -> Result<(), CounterError> {
    c.add(&format!("m:limited|{}", scope.name()), 1).map(drop)
}

/// Counts a call a bulkhead refused.
pub fn shed(c: &dyn Counters, bulkhead: &str) -> Result<(), CounterError> {
    c.add(&format!("m:shed|{bulkhead}"), 1).map(drop)
}

/// A service's events, from its `/health/ready`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    pub published: u64,
    pub waiting: u64,
    pub consumed: Option<u64>,
    pub dead_letters: Option<u64>,
}

/// Everything `/metrics` shows besides the counters.
pub struct Scrape<'a> {
    /// Each breaker: its service, its route group and its state.
    pub breakers: &'a [(&'a str, &'a str, BreakerState)],
    pub events: &'a [(&'a str, EventCounts)],
    /// Each bulkhead: its name, the calls in flight and its limit.
    pub in_flight: &'a [(String, i64, u32)],
}

fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The Prometheus text exposition of `c`'s metrics and `scrape`.
pub fn render(c: &dyn Counters, scrape: &Scrape<'_>) -> Result<String, CounterError> {
    let mut requests = BTreeMap::new();
    let mut latency: BTreeMap<String, ([i64; LATENCY_BUCKETS_S.len() + 1], i64)> = BTreeMap::new();
    let mut limited = BTreeMap::new();
    let mut shed = BTreeMap::new();
    for key in c.keys()? {
        let Some(rest) = key.strip_prefix("m:") else { continue };
        let fields: Vec<&str> = rest.split('|').collect();
        match fields.as_slice() {
            ["req", route, method, status] => {
                requests.insert(
                    (route.to_string(), method.to_string(), status.to_string()),
                    c.get(&key)?,
                );
            }
            ["lat", route, bucket] => {
                if let Ok(i) = bucket.parse::<usize>() {
                    if i <= LATENCY_BUCKETS_S.len() {
                        latency.entry(route.to_string()).or_default().0[i] = c.get(&key)?;
                    }
                }
            }
            ["latsum", route] => latency.entry(route.to_string()).or_default().1 = c.get(&key)?,
            ["limited", scope] => {
                limited.insert(scope.to_string(), c.get(&key)?);
            }
            ["shed", bulkhead] => {
                shed.insert(bulkhead.to_string(), c.get(&key)?);
            }
            _ => {}
        }
    }
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "# HELP streamia_http_requests_total Requests the gateway answered, by route template, method and status."
    );
    let _ = writeln!(w, "# TYPE streamia_http_requests_total counter");
    for ((route, method, status), n) in &requests {
        let _ = writeln!(
            w,
            "streamia_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
            label(route)
        );
    }
    let _ = writeln!(w, "# HELP streamia_http_request_duration_seconds Time from the request's arrival to its response, by route template.");
    let _ = writeln!(w, "# TYPE streamia_http_request_duration_seconds histogram");
    for (route, (buckets, sum_us)) in &latency {
        let route = label(route);
        let mut cumulative = 0;
        for (i, n) in buckets.iter().enumerate() {
            cumulative += n;
            let le = LATENCY_BUCKETS_S.get(i).map_or("+Inf".to_owned(), |le| le.to_string());
            let _ = writeln!(
                w,
                "streamia_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            w,
            "streamia_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
            *sum_us as f64 / 1e6
        );
        let _ = writeln!(
            w,
            "streamia_http_request_duration_seconds_count{{route=\"{route}\"}} {cumulative}"
        );
    }
    let _ = writeln!(
        w,
        "# HELP streamia_rate_limited_total Requests refused with 429, by limit."
    );
    let _ = writeln!(w, "# TYPE streamia_rate_limited_total counter");
    for scope in [Scope::Anonymous, Scope::User, Scope::Auth, Scope::Account] {
        let n = limited.get(scope.name()).copied().unwrap_or(0);
        let _ = writeln!(w, "streamia_rate_limited_total{{scope=\"{}\"}} {n}", scope.name());
    }
    let _ = writeln!(
        w,
        "# HELP streamia_in_flight Calls in flight through a bulkhead (all upstream calls, a service's, the sign-ins), and its limit."
    );
    let _ = writeln!(w, "# TYPE streamia_in_flight gauge");
    for (bulkhead, n, limit) in scrape.in_flight {
        let _ = writeln!(w, "streamia_in_flight{{bulkhead=\"{}\"}} {n}", label(bulkhead));
        let _ = writeln!(
            w,
            "streamia_in_flight_limit{{bulkhead=\"{}\"}} {limit}",
            label(bulkhead)
        );
    }
    let _ = writeln!(
        w,
        "# HELP streamia_bulkhead_rejected_total Calls refused with 503 because a bulkhead was full."
    );
    let _ = writeln!(w, "# TYPE streamia_bulkhead_rejected_total counter");
    // Every bulkhead from its start, at 0: a rate over a series that appears
    // only at its first refusal would miss that refusal.
    for (bulkhead, _, _) in scrape.in_flight {
        shed.entry(bulkhead.clone()).or_insert(0);
    }
    for (bulkhead, n) in &shed {
        let _ = writeln!(
            w,
            "streamia_bulkhead_rejected_total{{bulkhead=\"{}\"}} {n}",
            label(bulkhead)
        );
    }
    let _ = writeln!(w, "# HELP streamia_circuit_breaker_open Whether calls to a service's route group are refused (1 open, 0.5 half-open, 0 closed).");
    let _ = writeln!(w, "# TYPE streamia_circuit_breaker_open gauge");
    for (service, group, s) in scrape.breakers {
        let open = match s.state {
            "open" => "1",
            "half-open" => "0.5",
            _ => "0",
        };
        let _ = writeln!(
            w,
            "streamia_circuit_breaker_open{{service=\"{service}\",group=\"{group}\"}} {open}"
        );
    }
    let _ = writeln!(
        w,
        "# HELP streamia_circuit_breaker_window_calls Calls to a service's route group in the breaker's window, and of them failed."
    );
    let _ = writeln!(w, "# TYPE streamia_circuit_breaker_window_calls gauge");
    for (service, group, s) in scrape.breakers {
        let _ = writeln!(
            w,
            "streamia_circuit_breaker_window_calls{{service=\"{service}\",group=\"{group}\",outcome=\"all\"}} {}",
            s.calls
        );
        let _ = writeln!(
            w,
            "streamia_circuit_breaker_window_calls{{service=\"{service}\",group=\"{group}\",outcome=\"failed\"}} {}",
            s.failures
        );
    }
    type Family = (
        &'static str,
        &'static str,
        &'static str,
        fn(&EventCounts) -> Option<u64>,
    );
    let events: [Family; 4] = [
        (
            "streamia_events_published_total",
            "counter",
            "Events a service has delivered from its outbox.",
            |e| Some(e.published),
        ),
        (
            "streamia_events_waiting",
            "gauge",
            "Events waiting in a service's outbox.",
            |e| Some(e.waiting),
        ),
        (
            "streamia_events_consumed_total",
            "counter",
            "Events a service has applied.",
            |e| e.consumed,
        ),
        (
            "streamia_events_dead_letters",
            "gauge",
            "Events a service has parked as dead letters.",
            |e| e.dead_letters,
        ),
    ];
    for (name, kind, help, value) in events {
        let _ = writeln!(w, "# HELP {name} {help}");
        let _ = writeln!(w, "# TYPE {name} {kind}");
        for (service, counts) in scrape.events {
            if let Some(n) = value(counts) {
                let _ = writeln!(w, "{name}{{service=\"{service}\"}} {n}");
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::MemoryCounters;

    #[test]
    fn requests_render_as_counters_and_a_cumulative_histogram() {
        let c = MemoryCounters::default();
        record(&c, "/api/movies/{id}", "GET", 200, 2_000).unwrap();
        record(&c, "/api/movies/{id}", "GET", 200, 200_000).unwrap();
        record(&c, "/api/movies/{id}", "GET", 404, 9_000_000).unwrap();
        record(&c, UNMATCHED, "BREW", 404, 1_000).unwrap();
        rejected(&c, Scope::Auth).unwrap();
        shed(&c, "users.sign-in").unwrap();
        let breakers = [(
            "movies",
            "media",
            BreakerState {
                state: "open",
                calls: 12,
                failures: 9,
            },
        )];
        let events = [(
            "movies",
            EventCounts {
                published: 5,
                waiting: 1,
                consumed: Some(3),
                dead_letters: Some(0),
            },
        )];
        let text = render(
            &c,
            &Scrape {
                breakers: &breakers,
                events: &events,
                in_flight: &[("users.sign-in".into(), 1, 2), ("all".into(), 1, 160)],
            },
        )
        .unwrap();
        for line in [
            r#"streamia_http_requests_total{route="/api/movies/{id}",method="GET",status="200"} 2"#,
            r#"streamia_http_requests_total{route="/api/movies/{id}",method="GET",status="404"} 1"#,
            r#"streamia_http_requests_total{route="unmatched",method="OTHER",status="404"} 1"#,
            r#"streamia_http_request_duration_seconds_bucket{route="/api/movies/{id}",le="0.005"} 1"#,
            r#"streamia_http_request_duration_seconds_bucket{route="/api/movies/{id}",le="0.3"} 2"#,
            r#"streamia_http_request_duration_seconds_bucket{route="/api/movies/{id}",le="5"} 2"#,
            r#"streamia_http_request_duration_seconds_bucket{route="/api/movies/{id}",le="+Inf"} 3"#,
            r#"streamia_http_request_duration_seconds_sum{route="/api/movies/{id}"} 9.202"#,
            r#"streamia_http_request_duration_seconds_count{route="/api/movies/{id}"} 3"#,
            r#"streamia_rate_limited_total{scope="auth"} 1"#,
            r#"streamia_bulkhead_rejected_total{bulkhead="users.sign-in"} 1"#,
            r#"streamia_bulkhead_rejected_total{bulkhead="all"} 0"#,
            r#"streamia_in_flight{bulkhead="users.sign-in"} 1"#,
            r#"streamia_in_flight_limit{bulkhead="users.sign-in"} 2"#,
            r#"streamia_rate_limited_total{scope="user"} 0"#,
            r#"streamia_circuit_breaker_open{service="movies",group="media"} 1"#,
            r#"streamia_circuit_breaker_window_calls{service="movies",group="media",outcome="failed"} 9"#,
            r#"streamia_events_published_total{service="movies"} 5"#,
            r#"streamia_events_dead_letters{service="movies"} 0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }
}

//! Distributed traces (README "Operations"): the real Spin exports its
//! spans over OTLP/HTTP to a real trace backend, Arize Phoenix (installed by
//! the test command), as `scripts/up.sh` does with `STREAMIA_TRACES_URL`.
//! One request is one trace holding the gateway's span and the span of the
//! service it called; an event delivered right after its write is consumed
//! in the write's trace; the trace id is in the response (`X-Trace-Id`), the
//! gateway's and the service's log lines and the consumer's.
//!
//! Spin only: devhost exports no spans (scripts/test.sh skips these there).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{eventually, Api};
use serde_json::Value;
use streamia_testkit::{free_port, get, listening, Devhost};

/// A Phoenix server of its own, on free loopback ports.
struct Phoenix {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Phoenix {
    fn start() -> Phoenix {
        let phoenix = std::env::var("STREAMIA_PHOENIX")
            .expect("STREAMIA_PHOENIX names Phoenix's CLI: run scripts/test.sh (it installs arize-phoenix)");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(phoenix)
            .arg("serve")
            .env("PHOENIX_WORKING_DIR", dir.path())
            .env("PHOENIX_HOST", "127.0.0.1")
            .env("PHOENIX_PORT", port.to_string())
            .env("PHOENIX_GRPC_PORT", free_port().to_string())
            .env("PHOENIX_TELEMETRY_ENABLED", "false")
            .env("PHOENIX_DISABLE_AGENT_ASSISTANT", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("phoenix starts");
        let base = format!("http://127.0.0.1:{port}");
        eventually("Phoenix is ready", Duration::from_secs(120), || {
            listening(port) && get(&format!("{base}/healthz")).status == 200
        });
        Phoenix { child, base, _dir: dir }
    }

    /// The spans of one trace in `project` that Phoenix holds now.
    fn spans(&self, project: &str, trace_id: &str) -> Vec<Span> {
        let r = get(&format!(
            "{}/v1/projects/{project}/spans?trace_id={trace_id}&limit=1000",
            self.base
        ));
        if r.status != 200 {
            return Vec::new(); // 404 until the project's first span
        }
        r.json()["data"]
            .as_array()
            .map(|spans| spans.iter().map(Span::of).collect())
            .unwrap_or_default()
    }

    /// Once the trace holds a span named `name` under one named `ancestor`.
    fn wait_for(&self, project: &str, trace_id: &str, ancestor: &str, name: &str) -> Vec<Span> {
        let mut spans = Vec::new();
        eventually(
            &format!("trace {trace_id} holds {name:?} under {ancestor:?}"),
            Duration::from_secs(30),
            || {
                spans = self.spans(project, trace_id);
                spans.iter().any(|s| s.name == name && descends(&spans, s, ancestor))
            },
        );
        spans
    }
}

impl Drop for Phoenix {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[derive(Debug)]
struct Span {
    name: String,
    id: String,
    parent: Option<String>,
    trace_id: String,
    attributes: Value,
}

impl Span {
    fn of(span: &Value) -> Span {
        let text = |v: &Value| v.as_str().map(str::to_owned);
        Span {
            name: text(&span["name"]).unwrap_or_default(),
            id: text(&span["context"]["span_id"]).unwrap_or_default(),
            parent: text(&span["parent_id"]),
            trace_id: text(&span["context"]["trace_id"]).unwrap_or_default(),
            attributes: span["attributes"].clone(),
        }
    }
}

/// Whether `span` has an ancestor named `ancestor` in `spans`.
fn descends(spans: &[Span], span: &Span, ancestor: &str) -> bool {
    let mut parent = span.parent.clone();
    for _ in 0..64 {
        let Some(id) = parent else { return false };
        let Some(up) = spans.iter().find(|s| s.id == id) else {
            return false;
        };
        if up.name == ancestor {
            return true;
        }
        parent = up.parent.clone();
    }
    false
}

fn traced_app(phoenix: &Phoenix, project: &str) -> Api {
    Api {
        host: common::app()
            .env(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                &format!("{}/v1/traces", phoenix.base),
            )
            .env("OTEL_BSP_SCHEDULE_DELAY", "200")
            .env(
                "OTEL_RESOURCE_ATTRIBUTES",
                &format!("openinference.project.name={project}"),
            )
            .start(),
    }
}

/// The `traceId` of the log line of `component` (`service` field) for `requestId`.
fn logged_trace(host: &Devhost, component: &str, msg: &str, field: (&str, &str)) -> Option<String> {
    host.json_lines(&[("service", component), ("msg", msg), field])
        .iter()
        .find_map(|line| line["traceId"].as_str().map(str::to_owned))
}

#[test]
fn spins_traces_hold_the_gateway_and_the_service_it_called() {
    let phoenix = Phoenix::start();
    let api = traced_app(&phoenix, "streamia-request");
    // A query never asked before: the gateway's cache cannot answer it.
    let r = api.get("/api/movies?search=nosferatu-uncached", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-cache"), Some("miss"));
    let trace_id = r.header("x-trace-id").expect("the answer names its trace").to_owned();
    assert_eq!(trace_id.len(), 32, "{trace_id}");

    let spans = phoenix.wait_for(
        "streamia-request",
        &trace_id,
        "execute_wasm_component gateway",
        "execute_wasm_component movies",
    );
    assert!(spans.iter().all(|s| s.trace_id == trace_id));
    let host_calls = spans.iter().filter(|s| s.name.starts_with("spin_sqlite")).count();
    assert!(
        host_calls > 0,
        "the service's SQLite calls are spans of the trace: {spans:#?}"
    );

    let request_id = r.header("x-request-id").unwrap().to_owned();
    let field = ("requestId", request_id.as_str());
    assert_eq!(
        logged_trace(&api.host, "gateway", "request", field).as_deref(),
        Some(trace_id.as_str())
    );
    assert_eq!(
        logged_trace(&api.host, "movies", "request", field).as_deref(),
        Some(trace_id.as_str())
    );
    println!(
        "traces: GET /api/movies (uncached) is one trace of {} spans in Phoenix, gateway > movies, {host_calls} SQLite calls",
        spans.len()
    );
}

#[test]
fn spins_traces_join_an_events_consumer_to_the_write_that_published_it() {
    let phoenix = Phoenix::start();
    let api = traced_app(&phoenix, "streamia-events");
    let admin = api.admin();
    let movie = api.movie(&admin, "Sunrise");
    let (_, user, _) = api.register("viewer@example.com", "viewer");
    let r = api.send(
        "POST",
        &format!("/api/ratings/{movie}"),
        Some(&user),
        Some(&serde_json::json!({"score": 4})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let trace_id = r.header("x-trace-id").expect("the answer names its trace").to_owned();

    // The movies service applies rating.created (the aggregate) in the same trace.
    let spans = phoenix.wait_for(
        "streamia-events",
        &trace_id,
        "execute_wasm_component ratings",
        "execute_wasm_component movies",
    );
    let delivery = spans
        .iter()
        .find(|s| s.attributes.to_string().contains("/events"))
        .unwrap_or_else(|| panic!("the event's POST /events is a span of the write's trace: {spans:#?}"));
    assert!(descends(&spans, delivery, "execute_wasm_component ratings"));

    // The consumer's log line names the write's trace (the envelope carries it).
    eventually("the movies service applied the rating", Duration::from_secs(10), || {
        logged_trace(&api.host, "movies", "event", ("eventType", "rating.created")).is_some()
    });
    assert_eq!(
        logged_trace(&api.host, "movies", "event", ("eventType", "rating.created")).as_deref(),
        Some(trace_id.as_str())
    );
    eventually("the movie shows the rating", Duration::from_secs(10), || {
        api.get(&format!("/api/movies/{movie}"), None).json()["totalRatings"] == 1
    });
    println!(
        "traces: POST /api/ratings/{{id}} and the movies' rating.created are one trace of {} spans",
        spans.len()
    );
}

//! Monitoring (deploy/monitoring/, README "Operations"): the alert rules
//! pass promtool's check and its unit tests, and a real Prometheus (Debian's,
//! installed by the test command) scrapes the running app's `/metrics` with
//! the metrics token, evaluates the rules, and has data for every panel of
//! the dashboard and every alert's measure.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{eventually, Api};
use serde_json::Value;
use streamia_testkit::{call, free_port, get, listening, workspace_root};

const METRICS_TOKEN: &str = "monitoring-test-metrics-token-0123456789";

fn monitoring() -> PathBuf {
    workspace_root().join("deploy/monitoring")
}

/// Debian's `promtool` or `prometheus` (`ensure_prometheus` in scripts/setup.sh).
fn tool(name: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{name} is not installed: run scripts/test.sh (it installs Debian's prometheus)"
    );
    path
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new(tool("promtool"))
        .args(args)
        .current_dir(monitoring())
        .output()
        .expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn the_alert_rules_pass_promtools_check_and_their_unit_tests() {
    let checked = promtool(&["check", "rules", "alerts.yaml"]);
    assert!(checked.contains("SUCCESS: 12 rules found"), "{checked}");
    let tested = promtool(&["test", "rules", "alerts.test.yaml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
    // The SpinKube scrape config, its token file where the check can see one.
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, METRICS_TOKEN).unwrap();
    std::fs::copy(monitoring().join("alerts.yaml"), dir.path().join("alerts.yaml")).unwrap();
    let config = std::fs::read_to_string(monitoring().join("prometheus.yml"))
        .unwrap()
        .replace("/etc/prometheus/streamia-metrics-token", &token.display().to_string());
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    let config = dir.path().join("prometheus.yml").display().to_string();
    let checked = promtool(&["check", "config", &config]);
    assert!(checked.contains("SUCCESS: 12 rules found"), "{checked}");
}

/// A Prometheus scraping `target` every second with the metrics token,
/// evaluating deploy/monitoring/alerts.yaml every second.
struct Prometheus {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), METRICS_TOKEN).unwrap();
        std::fs::copy(monitoring().join("alerts.yaml"), dir.path().join("alerts.yaml")).unwrap();
        let config = format!(
            "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\n\
             rule_files: [alerts.yaml]\n\
             scrape_configs:\n\
             \x20 - job_name: streamia\n\
             \x20   metrics_path: /metrics\n\
             \x20   authorization: {{ type: Bearer, credentials_file: {token} }}\n\
             \x20   static_configs: [{{ targets: [\"{target}\"] }}]\n",
            token = dir.path().join("token").display(),
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let child = Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let base = format!("http://127.0.0.1:{port}");
        eventually("Prometheus is ready", Duration::from_secs(30), || {
            listening(port) && get(&format!("{base}/-/ready")).status == 200
        });
        Prometheus { child, base, _dir: dir }
    }

    /// The instant vector `expr` evaluates to now.
    fn query(&self, expr: &str) -> Vec<Value> {
        let query: String = form_urlencoded::byte_serialize(expr.as_bytes()).collect();
        let r = get(&format!("{}/api/v1/query?query={query}", self.base));
        assert_eq!(r.status, 200, "{expr}: {}", r.body);
        r.json()["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Each alert of a rules file and its one-line `expr` (promtool's check
/// holds the file's structure; this only reads it).
fn alert_expressions(rules: &str) -> Vec<(String, String)> {
    let mut alerts = Vec::new();
    let mut name = None;
    for line in rules.lines().map(str::trim) {
        if let Some(alert) = line.strip_prefix("- alert:") {
            name = Some(alert.trim().to_owned());
        } else if let (Some(expr), Some(alert)) = (line.strip_prefix("expr:"), name.take()) {
            alerts.push((alert, expr.trim().to_owned()));
        }
    }
    alerts
}

/// An alert's measure: its expression without the comparison with its threshold.
fn measure(expr: &str) -> &str {
    [" > ", " < ", " == ", " >= ", " <= ", " != "]
        .iter()
        .filter_map(|op| expr.rfind(op))
        .max()
        .map_or(expr, |at| expr[..at].trim())
}

#[test]
fn a_real_prometheus_scrapes_the_app_and_every_panel_and_alert_has_data() {
    let api = Api {
        host: common::app().env("SPIN_VARIABLE_METRICS_TOKEN", METRICS_TOKEN).start(),
    };
    // Traffic of every kind the panels show: reads, a 404, a write and its events.
    let admin = api.admin();
    let movie = api.movie(&admin, "Metropolis");
    let (_, user, _) = api.register("viewer@example.com", "viewer");
    let rated = api.send(
        "POST",
        &format!("/api/ratings/{movie}"),
        Some(&user),
        Some(&serde_json::json!({"score": 5})),
    );
    assert_eq!(rated.status, 201, "{}", rated.body);
    for _ in 0..5 {
        assert_eq!(api.get("/api/movies", None).status, 200);
    }
    assert_eq!(api.get("/api/nothing-here", None).status, 404);
    let scraped = call(
        "GET",
        &api.url("/metrics"),
        &[("authorization", &format!("Bearer {METRICS_TOKEN}"))],
        "",
    );
    assert_eq!(scraped.status, 200, "{}", scraped.body);

    let target = api.host.base.trim_start_matches("http://").to_owned();
    let prometheus = Prometheus::start(&target);
    eventually(
        "Prometheus scraped the app a few times",
        Duration::from_secs(60),
        || {
            prometheus
                .query("count_over_time(up{job=\"streamia\"}[1m])")
                .first()
                .and_then(|s| s["value"][1].as_str()?.parse::<f64>().ok())
                .is_some_and(|n| n >= 4.0)
        },
    );
    assert_eq!(prometheus.query("up{job=\"streamia\"}")[0]["value"][1], "1");
    // More traffic between scrapes, so that rates over the window are not all zero.
    for _ in 0..5 {
        assert_eq!(api.get("/api/movies", None).status, 200);
    }
    std::thread::sleep(Duration::from_secs(3));

    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(monitoring().join("dashboard.json")).unwrap()).unwrap();
    let mut panels = 0;
    let mut empty = Vec::new();
    for panel in dashboard["panels"].as_array().expect("the dashboard has panels") {
        for target in panel["targets"].as_array().expect("each panel has queries") {
            let expr = target["expr"].as_str().expect("a PromQL query");
            panels += 1;
            if prometheus.query(expr).is_empty() {
                empty.push(format!("panel {:?}: {expr}", panel["title"]));
            }
        }
    }
    let rules = std::fs::read_to_string(monitoring().join("alerts.yaml")).unwrap();
    let alerts = alert_expressions(&rules);
    assert!(alerts.len() >= 8, "{alerts:?}");
    for (name, expr) in &alerts {
        if prometheus.query(measure(expr)).is_empty() {
            empty.push(format!("alert {name}: {}", measure(expr)));
        }
    }
    assert!(empty.is_empty(), "no data for:\n{}", empty.join("\n"));
    println!(
        "monitoring: a real Prometheus scraped the app; {panels} dashboard queries and {} alert measures all had data",
        alerts.len()
    );
}

#[test]
fn an_alert_measure_is_its_expression_without_the_threshold() {
    assert_eq!(
        measure("streamia:http_error_ratio:rate5m > 0.05"),
        "streamia:http_error_ratio:rate5m"
    );
    assert_eq!(measure("up{job=\"streamia\"} == 0"), "up{job=\"streamia\"}");
    assert_eq!(
        measure("max by (service) (streamia_events_waiting) > 100"),
        "max by (service) (streamia_events_waiting)"
    );
}

//! devhost's own log format (Spin logs differently): one line per request,
//! chained requests with their caller, refused destinations, and component
//! output tagged with the component's id.

use streamia_testkit::{get, App};

const ROUTED: &str = r#"
spin_manifest_version = 2
[application]
name = "logs"

[[trigger.http]]
route = "/front/..."
component = "front"
[[trigger.http]]
route = { private = true }
component = "back"

[component.front]
source = "{http}"
allowed_outbound_hosts = ["http://back.spin.internal"]
[component.back]
source = "{http}"
"#;

fn app(spin_toml: &str) -> App {
    App::new(spin_toml).binary(env!("CARGO_BIN_EXE_devhost"))
}

#[test]
fn component_output_and_requests_are_logged() {
    let host = app(ROUTED).start();
    get(&host.url("/front/log"));
    let log = host.wait_for_log("[front] stderr: hello from stderr");
    assert!(log.contains("[front] stdout: hello from stdout"), "{log}");
    host.wait_for_log("GET /front/log 200");
    get(&host.url("/missing"));
    host.wait_for_log("GET /missing 404");
}

#[test]
fn chained_requests_are_logged_with_their_caller() {
    let host = app(ROUTED).start();
    get(&host.url("/front/chain?target=back&path=/inner/headers"));
    host.wait_for_log("/inner/headers 200");
    host.wait_for_log("-> back (chained from front)");
}

#[test]
fn refused_destinations_are_logged() {
    let host = app(&ROUTED.replace("http://back.spin.internal", "http://other.spin.internal")).start();
    get(&host.url("/front/chain?target=back&bodyless=1"));
    host.wait_for_log("destination not allowed: http://back.spin.internal:80");
}

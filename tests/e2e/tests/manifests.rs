//! spin.redis.toml is spin.toml plus the Redis consumers of
//! redis-triggers.toml, and spin.split.toml is spin.redis.toml made for
//! selective deployment (one component, or a service and its consumer, per
//! app); both are generated so that the manifests cannot drift.
//! `UPDATE_MANIFESTS=1 cargo test -p streamia-e2e --test manifests` rewrites them.

use std::path::Path;

const HEADER: &str = "\
# GENERATED from spin.toml + redis-triggers.toml; do not edit. Regenerate with
#   UPDATE_MANIFESTS=1 cargo test -p streamia-e2e --test manifests
# Streamia with events over Redis (a stream read through consumer groups, with
# pub/sub as the doorbell): the whole app of spin.toml plus a Redis-triggered
# consumer per consuming service. Run with a Redis at redis_url:
#   SPIN_VARIABLE_EVENT_TRANSPORT=redis spin up -f spin.redis.toml \\
#     --runtime-config-file runtime-config.redis.toml
";

/// The file without its leading comment block.
fn body(text: &str) -> &str {
    let mut rest = text;
    while rest.starts_with('#') || rest.starts_with('\n') {
        rest = rest.split_once('\n').map_or("", |(_, r)| r);
    }
    rest
}

fn generated(root: &Path) -> String {
    let read = |name: &str| std::fs::read_to_string(root.join(name)).unwrap();
    format!(
        "{HEADER}\n{}\n{}",
        body(&read("spin.toml")),
        read("redis-triggers.toml")
    )
}

const SERVICES: [&str; 6] = ["users", "movies", "favorites", "ratings", "comments", "notifications"];

const SPLIT_HEADER: &str = "\
# GENERATED from spin.toml + redis-triggers.toml; do not edit. Regenerate with
#   UPDATE_MANIFESTS=1 cargo test -p streamia-e2e --test manifests
# Streamia split: every component of spin.redis.toml, each service on a public
# catch-all route, for selective deployment: each app runs the gateway, or one
# service with its Redis consumer, e.g.
#   spin up -f spin.split.toml -c movies -c movies-events --runtime-config-file …
# (deploy/spinkube/split/: one SpinApp each, `components` naming them). There
# is no service chaining between apps: the gateway reaches the services by the
# `*_url` variables (their cluster Services' names by default) and events go
# over Redis. Run whole, the first catch-all route would win: use spin.toml or
# spin.redis.toml for that.
";

/// [`generated`] made for selective deployment: the services' private routes
/// made public (each runs in an app of its own, alone on its port), the
/// service-chaining hosts dropped (Spin refuses to run a component alone that
/// names another in its `allowed_outbound_hosts`), events over Redis, and
/// the services' URLs their Kubernetes Services' names.
fn split(root: &Path) -> String {
    let redis = generated(root);
    let mut text = String::from(SPLIT_HEADER);
    text.push('\n');
    let mut private_routes = 0;
    for line in body(&redis).lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("\"http://") && trimmed.ends_with(".spin.internal\",") {
            continue;
        }
        let line = if line == "route = { private = true }" {
            private_routes += 1;
            "route = \"/...\"".to_owned()
        } else if let Some(service) = SERVICES
            .iter()
            .find(|s| line.starts_with(&format!("{s}_url = {{ default = ")))
        {
            format!("{service}_url = {{ default = \"http://streamia-{service}\" }}")
        } else if line.starts_with("event_transport = { default = ") {
            "event_transport = { default = \"redis\" }".to_owned()
        } else if let Some((name, _)) = line.split_once("_event_subscribers = { default = ") {
            format!("{name}_event_subscribers = {{ default = \"\" }}")
        } else {
            line.to_owned()
        };
        text.push_str(&line);
        text.push('\n');
    }
    assert_eq!(private_routes, 6, "spin.toml has six private service routes");
    text
}

/// `file` holds `want`, or is rewritten with it under `UPDATE_MANIFESTS`.
fn assert_generated(file: &str, want: &str) {
    let path = streamia_testkit::workspace_root().join(file);
    if std::env::var_os("UPDATE_MANIFESTS").is_some() {
        std::fs::write(&path, want).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == want,
        "{file} is out of date: run UPDATE_MANIFESTS=1 cargo test -p streamia-e2e --test manifests"
    );
}

#[test]
fn spin_redis_toml_is_spin_toml_plus_the_redis_consumers() {
    assert_generated("spin.redis.toml", &generated(&streamia_testkit::workspace_root()));
}

#[test]
fn spin_split_toml_is_spin_redis_toml_for_selective_deployment() {
    let root = streamia_testkit::workspace_root();
    let text = split(&root);
    assert_generated("spin.split.toml", &text);
    let manifest: toml::Table = text.parse().unwrap();
    let redis: toml::Table = generated(&root).parse().unwrap();
    // The same components, built the same way, with the same stores.
    let components = manifest["component"].as_table().unwrap();
    assert_eq!(
        components.keys().collect::<Vec<_>>(),
        redis["component"].as_table().unwrap().keys().collect::<Vec<_>>()
    );
    for (name, component) in components {
        for key in ["source", "sqlite_databases", "key_value_stores", "variables", "build"] {
            assert_eq!(component.get(key), redis["component"][name].get(key), "{name}.{key}");
        }
        let hosts = component["allowed_outbound_hosts"].as_array().unwrap();
        assert!(
            hosts.iter().all(|h| !h.as_str().unwrap().contains(".spin.internal")),
            "{name} chains to another component: {hosts:?}"
        );
    }
    // Every HTTP component is alone on its app's catch-all route.
    for trigger in manifest["trigger"]["http"].as_array().unwrap() {
        assert_eq!(trigger["route"].as_str(), Some("/..."), "{trigger}");
    }
    let variables = manifest["variables"].as_table().unwrap();
    assert_eq!(variables["event_transport"]["default"].as_str(), Some("redis"));
    for service in SERVICES {
        assert_eq!(
            variables[&format!("{service}_url")]["default"].as_str(),
            Some(format!("http://streamia-{service}").as_str())
        );
    }
}

#[test]
fn every_redis_consumer_is_a_crate_on_its_services_database() {
    let root = streamia_testkit::workspace_root();
    let manifest: toml::Table = generated(&root).parse().unwrap();
    let components = manifest["component"].as_table().unwrap();
    let triggers = manifest["trigger"]["redis"].as_array().unwrap();
    assert!(!triggers.is_empty());
    for trigger in triggers {
        let name = trigger["component"].as_str().unwrap();
        let channel = trigger["channel"].as_str().unwrap();
        assert!(channel.starts_with("streamia."), "{channel}");
        let component = &components[name];
        let service = name
            .strip_suffix("-events")
            .expect("consumers are named <service>-events");
        assert_eq!(
            component["sqlite_databases"], components[service]["sqlite_databases"],
            "{name} uses {service}'s database"
        );
        assert!(root.join("components").join(name).join("Cargo.toml").exists(), "{name}");
    }
}

/// Each Redis consumer listens on the channels of exactly the event types
/// its service says it consumes (the drain skips every other type).
#[test]
fn each_redis_consumer_listens_for_what_its_service_consumes() {
    let root = streamia_testkit::workspace_root();
    let manifest: toml::Table = generated(&root).parse().unwrap();
    let triggers = manifest["trigger"]["redis"].as_array().unwrap();
    let services: [(&str, &[&str]); 5] = [
        ("favorites", streamia_favorites::events::CONSUMES),
        ("ratings", streamia_ratings::events::CONSUMES),
        ("comments", streamia_comments::events::CONSUMES),
        ("movies", streamia_movies::events::CONSUMES),
        ("notifications", streamia_notifications::mailer::CONSUMES),
    ];
    for (service, consumes) in services {
        let component = format!("{service}-events");
        let mut channels: Vec<&str> = triggers
            .iter()
            .filter(|t| t["component"].as_str() == Some(component.as_str()))
            .map(|t| t["channel"].as_str().unwrap())
            .collect();
        let mut want: Vec<String> = consumes.iter().map(|t| format!("streamia.{t}")).collect();
        channels.sort();
        want.sort();
        assert_eq!(channels, want, "{component}");
    }
}

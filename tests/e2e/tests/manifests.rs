//! spin.redis.toml is spin.toml plus the Redis consumers of
//! redis-triggers.toml, generated so the two manifests cannot drift;
//! `UPDATE_MANIFESTS=1 cargo test -p streamia-e2e --test manifests` rewrites it.

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

#[test]
fn spin_redis_toml_is_spin_toml_plus_the_redis_consumers() {
    let root = streamia_testkit::workspace_root();
    let want = generated(&root);
    let file = root.join("spin.redis.toml");
    if std::env::var_os("UPDATE_MANIFESTS").is_some() {
        std::fs::write(&file, &want).unwrap();
    }
    let on_disk = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        on_disk == want,
        "spin.redis.toml is out of date: run UPDATE_MANIFESTS=1 cargo test -p streamia-e2e --test manifests"
    );
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

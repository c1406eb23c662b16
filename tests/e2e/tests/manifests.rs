//! spin.redis.toml is spin.toml plus the Redis consumers of
//! redis-triggers.toml, spin.split.toml is spin.redis.toml made for
//! selective deployment (one component, or a service and its consumer, per
//! app), and spin.cloud.toml is spin.toml made for Fermyon Cloud (no service
//! chaining, no Redis); all are generated so that the manifests cannot drift.
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

const CLOUD_HEADER: &str = "\
# GENERATED from spin.toml; do not edit. Regenerate with
#   UPDATE_MANIFESTS=1 cargo test -p streamia-e2e --test manifests
# Streamia for Fermyon Cloud (deploy/README.md, \"Fermyon Cloud\"): the whole
# app as one Cloud app, made for what Cloud does not have. No service
# chaining: each service is mounted on a route of its own under /internal/
# and the components call each other by path (Spin's self requests), with
# the internal_token secret, which the services require on those routes. No
# Redis: events over http to the same routes. Cloud links each database
# label to a database and each key-value label to a store at deploy time
# (one database on the Starter and Growth plans: link all six labels to it;
# each service keeps its own tables and schema version there).
#   spin cloud deploy -f spin.cloud.toml --variable jwt_secret=… --variable internal_token=…
";

/// The route of a service in spin.cloud.toml.
fn mount(service: &str) -> String {
    format!("/internal/{service}")
}

/// spin.toml made for Fermyon Cloud ([`CLOUD_HEADER`]).
fn cloud(root: &Path) -> String {
    let spin_toml = std::fs::read_to_string(root.join("spin.toml")).unwrap();
    let lines: Vec<&str> = body(&spin_toml).lines().collect();
    let mut text = String::from(CLOUD_HEADER);
    text.push('\n');
    let mut mounted = 0;
    let mut signed = 0;
    let mut in_hosts = false;
    let mut self_added = false;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let mut out: Vec<String> = Vec::new();
        if *line == "route = { private = true }" {
            let component = lines[i + 1]
                .strip_prefix("component = \"")
                .and_then(|c| c.strip_suffix('"'))
                .expect("a private route's next line names its component");
            mounted += 1;
            out.push(format!("route = \"{}/...\"", mount(component)));
        } else if *line == "allowed_outbound_hosts = [" {
            (in_hosts, self_added) = (true, false);
            out.push(line.to_string());
        } else if in_hosts && trimmed == "]" {
            in_hosts = false;
            out.push(line.to_string());
        } else if in_hosts {
            let chained = trimmed.ends_with(".spin.internal\",")
                || SERVICES.iter().any(|s| trimmed == format!("\"{{{{ {s}_url }}}}\","));
            if chained {
                // Another component of this app: reached by path.
                if !self_added {
                    out.push("  \"http://self\",".into());
                    out.push("  \"https://self\",".into());
                    self_added = true;
                }
            } else if trimmed == "\"{{ redis_url }}\"," {
                // No Redis on Cloud.
            } else if trimmed == "\"{{ cloudinary_base_url }}\"," {
                out.push("  \"https://api.cloudinary.com\",".into());
            } else if trimmed == "\"{{ sendgrid_base_url }}\"," {
                out.push("  \"https://api.sendgrid.com\",".into());
            } else {
                out.push(line.to_string());
            }
        } else if let Some(service) = SERVICES
            .iter()
            .find(|s| line.starts_with(&format!("{s}_url = {{ default = ")))
        {
            out.push(format!("{service}_url = {{ default = \"{}\" }}", mount(service)));
        } else if line.contains("_event_subscribers = { default = ") {
            let mut routed = line.to_string();
            for service in SERVICES {
                routed = routed.replace(
                    &format!("http://{service}.spin.internal/"),
                    &format!("{}/", mount(service)),
                );
            }
            out.push(routed);
        } else if line.starts_with("# --- ") {
            // Every service has a public route here.
            let heading = line
                .replace("the only public route", "the API's routes")
                .replace("; no public route", "");
            out.push(heading);
        } else if *line == "jwt_secret = { required = true, secret = true }" {
            out.push(line.to_string());
            out.push("# Sent by the components to each other's /internal/ routes, which refuse".into());
            out.push("# every call without it (they are public on Cloud). At least 32 random bytes.".into());
            out.push("internal_token = { required = true, secret = true }".into());
        } else if *line == "jwt_secret = \"{{ jwt_secret }}\"" {
            signed += 1;
            out.push(line.to_string());
            out.push("internal_token = \"{{ internal_token }}\"".into());
        } else {
            out.push(line.to_string());
        }
        for l in out {
            text.push_str(&l);
            text.push('\n');
        }
    }
    assert_eq!(mounted, 6, "spin.toml has six private service routes");
    assert_eq!(signed, 7, "each of the seven components has jwt_secret");
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
        let hosts = component.get("allowed_outbound_hosts").and_then(|h| h.as_array());
        assert!(
            hosts
                .into_iter()
                .flatten()
                .all(|h| !h.as_str().unwrap().contains(".spin.internal")),
            "{name} chains to another component: {hosts:?}"
        );
    }
    // Every HTTP component is alone on its app's catch-all route, but the
    // web client's pages, which run in the gateway's app.
    for trigger in manifest["trigger"]["http"].as_array().unwrap() {
        if trigger["component"].as_str() != Some("web") {
            assert_eq!(trigger["route"].as_str(), Some("/..."), "{trigger}");
        }
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

/// The consuming services and the event types each says it consumes.
const CONSUMERS: [(&str, &[&str]); 5] = [
    ("favorites", streamia_favorites::events::CONSUMES),
    ("ratings", streamia_ratings::events::CONSUMES),
    ("comments", streamia_comments::events::CONSUMES),
    ("movies", streamia_movies::events::CONSUMES),
    ("notifications", streamia_notifications::mailer::CONSUMES),
];

/// Each Redis consumer listens on the channels of exactly the event types
/// its service says it consumes (the drain skips every other type).
#[test]
fn each_redis_consumer_listens_for_what_its_service_consumes() {
    let root = streamia_testkit::workspace_root();
    let manifest: toml::Table = generated(&root).parse().unwrap();
    let triggers = manifest["trigger"]["redis"].as_array().unwrap();
    for (service, consumes) in CONSUMERS {
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

/// Over HTTP, the producers' subscriber lists (`<producer>_event_subscribers`
/// in spin.toml) send each service exactly the event types it consumes.
#[test]
fn the_http_subscriber_lists_send_each_service_what_it_consumes() {
    let root = streamia_testkit::workspace_root();
    let manifest: toml::Table = std::fs::read_to_string(root.join("spin.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let variables = manifest["variables"].as_table().unwrap();
    let mut sent: Vec<(String, String)> = Vec::new();
    for producer in SERVICES {
        let list = variables[&format!("{producer}_event_subscribers")]["default"]
            .as_str()
            .unwrap();
        for entry in list.split(',').filter(|e| !e.is_empty()) {
            let (event_type, url) = entry.split_once('=').unwrap();
            let service = url
                .strip_prefix("http://")
                .and_then(|u| u.strip_suffix(".spin.internal/events"))
                .unwrap_or_else(|| panic!("{entry}: a service's /events"));
            sent.push((service.to_owned(), event_type.to_owned()));
        }
    }
    for (service, consumes) in CONSUMERS {
        let mut got: Vec<&str> = sent
            .iter()
            .filter(|(s, _)| s == service)
            .map(|(_, t)| t.as_str())
            .collect();
        let mut want: Vec<&str> = consumes.to_vec();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{service}");
    }
    assert!(
        sent.iter().all(|(s, _)| CONSUMERS.iter().any(|(c, _)| c == s)),
        "{sent:?}"
    );
}

#[test]
fn spin_cloud_toml_is_spin_toml_without_chaining_nor_redis() {
    let root = streamia_testkit::workspace_root();
    let text = cloud(&root);
    assert_generated("spin.cloud.toml", &text);
    let manifest: toml::Table = text.parse().unwrap();
    let whole: toml::Table = body(&std::fs::read_to_string(root.join("spin.toml")).unwrap())
        .parse()
        .unwrap();
    let components = manifest["component"].as_table().unwrap();
    assert_eq!(
        components.keys().collect::<Vec<_>>(),
        whole["component"].as_table().unwrap().keys().collect::<Vec<_>>()
    );
    for (name, component) in components {
        for key in ["source", "sqlite_databases", "key_value_stores", "build"] {
            assert_eq!(component.get(key), whole["component"][name].get(key), "{name}.{key}");
        }
        if name == "web" {
            // Static pages: no outbound call; one variable, for the pages' policy.
            assert!(component.get("allowed_outbound_hosts").is_none());
            assert_eq!(
                component["variables"].as_table().unwrap().keys().collect::<Vec<_>>(),
                ["cloudinary_base_url"]
            );
            continue;
        }
        // Literal hosts, never another component's name nor Redis.
        for host in component["allowed_outbound_hosts"].as_array().unwrap() {
            let host = host.as_str().unwrap();
            assert!(
                !host.contains("spin.internal") && !host.contains("{{") && !host.starts_with("redis"),
                "{name}: {host}"
            );
        }
        assert_eq!(
            component["variables"]["internal_token"].as_str(),
            Some("{{ internal_token }}"),
            "{name}"
        );
    }
    // The gateway on the catch-all, each service under /internal/.
    for trigger in manifest["trigger"]["http"].as_array().unwrap() {
        let component = trigger["component"].as_str().unwrap();
        let want = match component {
            "gateway" => "/...".to_owned(),
            "web" => trigger["route"]
                .as_str()
                .filter(|r| ["/", "/reset-password", "/docs", "/assets/..."].contains(r))
                .unwrap()
                .to_owned(),
            service => format!("{}/...", mount(service)),
        };
        assert_eq!(trigger["route"].as_str(), Some(want.as_str()), "{trigger}");
    }
    let variables = manifest["variables"].as_table().unwrap();
    assert_eq!(variables["event_transport"]["default"].as_str(), Some("http"));
    assert_eq!(variables["internal_token"]["secret"].as_bool(), Some(true));
    for service in SERVICES {
        assert_eq!(
            variables[&format!("{service}_url")]["default"].as_str(),
            Some(mount(service).as_str())
        );
    }
    // The sagas' subscribers, by path.
    let subscribers = variables["users_event_subscribers"]["default"].as_str().unwrap();
    assert!(
        subscribers.contains("user.deleted=/internal/ratings/events"),
        "{subscribers}"
    );
    assert!(!text.contains(".spin.internal"));
}

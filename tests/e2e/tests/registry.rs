//! Packaging (deploy/package.sh), as a release does it: both OCI artifacts
//! built and pushed to a real registry (Debian's docker-registry on
//! loopback), then the whole app run from its image, as a SpinApp's pods
//! run it (`spin up --from <image>`), with Redis for its events and stores.
//!
//! Spin only: devhost runs manifests, not images (scripts/test.sh runs this
//! in the Spin pass).

mod common;

use std::process::Command;
use std::time::Duration;

use common::{eventually, json_of, Api, ADMIN_EMAIL, SECRET};
use serde_json::json;
use streamia_testkit::{build_components, workspace_root, App, Redis, Registry};

const TAG: &str = "0.1.0-e2e";

#[test]
fn the_release_is_pushed_to_a_registry_and_runs_from_its_image() {
    build_components(&common::COMPONENTS);
    let registry = Registry::start();
    let out = Command::new(workspace_root().join("deploy/package.sh"))
        .env("STREAMIA_REGISTRY", format!("{}/acme", registry.address))
        .env("STREAMIA_TAG", TAG)
        .env("STREAMIA_INSECURE", "1")
        .output()
        .expect("package.sh runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "package.sh failed:\n{log}");
    for repository in ["acme/streamia", "acme/streamia-split"] {
        assert_eq!(registry.tags(repository), [TAG], "{repository}\n{log}");
    }

    // The image holds every component and the manifest: run it as a pod does.
    let redis = Redis::start();
    let runtime_config = std::fs::read_to_string(workspace_root().join("runtime-config.redis.toml"))
        .unwrap()
        .replace("redis://127.0.0.1:6379", &redis.url());
    let mut app = App::from_registry(&format!("{}/acme/streamia:{TAG}", registry.address))
        .runtime_config(&runtime_config)
        .env("SPIN_VARIABLE_JWT_SECRET", SECRET)
        .env("SPIN_VARIABLE_ADMIN_EMAILS", ADMIN_EMAIL)
        .env("SPIN_VARIABLE_EVENT_TRANSPORT", "redis")
        .env("SPIN_VARIABLE_REDIS_URL", &redis.url());
    for limit in ["ANONYMOUS", "USER", "AUTH", "LOGIN_FAILURES"] {
        app = app.env(&format!("SPIN_VARIABLE_RATE_LIMIT_{limit}"), "1000000/1m");
    }
    let api = Api { host: app.start() };
    redis.wait_for_subscribers(&["streamia.rating.created"]);

    let health = json_of(&api, "/health", None);
    assert_eq!(health["status"], "ok", "{health}");
    let admin = api.admin();
    let (_, ana, _) = api.register("ana@example.com", "ana");
    let alien = api.movie(&admin, "Alien");
    let rated = api.send(
        "POST",
        &format!("/api/ratings/{alien}"),
        Some(&ana),
        Some(&json!({"score": 4})),
    );
    assert_eq!(rated.status, 201, "{}", rated.body);
    // The rating reaches the movie through the image's Redis consumer.
    eventually("the rating reaches the movie", Duration::from_secs(30), || {
        json_of(&api, &format!("/api/movies/{alien}"), None)["totalRatings"] == 1
    });
}

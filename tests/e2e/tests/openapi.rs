//! The OpenAPI document (`docs/openapi.json`, served at `/api/openapi.json`)
//! describes exactly the routes that exist: the gateway's route table
//! (`streamia_gateway::routes::ROUTES`, which metrics label requests with)
//! is the document's operations, and each service's share of it is the
//! service's own route table (its `match` arms in `components/<service>`),
//! and the README's API section shows how to call each of them. A route is
//! declared once, in that table; the other places are checked against it.

mod common;

use std::collections::BTreeSet;

use common::start;
use streamia_gateway::routes::ROUTES;
use streamia_testkit::workspace_root;

fn document() -> serde_json::Value {
    let text = std::fs::read_to_string(workspace_root().join("docs/openapi.json")).unwrap();
    serde_json::from_str(&text).expect("docs/openapi.json is JSON")
}

/// `/api/movies/{id}` and `/api/movies/{movieId}` are the same route.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

fn routes_of(pairs: impl IntoIterator<Item = (String, String)>) -> BTreeSet<(String, String)> {
    pairs.into_iter().map(|(m, p)| (m, shape(&p))).collect()
}

#[test]
fn the_document_has_every_route_and_no_other() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            documented.push((method.to_uppercase(), path.clone()));
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.contains_key("default"),
                "{method} {path}: errors are documented"
            );
            assert!(operation["summary"].is_string(), "{method} {path}: a summary");
        }
    }
    let documented = routes_of(documented);
    let table = routes_of(ROUTES.iter().map(|r| (r.method.to_string(), r.template.to_string())));
    let missing: Vec<_> = table.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&table).collect();
    assert!(missing.is_empty(), "routes the document lacks: {missing:?}");
    assert!(extra.is_empty(), "documented routes that do not exist: {extra:?}");
}

/// The `(Method::X, [segments])` arms of a component's route table, as
/// `(METHOD, /api/<service>/<segments>)`: string literals are segments,
/// bindings are parameters.
fn component_routes(service: &str) -> BTreeSet<(String, String)> {
    let path = workspace_root().join(format!("components/{service}/src/lib.rs"));
    let source = std::fs::read_to_string(&path).unwrap();
    let prefix = format!(r#"let ["api", "{service}", rest @ ..]"#);
    assert!(
        source.contains(&prefix),
        "{}: routes under /api/{service}",
        path.display()
    );
    let mut routes = Vec::new();
    for arm in source.split("(Method::").skip(1) {
        let Some((method, rest)) = arm.split_once(", [") else {
            continue;
        };
        let Some((segments, after)) = rest.split_once("])") else {
            continue;
        };
        if !after.trim_start().starts_with("=>") || !method.chars().all(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        let mut route = format!("/api/{service}");
        for segment in segments.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            assert!(
                !segment.contains(".."),
                "{service}: a route with a rest pattern: {segments}"
            );
            route.push('/');
            route.push_str(match segment.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                Some(literal) => literal,
                None => "{}",
            });
        }
        routes.push((method.to_uppercase(), route));
    }
    routes_of(routes)
}

#[test]
fn each_service_serves_exactly_its_routes_in_the_table() {
    for service in ["users", "movies", "favorites", "ratings", "comments"] {
        let served = component_routes(service);
        let prefix = format!("/api/{service}");
        let table = routes_of(
            ROUTES
                .iter()
                .filter(|r| r.template == prefix || r.template.starts_with(&format!("{prefix}/")))
                .map(|r| (r.method.to_string(), r.template.to_string())),
        );
        assert!(!served.is_empty(), "{service}: no routes found");
        assert_eq!(served, table, "{service}: its route table and the gateway's");
    }
}

/// The year the app's clock is in.
fn this_year() -> i64 {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 86_400;
    // Civil year of a day count (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}

#[test]
fn the_gateway_serves_the_document_with_next_years_bound_and_answers_its_own_routes() {
    let api = start();
    let r = api.get("/api/openapi.json", None);
    assert_eq!(r.status, 200, "{}", r.body);
    // The file, with the release year's bound stated for today.
    let next = this_year() + 1;
    let mut expected = document();
    expected["components"]["schemas"]["ReleaseYear"]["maximum"] = next.into();
    assert_eq!(r.json(), expected);
    // And the API applies that bound.
    let admin = api.admin();
    let year = |y: i64| {
        let body = serde_json::json!({"title": "Soon", "description": "Coming", "releaseYear": y});
        api.send("POST", "/api/movies", Some(&admin), Some(&body)).status
    };
    assert_eq!((year(next), year(next + 1)), (201, 400));
    assert_eq!(api.get(&format!("/api/movies?year={next}"), None).status, 200);
    assert_eq!(api.get(&format!("/api/movies?year={}", next + 1), None).status, 400);
    // The routes the gateway answers itself exist (not 404) as documented.
    for route in ROUTES
        .iter()
        .filter(|r| !r.template.starts_with("/api/") || r.template.starts_with("/api/admin"))
    {
        let method = route.method;
        let concrete = route
            .template
            .replace("{service}", "favorites")
            .replace("{eventId}", "0192f3a4-0000-7000-8000-000000000000");
        let r = api.send(method, &concrete, None, None);
        let not_found_route = r.status == 404 && r.body.contains("no route");
        assert!(!not_found_route, "{method} {concrete}: {}", r.body);
    }
}

/// The paths the README shows: `$B/…` in its examples, `METHOD /path` in
/// its prose, with a shell brace list (`{users,movies}`) expanded.
fn readme_paths() -> Vec<String> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let end = |c: char| c.is_whitespace() || "\"'`?;)\\".contains(c);
    let mut found = Vec::new();
    for (at, _) in readme.match_indices("$B/") {
        let rest = &readme[at + 2..];
        found.push(rest[..rest.find(end).unwrap_or(rest.len())].to_owned());
    }
    for method in ["GET ", "POST ", "PUT ", "PATCH ", "DELETE "] {
        for (at, _) in readme.match_indices(method) {
            let rest = &readme[at + method.len()..];
            if rest.starts_with('/') {
                found.push(rest[..rest.find(end).unwrap_or(rest.len())].to_owned());
            }
        }
    }
    let mut paths = Vec::new();
    for path in found {
        match (path.find('{'), path.find('}')) {
            (Some(open), Some(close)) if path[open..close].contains(',') => {
                for choice in path[open + 1..close].split(',') {
                    paths.push(format!("{}{choice}{}", &path[..open], &path[close + 1..]));
                }
            }
            _ => paths.push(path),
        }
    }
    paths
}

/// Does `path` (a README's example) call the route `template`?
fn calls(template: &str, path: &str) -> bool {
    let template: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    template.len() == path.len() && template.iter().zip(&path).all(|(t, p)| t.starts_with('{') || t == p)
}

#[test]
fn the_readme_shows_how_to_call_every_route() {
    let shown = readme_paths();
    assert!(calls("/api/movies/{id}", "/api/movies/$MOVIE") && !calls("/api/movies/{id}", "/api/movies"));
    let missing: Vec<String> = ROUTES
        .iter()
        .filter(|route| !shown.iter().any(|path| calls(route.template, path)))
        .map(|route| format!("{} {}", route.method, route.template))
        .collect();
    assert!(
        missing.is_empty(),
        "the README's API section lacks:\n{}",
        missing.join("\n")
    );
}

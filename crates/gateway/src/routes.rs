//! The public API, route by route: the one table that metrics label
//! requests with, that `docs/openapi.json` must describe exactly, and that
//! the services' route tables must match (`tests/e2e/tests/openapi.rs`
//! holds all three together).

/// One public route: its method, its path template (a `{name}` segment is
/// a path parameter) and the group its calls are guarded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub template: &'static str,
    /// What the route's service calls count against: a circuit breaker per
    /// service and group (`movies.catalogue`), so that one kind of call
    /// failing (media uploads, sign-ins behind the password hash) never
    /// refuses the others. [`GATEWAY`] for the routes the gateway answers
    /// itself, [`OPERATIONS`] for the operators' (no breaker: an operator
    /// must reach a failing service).
    pub group: &'static str,
}

/// The routes the gateway answers itself.
pub const GATEWAY: &str = "gateway";
/// The operators' dead-letter routes, forwarded to the service named.
pub const OPERATIONS: &str = "operations";

const fn route(method: &'static str, template: &'static str, group: &'static str) -> Route {
    Route {
        method,
        template,
        group,
    }
}

/// Every public route.
pub const ROUTES: &[Route] = &[
    // served by the gateway itself
    route("GET", "/health", GATEWAY),
    route("GET", "/health/live", GATEWAY),
    route("GET", "/health/ready", GATEWAY),
    route("GET", "/health/detailed", GATEWAY),
    route("GET", "/health/{service}", GATEWAY),
    route("GET", "/metrics", GATEWAY),
    route("GET", "/api/openapi.json", GATEWAY),
    route("POST", "/api/admin/events/relay", GATEWAY),
    route("POST", "/api/admin/migrate", GATEWAY),
    route("GET", "/api/admin/events/{service}/dead-letters", OPERATIONS),
    route("POST", "/api/admin/events/{service}/dead-letters/replay", OPERATIONS),
    route(
        "POST",
        "/api/admin/events/{service}/dead-letters/{eventId}/replay",
        OPERATIONS,
    ),
    route(
        "DELETE",
        "/api/admin/events/{service}/dead-letters/{eventId}",
        OPERATIONS,
    ),
    // the import from the old system: one route per kind of row, each to
    // the service that keeps them (import_kind)
    route("POST", "/api/admin/import/users", OPERATIONS),
    route("POST", "/api/admin/import/movies", OPERATIONS),
    route("POST", "/api/admin/import/favorites", OPERATIONS),
    route("POST", "/api/admin/import/ratings", OPERATIONS),
    route("POST", "/api/admin/import/comment-authors", OPERATIONS),
    route("POST", "/api/admin/import/comments", OPERATIONS),
    // users: signing in (each a password hash or a token check), the
    // account itself, administration
    route("POST", "/api/users/register", "sign-in"),
    route("POST", "/api/users/login", "sign-in"),
    route("POST", "/api/users/refresh", "sign-in"),
    route("POST", "/api/users/logout", "sign-in"),
    route("POST", "/api/users/password/forgot", "sign-in"),
    route("POST", "/api/users/password/reset", "sign-in"),
    route("GET", "/api/users/me", "account"),
    route("PATCH", "/api/users/me", "account"),
    route("DELETE", "/api/users/me", "account"),
    route("PUT", "/api/users/me/password", "account"),
    route("GET", "/api/users", "admin"),
    route("GET", "/api/users/{id}", "admin"),
    route("DELETE", "/api/users/{id}", "admin"),
    route("PATCH", "/api/users/{id}/role", "admin"),
    route("POST", "/api/users/{id}/suspend", "admin"),
    route("POST", "/api/users/{id}/reactivate", "admin"),
    route("POST", "/api/users/announce", "admin"),
    // movies: catalogue reads, an admin's edits, media (Cloudinary)
    route("GET", "/api/movies", "catalogue"),
    route("POST", "/api/movies", "curation"),
    route("GET", "/api/movies/{id}", "catalogue"),
    route("PUT", "/api/movies/{id}", "curation"),
    route("PATCH", "/api/movies/{id}", "curation"),
    route("DELETE", "/api/movies/{id}", "curation"),
    route("POST", "/api/movies/{id}/video/upload-signature", "media"),
    route("POST", "/api/movies/{id}/poster", "media"),
    route("POST", "/api/movies/{id}/subtitles", "media"),
    route("DELETE", "/api/movies/{id}/poster", "curation"),
    route("DELETE", "/api/movies/{id}/video", "curation"),
    route("DELETE", "/api/movies/{id}/subtitles/{language}", "curation"),
    route("POST", "/api/movies/cloudinary/notify", "media"),
    // favorites
    route("GET", "/api/favorites", "reads"),
    route("POST", "/api/favorites/{movieId}", "writes"),
    route("DELETE", "/api/favorites/{movieId}", "writes"),
    route("GET", "/api/favorites/{movieId}/check", "reads"),
    // ratings: the public statistics apart from a person's own
    route("GET", "/api/ratings/movie/{movieId}/stats", "stats"),
    route("GET", "/api/ratings/user/history", "reads"),
    route("POST", "/api/ratings/{movieId}", "writes"),
    route("GET", "/api/ratings/{movieId}", "reads"),
    route("DELETE", "/api/ratings/{movieId}", "writes"),
    // comments: public threads, writes, moderation
    route("GET", "/api/comments/movie/{movieId}", "threads"),
    route("POST", "/api/comments/movie/{movieId}", "writes"),
    route("GET", "/api/comments/pending", "moderation"),
    route("GET", "/api/comments/{id}/replies", "threads"),
    route("PUT", "/api/comments/{id}", "writes"),
    route("DELETE", "/api/comments/{id}", "writes"),
    route("PATCH", "/api/comments/{id}/moderate", "moderation"),
];

/// How a request's method and path meet the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(&'static Route),
    /// The path is a route's, the method none of them: 405 with `Allow`.
    MethodNotAllowed {
        allow: String,
    },
    /// No route has this path: 404.
    NotFound,
}

/// The route `method path` is (`/api/movies/{id}` for `/api/movies/0192…`).
/// A literal segment wins over a parameter (`/api/comments/pending` is not
/// `/api/comments/{id}`). HEAD is served as GET.
pub fn lookup(method: &str, path: &str) -> Lookup {
    let method = if method == "HEAD" { "GET" } else { method };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let matching: Vec<(usize, &'static Route)> = ROUTES
        .iter()
        .filter_map(|route| literal_score(route.template, &segments).map(|score| (score, route)))
        .collect();
    let best = |of_method: bool| {
        matching
            .iter()
            .filter(|(_, r)| !of_method || r.method == method)
            .max_by_key(|(score, _)| *score)
    };
    let Some((top_score, _)) = best(false) else {
        return Lookup::NotFound;
    };
    match best(true) {
        // `DELETE /api/comments/pending` is not `DELETE /api/comments/{id}`:
        // only the path's own (best-matching) template decides its methods.
        Some((score, route)) if score == top_score => Lookup::Found(route),
        _ => {
            let mut allow: Vec<&str> = Vec::new();
            for (_, route) in matching.iter().filter(|(score, _)| score == top_score) {
                let methods: &[&str] = match route.method {
                    "GET" => &["GET", "HEAD"],
                    other => &[other],
                };
                for method in methods {
                    if !allow.contains(method) {
                        allow.push(method);
                    }
                }
            }
            allow.push("OPTIONS");
            Lookup::MethodNotAllowed {
                allow: allow.join(", "),
            }
        }
    }
}

/// The route template `method path` matches; `None` for no public route.
pub fn template(method: &str, path: &str) -> Option<&'static str> {
    match lookup(method, path) {
        Lookup::Found(route) => Some(route.template),
        _ => None,
    }
}

/// The methods a path takes, for an `OPTIONS` request's `Allow`; `None`
/// for a path no route has.
pub fn allowed(path: &str) -> Option<String> {
    match lookup("OPTIONS", path) {
        Lookup::MethodNotAllowed { allow } => Some(allow),
        _ => None,
    }
}

/// How many literal segments of `template` match `segments`; `None` when it
/// does not match at all.
fn literal_score(template: &str, segments: &[&str]) -> Option<usize> {
    let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut literals = 0;
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            continue;
        }
        if part != segment {
            return None;
        }
        literals += 1;
    }
    Some(literals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_templates_literals_first() {
        let id = "0192f3a4-0000-7000-8000-000000000000";
        assert_eq!(template("GET", &format!("/api/movies/{id}")), Some("/api/movies/{id}"));
        assert_eq!(template("HEAD", "/api/movies"), Some("/api/movies"));
        assert_eq!(template("GET", "/api/comments/pending"), Some("/api/comments/pending"));
        assert_eq!(
            template("GET", "/api/comments/x/replies"),
            Some("/api/comments/{id}/replies")
        );
        assert_eq!(
            template("POST", "/api/movies/cloudinary/notify"),
            Some("/api/movies/cloudinary/notify")
        );
        assert_eq!(template("GET", "/health/movies"), Some("/health/{service}"));
        assert_eq!(template("GET", "/health/ready"), Some("/health/ready"));
        assert_eq!(template("GET", "/api/movies/1/2/3"), None);
        assert_eq!(template("TRACE", "/api/movies"), None);
    }

    #[test]
    fn a_known_path_with_another_method_is_405_with_the_methods_it_takes() {
        let allow = |method: &str, path: &str| match lookup(method, path) {
            Lookup::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        };
        let cases = [
            ("TRACE", "/api/movies", Some("GET, HEAD, POST, OPTIONS")),
            ("DELETE", "/api/movies", Some("GET, HEAD, POST, OPTIONS")),
            ("POST", "/api/movies/1", Some("GET, HEAD, PUT, PATCH, DELETE, OPTIONS")),
            ("PUT", "/health", Some("GET, HEAD, OPTIONS")),
            ("POST", "/metrics", Some("GET, HEAD, OPTIONS")),
            // The path's own template decides, not a parameter's that also fits.
            ("DELETE", "/api/comments/pending", Some("GET, HEAD, OPTIONS")),
            ("GET", "/api/movies/cloudinary/notify", Some("POST, OPTIONS")),
            ("TRACE", "/api/nothing", None),
            ("GET", "/api/movies", None),
            ("DELETE", "/api/comments/9", None),
        ];
        for (method, path, want) in cases {
            assert_eq!(allow(method, path).as_deref(), want, "{method} {path}");
        }
        assert_eq!(allowed("/api/favorites/1").as_deref(), Some("POST, DELETE, OPTIONS"));
        assert_eq!(allowed("/nowhere"), None);
    }

    #[test]
    fn no_two_routes_share_a_method_and_template() {
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(seen.insert((route.method, route.template)), "{route:?} twice");
        }
    }
}

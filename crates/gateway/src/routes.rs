//! The public API, route by route: the one table that metrics label
//! requests with, that `docs/openapi.json` must describe exactly, and that
//! the services' route tables must match (`tests/e2e/tests/openapi.rs`
//! holds all three together).

/// `(method, path template)`: every public route. A `{name}` segment is a
/// path parameter.
pub const ROUTES: &[(&str, &str)] = &[
    // served by the gateway itself
    ("GET", "/health"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/health/{service}"),
    ("GET", "/metrics"),
    ("GET", "/api/openapi.json"),
    ("POST", "/api/admin/events/relay"),
    ("POST", "/api/admin/migrate"),
    ("GET", "/api/admin/events/{service}/dead-letters"),
    ("POST", "/api/admin/events/{service}/dead-letters/replay"),
    ("POST", "/api/admin/events/{service}/dead-letters/{eventId}/replay"),
    ("DELETE", "/api/admin/events/{service}/dead-letters/{eventId}"),
    // users
    ("POST", "/api/users/register"),
    ("POST", "/api/users/login"),
    ("POST", "/api/users/refresh"),
    ("POST", "/api/users/logout"),
    ("POST", "/api/users/password/forgot"),
    ("POST", "/api/users/password/reset"),
    ("GET", "/api/users/me"),
    ("PATCH", "/api/users/me"),
    ("DELETE", "/api/users/me"),
    ("PUT", "/api/users/me/password"),
    ("GET", "/api/users"),
    ("PATCH", "/api/users/{id}/role"),
    ("POST", "/api/users/announce"),
    // movies
    ("GET", "/api/movies"),
    ("POST", "/api/movies"),
    ("GET", "/api/movies/{id}"),
    ("PUT", "/api/movies/{id}"),
    ("PATCH", "/api/movies/{id}"),
    ("DELETE", "/api/movies/{id}"),
    ("POST", "/api/movies/{id}/video/upload-signature"),
    ("POST", "/api/movies/{id}/poster"),
    ("POST", "/api/movies/{id}/subtitles"),
    ("POST", "/api/movies/cloudinary/notify"),
    // favorites
    ("GET", "/api/favorites"),
    ("POST", "/api/favorites/{movieId}"),
    ("DELETE", "/api/favorites/{movieId}"),
    ("GET", "/api/favorites/{movieId}/check"),
    // ratings
    ("GET", "/api/ratings/movie/{movieId}/stats"),
    ("GET", "/api/ratings/user/history"),
    ("POST", "/api/ratings/{movieId}"),
    ("GET", "/api/ratings/{movieId}"),
    ("DELETE", "/api/ratings/{movieId}"),
    // comments
    ("GET", "/api/comments/movie/{movieId}"),
    ("POST", "/api/comments/movie/{movieId}"),
    ("GET", "/api/comments/pending"),
    ("GET", "/api/comments/{id}/replies"),
    ("PUT", "/api/comments/{id}"),
    ("DELETE", "/api/comments/{id}"),
    ("PATCH", "/api/comments/{id}/moderate"),
];

/// The route template `method path` matches (`/api/movies/{id}` for
/// `/api/movies/0192…`); `None` for no public route. A literal segment wins
/// over a parameter (`/api/comments/pending` is not `/api/comments/{id}`).
/// HEAD is matched as GET.
pub fn template(method: &str, path: &str) -> Option<&'static str> {
    let method = if method == "HEAD" { "GET" } else { method };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    ROUTES
        .iter()
        .filter(|(m, _)| *m == method)
        .filter_map(|(_, template)| literal_score(template, &segments).map(|score| (score, *template)))
        .max_by_key(|(score, _)| *score)
        .map(|(_, template)| template)
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
    fn no_two_routes_share_a_method_and_template() {
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(seen.insert(route), "{route:?} twice");
        }
    }
}

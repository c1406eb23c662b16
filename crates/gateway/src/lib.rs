//! The gateway's rules, in plain Rust: the route table ([`routes`],
//! [`resolve`]), which routes are public, body limits, CORS ([`Cors`]), rate
//! limits ([`limits`]), circuit breakers per route group ([`breaker`]) and
//! metrics ([`metrics`]) over the gateway's shared [`counters`], and the
//! OpenAPI document as served ([`openapi`]). `components/gateway` applies them to
//! requests.

pub mod bulkhead;
pub mod config;
mod cors;
pub mod guard;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod operations;
pub mod routes;
pub mod upstream;

pub use config::Config;
pub use cors::{Cors, Preflight};
/// The circuit breakers and the counters they, the limits and the metrics
/// keep, in their own crate: services use them around their dependencies.
pub use streamia_breaker::{self as breaker, counters};

/// Every service behind the gateway, with its path prefix `/api/<name>/`
/// (notifications has no API: only its health is reachable, `/health/notifications`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Users,
    Movies,
    Favorites,
    Ratings,
    Comments,
    Notifications,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::Users,
        Service::Movies,
        Service::Favorites,
        Service::Ratings,
        Service::Comments,
        Service::Notifications,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Users => "users",
            Service::Movies => "movies",
            Service::Favorites => "favorites",
            Service::Ratings => "ratings",
            Service::Comments => "comments",
            Service::Notifications => "notifications",
        }
    }

    pub fn parse(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed (a token, if sent, is still passed on).
    Public,
    /// A valid access token is required at the gateway.
    Authenticated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json`, up to [`JSON_BODY_LIMIT`].
    Json,
    /// `multipart/form-data` uploads, up to [`UPLOAD_BODY_LIMIT`].
    Upload,
}

/// SPEC §3: 1 MiB for JSON; uploads (posters, subtitles) get more.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;
pub const UPLOAD_BODY_LIMIT: usize = 10 * 1024 * 1024;

impl BodyKind {
    pub fn media_type(self) -> &'static str {
        match self {
            BodyKind::Json => "application/json",
            BodyKind::Upload => "multipart/form-data",
        }
    }

    pub fn limit(self) -> usize {
        match self {
            BodyKind::Json => JSON_BODY_LIMIT,
            BodyKind::Upload => UPLOAD_BODY_LIMIT,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub service: Service,
    pub access: Access,
    pub body: BodyKind,
    /// The route group its calls count against ([`routes::Route::group`]).
    pub group: &'static str,
}

impl Route {
    /// The circuit breaker this route's calls go through: its service's and group's.
    pub fn breaker(&self) -> String {
        breaker_name(self.service, self.group)
    }
}

/// `movies.catalogue`: the breaker of one route group of a service.
pub fn breaker_name(service: Service, group: &str) -> String {
    format!("{}.{group}", service.name())
}

/// Every breaker: each service's route groups, in the route table's order.
pub fn breakers() -> Vec<(Service, &'static str)> {
    let mut all: Vec<(Service, &'static str)> = Vec::new();
    for route in routes::ROUTES {
        let service = route.template.split('/').nth(2).and_then(Service::parse);
        if let (Some(service), false) = (
            service,
            route.group == routes::GATEWAY || route.group == routes::OPERATIONS,
        ) {
            if !all.contains(&(service, route.group)) {
                all.push((service, route.group));
            }
        }
    }
    all
}

/// Which service serves `method path`, and on what terms. `None`: no
/// service route has this method and path.
pub fn resolve(method: &str, path: &str) -> Option<Route> {
    let routes::Lookup::Found(found) = routes::lookup(method, path) else {
        return None;
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ["api", service, rest @ ..] = segs.as_slice() else {
        return None;
    };
    let service = Service::parse(service).filter(|s| *s != Service::Notifications)?;
    let read = matches!(method, "GET" | "HEAD");
    let public = match (service, rest) {
        (Service::Users, ["register" | "login" | "refresh" | "logout"]) => method == "POST",
        (Service::Users, ["password", "forgot" | "reset"]) => method == "POST",
        (Service::Movies, ["cloudinary", "notify"]) => method == "POST",
        (Service::Movies, _) => read,
        (Service::Ratings, ["movie", _, "stats"]) => read,
        (Service::Comments, ["movie", _]) | (Service::Comments, [_, "replies"]) => read,
        _ => false,
    };
    let body = match (service, rest) {
        (Service::Movies, [_, "poster" | "subtitles"]) if method == "POST" => BodyKind::Upload,
        _ => BodyKind::Json,
    };
    Some(Route {
        service,
        access: if public { Access::Public } else { Access::Authenticated },
        body,
        group: found.group,
    })
}

/// The operators' event routes under `/api/admin/events/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventAdmin {
    /// `POST /api/admin/events/relay`: every service's relay pass, now (the ticker calls it).
    Relay,
    /// `/api/admin/events/{service}/dead-letters…`: forwarded to the
    /// service's private `/dead-letters…` (`path`).
    DeadLetters { service: Service, path: String },
}

/// Which operator route `path` is; `None` when it is none (an unknown
/// service or route under `/api/admin/events/` is `Some(Err)`: a 404 that says so).
pub fn event_admin(path: &str) -> Option<Result<EventAdmin, String>> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ["api", "admin", "events", rest @ ..] = segs.as_slice() else {
        return None;
    };
    Some(match rest {
        ["relay"] => Ok(EventAdmin::Relay),
        [name, "dead-letters", tail @ ..] => match Service::parse(name) {
            Some(service) => Ok(EventAdmin::DeadLetters {
                service,
                path: std::iter::once("/dead-letters")
                    .chain(tail.iter().copied())
                    .collect::<Vec<_>>()
                    .join("/"),
            }),
            None => Err(format!("no service named {name:?}")),
        },
        _ => Err("no such event admin route".to_owned()),
    })
}

/// `/api/admin/import/{kind}` → the service that keeps that kind of row,
/// and the kind (its private route is `/import/{kind}`).
pub fn import_kind(path: &str) -> Option<(Service, &'static str)> {
    let kind = path.trim_end_matches('/').strip_prefix("/api/admin/import/")?;
    IMPORT_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(k, service)| (*service, *k))
}

/// The kinds of rows the import moves, in the order it moves them (a
/// favourite, rating or comment names its user and movie; a reply its parent).
pub const IMPORT_KINDS: [(&str, Service); 6] = [
    ("users", Service::Users),
    ("movies", Service::Movies),
    ("favorites", Service::Favorites),
    ("ratings", Service::Ratings),
    ("comment-authors", Service::Comments),
    ("comments", Service::Comments),
];

/// Does a service's answer count against its circuit breaker? Only an
/// error the service did not choose: a 5xx, unless it is a 503 that names a
/// missing dependency (`dependency_named`: the service's
/// [`streamia_api::DEPENDENCY_HEADER`]) — a healthy service's deliberate
/// answer, as every 4xx is.
pub fn answer_failed(status: u16, dependency_named: bool) -> bool {
    status >= 500 && !(status == 503 && dependency_named)
}

/// `users,movies` → the services deployed with this gateway.
pub fn enabled_services(list: &str) -> Vec<Service> {
    list.split([',', ' '])
        .filter_map(|s| Service::parse(s.trim()))
        .collect()
}

/// Does a request with this `Content-Type` fit the route's body kind?
pub fn content_type_ok(kind: BodyKind, content_type: Option<&str>) -> bool {
    let media = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match kind {
        BodyKind::Json => media == "application/json",
        BodyKind::Upload => media == "multipart/form-data",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_routes_name_the_service_that_keeps_the_kind() {
        assert_eq!(
            import_kind("/api/admin/import/ratings"),
            Some((Service::Ratings, "ratings"))
        );
        assert_eq!(
            import_kind("/api/admin/import/comment-authors/"),
            Some((Service::Comments, "comment-authors"))
        );
        assert_eq!(import_kind("/api/admin/import/notifications"), None);
        assert_eq!(import_kind("/api/admin/imports/users"), None);
        for (kind, _) in IMPORT_KINDS {
            let path = format!("/api/admin/import/{kind}");
            assert!(
                crate::routes::template("POST", &path).is_some(),
                "{path} is in the route table"
            );
        }
    }

    #[test]
    fn event_admin_routes_name_the_service_and_its_private_path() {
        assert_eq!(event_admin("/api/admin/events/relay"), Some(Ok(EventAdmin::Relay)));
        assert_eq!(
            event_admin("/api/admin/events/favorites/dead-letters"),
            Some(Ok(EventAdmin::DeadLetters {
                service: Service::Favorites,
                path: "/dead-letters".into()
            }))
        );
        assert_eq!(
            event_admin("/api/admin/events/notifications/dead-letters/abc/replay"),
            Some(Ok(EventAdmin::DeadLetters {
                service: Service::Notifications,
                path: "/dead-letters/abc/replay".into()
            }))
        );
        assert!(matches!(
            event_admin("/api/admin/events/billing/dead-letters"),
            Some(Err(_))
        ));
        assert!(matches!(event_admin("/api/admin/events/favorites"), Some(Err(_))));
        assert_eq!(event_admin("/api/movies"), None);
        assert_eq!(resolve("GET", "/api/admin/events/relay"), None, "not a service route");
    }

    #[test]
    fn routes_go_to_their_service_with_the_right_access() {
        use Access::*;
        let cases = [
            ("POST", "/api/users/register", Some((Service::Users, Public))),
            ("POST", "/api/users/login", Some((Service::Users, Public))),
            ("POST", "/api/users/password/forgot", Some((Service::Users, Public))),
            ("GET", "/api/users/me", Some((Service::Users, Authenticated))),
            ("GET", "/api/users", Some((Service::Users, Authenticated))),
            ("GET", "/api/users/login", None),
            ("TRACE", "/api/movies", None),
            ("GET", "/api/movies", Some((Service::Movies, Public))),
            ("GET", "/api/movies/123", Some((Service::Movies, Public))),
            ("POST", "/api/movies", Some((Service::Movies, Authenticated))),
            ("POST", "/api/movies/cloudinary/notify", Some((Service::Movies, Public))),
            ("GET", "/api/ratings/movie/1/stats", Some((Service::Ratings, Public))),
            ("GET", "/api/ratings/1", Some((Service::Ratings, Authenticated))),
            ("GET", "/api/comments/movie/1", Some((Service::Comments, Public))),
            (
                "POST",
                "/api/comments/movie/1",
                Some((Service::Comments, Authenticated)),
            ),
            ("GET", "/api/comments/9/replies", Some((Service::Comments, Public))),
            ("GET", "/api/favorites", Some((Service::Favorites, Authenticated))),
            ("GET", "/api/nothing", None),
            ("POST", "/api/notifications/events", None),
            ("GET", "/users", None),
            ("GET", "/", None),
        ];
        for (method, path, want) in cases {
            let got = resolve(method, path).map(|r| (r.service, r.access));
            assert_eq!(got, want, "{method} {path}");
        }
    }

    #[test]
    fn each_route_group_of_a_service_has_its_own_breaker() {
        let breaker = |method: &str, path: &str| resolve(method, path).unwrap().breaker();
        assert_eq!(breaker("GET", "/api/movies"), "movies.catalogue");
        assert_eq!(breaker("GET", "/api/movies/1"), "movies.catalogue");
        assert_eq!(breaker("POST", "/api/movies/cloudinary/notify"), "movies.media");
        assert_eq!(breaker("POST", "/api/movies/1/poster"), "movies.media");
        assert_eq!(breaker("PATCH", "/api/movies/1"), "movies.curation");
        assert_eq!(breaker("POST", "/api/users/login"), "users.sign-in");
        assert_eq!(breaker("GET", "/api/users/me"), "users.account");
        assert_eq!(breaker("GET", "/api/ratings/movie/1/stats"), "ratings.stats");
        assert_eq!(breaker("POST", "/api/ratings/1"), "ratings.writes");
        let all = breakers();
        assert!(all.contains(&(Service::Movies, "media")) && all.contains(&(Service::Comments, "threads")));
        assert!(
            all.iter()
                .all(|(_, g)| *g != routes::GATEWAY && *g != routes::OPERATIONS),
            "{all:?}"
        );
        let unique: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "each breaker once");
    }

    #[test]
    fn uploads_get_a_larger_limit_and_multipart() {
        let r = resolve("POST", "/api/movies/1/poster").unwrap();
        assert_eq!(r.body, BodyKind::Upload);
        assert!(r.body.limit() > JSON_BODY_LIMIT);
        assert!(content_type_ok(
            BodyKind::Upload,
            Some("multipart/form-data; boundary=x")
        ));
        assert!(!content_type_ok(BodyKind::Upload, Some("application/json")));
        assert!(content_type_ok(BodyKind::Json, Some("Application/JSON; charset=utf-8")));
        assert!(!content_type_ok(BodyKind::Json, Some("text/plain")));
        assert!(!content_type_ok(BodyKind::Json, None));
    }

    #[test]
    fn only_errors_a_service_did_not_choose_count_as_failures() {
        let cases = [
            (200, false, false),
            (404, false, false),
            (429, false, false),
            (500, false, true),
            (502, false, true),
            (503, false, true),
            (503, true, false),
            (500, true, true),
        ];
        for (status, dependency_named, failed) in cases {
            assert_eq!(
                answer_failed(status, dependency_named),
                failed,
                "{status} {dependency_named}"
            );
        }
    }

    #[test]
    fn enabled_services_parse() {
        assert_eq!(
            enabled_services("users, movies,bogus"),
            vec![Service::Users, Service::Movies]
        );
        assert!(enabled_services("").is_empty());
    }
}

//! CORS from the `cors_origins` variable: exact origins, comma-separated,
//! or `*` for any (never with credentials).

pub struct Cors {
    origins: Vec<String>,
    any: bool,
}

pub const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
pub const ALLOWED_HEADERS: &str = "authorization, content-type, x-request-id";
pub const EXPOSED_HEADERS: &str =
    "x-request-id, x-trace-id, x-cache, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset";
pub const MAX_AGE_SECS: u32 = 600;

#[derive(Debug, PartialEq)]
pub enum Preflight {
    /// Answer 204 with these headers.
    Allowed(Vec<(&'static str, String)>),
    /// The origin or the requested method is not allowed.
    Refused,
}

impl Cors {
    pub fn new(list: &str) -> Self {
        let origins: Vec<String> = list
            .split([',', ' '])
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        Cors {
            any: origins.iter().any(|o| o == "*"),
            origins,
        }
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.any || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// Headers for an ordinary response to a request from `origin`.
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        match origin {
            Some(o) if self.allows(o) => vec![
                (
                    "access-control-allow-origin",
                    if self.any { "*".to_owned() } else { o.to_owned() },
                ),
                ("access-control-expose-headers", EXPOSED_HEADERS.to_owned()),
                ("vary", "origin".to_owned()),
            ],
            _ => Self::no_origin(),
        }
    }

    /// Headers for a response to a request without an Origin: only the cache hint.
    pub fn no_origin() -> Vec<(&'static str, String)> {
        vec![("vary", "origin".to_owned())]
    }

    pub fn preflight(&self, origin: Option<&str>, method: Option<&str>) -> Preflight {
        let (Some(origin), Some(method)) = (origin, method) else {
            return Preflight::Refused;
        };
        if !self.allows(origin)
            || !ALLOWED_METHODS
                .split(", ")
                .any(|m| m.eq_ignore_ascii_case(method.trim()))
        {
            return Preflight::Refused;
        }
        let mut headers = self.response_headers(Some(origin));
        headers.push(("access-control-allow-methods", ALLOWED_METHODS.to_owned()));
        headers.push(("access-control-allow-headers", ALLOWED_HEADERS.to_owned()));
        headers.push(("access-control-max-age", MAX_AGE_SECS.to_string()));
        Preflight::Allowed(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_get_cors_headers() {
        let cors = Cors::new("http://localhost:5173, https://streamia.example/");
        assert!(cors.allows("https://streamia.example"));
        assert!(!cors.allows("https://evil.example"));
        let h = cors.response_headers(Some("http://localhost:5173"));
        assert!(h.contains(&("access-control-allow-origin", "http://localhost:5173".to_owned())));
        assert!(!cors
            .response_headers(Some("https://evil.example"))
            .iter()
            .any(|(k, _)| *k == "access-control-allow-origin"));
    }

    #[test]
    fn preflight_checks_origin_and_method() {
        let cors = Cors::new("http://localhost:5173");
        assert!(matches!(
            cors.preflight(Some("http://localhost:5173"), Some("PATCH")),
            Preflight::Allowed(_)
        ));
        assert_eq!(
            cors.preflight(Some("http://localhost:5173"), Some("TRACE")),
            Preflight::Refused
        );
        assert_eq!(
            cors.preflight(Some("https://evil.example"), Some("GET")),
            Preflight::Refused
        );
        assert_eq!(cors.preflight(None, Some("GET")), Preflight::Refused);
    }

    #[test]
    fn a_wildcard_allows_any_origin() {
        let cors = Cors::new("*");
        assert!(cors.allows("https://anything.example"));
        assert!(cors
            .response_headers(Some("https://a.example"))
            .contains(&("access-control-allow-origin", "*".to_owned())));
    }
}

//! How a request goes to its service and how the answer comes back: the
//! body checks made before anything is forwarded, the service's URL, the
//! headers that cross in each direction, and the 503s the gateway answers
//! for a service that cannot.

use streamia_api::ApiError;

use crate::{content_type_ok, BodyKind, Route, Service};

/// The request headers a service sees. `X-Cld-*`: Cloudinary's
/// notification signature, checked by the movies service.
pub const FORWARDED_HEADERS: [&str; 7] = [
    "authorization",
    "content-type",
    "accept",
    "traceparent",
    "tracestate",
    "x-cld-timestamp",
    "x-cld-signature",
];

/// The response headers a client sees of a service's answer; the rest
/// (the dependency marker, anything a service adds for the gateway) stays.
pub const PASSED_BACK_HEADERS: [&str; 9] = [
    "content-type",
    "retry-after",
    "www-authenticate",
    "location",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-cache",
    "x-trace-id",
];

/// Size and type, checked before the service sees anything: 413 over the
/// route's limit (declared or sent), 415 for a body of another type.
pub fn check_body(
    route: Route,
    content_length: Option<&str>,
    body_len: usize,
    content_type: Option<&str>,
) -> Result<(), ApiError> {
    let limit = route.body.limit();
    let declared = content_length.and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    if declared > limit || body_len > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let has_body = body_len > 0 || declared > 0;
    if has_body && !content_type_ok(route.body, content_type) {
        return Err(ApiError::UnsupportedMediaType {
            expected: route.body.media_type(),
        });
    }
    Ok(())
}

/// `base` + `path`, with the query when there is one.
pub fn url(base: &str, path: &str, query: &str) -> String {
    match query {
        "" => format!("{base}{path}"),
        query => format!("{base}{path}?{query}"),
    }
}

/// The client's address for `X-Forwarded-For`: Spin's `ip:port` without the port.
pub fn forwarded_for(client_addr: &str) -> &str {
    client_addr.rsplit_once(':').map_or(client_addr, |(ip, _)| ip)
}

/// How long a call on `route` may take: an upload waits on the movies
/// service's call to Cloudinary.
pub fn timeout_ms(route: Route, json_ms: u64, upload_ms: u64) -> u64 {
    match route.body {
        BodyKind::Json => json_ms,
        BodyKind::Upload => upload_ms,
    }
}

/// 503 `service_unavailable`: "the movies service <why>".
pub fn unavailable(service: Service, why: &str) -> ApiError {
    ApiError::Unavailable {
        code: "service_unavailable",
        message: format!("the {} service {why}", service.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{resolve, JSON_BODY_LIMIT};

    #[test]
    fn bodies_are_refused_by_size_even_when_only_declared_and_by_type_when_present() {
        let rating = resolve("POST", "/api/ratings/m1").unwrap();
        let json = Some("application/json; charset=utf-8");
        assert!(check_body(rating, Some("12"), 12, json).is_ok());
        let declared = (JSON_BODY_LIMIT + 1).to_string();
        assert!(matches!(
            check_body(rating, Some(&declared), 0, json),
            Err(ApiError::PayloadTooLarge { limit: JSON_BODY_LIMIT })
        ));
        assert!(matches!(
            check_body(rating, None, 3, Some("text/plain")),
            Err(ApiError::UnsupportedMediaType {
                expected: "application/json"
            })
        ));
        assert!(check_body(rating, None, 0, None).is_ok(), "no body, no type needed");
        let poster = resolve("POST", "/api/movies/m1/poster").unwrap();
        assert!(check_body(
            poster,
            Some("2000000"),
            2_000_000,
            Some("multipart/form-data; boundary=x")
        )
        .is_ok());
        assert!(check_body(poster, None, 10, json).is_err());
        assert_eq!(timeout_ms(poster, 3_000, 30_000), 30_000);
        assert_eq!(timeout_ms(rating, 3_000, 30_000), 3_000);
    }

    #[test]
    fn urls_keep_the_query_and_the_forwarded_address_loses_the_port() {
        assert_eq!(
            url("http://movies.spin.internal", "/api/movies", ""),
            "http://movies.spin.internal/api/movies"
        );
        assert_eq!(
            url("http://m", "/api/movies", "page=2&limit=5"),
            "http://m/api/movies?page=2&limit=5"
        );
        assert_eq!(forwarded_for("10.1.2.3:5400"), "10.1.2.3");
        assert_eq!(forwarded_for("[::1]:80"), "[::1]");
        assert_eq!(forwarded_for("unknown"), "unknown");
    }

    #[test]
    fn only_the_headers_meant_for_each_side_cross() {
        assert!(!PASSED_BACK_HEADERS.contains(&streamia_api::DEPENDENCY_HEADER));
        assert!(!PASSED_BACK_HEADERS.contains(&"set-cookie"));
        assert!(!FORWARDED_HEADERS.contains(&"cookie"));
        assert!(FORWARDED_HEADERS.contains(&"traceparent"));
        let e = unavailable(Service::Movies, "is not deployed");
        assert_eq!(e.to_string(), "the movies service is not deployed");
    }
}

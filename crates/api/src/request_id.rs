//! `X-Request-Id`: kept when the caller sent a sane one, made up otherwise.

use spin_sdk::http::Request;

pub const HEADER: &str = "x-request-id";

/// Accept ids of up to 128 characters from `[A-Za-z0-9._:-]`, so a client
/// cannot inject log lines or huge headers through them.
pub fn is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
}

pub fn from_request(req: &Request) -> String {
    match req.header(HEADER).and_then(|v| v.as_str()) {
        Some(id) if is_valid(id) => id.to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// The response header that names the request's trace (Spin's when it
/// traces): the gateway logs it and a client can look the trace up.
pub const TRACE_HEADER: &str = "x-trace-id";

/// The request's W3C `traceparent`, when well formed.
pub fn traceparent(req: &Request) -> Option<&str> {
    let traceparent = req.header("traceparent").and_then(|v| v.as_str())?;
    streamia_events::trace_id_of(traceparent).map(|_| traceparent)
}

/// The trace id of the request's W3C `traceparent` (`00-<32 hex>-<span>-<flags>`),
/// for log lines; `None` without a well-formed one.
pub fn trace_id(req: &Request) -> Option<String> {
    traceparent(req)
        .and_then(streamia_events::trace_id_of)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_ids_are_kept() {
        assert!(is_valid("abc-123_x.y:z"));
        assert!(!is_valid(""));
        assert!(!is_valid("a b"));
        assert!(!is_valid("line\nbreak"));
        assert!(!is_valid(&"a".repeat(129)));
    }
}

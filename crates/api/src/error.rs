//! The one error type of every handler, and its JSON shape:
//! `{"error":{"code","message","details":[{"field","message"}],"requestId"}}`.

use serde::Serialize;
use spin_sdk::http::Response;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Collects every field's problem, so one 400 lists them all.
#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Validator::default()
    }

    /// The value if it parsed; the error is kept for [`Validator::finish`].
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.errors.push(e)).ok()
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// Each variant names its status. Internal causes are logged, never sent.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `validation_failed`, one detail per bad field.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 400 with a specific code (`invalid_json`, `invalid_query`, …).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401 `unauthorized`: no token, or one that is invalid or expired.
    #[error("{0}")]
    Unauthorized(String),
    /// 401 `invalid_credentials`: login failed (the same for every cause).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// 403 `forbidden`.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `account_suspended`: an admin suspended the account (sign-in,
    /// renewal and profile changes are refused until it is reactivated).
    #[error("this account is suspended; an admin can reactivate it")]
    AccountSuspended,
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 405 `method_not_allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `conflict`.
    #[error("{0}")]
    Conflict(String),
    /// 413 `payload_too_large`.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415 `unsupported_media_type`: the route takes `expected`.
    #[error("this route takes {expected}")]
    UnsupportedMediaType { expected: &'static str },
    /// 422 with a domain code.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 429 `rate_limited`, with `Retry-After`.
    #[error("too many requests; retry after {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    /// 503 with a code (`service_unavailable`, `misconfigured`, …): this
    /// service cannot serve.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// 503 with a code (`media_not_configured`, `media_unavailable`, …): a
    /// dependency of a healthy service (`dependency`: Cloudinary, the movies
    /// service) is not configured or not answering. Sent with
    /// [`DEPENDENCY_HEADER`], so that the gateway does not count the answer
    /// against the service's circuit breaker (and drops the header).
    #[error("{message}")]
    DependencyUnavailable {
        dependency: &'static str,
        code: &'static str,
        message: String,
        /// `Retry-After`, when the service knows (its own breaker is open).
        retry_after: Option<u64>,
    },
    /// 503 `busy`, with `Retry-After`: the database stayed locked by other writers.
    #[error("the service is busy; retry shortly")]
    Busy,
    /// 500 `internal_error`; the cause goes to the log only.
    #[error("internal error")]
    Internal(String),
}

/// Names the dependency behind a [`ApiError::DependencyUnavailable`] 503:
/// between a service and the gateway only.
pub const DEPENDENCY_HEADER: &str = "streamia-dependency";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Inner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a [FieldError]>,
    request_id: &'a str,
}

/// Database failures are internal: logged with the request id, never shown.
/// A database still locked after its busy timeout is a 503 the client may
/// retry (`Retry-After`), not a failure of the request.
/// A setting missing or unreadable: this service cannot serve until it is set.
impl From<streamia_settings::Misconfigured> for ApiError {
    fn from(e: streamia_settings::Misconfigured) -> Self {
        ApiError::Unavailable {
            code: "misconfigured",
            message: e.to_string(),
        }
    }
}

impl From<streamia_db::DbError> for ApiError {
    fn from(e: streamia_db::DbError) -> Self {
        match e {
            streamia_db::DbError::Busy(cause) => {
                streamia_log::warn(
                    streamia_log::component(),
                    "database busy",
                    streamia_log::because(&cause),
                );
                ApiError::Busy
            }
            behind @ streamia_db::DbError::SchemaBehind { .. } => {
                streamia_log::warn(
                    streamia_log::component(),
                    "schema behind",
                    streamia_log::because(&behind),
                );
                ApiError::Unavailable {
                    code: "schema_outdated",
                    message: "the service is waiting for this release's database migration".into(),
                }
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// An event a consumer cannot read is the sender's fault (400); a failed
/// effect is whatever the effect says.
impl<E: Into<ApiError>> From<streamia_events::consumer::ConsumeError<E>> for ApiError {
    fn from(e: streamia_events::consumer::ConsumeError<E>) -> Self {
        use streamia_events::consumer::ConsumeError;
        match e {
            ConsumeError::BadData(message) => ApiError::BadRequest {
                code: "invalid_event",
                message,
            },
            ConsumeError::Db(e) => e.into(),
            ConsumeError::Apply(e) => e.into(),
        }
    }
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// 401 for a valid token whose account was deleted since it was issued.
    pub fn account_gone() -> Self {
        ApiError::Unauthorized("account no longer exists".into())
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest { .. } => 400,
            ApiError::Unauthorized(_) | ApiError::InvalidCredentials => 401,
            ApiError::Forbidden(_) | ApiError::AccountSuspended => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::Unprocessable { .. } => 422,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Unavailable { .. } | ApiError::DependencyUnavailable { .. } | ApiError::Busy => 503,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::AccountSuspended => "account_suspended",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::Unavailable { code, .. } => code,
            ApiError::DependencyUnavailable { code, .. } => code,
            ApiError::Busy => "busy",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The JSON error response. 5xx causes are written to the log (stderr,
    /// tagged with the request id) and replaced by a generic message.
    pub fn to_response(&self, request_id: &str) -> Response {
        let message = match self {
            ApiError::Internal(cause) => {
                streamia_log::error(
                    streamia_log::component(),
                    "internal error",
                    streamia_log::json!({"requestId": request_id, "error": cause}),
                );
                "something went wrong; the request id identifies it in the logs".to_owned()
            }
            ApiError::Validation(details) => details
                .iter()
                .map(|d| format!("{}: {}", d.field, d.message))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        let details = match self {
            ApiError::Validation(d) => Some(d.as_slice()),
            _ => None,
        };
        let body = Body {
            error: Inner {
                code: self.code(),
                message,
                details,
                request_id,
            },
        };
        let mut resp = crate::json_response(self.status(), &body, request_id);
        match self {
            ApiError::TooManyRequests { retry_after } => {
                resp.set_header("retry-after", retry_after.to_string());
            }
            ApiError::Busy => {
                resp.set_header("retry-after", "1");
            }
            ApiError::DependencyUnavailable {
                dependency,
                retry_after,
                ..
            } => {
                resp.set_header(DEPENDENCY_HEADER, *dependency);
                if let Some(seconds) = retry_after {
                    resp.set_header("retry-after", seconds.to_string());
                }
            }
            ApiError::Unauthorized(_) | ApiError::InvalidCredentials => {
                resp.set_header("www-authenticate", "Bearer");
            }
            _ => {}
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(e: &ApiError) -> serde_json::Value {
        serde_json::from_slice(e.to_response("req-1").body()).unwrap()
    }

    #[test]
    fn errors_have_the_spec_shape() {
        let e = ApiError::Validation(vec![FieldError::new("email", "is not an e-mail address")]);
        assert_eq!(e.status(), 400);
        assert_eq!(
            body(&e),
            serde_json::json!({"error":{"code":"validation_failed","message":"email: is not an e-mail address",
                "details":[{"field":"email","message":"is not an e-mail address"}],"requestId":"req-1"}})
        );
    }

    #[test]
    fn internal_causes_never_reach_the_client() {
        let e = ApiError::internal("SELECT * FROM users_accounts failed: disk I/O error");
        let text = String::from_utf8(e.to_response("r").body().to_vec()).unwrap();
        assert_eq!(e.status(), 500);
        assert!(!text.contains("SELECT") && !text.contains("disk"), "{text}");
    }

    #[test]
    fn rate_limits_say_when_to_retry() {
        let resp = ApiError::TooManyRequests { retry_after: 7 }.to_response("r");
        assert_eq!(*resp.status(), 429);
        assert_eq!(resp.header("retry-after").and_then(|v| v.as_str()), Some("7"));
    }

    #[test]
    fn a_missing_dependency_is_a_503_that_names_it_for_the_gateway() {
        let e = ApiError::DependencyUnavailable {
            dependency: "cloudinary",
            code: "media_unavailable",
            message: "the media store is failing".into(),
            retry_after: Some(12),
        };
        let resp = e.to_response("r");
        assert_eq!((*resp.status(), e.code()), (503, "media_unavailable"));
        assert_eq!(
            resp.header(DEPENDENCY_HEADER).and_then(|v| v.as_str()),
            Some("cloudinary")
        );
        assert_eq!(resp.header("retry-after").and_then(|v| v.as_str()), Some("12"));
        let plain = ApiError::Unavailable {
            code: "service_unavailable",
            message: "down".into(),
        };
        assert!(plain.to_response("r").header(DEPENDENCY_HEADER).is_none());
    }

    #[test]
    fn a_locked_database_is_a_retryable_503_without_sql() {
        let locked = streamia_db::DbError::from_message("INSERT INTO ratings_scores …: database is locked".into());
        let e = ApiError::from(locked);
        let resp = e.to_response("r");
        assert_eq!((*resp.status(), e.code()), (503, "busy"));
        assert_eq!(resp.header("retry-after").and_then(|v| v.as_str()), Some("1"));
        let text = String::from_utf8(resp.body().to_vec()).unwrap();
        assert!(!text.contains("INSERT") && !text.contains("locked"), "{text}");
        let other = ApiError::from(streamia_db::DbError::from_message("no such table: x".into()));
        assert_eq!(other.status(), 500);
    }
}

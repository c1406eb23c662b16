//! Calls to the services, within the upstream deadline.

use spin_sdk::http::Request;
pub use streamia_spin::deadline::Reply;

/// Does this call count against the service's circuit breaker?
pub fn failed(reply: &Reply) -> bool {
    match reply {
        Reply::Answered(resp) => {
            streamia_gateway::answer_failed(*resp.status(), resp.header(streamia_api::DEPENDENCY_HEADER).is_some())
        }
        Reply::Unreachable(_) | Reply::TimedOut => true,
    }
}

/// Sends `req`, giving up after `timeout_ms`. A service on a route of this
/// same app (spin.cloud.toml) is public: it is sent the internal token.
pub async fn send(mut req: Request, timeout_ms: u64) -> Reply {
    streamia_events::internal::sign(&mut req);
    streamia_spin::deadline::send(req, timeout_ms).await
}

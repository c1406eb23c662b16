//! Calls between Streamia's components over a route of their own app: a
//! URL that is only a path (`/internal/users`). Spin sends it to the app's
//! own public address: it is how the components reach each other where
//! there is no service chaining (Fermyon Cloud, spin.cloud.toml). The route
//! it reaches is then public too, so the caller sends the deployment's
//! internal token and the service refuses whoever does not.

use streamia_settings::Settings;

/// The header that carries the internal token.
pub const HEADER: &str = "x-streamia-internal-token";

/// A URL of a route of this same app (Spin's self request).
pub fn is_same_app(url: &str) -> bool {
    url.starts_with('/')
}

/// The `internal_token` secret variable; `None` when unset or empty.
/// Read only for a call that needs it: elsewhere it is a host call saved.
pub fn token() -> Option<String> {
    Settings::spin("this component")
        .optional("internal_token")
        .filter(|token| !token.is_empty())
}

/// Give `req` the internal token when it goes to a route of this same app
/// (every call between components goes through here).
pub fn sign(req: &mut spin_sdk::http::Request) {
    if is_same_app(req.uri()) {
        if let Some(token) = token() {
            req.set_header(HEADER, token);
        }
    }
}

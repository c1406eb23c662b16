//! The gateway's configuration: its settings (Spin variables in the
//! component, a map in tests), each read on first use and kept for the
//! request. A catalogue cache hit reads none, another anonymous request two
//! (the service's URL and the enabled list), a browser's a third (the CORS
//! origins), an authenticated request the signing key as well: on Spin
//! every variable read is a host call.

use std::cell::OnceCell;

use streamia_api::{ApiError, Settings};
use streamia_auth::JwtKeys;

use crate::breaker::BreakerConfig;
use crate::limits::{Limit, Scope};
use crate::{enabled_services, Cors, Service};

pub struct Config<'a> {
    settings: Settings<'a>,
    keys: OnceCell<JwtKeys>,
    cors: OnceCell<Cors>,
    enabled: OnceCell<Vec<Service>>,
    breaker: OnceCell<Option<BreakerConfig>>,
    metrics: OnceCell<bool>,
}

/// `cell`'s value, made by `make` the first time.
fn once<T>(cell: &OnceCell<T>, make: impl FnOnce() -> Result<T, ApiError>) -> Result<&T, ApiError> {
    if let Some(value) = cell.get() {
        return Ok(value);
    }
    let value = make()?;
    Ok(cell.get_or_init(|| value))
}

impl<'a> Config<'a> {
    pub fn new(settings: Settings<'a>) -> Self {
        Config {
            settings,
            keys: OnceCell::new(),
            cors: OnceCell::new(),
            enabled: OnceCell::new(),
            breaker: OnceCell::new(),
            metrics: OnceCell::new(),
        }
    }

    /// The keys that sign and check access tokens (`jwt_secret`).
    pub fn keys(&self) -> Result<&JwtKeys, ApiError> {
        once(&self.keys, || Ok(self.settings.parsed("jwt_secret", JwtKeys::new)?))
    }

    pub fn cors(&self) -> Result<&Cors, ApiError> {
        once(&self.cors, || Ok(Cors::new(&self.settings.text("cors_origins")?)))
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<T, ApiError> {
        Ok(self.settings.number(name)?)
    }

    /// A secret that may be left empty (`relay_token`, `metrics_token`):
    /// `None` when it is unset or empty.
    pub fn secret(&self, name: &str) -> Option<String> {
        self.settings.optional(name).filter(|s| !s.is_empty())
    }

    /// The limit for `scope` (`rate_limit_*`); `None` when it is off.
    pub fn limit(&self, scope: Scope) -> Result<Option<Limit>, ApiError> {
        let name = match scope {
            Scope::Anonymous => "rate_limit_anonymous",
            Scope::User => "rate_limit_user",
            Scope::Auth => "rate_limit_auth",
            Scope::Account => "rate_limit_login_failures",
        };
        Ok(self.settings.parsed(name, Limit::parse)?)
    }

    /// How long a service call may take (`upstream_timeout_ms`).
    pub fn timeout_ms(&self) -> Result<u64, ApiError> {
        self.number("upstream_timeout_ms")
    }

    /// How long an upload may take (`upload_timeout_ms`): it waits on the
    /// movies service's call to Cloudinary.
    pub fn upload_timeout_ms(&self) -> Result<u64, ApiError> {
        self.number("upload_timeout_ms")
    }

    /// How many proxies in front of the app add to `X-Forwarded-For`.
    pub fn trusted_proxy_hops(&self) -> Result<usize, ApiError> {
        self.number("trusted_proxy_hops")
    }

    /// The breakers' figures; `None` when `breaker = "off"`.
    pub fn breaker(&self) -> Result<Option<&BreakerConfig>, ApiError> {
        once(&self.breaker, || {
            if !self.settings.switch("breaker")? {
                return Ok(None);
            }
            Ok(Some(BreakerConfig {
                failure_percent: self.number("breaker_failure_percent")?,
                min_calls: self.number("breaker_min_calls")?,
                window_ms: self.number::<u64>("breaker_window_s")? * 1000,
                open_ms: self.number::<u64>("breaker_open_s")? * 1000,
                probe_ms: self.timeout_ms()? + 1000,
            }))
        })
        .map(Option::as_ref)
    }

    pub fn metrics_on(&self) -> Result<bool, ApiError> {
        once(&self.metrics, || Ok(self.settings.switch("metrics")?)).copied()
    }

    /// The services deployed with this gateway (`enabled_services`).
    pub fn enabled(&self) -> Result<&[Service], ApiError> {
        once(&self.enabled, || {
            Ok(enabled_services(&self.settings.text("enabled_services")?))
        })
        .map(Vec::as_slice)
    }

    /// The base URL of an enabled service (`<service>_url`); `None` when it is not deployed.
    pub fn url(&self, service: Service) -> Result<Option<String>, ApiError> {
        if !self.enabled()?.contains(&service) {
            return Ok(None);
        }
        let url = self.settings.text(&format!("{}_url", service.name()))?;
        let url = url.trim_end_matches('/');
        Ok((!url.is_empty()).then(|| url.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn message(e: ApiError) -> String {
        match e {
            ApiError::Unavailable { code, message } => format!("{code}: {message}"),
            other => panic!("not a 503: {other:?}"),
        }
    }

    #[test]
    fn services_are_reached_only_when_enabled_and_at_their_url_without_a_trailing_slash() {
        let source = HashMap::from([
            ("enabled_services", "users, movies"),
            ("users_url", "http://users.spin.internal/"),
            ("movies_url", ""),
        ]);
        let config = Config::new(Settings::new("the gateway", &source));
        assert_eq!(config.enabled().unwrap(), [Service::Users, Service::Movies]);
        assert_eq!(
            config.url(Service::Users).unwrap().as_deref(),
            Some("http://users.spin.internal")
        );
        assert_eq!(config.url(Service::Movies).unwrap(), None, "an empty URL: not deployed");
        assert_eq!(
            config.url(Service::Ratings).unwrap(),
            None,
            "not enabled: its URL is never read"
        );
    }

    #[test]
    fn breakers_off_read_no_figures_and_on_they_all_must_be_numbers() {
        let off = HashMap::from([("breaker", "off")]);
        assert!(Config::new(Settings::new("the gateway", &off))
            .breaker()
            .unwrap()
            .is_none());
        let on = HashMap::from([
            ("breaker", "on"),
            ("breaker_failure_percent", "50"),
            ("breaker_min_calls", "ten"),
        ]);
        assert_eq!(
            message(Config::new(Settings::new("the gateway", &on)).breaker().unwrap_err()),
            "misconfigured: the gateway is misconfigured (breaker_min_calls: \"ten\" is not a number)"
        );
        let whole = HashMap::from([
            ("breaker", "on"),
            ("breaker_failure_percent", "50"),
            ("breaker_min_calls", "10"),
            ("breaker_window_s", "30"),
            ("breaker_open_s", "15"),
            ("upstream_timeout_ms", "3000"),
        ]);
        let config = Config::new(Settings::new("the gateway", &whole));
        let breaker = config.breaker().unwrap().unwrap();
        assert_eq!(
            (breaker.window_ms, breaker.open_ms, breaker.probe_ms),
            (30_000, 15_000, 4_000)
        );
    }

    #[test]
    fn limits_name_the_variable_that_is_wrong_and_empty_secrets_are_none() {
        let source = HashMap::from([
            ("rate_limit_anonymous", "off"),
            ("rate_limit_user", "lots"),
            ("metrics_token", ""),
            ("relay_token", "s3cret"),
        ]);
        let config = Config::new(Settings::new("the gateway", &source));
        assert_eq!(config.limit(Scope::Anonymous).unwrap(), None);
        assert!(message(config.limit(Scope::User).unwrap_err())
            .starts_with("misconfigured: the gateway is misconfigured (rate_limit_user: "));
        assert_eq!(config.secret("metrics_token"), None);
        assert_eq!(config.secret("relay_token").as_deref(), Some("s3cret"));
        assert_eq!(config.secret("internal_token"), None);
    }

    #[test]
    fn a_bad_signing_key_is_misconfiguration_not_a_panic() {
        let source = HashMap::from([("jwt_secret", "short")]);
        let config = Config::new(Settings::new("the gateway", &source));
        assert!(message(config.keys().err().unwrap()).contains("(jwt_secret: "));
    }
}

//! `allowed_outbound_hosts`: `<scheme>://<host>[:<port>]`, each part may be
//! `*`, hosts may be `*.domain`, ports may be ranges (`8000..8100`); a missing
//! port means the scheme's well-known one. Templates are rendered first.

use anyhow::{bail, Context, Result};

use crate::variables::Variables;

pub const SERVICE_CHAINING_SUFFIX: &str = ".spin.internal";

#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Vec<AllowedHost>);

#[derive(Debug, Clone, PartialEq)]
struct AllowedHost {
    scheme: Option<String>,
    host: HostRule,
    port: PortRule,
}

#[derive(Debug, Clone, PartialEq)]
enum HostRule {
    Any,
    /// `*.example.com` → `.example.com`
    Subdomain(String),
    Exact(String),
    /// `self`: relative URLs back into this app.
    ToSelf,
}

#[derive(Debug, Clone, PartialEq)]
enum PortRule {
    Any,
    Port(u16),
    Range(u16, u16),
}

pub fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "redis" => Some(6379),
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "mqtt" => Some(1883),
        _ => None,
    }
}

impl AllowedHosts {
    pub fn parse(entries: &[String], vars: &Variables) -> Result<Self> {
        let mut hosts = Vec::new();
        for entry in entries {
            let rendered = vars
                .render(entry)
                .with_context(|| format!("allowed_outbound_hosts entry {entry:?}"))?;
            hosts.push(
                AllowedHost::parse(&rendered).with_context(|| format!("allowed_outbound_hosts entry {entry:?}"))?,
            );
        }
        Ok(AllowedHosts(hosts))
    }

    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let port = port.or_else(|| well_known_port(scheme));
        self.0
            .iter()
            .any(|h| h.scheme.as_deref().is_none_or(|s| s == scheme) && h.host.allows(host) && h.port.allows(port))
    }

    pub fn allows_url(&self, url: &str) -> bool {
        match url::Url::parse(url) {
            Ok(u) => match u.host_str() {
                Some(host) => self.allows(u.scheme(), host, u.port()),
                None => false,
            },
            Err(_) => false,
        }
    }
}

impl AllowedHost {
    fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let Some((scheme, rest)) = text.split_once("://") else {
            bail!("{text:?} does not contain a scheme (e.g. 'http://' or '*://')");
        };
        let scheme = match scheme {
            "*" => None,
            s if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) => Some(s.to_owned()),
            s => bail!("scheme {s:?} is not valid"),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            bail!("{text:?} has a path but is not allowed to");
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let host = match host {
            "*" => HostRule::Any,
            "self" | "self.alt" => HostRule::ToSelf,
            h if h.starts_with("*.") && !h[2..].contains('*') => HostRule::Subdomain(h[1..].to_owned()),
            h if h.contains('*') => {
                bail!("wildcards are allowed only as a whole host or a subdomain prefix: {h:?}")
            }
            "" => bail!("{text:?} has no host"),
            h => HostRule::Exact(h.to_ascii_lowercase()),
        };
        let port = match port {
            None => match scheme.as_deref().and_then(well_known_port) {
                Some(p) => PortRule::Port(p),
                None => bail!("no port was given and the scheme has no well-known port: {text:?}"),
            },
            Some("*") => PortRule::Any,
            Some(p) => match p.split_once("..") {
                Some((a, b)) => PortRule::Range(
                    a.parse().with_context(|| format!("port range {p:?}"))?,
                    b.parse().with_context(|| format!("port range {p:?}"))?,
                ),
                None => PortRule::Port(p.parse().with_context(|| format!("port {p:?} is not a number"))?),
            },
        };
        Ok(AllowedHost { scheme, host, port })
    }
}

impl HostRule {
    fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match self {
            HostRule::Any => true,
            HostRule::Subdomain(suffix) => host.ends_with(suffix.as_str()),
            HostRule::Exact(h) => *h == host,
            HostRule::ToSelf => false,
        }
    }
}

impl PortRule {
    /// `None`: a scheme without a well-known port and none given.
    fn allows(&self, port: Option<u16>) -> bool {
        match (self, port) {
            (PortRule::Any, _) => true,
            (_, None) => false,
            (PortRule::Port(p), Some(port)) => *p == port,
            // Spin's ranges are half-open, like Rust's `a..b`.
            (PortRule::Range(a, b), Some(port)) => (*a..*b).contains(&port),
        }
    }
}

/// `http://movies.spin.internal/x` → `movies`.
pub fn service_chaining_target(host: &str) -> Option<&str> {
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let (first, rest) = host.split_once('.')?;
    (format!(".{rest}") == SERVICE_CHAINING_SUFFIX).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        AllowedHosts::parse(&entries, &Variables::default()).unwrap()
    }

    #[test]
    fn scheme_host_and_port_must_all_match() {
        let h = hosts(&["https://api.example.com", "http://localhost:3000"]);
        let cases = [
            ("https://api.example.com/v1", true),
            ("https://api.example.com:443/v1", true),
            ("http://api.example.com/v1", false),
            ("https://api.example.com:8443/", false),
            ("https://other.example.com/", false),
            ("http://localhost:3000/x", true),
            ("http://localhost:3001/x", false),
            ("http://localhost/x", false),
        ];
        for (url, want) in cases {
            assert_eq!(h.allows_url(url), want, "{url}");
        }
    }

    #[test]
    fn wildcards_and_ranges() {
        let h = hosts(&["http://*.spin.internal", "*://cdn.test:*", "https://*:8000..8002"]);
        let cases = [
            ("http://movies.spin.internal/api", true),
            ("https://movies.spin.internal/api", false),
            ("ftp://cdn.test:21/", true),
            ("https://anything:8001/", true),
            ("https://anything:8002/", false),
        ];
        for (url, want) in cases {
            assert_eq!(h.allows_url(url), want, "{url}");
        }
    }

    #[test]
    fn empty_list_refuses_everything() {
        assert!(!hosts(&[]).allows_url("https://example.com/"));
    }

    #[test]
    fn templates_are_rendered_from_variables() {
        let mut decls = std::collections::BTreeMap::new();
        decls.insert(
            "base".to_string(),
            crate::manifest::VariableDecl {
                default: Some("http://127.0.0.1:4010".into()),
                ..Default::default()
            },
        );
        let vars = Variables::resolve(&decls, |_| None).unwrap();
        let h = AllowedHosts::parse(&["{{ base }}".to_string()], &vars).unwrap();
        assert!(h.allows_url("http://127.0.0.1:4010/v1_1/demo/image/upload"));
        assert!(!h.allows_url("http://127.0.0.1:4011/"));
    }

    #[test]
    fn invalid_entries_are_errors() {
        for bad in [
            "example.com",
            "https://exa*mple.com",
            "https://example.com/path",
            "foo://example.com",
        ] {
            assert!(
                AllowedHosts::parse(&[bad.to_string()], &Variables::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn service_chaining_hosts() {
        assert_eq!(service_chaining_target("users.spin.internal"), Some("users"));
        assert_eq!(service_chaining_target("users.spin.internal:80"), Some("users"));
        assert_eq!(service_chaining_target("users.example.com"), None);
        assert_eq!(service_chaining_target("spin.internal"), None);
    }
}

//! HTTP route matching with Spin's syntax and precedence.
//!
//! Patterns: exact (`/users/me`), named segments (`/users/:id`), trailing
//! wildcards (`/api/...`, also spelt `/api/*`). An exact route beats any
//! wildcard; among wildcards the longest literal prefix wins. Private
//! components have no route and are only reachable by service chaining.

use std::collections::BTreeMap;

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone)]
struct Route {
    component: String,
    /// The route as written in the manifest (`/api/...`).
    raw: String,
    segments: Vec<Segment>,
    wildcard: bool,
}

/// What matched a request, and the values Spin passes on in `spin-*` headers.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteMatch {
    pub component: String,
    /// `spin-matched-route` and `spin-raw-component-route`: the route as written.
    pub raw_route: String,
    /// `spin-path-info`: what the trailing wildcard captured (`""` for exact routes).
    pub path_info: String,
    /// `spin-path-match-<name>` for each `:name` segment.
    pub captures: BTreeMap<String, String>,
}

impl RouteMatch {
    /// `spin-component-route`: the route without its trailing wildcard.
    pub fn component_route(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .or_else(|| self.raw_route.strip_suffix("/*"))
            .unwrap_or(&self.raw_route)
    }

    /// The match Spin synthesises for a service-chaining request: the whole
    /// path is the path info of a `/...` route.
    pub fn chained(component: &str, path: &str) -> Self {
        RouteMatch {
            component: component.to_owned(),
            raw_route: "/...".to_owned(),
            path_info: path.to_owned(),
            captures: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// Build from `(component, route)` pairs in manifest order. A duplicate
    /// route replaces the earlier one, as in Spin; the replaced component is
    /// returned so the caller can warn.
    pub fn build<'a>(routes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(Self, Vec<String>)> {
        let mut router = Router::default();
        let mut replaced = Vec::new();
        for (component, raw) in routes {
            let route = parse(component, raw)?;
            if let Some(existing) = router
                .routes
                .iter_mut()
                .find(|r| r.segments == route.segments && r.wildcard == route.wildcard)
            {
                replaced.push(format!(
                    "route '{raw}' of component '{}' is replaced by component '{component}'",
                    existing.component
                ));
                *existing = route;
            } else {
                router.routes.push(route);
            }
        }
        Ok((router, replaced))
    }

    pub fn routes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.routes.iter().map(|r| (r.raw.as_str(), r.component.as_str()))
    }

    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut best: Option<((u8, usize, usize), RouteMatch)> = None;
        for route in &self.routes {
            let Some(m) = route.matches(path, &parts) else {
                continue;
            };
            let literals = route
                .segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count();
            let rank = (u8::from(!route.wildcard), route.segments.len(), literals);
            if best.as_ref().is_none_or(|(b, _)| rank > *b) {
                best = Some((rank, m));
            }
        }
        best.map(|(_, m)| m)
    }
}

impl Route {
    fn matches(&self, path: &str, parts: &[&str]) -> Option<RouteMatch> {
        if parts.len() < self.segments.len() || (!self.wildcard && parts.len() != self.segments.len()) {
            return None;
        }
        let mut captures = BTreeMap::new();
        for (seg, part) in self.segments.iter().zip(parts) {
            match seg {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    captures.insert(name.clone(), (*part).to_owned());
                }
            }
        }
        let path_info = if self.wildcard {
            let rest = &parts[self.segments.len()..];
            // Spin keeps a trailing slash in the path info.
            match (rest.is_empty(), path.ends_with('/')) {
                (true, false) => String::new(),
                (true, true) => "/".to_owned(),
                (false, false) => format!("/{}", rest.join("/")),
                (false, true) => format!("/{}/", rest.join("/")),
            }
        } else {
            String::new()
        };
        Some(RouteMatch {
            component: self.component.clone(),
            raw_route: self.raw.clone(),
            path_info,
            captures,
        })
    }
}

fn parse(component: &str, raw: &str) -> Result<Route> {
    let absolute = if raw.starts_with('/') {
        raw.to_owned()
    } else {
        format!("/{raw}")
    };
    let (prefix, wildcard) = match absolute.strip_suffix("/...").or_else(|| absolute.strip_suffix("/*")) {
        Some(prefix) => (prefix, true),
        None => (absolute.as_str(), false),
    };
    let mut segments = Vec::new();
    for part in prefix.split('/').filter(|s| !s.is_empty()) {
        if part == "..." || part.contains('*') {
            bail!("route '{raw}' of component '{component}': a wildcard may only end a route");
        }
        match part.strip_prefix(':') {
            Some("") => bail!("route '{raw}' of component '{component}': ':' needs a name"),
            Some(name) => segments.push(Segment::Param(name.to_owned())),
            None => segments.push(Segment::Literal(part.to_owned())),
        }
    }
    Ok(Route {
        component: component.to_owned(),
        raw: raw.to_owned(),
        segments,
        wildcard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        Router::build(routes.iter().copied()).unwrap().0
    }

    fn matched(r: &Router, path: &str) -> Option<String> {
        r.route(path).map(|m| m.component)
    }

    #[test]
    fn exact_beats_wildcard_and_longest_wildcard_wins() {
        let r = router(&[
            ("all", "/..."),
            ("one", "/one/..."),
            ("onetwo", "/one/two/..."),
            ("exact", "/one/two"),
        ]);
        let cases = [
            ("/", "all"),
            ("/zzz", "all"),
            ("/one", "one"),
            ("/one/x", "one"),
            ("/one/two", "exact"),
            ("/one/two/three", "onetwo"),
            ("/one/two/", "exact"),
        ];
        for (path, want) in cases {
            assert_eq!(matched(&r, path).as_deref(), Some(want), "path {path}");
        }
    }

    #[test]
    fn unmatched_path_has_no_route() {
        let r = router(&[("hello", "/hello"), ("api", "/api/...")]);
        assert_eq!(matched(&r, "/hello/world"), None);
        assert_eq!(matched(&r, "/other"), None);
    }

    #[test]
    fn path_info_follows_spin() {
        let r = router(&[("c", "/foo/...")]);
        let info = |p: &str| r.route(p).unwrap().path_info;
        assert_eq!(info("/foo"), "");
        assert_eq!(info("/foo/"), "/");
        assert_eq!(info("/foo/bar"), "/bar");
        assert_eq!(info("/foo/bar/"), "/bar/");
        let m = r.route("/foo/bar").unwrap();
        assert_eq!(m.raw_route, "/foo/...");
        assert_eq!(m.component_route(), "/foo");
    }

    #[test]
    fn named_segments_are_captured() {
        let r = router(&[("users", "/users/:id"), ("me", "/users/me")]);
        let m = r.route("/users/42").unwrap();
        assert_eq!(m.component, "users");
        assert_eq!(m.captures["id"], "42");
        assert_eq!(matched(&r, "/users/me").as_deref(), Some("me"));
    }

    #[test]
    fn duplicate_route_is_replaced_and_reported() {
        let (r, replaced) = Router::build([("a", "/x"), ("b", "/x")]).unwrap();
        assert_eq!(matched(&r, "/x").as_deref(), Some("b"));
        assert_eq!(replaced.len(), 1);
    }

    #[test]
    fn bad_wildcards_are_rejected() {
        assert!(Router::build([("a", "/x/.../y")]).is_err());
        assert!(Router::build([("a", "/x*")]).is_err());
    }
}

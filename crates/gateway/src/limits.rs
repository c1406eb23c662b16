//! Rate limits: fixed windows counted in the gateway's [`Counters`], per
//! client IP for anonymous calls, per user for authenticated ones, stricter
//! per IP on the sign-in routes, and per account on failed logins (so one
//! account's password is slowed whatever IPs guess it).

use crate::counters::{expiring, CounterError, Counters};

/// `count` requests per `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub window_ms: u64,
}

impl Limit {
    /// `"300/1m"`, `"10/30s"`, `"5/15m"`, `"1000/1h"`; `"off"` or empty: no limit.
    pub fn parse(text: &str) -> Result<Option<Limit>, String> {
        let text = text.trim();
        if text.is_empty() || text == "off" {
            return Ok(None);
        }
        let bad = || format!("{text:?} is not a rate limit like \"300/1m\" (a count per s, m or h), or \"off\"");
        let (count, window) = text.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
        let window = window.trim();
        let unit_at = window.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (amount, unit) = window.split_at(unit_at);
        let amount: u64 = if amount.is_empty() {
            1
        } else {
            amount.parse().map_err(|_| bad())?
        };
        let seconds = match unit {
            "s" => 1,
            "m" | "min" => 60,
            "h" => 3600,
            _ => return Err(bad()),
        };
        if amount == 0 {
            return Err(bad());
        }
        Ok(Some(Limit {
            count,
            window_ms: amount * seconds * 1000,
        }))
    }
}

/// Who a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Anonymous calls, per client IP.
    Anonymous,
    /// Calls with a valid token, per user.
    User,
    /// Sign-in routes (register, login, refresh, password forgot and reset), per client IP.
    Auth,
    /// Failed logins, per account (e-mail).
    Account,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Anonymous => "anonymous",
            Scope::User => "user",
            Scope::Auth => "auth",
            Scope::Account => "account",
        }
    }
}

/// The limit that counts `method path`: the sign-in routes are [`Scope::Auth`]
/// whoever calls; else [`Scope::User`] with a valid token, [`Scope::Anonymous`] without.
pub fn scope_for(method: &str, path: &str, authenticated: bool) -> Scope {
    let sign_in = method == "POST"
        && matches!(
            path.trim_end_matches('/'),
            "/api/users/register"
                | "/api/users/login"
                | "/api/users/refresh"
                | "/api/users/password/forgot"
                | "/api/users/password/reset"
        );
    match (sign_in, authenticated) {
        (true, _) => Scope::Auth,
        (false, true) => Scope::User,
        (false, false) => Scope::Anonymous,
    }
}

/// Where a request stands against its limit: the `X-RateLimit-*` headers,
/// and `Retry-After` when it is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window ends and the count starts again.
    pub reset_s: u64,
}

impl Verdict {
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.reset_s.to_string()),
        ]
    }
}

fn window_key(scope: Scope, who: &str, limit: Limit, now_ms: u64) -> (String, u64) {
    let ends = (now_ms / limit.window_ms + 1) * limit.window_ms;
    (expiring(ends, &format!("rl:{}:{who}", scope.name())), ends)
}

fn verdict(count: i64, limit: Limit, ends_ms: u64, now_ms: u64) -> Verdict {
    let count = count.max(0) as u64;
    Verdict {
        allowed: count <= u64::from(limit.count),
        limit: limit.count,
        remaining: u64::from(limit.count).saturating_sub(count) as u32,
        reset_s: (ends_ms - now_ms).div_ceil(1000),
    }
}

/// Counts one request of `who` against `limit`.
pub fn hit(c: &dyn Counters, scope: Scope, who: &str, limit: Limit, now_ms: u64) -> Result<Verdict, CounterError> {
    let (key, ends) = window_key(scope, who, limit, now_ms);
    Ok(verdict(c.add(&key, 1)?, limit, ends, now_ms))
}

/// Failed logins of one account: [`account_open`] before the login is
/// forwarded (over the limit: refused whatever the password), [`account_failed`]
/// after a 401.
pub fn account_open(c: &dyn Counters, email: &str, limit: Limit, now_ms: u64) -> Result<Verdict, CounterError> {
    let (key, ends) = window_key(Scope::Account, &account(email), limit, now_ms);
    // One more than the failures so far: the attempt about to be made.
    Ok(verdict(c.get(&key)? + 1, limit, ends, now_ms))
}

pub fn account_failed(c: &dyn Counters, email: &str, limit: Limit, now_ms: u64) -> Result<(), CounterError> {
    let (key, _) = window_key(Scope::Account, &account(email), limit, now_ms);
    c.add(&key, 1).map(drop)
}

/// E-mails compare as the users service compares them: trimmed, lower case.
fn account(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The client's IP: the peer Spin saw (`spin-client-addr`, `ip:port`), or,
/// behind `trusted_hops` proxies the operator vouches for, the address the
/// outermost of them recorded in `X-Forwarded-For` (the `trusted_hops`-th
/// from the right: entries further left are the client's own word).
pub fn client_ip(peer: Option<&str>, forwarded_for: Option<&str>, trusted_hops: usize) -> String {
    if trusted_hops > 0 {
        let hops: Vec<&str> = forwarded_for
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(ip) = hops
            .len()
            .checked_sub(trusted_hops)
            .and_then(|i| hops.get(i))
            .or(hops.first())
        {
            return (*ip).to_owned();
        }
    }
    let peer = peer.unwrap_or("unknown");
    match peer.rsplit_once(':') {
        // `[::1]:443` → `::1`; `10.0.0.1:443` → `10.0.0.1`; a bare IPv6 keeps its colons.
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !host.ends_with(':') => {
            host.trim_start_matches('[').trim_end_matches(']').to_owned()
        }
        _ => peer.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::MemoryCounters;

    #[test]
    fn limits_parse_or_say_what_they_expected() {
        assert_eq!(
            Limit::parse("300/1m").unwrap(),
            Some(Limit {
                count: 300,
                window_ms: 60_000
            })
        );
        assert_eq!(Limit::parse("5/15m").unwrap().unwrap().window_ms, 900_000);
        assert_eq!(Limit::parse("10/s").unwrap().unwrap().window_ms, 1_000);
        assert_eq!(Limit::parse("off").unwrap(), None);
        assert_eq!(Limit::parse("").unwrap(), None);
        for bad in ["300", "0/1m", "x/1m", "3/1d", "3/0s", "-1/1m"] {
            assert!(Limit::parse(bad).unwrap_err().contains("300/1m"), "{bad}");
        }
    }

    #[test]
    fn a_window_allows_its_count_then_refuses_until_it_ends() {
        let c = MemoryCounters::default();
        let limit = Limit {
            count: 3,
            window_ms: 60_000,
        };
        let at = 120_000 + 15_000;
        let verdicts: Vec<Verdict> = (0..4)
            .map(|_| hit(&c, Scope::Auth, "1.2.3.4", limit, at).unwrap())
            .collect();
        assert_eq!(
            verdicts.iter().map(|v| v.allowed).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        assert_eq!(verdicts.iter().map(|v| v.remaining).collect::<Vec<_>>(), [2, 1, 0, 0]);
        assert_eq!(verdicts[3].reset_s, 45);
        assert!(
            hit(&c, Scope::Auth, "5.6.7.8", limit, at).unwrap().allowed,
            "per client"
        );
        assert!(
            hit(&c, Scope::Anonymous, "1.2.3.4", limit, at).unwrap().allowed,
            "per scope"
        );
        assert!(
            hit(&c, Scope::Auth, "1.2.3.4", limit, 180_000).unwrap().allowed,
            "next window"
        );
    }

    #[test]
    fn failed_logins_close_an_account_whatever_the_ip() {
        let c = MemoryCounters::default();
        let limit = Limit {
            count: 2,
            window_ms: 900_000,
        };
        assert!(account_open(&c, "Ann@x.io", limit, 0).unwrap().allowed);
        account_failed(&c, "ann@x.io ", limit, 0).unwrap();
        assert!(account_open(&c, "ann@x.io", limit, 0).unwrap().allowed);
        account_failed(&c, "ANN@x.io", limit, 0).unwrap();
        let v = account_open(&c, "ann@x.io", limit, 1_000).unwrap();
        assert!(!v.allowed);
        assert_eq!(v.reset_s, 899);
        assert!(account_open(&c, "bob@x.io", limit, 0).unwrap().allowed);
    }

    #[test]
    fn sign_in_routes_are_counted_apart() {
        assert_eq!(scope_for("POST", "/api/users/login", true), Scope::Auth);
        assert_eq!(scope_for("POST", "/api/users/password/forgot", false), Scope::Auth);
        assert_eq!(scope_for("POST", "/api/users/logout", true), Scope::User);
        assert_eq!(scope_for("GET", "/api/movies", false), Scope::Anonymous);
    }

    #[test]
    fn the_client_ip_is_the_peer_unless_proxies_are_trusted() {
        assert_eq!(client_ip(Some("10.1.2.3:5555"), Some("6.6.6.6"), 0), "10.1.2.3");
        assert_eq!(client_ip(Some("[::1]:80"), None, 0), "::1");
        assert_eq!(client_ip(None, None, 0), "unknown");
        // The client claims 6.6.6.6; the trusted proxy recorded 1.2.3.4.
        assert_eq!(client_ip(Some("10.0.0.9:1"), Some("6.6.6.6, 1.2.3.4"), 1), "1.2.3.4");
        assert_eq!(
            client_ip(Some("10.0.0.9:1"), Some("6.6.6.6, 1.2.3.4, 10.0.0.8"), 2),
            "1.2.3.4"
        );
        assert_eq!(client_ip(Some("10.0.0.9:1"), None, 1), "10.0.0.9");
    }
}

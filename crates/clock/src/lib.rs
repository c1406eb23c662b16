//! The one clock every service reads time from.
//!
//! A component reads the system clock once per request or event
//! ([`Now::system`]) and hands the value to the service, which derives every
//! timestamp it writes from it: Unix seconds for expiries and TTLs
//! ([`Now::unix`]), RFC 3339 with milliseconds for stored and returned times
//! ([`Now::rfc3339`]). Unit tests pass a fixed instant ([`Now::at`]) and move
//! it on ([`Now::plus_millis`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Now(i64);

impl Now {
    /// The system clock; a clock before 1970 reads as the epoch.
    pub fn system() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Now(ms)
    }

    /// `unix` seconds after the epoch.
    pub const fn at(unix: i64) -> Self {
        Now(unix.saturating_mul(1000))
    }

    pub fn plus_millis(self, ms: i64) -> Self {
        Now(self.0.saturating_add(ms))
    }

    /// Whole Unix seconds.
    pub fn unix(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Milliseconds since the epoch (retry schedules finer than a second).
    pub fn unix_ms(self) -> i64 {
        self.0
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-12-01T19:42:52.123Z`.
    pub fn rfc3339(self) -> String {
        let since_epoch = Duration::from_millis(self.0.max(0) as u64);
        humantime::format_rfc3339_millis(UNIX_EPOCH + since_epoch).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_instant_gives_both_forms() {
        let now = Now::at(1_315_060_510).plus_millis(42);
        assert_eq!(now.unix(), 1_315_060_510);
        assert_eq!(now.rfc3339(), "2011-09-03T14:35:10.042Z");
    }

    #[test]
    fn later_instants_format_later() {
        let a = Now::at(1_800_000_000);
        let b = a.plus_millis(1);
        assert!(
            b > a && b.rfc3339() > a.rfc3339(),
            "{} then {}",
            a.rfc3339(),
            b.rfc3339()
        );
    }

    #[test]
    fn the_system_clock_is_after_this_code_was_written() {
        assert!(Now::system().unix() > Now::at(1_790_000_000).unix());
    }
}

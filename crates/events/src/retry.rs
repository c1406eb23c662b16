//! How often a failing event is tried again, on both sides: the producer's
//! outbox retries a delivery without end, a consumer parks an event it
//! failed [`Retry::max_attempts`] times as a dead letter.

/// Retries back off exponentially from the retry base up to this far apart.
pub const MAX_BACKOFF_MS: i64 = 300_000;

/// How often a failing delivery is tried (variables `event_max_attempts`,
/// `event_retry_base_ms`): waits double from the base. The producer's
/// outbox retries without end (a consumer that is down is not a poison
/// event); a consumer parks an event it failed `max_attempts` times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    pub max_attempts: u32,
    pub base_ms: i64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 5,
            base_ms: 1000,
        }
    }
}

impl Retry {
    /// `event_max_attempts` (1–100) and `event_retry_base_ms` (10–600000) as Spin variables give them.
    pub fn parse(max_attempts: &str, base_ms: &str) -> Result<Self, String> {
        let max_attempts = match max_attempts.trim().parse::<u32>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(format!(
                    "event_max_attempts must be a whole number from 1 to 100, not {max_attempts:?}"
                ))
            }
        };
        let base_ms = match base_ms.trim().parse::<i64>() {
            Ok(n) if (10..=600_000).contains(&n) => n,
            _ => {
                return Err(format!(
                    "event_retry_base_ms must be a whole number from 10 to 600000, not {base_ms:?}"
                ))
            }
        };
        Ok(Retry { max_attempts, base_ms })
    }

    /// The wait after `failures` earlier failures: base × 2^failures, capped.
    pub fn backoff_ms(&self, failures: i64) -> i64 {
        let factor = 1i64.checked_shl(failures.clamp(0, 20) as u32).unwrap_or(i64::MAX);
        self.base_ms.saturating_mul(factor).min(MAX_BACKOFF_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_base_up_to_a_cap() {
        let retry = Retry::parse("5", "100").unwrap();
        let waits: Vec<i64> = (0..4).map(|n| retry.backoff_ms(n)).collect();
        assert_eq!(waits, vec![100, 200, 400, 800]);
        assert_eq!(retry.backoff_ms(60), MAX_BACKOFF_MS);
        assert_eq!(Retry::parse("5", "1000").unwrap(), Retry::default());
        for (attempts, base) in [
            ("0", "100"),
            ("x", "100"),
            ("101", "100"),
            ("5", "5"),
            ("5", "-1"),
            ("5", ""),
        ] {
            assert!(Retry::parse(attempts, base).is_err(), "{attempts} {base}");
        }
    }
}

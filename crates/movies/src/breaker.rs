//! The movies service's own circuit breaker around Cloudinary. Calls that
//! fail (no answer within `cloudinary_timeout_ms`, no connection, a 5xx or
//! a 429) are counted; once Cloudinary keeps failing, media calls are
//! answered at once with 503 `media_unavailable` (naming Cloudinary, with
//! `Retry-After`) instead of each waiting on it, and one probe at a time
//! finds out when it is back. The gateway does not count such an answer
//! against the movies service: the catalogue is never refused because
//! Cloudinary is down.
//!
//! The counts live in the service's own database ([`DbCounters`]), so that
//! every replica sees the same breaker; media calls are few (an admin's
//! uploads, a deleted movie's assets), so the writes cost nothing that
//! matters.

use streamia_api::ApiError;
use streamia_breaker::counters::{sweep, CounterError, Counters};
use streamia_breaker::{Admission, BreakerConfig, Caller};
use streamia_db::{Db, DbError};

use crate::store;

/// The breaker's name in its counters and logs.
pub const NAME: &str = "cloudinary";

/// The breaker's figures: at half of at least 4 calls in a minute failing
/// it opens for 30 s; a probe may take as long as a Cloudinary call may.
pub fn config(timeout_ms: u64) -> BreakerConfig {
    BreakerConfig {
        failure_percent: 50,
        min_calls: 4,
        window_ms: 60_000,
        open_ms: 30_000,
        probe_ms: timeout_ms + 1_000,
    }
}

/// Does Cloudinary's answer count as it failing? Its 4xx (a bad signature,
/// a file it refuses) are ours to fix, not its outage.
pub fn answer_failed(status: u16) -> bool {
    status >= 500 || status == 429
}

/// Counters in the movies database (`movies_counters`).
pub struct DbCounters<'a>(pub &'a dyn Db);

fn counter_error(e: DbError) -> CounterError {
    CounterError(e.to_string())
}

impl Counters for DbCounters<'_> {
    fn add(&self, key: &str, delta: i64) -> Result<i64, CounterError> {
        store::add_to_counter(self.0, key, delta).map_err(counter_error)
    }

    fn get(&self, key: &str) -> Result<i64, CounterError> {
        store::counter(self.0, key).map_err(counter_error)
    }

    fn keys(&self) -> Result<Vec<String>, CounterError> {
        store::counter_keys(self.0).map_err(counter_error)
    }

    fn remove(&self, key: &str) -> Result<(), CounterError> {
        store::remove_counter(self.0, key).map_err(counter_error)
    }
}

/// The breaker around Cloudinary, for one request.
pub struct CloudinaryBreaker<'a> {
    pub db: &'a dyn Db,
    pub config: BreakerConfig,
    pub now_ms: u64,
}

impl CloudinaryBreaker<'_> {
    /// May a call to Cloudinary go out now? While open, 503
    /// `media_unavailable` with `Retry-After`. A breaker whose state cannot
    /// be read lets the call through (and says so in the log).
    pub fn admit(&self) -> Result<Admission, ApiError> {
        match streamia_breaker::admit(&DbCounters(self.db), NAME, &self.config, self.now_ms) {
            Ok(Admission::Open { retry_after_s }) => Err(ApiError::DependencyUnavailable {
                dependency: NAME,
                code: "media_unavailable",
                message: "the media store (Cloudinary) is failing; media calls resume shortly".into(),
                retry_after: Some(retry_after_s),
            }),
            Ok(admission) => Ok(admission),
            Err(e) => {
                streamia_log::warn(
                    crate::SERVICE,
                    "breaker not checked",
                    streamia_log::json!({"breaker": NAME, "error": e.to_string()}),
                );
                Ok(Admission::Closed)
            }
        }
    }

    /// Counts how an admitted call went; a change of state is logged.
    pub fn record(&self, admission: Admission, failed: bool) {
        let counters = DbCounters(self.db);
        let change = streamia_breaker::record(
            &counters,
            NAME,
            &self.config,
            admission,
            failed,
            Caller::Accountable,
            self.now_ms,
        )
        .and_then(|change| sweep(&counters, self.now_ms).map(|_| change));
        let what = match change {
            Ok(Some(transition)) => transition.describe(),
            Ok(None) => return,
            Err(e) => {
                let fields = streamia_log::json!({"breaker": NAME, "error": e.to_string()});
                return streamia_log::warn(crate::SERVICE, "breaker not counted", fields);
            }
        };
        let fields = streamia_log::json!({"breaker": NAME, "change": what});
        streamia_log::warn(crate::SERVICE, "circuit breaker", fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamia_db::MemoryDb;

    fn db() -> MemoryDb {
        let db = MemoryDb::new();
        streamia_db::migrate(&db, crate::SERVICE, crate::MIGRATIONS).unwrap();
        db
    }

    fn breaker(db: &MemoryDb, now_ms: u64) -> CloudinaryBreaker<'_> {
        CloudinaryBreaker {
            db,
            config: config(10_000),
            now_ms,
        }
    }

    #[test]
    fn counters_in_the_database_add_atomically_and_list_and_remove() {
        let db = db();
        let c = DbCounters(&db);
        assert_eq!(c.get("k").unwrap(), 0);
        assert_eq!(c.add("k", 2).unwrap(), 2);
        assert_eq!(c.add("k", 3).unwrap(), 5);
        c.set("k", 1).unwrap();
        assert_eq!(c.get("k").unwrap(), 1);
        assert_eq!(c.keys().unwrap(), vec!["k".to_owned()]);
        c.remove("k").unwrap();
        assert!(c.keys().unwrap().is_empty());
    }

    #[test]
    fn cloudinary_failing_opens_the_breaker_and_media_calls_get_a_503_that_names_it() {
        let db = db();
        for i in 0..4 {
            let b = breaker(&db, 1_000 + i);
            let admission = b.admit().unwrap();
            b.record(admission, true);
        }
        let refused = breaker(&db, 2_000).admit().unwrap_err();
        assert_eq!((refused.status(), refused.code()), (503, "media_unavailable"));
        let resp = refused.to_response("r");
        assert_eq!(
            resp.header(streamia_api::DEPENDENCY_HEADER).and_then(|v| v.as_str()),
            Some("cloudinary")
        );
        assert_eq!(resp.header("retry-after").and_then(|v| v.as_str()), Some("30"));
        // After 30 s one probe goes; its success closes the breaker.
        let b = breaker(&db, 33_000);
        let probe = b.admit().unwrap();
        assert_eq!(probe, Admission::Probe);
        assert!(breaker(&db, 33_001).admit().is_err(), "one probe at a time");
        b.record(probe, false);
        assert_eq!(breaker(&db, 33_002).admit().unwrap(), Admission::Closed);
    }

    #[test]
    fn only_cloudinarys_own_failures_count() {
        for (status, failed) in [
            (200, false),
            (400, false),
            (401, false),
            (429, true),
            (500, true),
            (503, true),
        ] {
            assert_eq!(answer_failed(status), failed, "{status}");
        }
    }
}

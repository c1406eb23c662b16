//! The public rating statistics of each movie, cached in the ratings
//! service's key-value store (`ratings`), which the gateway answers hits
//! from ([`cached_read`]). A read fills the entry; every change drops it
//! once committed (a rating, its removal, the sagas), with a mark that keeps
//! a read which began before the change from filling it again with what it
//! saw ([`streamia_cache::drop_entry`]). Entries expire after
//! [`STATS_TTL_SECS`] all the same.

use streamia_cache::{drop_entry, fresh_unless_dropped, put_unless_dropped_since, Cache};
use streamia_clock::Now;

use crate::domain::{MovieId, Stats};

/// The components' key-value store (spin.toml's `key_value_stores`).
pub const CACHE_STORE: &str = "ratings";
pub const STATS_TTL_SECS: i64 = 300;

fn stats_key(movie_id: &str) -> String {
    format!("ratings:stats:{movie_id}")
}

/// A movie's statistics, if cached and fresh at `now` (Unix seconds).
pub fn cached_stats(cache: &dyn Cache, movie_id: &str, now: i64) -> Option<Stats> {
    fresh_unless_dropped::<Stats>(cache, &stats_key(movie_id), now)
}

/// Cache `stats`, read by a request that began at `now`, unless a change
/// dropped the entry since.
pub fn remember(cache: &dyn Cache, stats: &Stats, now: Now) {
    put_unless_dropped_since(cache, &stats_key(&stats.movie_id), stats, now.unix_ms(), STATS_TTL_SECS);
}

/// A change to the movie's ratings was committed.
pub fn forget(cache: &dyn Cache, movie_id: &str, now: Now) {
    // When it was committed, not when its request began (see the movies
    // cache); the request's own clock where it is later (tests).
    drop_entry(cache, &stats_key(movie_id), now.unix_ms().max(Now::system().unix_ms()));
}

/// `GET /api/ratings/movie/{movieId}/stats` answered from the cache alone,
/// as the ratings service answers it (`rest`: the path after
/// `/api/ratings`); `None` on a miss or for any other route.
pub fn cached_read(cache: &dyn Cache, rest: &[&str], now: i64) -> Option<Vec<u8>> {
    let ["movie", id, "stats"] = rest else {
        return None;
    };
    let id = MovieId::parse(id).ok()?;
    serde_json::to_vec(&cached_stats(cache, id.as_str(), now)?).ok()
}

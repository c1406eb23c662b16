//! The ratings service's operations, each on the caller's own ratings
//! except the public statistics.

use streamia_api::{ApiError, Page, Paginated};
use streamia_clock::Now;
use streamia_db::{transaction, Db};
use streamia_events::outbox::Outbox;
use streamia_events::tombstone::{self, Kind};

use crate::domain::{MovieId, Outcome, Rated, Rating, Score, Stats};
use crate::{cache, events, store, MIGRATIONS, SERVICE};
use streamia_cache::Cache;

pub struct Ratings<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
    /// The statistics' cache (crate::cache).
    pub cache: &'a dyn Cache,
    pub now: Now,
}

/// Conflicting writers each read again and retry this often before taking
/// the lock.
const OPTIMISTIC_TRIES: usize = 20;

/// A movie's score counts with one rating changed from `old` to `new`.
fn with_change(counts: &[(i64, u32)], old: Option<u8>, new: Option<u8>) -> Vec<(i64, u32)> {
    let mut out: Vec<(i64, u32)> = (1..=5)
        .map(|s| (s, counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n)))
        .collect();
    for (score, n) in out.iter_mut() {
        if old == Some(*score as u8) {
            *n = n.saturating_sub(1);
        }
        if new == Some(*score as u8) {
            *n += 1;
        }
    }
    out
}

fn no_rating() -> ApiError {
    ApiError::NotFound("you have not rated this movie".into())
}

impl Ratings<'_> {
    pub fn migrate(&self) -> Result<(), ApiError> {
        Ok(streamia_db::migrate(self.db, SERVICE, MIGRATIONS)?)
    }

    /// A token issued before its account was deleted is refused.
    pub fn check_user(&self, user_id: &str) -> Result<(), ApiError> {
        if tombstone::is_buried(self.db, SERVICE, Kind::User, user_id)? {
            return Err(ApiError::account_gone());
        }
        Ok(())
    }

    pub fn stats(&self, movie_id: &str) -> Result<Stats, ApiError> {
        Ok(store::stats(self.db, movie_id)?)
    }

    /// The public statistics: the cache, else the database (then cached).
    /// `true` when the cache answered.
    pub fn public_stats(&self, movie_id: &str) -> Result<(Stats, bool), ApiError> {
        if let Some(stats) = cache::cached_stats(self.cache, movie_id, self.now.unix()) {
            return Ok((stats, true));
        }
        let stats = self.stats(movie_id)?;
        cache::remember(self.cache, &stats, self.now);
        Ok((stats, false))
    }

    /// Create or change the caller's score for a movie the catalogue has:
    /// read without a lock, then one statement that writes only if nothing
    /// changed meanwhile (else read again); after [`OPTIMISTIC_TRIES`]
    /// conflicts, the same inside a transaction.
    pub fn rate(&self, user_id: &str, movie_id: &MovieId, score: Score) -> Result<Outcome, ApiError> {
        let movie_id = movie_id.as_str();
        for _ in 0..OPTIMISTIC_TRIES {
            let before = self.before(user_id, movie_id)?;
            if let Some(same) = before.mine.as_ref().filter(|r| r.score == score.get()) {
                // Nothing changes, so no new aggregate and no event.
                return Ok(Outcome::Updated(Rated {
                    rating: same.clone(),
                    stats: self.stats(movie_id)?,
                }));
            }
            let counts = store::counts(self.db, movie_id)?;
            let old = before.mine.as_ref().map(|r| r.score);
            let stats = Stats::from_counts(movie_id, &with_change(&counts, old, Some(score.get())));
            let version = before.version.unwrap_or(0) as u64 + 1;
            let at = self.now.rfc3339();
            let event = events::rated(user_id, score, old, &stats, version);
            let effect = serde_json::json!({"op": "rate", "userId": user_id, "movieId": movie_id,
                "score": score.get(), "at": at, "version": version});
            let params = store::unchanged_since(user_id, movie_id, &before);
            if self
                .outbox
                .write(self.db, &event, &effect, store::UNCHANGED_SINCE, &params)?
                .is_some()
            {
                cache::forget(self.cache, movie_id, self.now);
                let rating = Rating {
                    movie_id: movie_id.to_owned(),
                    user_id: user_id.to_owned(),
                    score: score.get(),
                    created_at: before
                        .mine
                        .as_ref()
                        .map_or_else(|| at.clone(), |r| r.created_at.clone()),
                    updated_at: at,
                };
                let rated = Rated { rating, stats };
                return Ok(match before.mine {
                    None => Outcome::Created(rated),
                    Some(_) => Outcome::Updated(rated),
                });
            }
        }
        self.rate_locked(user_id, movie_id, score)
    }

    /// What a write reads first; a deleted account or movie refuses it.
    fn before(&self, user_id: &str, movie_id: &str) -> Result<store::Before, ApiError> {
        let before = store::before(self.db, user_id, movie_id)?;
        if before.user_gone {
            return Err(ApiError::account_gone());
        }
        if before.movie_gone {
            return Err(ApiError::NotFound("movie not found".into()));
        }
        Ok(before)
    }

    /// [`Ratings::rate`] inside `BEGIN IMMEDIATE`: certain to finish, however
    /// many others rate the same movie at once.
    fn rate_locked(&self, user_id: &str, movie_id: &str, score: Score) -> Result<Outcome, ApiError> {
        self.check_user(user_id)?;
        let outcome = self.rate_in_transaction(user_id, movie_id, score)?;
        // Committed: no reader can fill the entry with what was before.
        cache::forget(self.cache, movie_id, self.now);
        Ok(outcome)
    }

    fn rate_in_transaction(&self, user_id: &str, movie_id: &str, score: Score) -> Result<Outcome, ApiError> {
        transaction(self.db, || {
            if tombstone::is_buried(self.db, SERVICE, Kind::Movie, movie_id)? {
                return Err(ApiError::NotFound("movie not found".into()));
            }
            let before = store::find(self.db, user_id, movie_id)?;
            if let Some(same) = before.as_ref().filter(|r| r.score == score.get()) {
                // Nothing changes, so no new aggregate and no event.
                return Ok(Outcome::Updated(Rated {
                    rating: same.clone(),
                    stats: self.stats(movie_id)?,
                }));
            }
            store::upsert(self.db, user_id, movie_id, score, &self.now.rfc3339())?;
            let stats = self.stats(movie_id)?;
            let version = store::next_version(self.db, movie_id)?;
            let event = events::rated(user_id, score, before.as_ref().map(|r| r.score), &stats, version);
            self.outbox.add(self.db, &event)?;
            let rating =
                store::find(self.db, user_id, movie_id)?.ok_or_else(|| ApiError::internal("rating vanished"))?;
            let rated = Rated { rating, stats };
            Ok(if before.is_none() {
                Outcome::Created(rated)
            } else {
                Outcome::Updated(rated)
            })
        })
    }

    /// The caller's rating of a movie.
    pub fn get(&self, user_id: &str, movie_id: &str) -> Result<Rating, ApiError> {
        self.check_user(user_id)?;
        store::find(self.db, user_id, movie_id)?.ok_or_else(no_rating)
    }

    /// Remove the caller's rating, as [`Ratings::rate`] writes one.
    pub fn delete(&self, user_id: &str, movie_id: &str) -> Result<Stats, ApiError> {
        for _ in 0..OPTIMISTIC_TRIES {
            let before = self.before(user_id, movie_id)?;
            let Some(mine) = &before.mine else {
                return Err(no_rating());
            };
            let counts = store::counts(self.db, movie_id)?;
            let stats = Stats::from_counts(movie_id, &with_change(&counts, Some(mine.score), None));
            let version = before.version.unwrap_or(0) as u64 + 1;
            let event = events::unrated(user_id, mine.score, &stats, version);
            let effect =
                serde_json::json!({"op": "unrate", "userId": user_id, "movieId": movie_id, "version": version});
            let params = store::unchanged_since(user_id, movie_id, &before);
            if self
                .outbox
                .write(self.db, &event, &effect, store::UNCHANGED_SINCE, &params)?
                .is_some()
            {
                cache::forget(self.cache, movie_id, self.now);
                return Ok(stats);
            }
        }
        self.check_user(user_id)?;
        let stats = transaction(self.db, || {
            if !self.remove(user_id, movie_id)? {
                return Err(no_rating());
            }
            self.stats(movie_id)
        })?;
        // Committed: no reader can fill the entry with what was before.
        cache::forget(self.cache, movie_id, self.now);
        Ok(stats)
    }

    /// Delete one rating and announce the movie's new aggregate; `false` if
    /// there was none. Call inside a transaction.
    pub(crate) fn remove(&self, user_id: &str, movie_id: &str) -> Result<bool, ApiError> {
        let Some(previous) = store::delete(self.db, user_id, movie_id)? else {
            return Ok(false);
        };
        let stats = self.stats(movie_id)?;
        let version = store::next_version(self.db, movie_id)?;
        self.outbox
            .add(self.db, &events::unrated(user_id, previous, &stats, version))?;
        cache::forget(self.cache, movie_id, self.now);
        Ok(true)
    }

    /// The caller's ratings, most recently changed first.
    pub fn history(&self, user_id: &str, page: Page) -> Result<Paginated<Rating>, ApiError> {
        self.check_user(user_id)?;
        let (data, total) = store::page_of_user(self.db, user_id, page)?;
        Ok(Paginated::new(data, page, total))
    }
}

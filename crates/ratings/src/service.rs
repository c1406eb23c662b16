//! The ratings service's operations, each on the caller's own ratings
//! except the public statistics.

use streamia_api::{ApiError, Page, Paginated};
use streamia_clock::Now;
use streamia_db::{transaction, Db};
use streamia_events::outbox::Outbox;
use streamia_events::tombstone::{self, Kind};

use crate::domain::{MovieId, Outcome, Rated, Rating, Score, Stats};
use crate::{events, store, MIGRATIONS, SERVICE};

pub struct Ratings<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
    pub now: Now,
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

    /// Create or change the caller's score for a movie the catalogue has.
    pub fn rate(&self, user_id: &str, movie_id: &MovieId, score: Score) -> Result<Outcome, ApiError> {
        self.check_user(user_id)?;
        let movie_id = movie_id.as_str();
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
            let event = events::rated(user_id, score, &stats, version, before.is_none());
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

    pub fn delete(&self, user_id: &str, movie_id: &str) -> Result<Stats, ApiError> {
        self.check_user(user_id)?;
        transaction(self.db, || {
            if !self.remove(user_id, movie_id)? {
                return Err(no_rating());
            }
            self.stats(movie_id)
        })
    }

    /// Delete one rating and announce the movie's new aggregate; `false` if
    /// there was none. Call inside a transaction.
    pub(crate) fn remove(&self, user_id: &str, movie_id: &str) -> Result<bool, ApiError> {
        if !store::delete(self.db, user_id, movie_id)? {
            return Ok(false);
        }
        let stats = self.stats(movie_id)?;
        let version = store::next_version(self.db, movie_id)?;
        self.outbox.add(self.db, &events::unrated(user_id, &stats, version))?;
        Ok(true)
    }

    /// The caller's ratings, most recently changed first.
    pub fn history(&self, user_id: &str, page: Page) -> Result<Paginated<Rating>, ApiError> {
        self.check_user(user_id)?;
        let (data, total) = store::page_of_user(self.db, user_id, page)?;
        Ok(Paginated::new(data, page, total))
    }
}

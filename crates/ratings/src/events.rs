//! What a rating change announces (the movie's whole new aggregate and its
//! version, so consumers stay order-proof) and the ratings' part in the
//! sagas: user.deleted removes the user's ratings, each announcing its
//! movie's new aggregate; movie.deleted removes the movie's ratings.

use streamia_api::ApiError;
use streamia_events::consumer::{consume, Consumed};
use streamia_events::tombstone::{self, Kind};
use streamia_events::{Envelope, Event, RatingCreated, RatingDeleted, RatingUpdated};

use crate::domain::{Score, Stats};
use crate::{store, Ratings, SERVICE};

/// rating.created (a first score) or rating.updated (from `previous`).
pub fn rated(user_id: &str, score: Score, previous: Option<u8>, stats: &Stats, version: u64) -> Event {
    let (movie_id, user_id, score) = (stats.movie_id.clone(), user_id.to_owned(), u32::from(score.get()));
    let (average_rating, total_ratings, aggregate_version) = (stats.average, stats.count, version);
    match previous {
        None => Event::RatingCreated(RatingCreated {
            movie_id,
            user_id,
            score,
            average_rating,
            total_ratings,
            aggregate_version,
        }),
        Some(previous) => Event::RatingUpdated(RatingUpdated {
            movie_id,
            user_id,
            score,
            previous_score: Some(u32::from(previous)),
            average_rating,
            total_ratings,
            aggregate_version,
        }),
    }
}

/// rating.deleted: a score of `previous` removed.
pub fn unrated(user_id: &str, previous: u8, stats: &Stats, version: u64) -> Event {
    Event::RatingDeleted(RatingDeleted {
        movie_id: stats.movie_id.clone(),
        user_id: user_id.to_owned(),
        previous_score: Some(u32::from(previous)),
        average_rating: stats.average,
        total_ratings: stats.count,
        aggregate_version: version,
    })
}

/// The event types this service consumes (its Redis consumer's channels).
pub const CONSUMES: &[&str] = &["user.deleted", "movie.deleted"];

/// The ratings service's consumer, as its components are handed it.
pub fn apply(
    db: &dyn streamia_db::Db,
    outbox: &streamia_events::outbox::Outbox,
    now: streamia_clock::Now,
    envelope: &Envelope,
) -> Result<Consumed, ApiError> {
    let cache = streamia_cache::KvCache::open(crate::cache::CACHE_STORE);
    Ratings {
        db,
        outbox,
        cache: &cache,
        now,
    }
    .apply_event(envelope)
}

impl Ratings<'_> {
    pub fn apply_event(&self, envelope: &Envelope) -> Result<Consumed, ApiError> {
        Ok(consume(
            self.db,
            SERVICE,
            envelope,
            self.now,
            |event| -> Result<bool, ApiError> {
                match event {
                    Event::UserDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::User, &e.user_id, self.now)?;
                        for movie_id in store::movies_of_user(self.db, &e.user_id)? {
                            self.remove(&e.user_id, &movie_id)?;
                        }
                    }
                    Event::MovieDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::Movie, &e.movie_id, self.now)?;
                        // The movie is gone, and its aggregate with it: no events.
                        store::delete_for_movie(self.db, &e.movie_id)?;
                        crate::cache::forget(self.cache, &e.movie_id, self.now);
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?)
    }
}

//! The movies service's consumer: rating.* events carry the movie's whole
//! aggregate and a version, applied only when newer than the one held.

use streamia_api::ApiError;
use streamia_events::consumer::{consume_in_one, Consumed};
use streamia_events::{Envelope, Event};

use crate::{Movies, SERVICE};

/// The event types this service consumes (its Redis consumer's channels).
pub const CONSUMES: &[&str] = &[
    "rating.created",
    "rating.updated",
    "rating.deleted",
    "media.delete_requested",
];

/// The rating events' part of the service's consumer ([`crate::on_spin::consume`]).
pub fn apply(
    db: &dyn streamia_db::Db,
    outbox: &streamia_events::outbox::Outbox,
    now: streamia_clock::Now,
    envelope: &Envelope,
) -> Result<Consumed, ApiError> {
    let cache = crate::KvCache::open(crate::cache::CACHE_STORE);
    Movies {
        db,
        outbox,
        cache: &cache,
        now,
        current_year: crate::domain::year_of(now.unix()),
    }
    .apply_rating_event(envelope)
}

impl Movies<'_> {
    /// A rating.* event: store the movie's aggregate if it is newer than
    /// the one held (events may arrive out of order or twice), in one
    /// statement; then drop the movie's cached entry. Cached list pages are
    /// left to their TTL (30 s): a new average is not worth making every
    /// page stale on each rating.
    pub fn apply_rating_event(&self, envelope: &Envelope) -> Result<Consumed, ApiError> {
        let mut touched = None;
        let outcome = consume_in_one(self.db, SERVICE, envelope, self.now, |event| {
            let (movie_id, average, total, version) = match event {
                Event::RatingCreated(e) => (&e.movie_id, e.average_rating, e.total_ratings, e.aggregate_version),
                Event::RatingUpdated(e) => (&e.movie_id, e.average_rating, e.total_ratings, e.aggregate_version),
                Event::RatingDeleted(e) => (&e.movie_id, e.average_rating, e.total_ratings, e.aggregate_version),
                _ => return None,
            };
            touched = Some(movie_id.clone());
            let version = i64::try_from(version).unwrap_or(i64::MAX);
            Some(serde_json::json!({"movieId": movie_id, "averageRating": average,
                "totalRatings": total, "version": version}))
        })?;
        if let (Some(id), Consumed::Applied) = (touched, &outcome) {
            self.cached().forget_movie(&id);
        }
        Ok(outcome)
    }
}

//! The movies service's consumer: rating.* events carry the movie's whole
//! aggregate and a version, applied only when newer than the one held.

use streamia_api::ApiError;
use streamia_db::Value;
use streamia_events::consumer::{consume, Consumed};
use streamia_events::{Envelope, Event};

use crate::{Movies, SERVICE};

/// The event types this service consumes (its Redis consumer's channels).
pub const CONSUMES: &[&str] = &["rating.created", "rating.updated", "rating.deleted"];

/// The movies service's consumer, as its components are handed it.
pub fn apply(
    db: &dyn streamia_db::Db,
    outbox: &streamia_events::outbox::Outbox,
    now: streamia_clock::Now,
    envelope: &Envelope,
) -> Result<Consumed, ApiError> {
    let cache = crate::KvCache::open();
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
    /// the one held (events may arrive out of order or twice).
    pub fn apply_rating_event(&self, envelope: &Envelope) -> Result<Consumed, ApiError> {
        let mut touched = None;
        let outcome = consume(self.db, SERVICE, envelope, |event| {
            let (movie_id, average, total, version) = match event {
                Event::RatingCreated(e) => (&e.movie_id, e.average_rating, e.total_ratings, e.aggregate_version),
                Event::RatingUpdated(e) => (&e.movie_id, e.average_rating, e.total_ratings, e.aggregate_version),
                Event::RatingDeleted(e) => (&e.movie_id, e.average_rating, e.total_ratings, e.aggregate_version),
                _ => return Ok(false),
            };
            let version = i64::try_from(version).unwrap_or(i64::MAX);
            self.db.execute(
                "UPDATE movies_catalogue SET average_rating = ?, total_ratings = ?, rating_version = ?
                    WHERE id = ? AND rating_version < ?",
                &[
                    Value::Real(average),
                    i64::from(total).into(),
                    version.into(),
                    movie_id.into(),
                    version.into(),
                ],
            )?;
            touched = Some(movie_id.clone());
            Ok::<_, streamia_db::DbError>(true)
        })?;
        if let Some(id) = touched {
            self.invalidate(Some(&id));
        }
        Ok(outcome)
    }
}

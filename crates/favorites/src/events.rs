//! The favorites service's part in the sagas: user.deleted and movie.deleted
//! clear favourites (announcing how many went), movie.updated refreshes the
//! titles and posters kept; each event applied once.

use streamia_api::ApiError;
use streamia_events::consumer::{consume, Consumed};
use streamia_events::known;
use streamia_events::tombstone::{self, Kind};
use streamia_events::{Envelope, Event, FavoritesClearedForMovie, FavoritesClearedForUser};

use crate::{store, Favorites, SERVICE};

/// The event types this service consumes (its Redis consumer's channels).
pub const CONSUMES: &[&str] = &["user.deleted", "movie.deleted", "movie.updated"];

/// The favorites service's consumer, as its components are handed it.
pub fn apply(
    db: &dyn streamia_db::Db,
    outbox: &streamia_events::outbox::Outbox,
    now: streamia_clock::Now,
    envelope: &Envelope,
) -> Result<Consumed, ApiError> {
    Favorites { db, outbox, now }.apply_event(envelope)
}

impl Favorites<'_> {
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
                        let removed = store::delete_for_user(self.db, &e.user_id)?;
                        self.outbox.add(
                            self.db,
                            &Event::FavoritesClearedForUser(FavoritesClearedForUser {
                                user_id: e.user_id.clone(),
                                removed: removed as u32,
                            }),
                        )?;
                    }
                    Event::MovieDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::Movie, &e.movie_id, self.now)?;
                        let removed = store::delete_for_movie(self.db, &e.movie_id)?;
                        self.outbox.add(
                            self.db,
                            &Event::FavoritesClearedForMovie(FavoritesClearedForMovie {
                                movie_id: e.movie_id.clone(),
                                removed: removed as u32,
                            }),
                        )?;
                    }
                    Event::MovieUpdated(e) => {
                        store::refresh_movie(self.db, &e.movie_id, &e.title, e.poster_url.as_deref())?;
                        known::refresh(self.db, SERVICE, &e.movie_id, &e.title, e.poster_url.as_deref())?;
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?)
    }
}

//! The comments' part in the sagas: user.deleted anonymises the user's
//! comments (the conversation stays); movie.deleted removes the movie's
//! comments. user.registered and user.updated tell the authors' names,
//! which comments show. Each event applied once.

use streamia_api::ApiError;
use streamia_events::consumer::{consume, Consumed};
use streamia_events::tombstone::{self, Kind};
use streamia_events::{Envelope, Event};

use crate::{store, Comments, SERVICE};

/// The event types this service consumes (its Redis consumer's channels).
pub const CONSUMES: &[&str] = &["user.registered", "user.updated", "user.deleted", "movie.deleted"];

/// The comments service's consumer, as its components are handed it. The
/// sagas do not depend on the moderation mode.
pub fn apply(
    db: &dyn streamia_db::Db,
    outbox: &streamia_events::outbox::Outbox,
    now: streamia_clock::Now,
    envelope: &Envelope,
) -> Result<Consumed, ApiError> {
    Comments {
        db,
        outbox,
        moderation: crate::Moderation::Post,
        now,
    }
    .apply_event(envelope)
}

impl Comments<'_> {
    pub fn apply_event(&self, envelope: &Envelope) -> Result<Consumed, ApiError> {
        Ok(consume(
            self.db,
            SERVICE,
            envelope,
            |event| -> Result<bool, ApiError> {
                match event {
                    Event::UserRegistered(e) => self.name_author(&e.user_id, &e.username, &envelope.occurred_at)?,
                    Event::UserUpdated(e) => self.name_author(&e.user_id, &e.username, &envelope.occurred_at)?,
                    Event::UserDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::User, &e.user_id)?;
                        store::anonymise_user(self.db, &e.user_id)?;
                    }
                    Event::MovieDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::Movie, &e.movie_id)?;
                        store::delete_for_movie(self.db, &e.movie_id)?;
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?)
    }

    /// A deleted account's name is not kept, even if its older events
    /// arrive after user.deleted (each event type has its own stream).
    fn name_author(&self, user_id: &str, username: &str, at: &str) -> Result<(), ApiError> {
        if !tombstone::is_buried(self.db, SERVICE, Kind::User, user_id)? {
            store::name_author(self.db, user_id, username, at)?;
        }
        Ok(())
    }
}

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
    let cache = streamia_cache::KvCache::open(crate::cache::CACHE_STORE);
    Comments {
        db,
        outbox,
        cache: &cache,
        moderation: crate::Moderation::Post,
        now,
    }
    .apply_event(envelope)
}

/// What an applied event changed on the pages anyone may read.
enum Changed {
    /// One movie's pages.
    Movie(String),
    /// Every page: an author's name shows on all.
    Everywhere,
}

impl Comments<'_> {
    pub fn apply_event(&self, envelope: &Envelope) -> Result<Consumed, ApiError> {
        let mut changed = None;
        let consumed = consume(
            self.db,
            SERVICE,
            envelope,
            self.now,
            |event| -> Result<bool, ApiError> {
                match event {
                    Event::UserRegistered(e) => self.name_author(&e.user_id, &e.username, &envelope.occurred_at)?,
                    Event::UserUpdated(e) => self.name_author(&e.user_id, &e.username, &envelope.occurred_at)?,
                    Event::UserDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::User, &e.user_id, self.now)?;
                        store::anonymise_user(self.db, &e.user_id)?;
                    }
                    Event::MovieDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::Movie, &e.movie_id, self.now)?;
                        store::delete_for_movie(self.db, &e.movie_id)?;
                        changed = Some(Changed::Movie(e.movie_id.clone()));
                        return Ok(true);
                    }
                    _ => return Ok(false),
                }
                changed = Some(Changed::Everywhere);
                Ok(true)
            },
        )?;
        // Committed: no reader can fill a page with what was before.
        match (changed, &consumed) {
            (Some(Changed::Movie(movie_id)), Consumed::Applied) => crate::cache::changed(self.cache, &movie_id),
            (Some(Changed::Everywhere), Consumed::Applied) => crate::cache::changed_everywhere(self.cache),
            _ => {}
        }
        Ok(consumed)
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

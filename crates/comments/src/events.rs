//! The comments' part in the sagas: user.deleted anonymises the user's
//! comments (the conversation stays); movie.deleted removes the movie's
//! comments; each event applied once.

use streamia_api::ApiError;
use streamia_events::consumer::{consume, Consumed};
use streamia_events::tombstone::{self, Kind};
use streamia_events::{Envelope, Event};

use crate::{store, Comments, SERVICE};

impl Comments<'_> {
    pub fn apply_event(&self, envelope: &Envelope) -> Result<Consumed, ApiError> {
        Ok(consume(
            self.db,
            SERVICE,
            envelope,
            |event| -> Result<bool, ApiError> {
                match event {
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
}

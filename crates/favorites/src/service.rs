//! The favorites service's operations, each on the caller's own favourites.

use streamia_api::{ApiError, Page, Paginated};
use streamia_clock::Now;
use streamia_db::Db;
use streamia_events::outbox::Outbox;
use streamia_events::tombstone::{self, Kind};
use streamia_events::{Event, FavoriteAdded, FavoriteRemoved};

use crate::domain::{Favorite, MovieRef, Note};
use crate::{store, MIGRATIONS, SERVICE};

#[derive(Debug, PartialEq)]
pub enum Added {
    Created(Favorite),
    /// It was a favourite already; nothing changed.
    AlreadyThere(Favorite),
}

pub struct Favorites<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
    pub now: Now,
}

pub(crate) fn movie_not_found() -> ApiError {
    ApiError::NotFound("movie not found".into())
}

impl Favorites<'_> {
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

    /// Add a favourite in one statement (its outbox row; see
    /// [`Outbox::write`]). When it does not go in, what is there says why.
    /// Its condition refuses a deleted account or movie.
    pub fn add(&self, user_id: &str, movie: &MovieRef<'_>, note: &Note) -> Result<Added, ApiError> {
        let created_at = self.now.rfc3339();
        let event = Event::FavoriteAdded(FavoriteAdded {
            user_id: user_id.to_owned(),
            movie_id: movie.id.to_owned(),
        });
        let effect = serde_json::json!({"op": "add", "userId": user_id, "movieId": movie.id, "note": note.as_deref(),
            "title": movie.title, "posterUrl": movie.poster_url, "createdAt": created_at});
        let params = [user_id.into(), movie.id.into(), movie.id.into(), user_id.into()];
        // A favourite added and removed again between the write and the
        // read that says why it did not go in: try again, a few times.
        for _ in 0..3 {
            if self
                .outbox
                .write(self.db, &event, &effect, store::ADDABLE, &params)?
                .is_some()
            {
                return Ok(Added::Created(Favorite {
                    movie_id: movie.id.to_owned(),
                    note: note.as_deref().map(str::to_owned),
                    created_at,
                    title: movie.title.to_owned(),
                    poster_url: movie.poster_url.map(str::to_owned),
                }));
            }
            // Deleted since the movies service said it exists, or the account since its token was issued.
            if tombstone::is_buried(self.db, SERVICE, Kind::Movie, movie.id)? {
                return Err(movie_not_found());
            }
            self.check_user(user_id)?;
            if let Some(existing) = store::find(self.db, user_id, movie.id)? {
                return Ok(Added::AlreadyThere(existing));
            }
        }
        Err(ApiError::Busy)
    }

    /// Remove a favourite in one statement, as [`Favorites::add`] adds one.
    pub fn remove(&self, user_id: &str, movie_id: &str) -> Result<(), ApiError> {
        self.check_user(user_id)?;
        let event = Event::FavoriteRemoved(FavoriteRemoved {
            user_id: user_id.to_owned(),
            movie_id: movie_id.to_owned(),
        });
        let effect = serde_json::json!({"op": "remove", "userId": user_id, "movieId": movie_id});
        let params = [user_id.into(), movie_id.into()];
        match self.outbox.write(self.db, &event, &effect, store::REMOVABLE, &params)? {
            Some(_) => Ok(()),
            None => Err(ApiError::NotFound("this movie is not in your favourites".into())),
        }
    }

    pub fn is_favorite(&self, user_id: &str, movie_id: &str) -> Result<bool, ApiError> {
        self.check_user(user_id)?;
        Ok(store::find(self.db, user_id, movie_id)?.is_some())
    }

    /// The user's favourites, newest first.
    pub fn list(&self, user_id: &str, page: Page) -> Result<Paginated<Favorite>, ApiError> {
        self.check_user(user_id)?;
        let (data, total) = store::page_of_user(self.db, user_id, page)?;
        Ok(Paginated::new(data, page, total))
    }
}

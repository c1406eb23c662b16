//! The favorites service's operations, each on the caller's own favourites.

use streamia_api::{ApiError, Page, Paginated};
use streamia_clock::Now;
use streamia_db::{transaction, Db};
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

    pub fn add(&self, user_id: &str, movie: &MovieRef<'_>, note: &Note) -> Result<Added, ApiError> {
        self.check_user(user_id)?;
        transaction(self.db, || {
            // The movie may have been deleted since the movies service said it exists.
            if tombstone::is_buried(self.db, SERVICE, Kind::Movie, movie.id)? {
                return Err(movie_not_found());
            }
            if let Some(existing) = store::find(self.db, user_id, movie.id)? {
                return Ok(Added::AlreadyThere(existing));
            }
            store::insert(self.db, user_id, movie, note, &self.now.rfc3339())?;
            self.outbox.add(
                self.db,
                &Event::FavoriteAdded(FavoriteAdded {
                    user_id: user_id.to_owned(),
                    movie_id: movie.id.to_owned(),
                }),
            )?;
            let created = store::find(self.db, user_id, movie.id)?
                .ok_or_else(|| ApiError::internal("added favourite vanished"))?;
            Ok(Added::Created(created))
        })
    }

    pub fn remove(&self, user_id: &str, movie_id: &str) -> Result<(), ApiError> {
        self.check_user(user_id)?;
        transaction(self.db, || {
            if !store::delete(self.db, user_id, movie_id)? {
                return Err(ApiError::NotFound("this movie is not in your favourites".into()));
            }
            self.outbox.add(
                self.db,
                &Event::FavoriteRemoved(FavoriteRemoved {
                    user_id: user_id.to_owned(),
                    movie_id: movie_id.to_owned(),
                }),
            )?;
            Ok(())
        })
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

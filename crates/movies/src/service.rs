//! The catalogue over a [`Db`], with a read-through [`Cache`] in front of
//! reads and events through the outbox. Every write invalidates what it
//! changed, so a read after a write never sees the old movie.

use streamia_api::{ApiError, Paginated};
use streamia_clock::Now;
use streamia_db::{transaction, Db};
use streamia_events::outbox::Outbox;
use streamia_events::{Event, MovieCreated, MovieDeleted, MovieUpdated, MovieVideoUploaded};

use crate::cache::{cached_movie, cached_page, list_key, Cache, CachedPage, CatalogueCache, Lookup};
use crate::domain::{Movie, MovieInput};
use crate::query::ListQuery;
use crate::store::{self, movie_not_found, StoredSubtitle};
use crate::{cleanup, MIGRATIONS};

pub struct Movies<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
    pub cache: &'a dyn Cache,
    pub now: Now,
    pub current_year: u32,
}

impl Movies<'_> {
    /// The catalogue's cache entries, as this request sees them.
    pub(crate) fn cached(&self) -> CatalogueCache<'_> {
        CatalogueCache {
            cache: self.cache,
            now: self.now,
        }
    }

    pub fn migrate(&self) -> Result<(), ApiError> {
        Ok(streamia_db::migrate(self.db, crate::SERVICE, MIGRATIONS)?)
    }

    /// GET one movie: the cache, else the database (then cached).
    pub fn get(&self, id: &str) -> Result<(Movie, Lookup), ApiError> {
        if let Some(movie) = cached_movie(self.cache, id, self.now) {
            return Ok((movie, Lookup::Hit));
        }
        let movie = store::find(self.db, id)?.ok_or_else(movie_not_found)?;
        self.cached().remember_movie(id, &movie);
        Ok((movie, Lookup::Miss))
    }

    pub fn exists(&self, id: &str) -> Result<bool, ApiError> {
        Ok(store::find(self.db, id)?.is_some())
    }

    pub fn list(&self, q: &ListQuery) -> Result<(Paginated<Movie>, Lookup), ApiError> {
        let (hit, generation) = cached_page(self.cache, q, self.now);
        if let Some(page) = hit {
            return Ok((page, Lookup::Hit));
        }
        let (data, total) = store::search(self.db, q)?;
        self.cached().remember_list(
            &list_key(q),
            &CachedPage {
                data: data.clone(),
                total,
                generation,
            },
        );
        Ok((Paginated::new(data, q.page, total), Lookup::Miss))
    }

    pub fn create(&self, input: &MovieInput) -> Result<Movie, ApiError> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now.rfc3339();
        transaction(self.db, || {
            store::insert(self.db, &id, input, &now)?;
            self.outbox.add(
                self.db,
                &Event::MovieCreated(MovieCreated {
                    movie_id: id.clone(),
                    title: input.title.clone(),
                    genres: input.genres.clone(),
                    release_year: input.release_year,
                }),
            )?;
            Ok::<_, ApiError>(())
        })?;
        self.cached().invalidate(None);
        store::find(self.db, &id)?.ok_or_else(|| ApiError::internal("created movie vanished"))
    }

    /// PUT (and PATCH, after merging): replace the editable fields.
    pub fn update(&self, id: &str, input: &MovieInput) -> Result<Movie, ApiError> {
        transaction(self.db, || {
            let before = self.load(id)?;
            let poster_url = store::update(self.db, id, input, &self.now.rfc3339())?;
            self.outbox.add(
                self.db,
                &Event::MovieUpdated(MovieUpdated {
                    movie_id: id.to_owned(),
                    title: input.title.clone(),
                    genres: input.genres.clone(),
                    release_year: input.release_year,
                    poster_url,
                    changes: Some(input.changes_from(&before)),
                }),
            )?;
            Ok::<_, ApiError>(())
        })?;
        self.cached().invalidate(Some(id));
        self.load(id)
    }

    /// The stored movie, bypassing the cache (for PATCH's merge and after writes).
    pub fn load(&self, id: &str) -> Result<Movie, ApiError> {
        store::find(self.db, id)?.ok_or_else(movie_not_found)
    }

    /// Delete: the movie deletion saga (movie.deleted) and, for each of its
    /// Cloudinary assets, a media.delete_requested ([`crate::cleanup`]).
    pub fn delete(&self, id: &str) -> Result<(), ApiError> {
        transaction(self.db, || {
            let assets = store::delete(self.db, id)?;
            self.outbox.add(
                self.db,
                &Event::MovieDeleted(MovieDeleted {
                    movie_id: id.to_owned(),
                }),
            )?;
            for (kind, public_id) in assets {
                self.outbox.add(self.db, &cleanup::requested(id, kind, &public_id))?;
            }
            Ok::<_, ApiError>(())
        })?;
        self.cached().invalidate(Some(id));
        Ok(())
    }

    /// The uploaded poster replaces the old one (same public id, overwritten).
    /// Favourites show the poster, so a new one is a movie.updated.
    pub fn set_poster(&self, id: &str, url: &str, public_id: &str) -> Result<Movie, ApiError> {
        transaction(self.db, || {
            let headline = store::set_poster(self.db, id, Some((url, public_id)), &self.now.rfc3339())?;
            self.outbox.add(
                self.db,
                &Event::MovieUpdated(MovieUpdated {
                    movie_id: id.to_owned(),
                    title: headline.title,
                    genres: headline.genres,
                    release_year: headline.release_year,
                    poster_url: Some(url.to_owned()),
                    changes: Some(vec!["posterUrl".to_owned()]),
                }),
            )?;
            Ok::<_, ApiError>(())
        })?;
        self.cached().invalidate(Some(id));
        self.load(id)
    }

    /// Add a subtitle track, replacing one in the same language.
    pub fn put_subtitle(&self, id: &str, language: &str, url: &str, public_id: &str) -> Result<Movie, ApiError> {
        transaction(self.db, || {
            let mut subtitles = store::subtitles(self.db, id)?;
            subtitles.retain(|s| !s.language.eq_ignore_ascii_case(language));
            subtitles.push(StoredSubtitle {
                language: language.to_owned(),
                url: url.to_owned(),
                public_id: public_id.to_owned(),
            });
            subtitles.sort_by(|a, b| a.language.cmp(&b.language));
            store::set_subtitles(self.db, id, &subtitles, &self.now.rfc3339())?;
            Ok::<_, ApiError>(())
        })?;
        self.cached().invalidate(Some(id));
        self.load(id)
    }

    /// Cloudinary confirmed the video: store it and tell the others.
    pub fn set_video(&self, id: &str, url: &str, public_id: &str) -> Result<Movie, ApiError> {
        transaction(self.db, || {
            store::set_video(self.db, id, Some((url, public_id)), &self.now.rfc3339())?;
            self.outbox.add(
                self.db,
                &Event::MovieVideoUploaded(MovieVideoUploaded {
                    movie_id: id.to_owned(),
                    video_url: url.to_owned(),
                }),
            )?;
            Ok::<_, ApiError>(())
        })?;
        self.cached().invalidate(Some(id));
        self.load(id)
    }
}

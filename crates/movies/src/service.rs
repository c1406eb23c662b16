//! The catalogue over a [`Db`], with a read-through [`Cache`] in front of
//! reads and events through the outbox. Every write invalidates what it
//! changed, so a read after a write never sees the old movie.

use streamia_api::{ApiError, Paginated};
use streamia_clock::Now;
use streamia_db::{transaction, Db, Value};
use streamia_events::outbox::Outbox;
use streamia_events::{Event, MovieCreated, MovieDeleted, MovieUpdated, MovieVideoUploaded};

use crate::cache::{cached_movie, cached_page, list_key, Cache, CachedPage, CatalogueCache, Lookup};
use crate::domain::{ListQuery, Movie, MovieInput};
use crate::store::{
    self, json_list, like_pattern, movie_from, movie_not_found, to_json, touched, StoredSubtitle, COLUMNS,
};
use crate::MIGRATIONS;

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
        let mut filter = String::new();
        let mut params: Vec<Value> = Vec::new();
        if let Some(genre) = &q.genre {
            filter.push_str(
                " AND EXISTS (SELECT 1 FROM json_each(movies_catalogue.genres) g WHERE lower(g.value) = lower(?))",
            );
            params.push(genre.into());
        }
        if let Some(year) = q.year {
            filter.push_str(" AND release_year = ?");
            params.push(i64::from(year).into());
        }
        if let Some(search) = &q.search {
            filter.push_str(" AND title LIKE ? ESCAPE '\\'");
            params.push(like_pattern(search).into());
        }
        let total = self.db.count(
            &format!("SELECT COUNT(*) AS n FROM movies_catalogue WHERE 1 = 1{filter}"),
            &params,
        )?;
        let dir = if q.descending { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT {COLUMNS} FROM movies_catalogue WHERE 1 = 1{filter} ORDER BY {} {dir}, id {dir} LIMIT ? OFFSET ?",
            q.sort.column()
        );
        params.push(i64::from(q.page.limit()).into());
        params.push(q.page.offset().into());
        let rows = self.db.execute(&sql, &params)?;
        let data = rows.iter().map(|r| movie_from(&r)).collect::<Result<Vec<_>, _>>()?;
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
            self.db.execute(
                "INSERT INTO movies_catalogue (id, title, description, genres, release_year, duration_minutes, director,
                    cast_members, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    (&id).into(),
                    (&input.title).into(),
                    (&input.description).into(),
                    to_json(&input.genres).into(),
                    i64::from(input.release_year).into(),
                    input.duration_minutes.map(i64::from).into(),
                    input.director.clone().into(),
                    to_json(&input.cast).into(),
                    (&now).into(),
                    (&now).into(),
                ],
            )?;
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
            let updated = self.db.execute(
                "UPDATE movies_catalogue SET title = ?, description = ?, genres = ?, release_year = ?, duration_minutes = ?,
                    director = ?, cast_members = ?, updated_at = ? WHERE id = ? RETURNING id, poster_url",
                &[
                    (&input.title).into(),
                    (&input.description).into(),
                    to_json(&input.genres).into(),
                    i64::from(input.release_year).into(),
                    input.duration_minutes.map(i64::from).into(),
                    input.director.clone().into(),
                    to_json(&input.cast).into(),
                    self.now.rfc3339().into(),
                    id.into(),
                ],
            )?;
            touched(&updated)?;
            let poster_url = updated.first().map(|r| r.opt_text("poster_url")).transpose()?.flatten();
            self.outbox.add(
                self.db,
                &Event::MovieUpdated(MovieUpdated {
                    movie_id: id.to_owned(),
                    title: input.title.clone(),
                    genres: input.genres.clone(),
                    release_year: input.release_year,
                    poster_url,
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

    /// Delete; returns the movie's Cloudinary assets `(resource type, public
    /// id)`, for the caller to destroy.
    pub fn delete(&self, id: &str) -> Result<Vec<(&'static str, String)>, ApiError> {
        let assets = transaction(self.db, || {
            let gone = self.db.execute(
                "DELETE FROM movies_catalogue WHERE id = ? RETURNING poster_public_id, video_public_id, subtitles",
                &[id.into()],
            )?;
            let Some(row) = gone.first() else {
                return Err(movie_not_found());
            };
            let mut assets: Vec<(&'static str, String)> = [
                ("image", row.opt_text("poster_public_id")?),
                ("video", row.opt_text("video_public_id")?),
            ]
            .into_iter()
            .filter_map(|(kind, id)| id.map(|id| (kind, id)))
            .collect();
            assets.extend(
                json_list::<StoredSubtitle>(&row, "subtitles")?
                    .into_iter()
                    .map(|s| ("raw", s.public_id)),
            );
            self.outbox.add(
                self.db,
                &Event::MovieDeleted(MovieDeleted {
                    movie_id: id.to_owned(),
                }),
            )?;
            Ok(assets)
        })?;
        self.cached().invalidate(Some(id));
        Ok(assets)
    }

    /// The uploaded poster replaces the old one (same public id, overwritten).
    /// Favourites show the poster, so a new one is a movie.updated.
    pub fn set_poster(&self, id: &str, url: &str, public_id: &str) -> Result<Movie, ApiError> {
        transaction(self.db, || {
            let updated = self.db.execute(
                "UPDATE movies_catalogue SET poster_url = ?, poster_public_id = ?, updated_at = ? WHERE id = ?
                    RETURNING title, genres, release_year",
                &[url.into(), public_id.into(), self.now.rfc3339().into(), id.into()],
            )?;
            let Some(row) = updated.first() else {
                return Err(movie_not_found());
            };
            self.outbox.add(
                self.db,
                &Event::MovieUpdated(MovieUpdated {
                    movie_id: id.to_owned(),
                    title: row.text("title")?,
                    genres: json_list(&row, "genres")?,
                    release_year: row.int("release_year")? as u32,
                    poster_url: Some(url.to_owned()),
                }),
            )?;
            Ok(())
        })?;
        self.cached().invalidate(Some(id));
        self.load(id)
    }

    /// Add a subtitle track, replacing one in the same language.
    pub fn put_subtitle(&self, id: &str, language: &str, url: &str, public_id: &str) -> Result<Movie, ApiError> {
        transaction(self.db, || {
            let rows = self
                .db
                .execute("SELECT subtitles FROM movies_catalogue WHERE id = ?", &[id.into()])?;
            let Some(row) = rows.first() else {
                return Err(movie_not_found());
            };
            let mut subtitles: Vec<StoredSubtitle> = json_list(&row, "subtitles")?;
            subtitles.retain(|s| !s.language.eq_ignore_ascii_case(language));
            subtitles.push(StoredSubtitle {
                language: language.to_owned(),
                url: url.to_owned(),
                public_id: public_id.to_owned(),
            });
            subtitles.sort_by(|a, b| a.language.cmp(&b.language));
            self.db.execute(
                "UPDATE movies_catalogue SET subtitles = ?, updated_at = ? WHERE id = ?",
                &[to_json(&subtitles).into(), self.now.rfc3339().into(), id.into()],
            )?;
            Ok(())
        })?;
        self.cached().invalidate(Some(id));
        self.load(id)
    }

    /// Cloudinary confirmed the video: store it and tell the others.
    pub fn set_video(&self, id: &str, url: &str, public_id: &str) -> Result<Movie, ApiError> {
        transaction(self.db, || {
            let updated = self.db.execute(
                "UPDATE movies_catalogue SET video_url = ?, video_public_id = ?, updated_at = ? WHERE id = ? RETURNING id",
                &[url.into(), public_id.into(), self.now.rfc3339().into(), id.into()],
            )?;
            touched(&updated)?;
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

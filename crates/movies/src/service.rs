//! The catalogue over a [`Db`], with a read-through [`Cache`] in front of
//! reads and events through the outbox. Every write invalidates what it
//! changed, so a read after a write never sees the old movie.

use serde::{Deserialize, Serialize};
use streamia_api::{ApiError, Paginated};
use streamia_db::{transaction, Db, Row, Value};
use streamia_events::consumer::{consume, Consumed};
use streamia_events::outbox::Outbox;
use streamia_events::{Envelope, Event, MovieCreated, MovieDeleted, MovieUpdated, MovieVideoUploaded};

use crate::cache::Cache;
use crate::domain::{ListQuery, Movie, MovieInput, Subtitle};

pub const SERVICE: &str = "movies";
/// Single movies stay cached this long; lists change more often.
pub const MOVIE_TTL_SECS: i64 = 300;
pub const LIST_TTL_SECS: i64 = 30;
/// At most this many list pages are cached at once (each write drops them all).
pub const MAX_CACHED_LISTS: usize = 200;

pub const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE movies_catalogue (id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL,
            genres TEXT NOT NULL DEFAULT '[]', release_year INTEGER NOT NULL, duration_minutes INTEGER, director TEXT,
            cast_members TEXT NOT NULL DEFAULT '[]', poster_url TEXT, poster_public_id TEXT, video_url TEXT,
            video_public_id TEXT, subtitles TEXT NOT NULL DEFAULT '[]', average_rating REAL NOT NULL DEFAULT 0,
            total_ratings INTEGER NOT NULL DEFAULT 0, rating_version INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX movies_catalogue_year ON movies_catalogue (release_year)",
        "CREATE INDEX movies_catalogue_created ON movies_catalogue (created_at)",
    ],
    &streamia_events::outbox_schema!("movies"),
    &streamia_events::consumer_schema!("movies"),
];

const COLUMNS: &str = "id, title, description, genres, release_year, duration_minutes, director, cast_members,
    poster_url, video_url, subtitles, average_rating, total_ratings, created_at, updated_at";

#[derive(Serialize, Deserialize)]
struct Cached<T> {
    /// Unix seconds after which the entry is stale.
    exp: i64,
    value: T,
}

const LISTS_INDEX: &str = "movies:lists";
const HITS: &str = "movies:stats:hits";
const MISSES: &str = "movies:stats:misses";

fn movie_key(id: &str) -> String {
    format!("movies:movie:{id}")
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

pub struct Movies<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
    pub cache: &'a dyn Cache,
    /// Unix seconds.
    pub now: i64,
    pub current_year: u32,
}

fn json_list<T: for<'de> Deserialize<'de>>(row: &Row<'_>, column: &str) -> Result<Vec<T>, ApiError> {
    serde_json::from_str(&row.text(column)?).map_err(|e| ApiError::internal(format!("{column}: {e}")))
}

/// A subtitle as stored: what clients see, plus its Cloudinary public id.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredSubtitle {
    language: String,
    url: String,
    public_id: String,
}

fn movie_from(row: &Row<'_>) -> Result<Movie, ApiError> {
    Ok(Movie {
        id: row.text("id")?,
        title: row.text("title")?,
        description: row.text("description")?,
        genres: json_list(row, "genres")?,
        release_year: row.int("release_year")? as u32,
        duration_minutes: row.opt_int("duration_minutes")?.map(|d| d as u32),
        director: row.opt_text("director")?,
        cast: json_list(row, "cast_members")?,
        poster_url: row.opt_text("poster_url")?,
        video_url: row.opt_text("video_url")?,
        subtitles: json_list::<StoredSubtitle>(row, "subtitles")?
            .into_iter()
            .map(|s| Subtitle {
                language: s.language,
                url: s.url,
            })
            .collect(),
        average_rating: row.real("average_rating")?,
        total_ratings: row.int("total_ratings")? as u32,
        created_at: row.text("created_at")?,
        updated_at: row.text("updated_at")?,
    })
}

fn movie_not_found() -> ApiError {
    ApiError::NotFound("movie not found".into())
}

/// An `UPDATE`/`DELETE … RETURNING id` that touched no row: no such movie.
fn touched(rows: &streamia_db::Rows) -> Result<(), ApiError> {
    if rows.is_empty() {
        Err(movie_not_found())
    } else {
        Ok(())
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Vectors of strings and plain records always serialise.
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// `%`, `_` and `\` match themselves in a LIKE pattern.
fn like_pattern(search: &str) -> String {
    let escaped = search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

impl Movies<'_> {
    pub fn migrate(&self) -> Result<(), ApiError> {
        Ok(streamia_db::migrate(self.db, MIGRATIONS)?)
    }

    fn cached<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Option<T> {
        let bytes = self.cache.get(key)?;
        let entry: Cached<T> = serde_json::from_slice(&bytes).ok()?;
        (entry.exp > self.now).then_some(entry.value)
    }

    fn store<T: Serialize>(&self, key: &str, value: &T, ttl: i64) {
        let entry = Cached {
            exp: self.now + ttl,
            value,
        };
        if let Ok(bytes) = serde_json::to_vec(&entry) {
            self.cache.set(key, &bytes);
        }
    }

    fn count(&self, key: &str) {
        let n: u64 = self
            .cache
            .get(key)
            .and_then(|b| String::from_utf8(b).ok()?.parse().ok())
            .unwrap_or(0);
        self.cache.set(key, (n + 1).to_string().as_bytes());
    }

    pub fn cache_stats(&self) -> CacheStats {
        let read = |k| {
            self.cache
                .get(k)
                .and_then(|b| String::from_utf8(b).ok()?.parse().ok())
                .unwrap_or(0)
        };
        CacheStats {
            hits: read(HITS),
            misses: read(MISSES),
        }
    }

    /// Drop a movie's entry (if any) and every cached list page.
    fn invalidate(&self, id: Option<&str>) {
        if let Some(id) = id {
            self.cache.delete(&movie_key(id));
        }
        let keys: Vec<String> = self
            .cache
            .get(LISTS_INDEX)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        for key in keys {
            self.cache.delete(&key);
        }
        self.cache.delete(LISTS_INDEX);
    }

    fn find(&self, id: &str) -> Result<Option<Movie>, ApiError> {
        let rows = self.db.execute(
            &format!("SELECT {COLUMNS} FROM movies_catalogue WHERE id = ?"),
            &[id.into()],
        )?;
        rows.first().map(|r| movie_from(&r)).transpose()
    }

    /// GET one movie: the cache, else the database (then cached).
    pub fn get(&self, id: &str) -> Result<Movie, ApiError> {
        let key = movie_key(id);
        if let Some(movie) = self.cached::<Movie>(&key) {
            self.count(HITS);
            return Ok(movie);
        }
        self.count(MISSES);
        let movie = self.find(id)?.ok_or_else(movie_not_found)?;
        self.store(&key, &movie, MOVIE_TTL_SECS);
        Ok(movie)
    }

    pub fn exists(&self, id: &str) -> Result<bool, ApiError> {
        Ok(self.find(id)?.is_some())
    }

    pub fn list(&self, q: &ListQuery) -> Result<Paginated<Movie>, ApiError> {
        let key = format!("movies:list:{}", q.cache_key());
        if let Some(page) = self.cached::<CachedPage>(&key) {
            self.count(HITS);
            return Ok(Paginated::new(page.data, q.page, page.total));
        }
        self.count(MISSES);
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
        self.remember_list(
            &key,
            &CachedPage {
                data: data.clone(),
                total,
            },
        );
        Ok(Paginated::new(data, q.page, total))
    }

    fn remember_list(&self, key: &str, page: &CachedPage) {
        let mut keys: Vec<String> = self
            .cache
            .get(LISTS_INDEX)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if !keys.iter().any(|k| k == key) {
            if keys.len() >= MAX_CACHED_LISTS {
                return;
            }
            keys.push(key.to_owned());
            self.cache
                .set(LISTS_INDEX, &serde_json::to_vec(&keys).unwrap_or_default());
        }
        self.store(key, page, LIST_TTL_SECS);
    }

    pub fn create(&self, input: &MovieInput) -> Result<Movie, ApiError> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = streamia_events::now_rfc3339();
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
        self.invalidate(None);
        self.find(&id)?
            .ok_or_else(|| ApiError::internal("created movie vanished"))
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
                    streamia_events::now_rfc3339().into(),
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
        self.invalidate(Some(id));
        self.load(id)
    }

    /// The stored movie, bypassing the cache (for PATCH's merge and after writes).
    pub fn load(&self, id: &str) -> Result<Movie, ApiError> {
        self.find(id)?.ok_or_else(movie_not_found)
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
        self.invalidate(Some(id));
        Ok(assets)
    }

    /// The uploaded poster replaces the old one (same public id, overwritten).
    /// Favourites show the poster, so a new one is a movie.updated.
    pub fn set_poster(&self, id: &str, url: &str, public_id: &str) -> Result<Movie, ApiError> {
        transaction(self.db, || {
            let updated = self.db.execute(
                "UPDATE movies_catalogue SET poster_url = ?, poster_public_id = ?, updated_at = ? WHERE id = ?
                    RETURNING title, genres, release_year",
                &[
                    url.into(),
                    public_id.into(),
                    streamia_events::now_rfc3339().into(),
                    id.into(),
                ],
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
        self.invalidate(Some(id));
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
                &[
                    to_json(&subtitles).into(),
                    streamia_events::now_rfc3339().into(),
                    id.into(),
                ],
            )?;
            Ok(())
        })?;
        self.invalidate(Some(id));
        self.load(id)
    }

    /// Cloudinary confirmed the video: store it and tell the others.
    pub fn set_video(&self, id: &str, url: &str, public_id: &str) -> Result<Movie, ApiError> {
        transaction(self.db, || {
            let updated = self.db.execute(
                "UPDATE movies_catalogue SET video_url = ?, video_public_id = ?, updated_at = ? WHERE id = ? RETURNING id",
                &[url.into(), public_id.into(), streamia_events::now_rfc3339().into(), id.into()],
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
        self.invalidate(Some(id));
        self.load(id)
    }

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

#[derive(Serialize, Deserialize)]
struct CachedPage {
    data: Vec<Movie>,
    total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::MemoryCache;
    use crate::domain::MovieFields;
    use streamia_db::MemoryDb;
    use streamia_events::{RatingCreated, RatingUpdated};

    struct Fixture {
        db: MemoryDb,
        outbox: Outbox,
        cache: MemoryCache,
    }

    impl Fixture {
        fn new() -> Self {
            let f = Fixture {
                db: MemoryDb::new(),
                outbox: Outbox::new(SERVICE),
                cache: MemoryCache::default(),
            };
            f.at(0).migrate().unwrap();
            f
        }

        fn at(&self, now: i64) -> Movies<'_> {
            Movies {
                db: &self.db,
                outbox: &self.outbox,
                cache: &self.cache,
                now: 1_800_000_000 + now,
                current_year: 2026,
            }
        }

        fn add(&self, title: &str, year: i64, genres: &[&str]) -> Movie {
            let fields: MovieFields = serde_json::from_value(serde_json::json!({
                "title": title, "description": "d", "releaseYear": year, "genres": genres
            }))
            .unwrap();
            self.at(0).create(&MovieInput::parse(&fields, 2026).unwrap()).unwrap()
        }

        fn query(&self, pairs: &[(&str, &str)]) -> Vec<String> {
            let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let q = ListQuery::parse(|k| owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()), 2026).unwrap();
            self.at(0).list(&q).unwrap().data.into_iter().map(|m| m.title).collect()
        }
    }

    #[test]
    fn filters_search_and_sorting() {
        let f = Fixture::new();
        f.add("The Matrix", 1999, &["Sci-Fi", "Action"]);
        f.add("Alien", 1979, &["Sci-Fi", "Horror"]);
        f.add("Heat", 1995, &["Crime"]);
        f.add("100%_Real", 2001, &["Drama"]);
        assert_eq!(
            f.query(&[("genre", "sci-fi"), ("sort", "title")]),
            ["Alien", "The Matrix"]
        );
        assert_eq!(f.query(&[("year", "1995")]), ["Heat"]);
        assert_eq!(f.query(&[("search", "MATRIX")]), ["The Matrix"]);
        assert_eq!(f.query(&[("search", "%")]), ["100%_Real"], "LIKE wildcards are literal");
        assert_eq!(f.query(&[("search", "_")]), ["100%_Real"]);
        assert_eq!(
            f.query(&[("sort", "releaseYear:desc")]),
            ["100%_Real", "The Matrix", "Heat", "Alien"]
        );
        assert_eq!(
            f.query(&[("sort", "title"), ("page", "2"), ("limit", "3")]),
            ["The Matrix"]
        );
    }

    #[test]
    fn reads_are_cached_and_writes_invalidate() {
        let f = Fixture::new();
        let m = f.add("Alien", 1979, &[]);
        assert_eq!(f.at(1).get(&m.id).unwrap().title, "Alien");
        assert_eq!(f.at(2).get(&m.id).unwrap().title, "Alien");
        assert_eq!(f.at(0).cache_stats(), CacheStats { hits: 1, misses: 1 });

        assert_eq!(f.query(&[]), ["Alien"]);
        let fields: MovieFields =
            serde_json::from_value(serde_json::json!({"title": "Aliens", "description": "d", "releaseYear": 1986}))
                .unwrap();
        f.at(3)
            .update(&m.id, &MovieInput::parse(&fields, 2026).unwrap())
            .unwrap();
        assert_eq!(
            f.at(4).get(&m.id).unwrap().title,
            "Aliens",
            "the update is seen at once"
        );
        assert_eq!(f.query(&[]), ["Aliens"], "list pages too");

        f.at(5).delete(&m.id).unwrap();
        assert_eq!(f.at(6).get(&m.id).unwrap_err().status(), 404);
        assert!(f.query(&[]).is_empty());
    }

    #[test]
    fn cache_entries_expire() {
        let f = Fixture::new();
        let m = f.add("Alien", 1979, &[]);
        f.at(0).get(&m.id).unwrap();
        f.at(MOVIE_TTL_SECS + 1).get(&m.id).unwrap();
        assert_eq!(f.at(0).cache_stats().misses, 2);
    }

    #[test]
    fn writes_emit_events_and_media_is_tracked_for_deletion() {
        let f = Fixture::new();
        let m = f.add("Alien", 1979, &["Horror"]);
        f.at(0).get(&m.id).unwrap();
        let video = "https://res.cloudinary.com/demo/video/upload/v1/x.mp4";
        assert_eq!(
            f.at(1)
                .set_video(&m.id, video, "streamia/movies/x/video")
                .unwrap()
                .video_url
                .as_deref(),
            Some(video)
        );
        assert_eq!(
            f.at(2).get(&m.id).unwrap().video_url.as_deref(),
            Some(video),
            "the cached movie was dropped"
        );
        f.at(3)
            .set_poster(&m.id, "https://res.cloudinary.com/p.jpg", "streamia/movies/x/poster")
            .unwrap();
        let es = |url: &str| {
            f.at(3)
                .put_subtitle(&m.id, "es", url, &format!("streamia/movies/x/subtitles/{url}"))
                .unwrap()
        };
        es("es1.vtt");
        let movie = es("es2.vtt");
        assert_eq!(
            movie.subtitles,
            vec![Subtitle {
                language: "es".into(),
                url: "es2.vtt".into()
            }],
            "same language replaced"
        );
        assert_eq!(
            f.at(3).get(&m.id).unwrap().poster_url.as_deref(),
            Some("https://res.cloudinary.com/p.jpg")
        );
        assert_eq!(
            f.at(3).delete(&m.id).unwrap(),
            vec![
                ("image", "streamia/movies/x/poster".to_owned()),
                ("video", "streamia/movies/x/video".to_owned()),
                ("raw", "streamia/movies/x/subtitles/es2.vtt".to_owned())
            ]
        );
        let types: Vec<String> = f
            .outbox
            .due(&f.db, i64::MAX, 10)
            .unwrap()
            .into_iter()
            .map(|p| p.envelope.event_type)
            .collect();
        // The poster is a movie.updated (favourites show it); subtitles are not.
        assert_eq!(
            types,
            [
                "movie.created",
                "movie.video_uploaded",
                "movie.updated",
                "movie.deleted"
            ]
        );
    }

    fn rating(movie: &str, version: u64, average: f64, total: u32, updated: bool) -> Envelope {
        let event = if updated {
            Event::RatingUpdated(RatingUpdated {
                movie_id: movie.into(),
                user_id: "u".into(),
                score: 3,
                average_rating: average,
                total_ratings: total,
                aggregate_version: version,
            })
        } else {
            Event::RatingCreated(RatingCreated {
                movie_id: movie.into(),
                user_id: "u".into(),
                score: 5,
                average_rating: average,
                total_ratings: total,
                aggregate_version: version,
            })
        };
        Envelope::new(&event, "ratings")
    }

    #[test]
    fn rating_aggregates_apply_in_version_order_once() {
        let f = Fixture::new();
        let m = f.add("Alien", 1979, &[]);
        f.at(0).get(&m.id).unwrap();
        let v2 = rating(&m.id, 2, 4.0, 2, true);
        let v1 = rating(&m.id, 1, 5.0, 1, false);
        assert_eq!(f.at(1).apply_rating_event(&v2).unwrap(), Consumed::Applied);
        assert_eq!(
            f.at(1).apply_rating_event(&v1).unwrap(),
            Consumed::Applied,
            "recorded, but stale"
        );
        assert_eq!(f.at(1).apply_rating_event(&v2).unwrap(), Consumed::Duplicate);
        let movie = f.at(2).get(&m.id).unwrap();
        assert_eq!(
            (movie.average_rating, movie.total_ratings),
            (4.0, 2),
            "the older aggregate never overwrites"
        );
    }
}

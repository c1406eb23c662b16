//! The favorites service's logic, in plain Rust so native tests run it:
//! a user's favourite movies (unique per user and movie, strictly private),
//! each with the movie's title and poster as last announced by the movies
//! service, and the favourites' part in the deletion sagas.
//! `components/favorites` wires it to Spin.

use serde::{Deserialize, Serialize};
use streamia_api::{ApiError, FieldError, Page, Paginated};
use streamia_db::{transaction, Db, DbError, Row};
use streamia_events::consumer::{consume, Consumed};
use streamia_events::outbox::Outbox;
use streamia_events::tombstone::{self, Kind};
use streamia_events::{
    Envelope, Event, FavoriteAdded, FavoriteRemoved, FavoritesClearedForMovie, FavoritesClearedForUser,
};

pub const SERVICE: &str = "favorites";

pub const MIGRATIONS: &[&[&str]] = &[
    &[
        // title and poster_url: the movie as last announced, so a list needs
        // no call to the movies service.
        "CREATE TABLE favorites_items (user_id TEXT NOT NULL, movie_id TEXT NOT NULL, note TEXT,
            title TEXT NOT NULL, poster_url TEXT, created_at TEXT NOT NULL, PRIMARY KEY (user_id, movie_id))",
        "CREATE INDEX favorites_items_movie ON favorites_items (movie_id)",
        "CREATE INDEX favorites_items_user_created ON favorites_items (user_id, created_at)",
    ],
    &streamia_events::outbox_schema!("favorites"),
    &streamia_events::consumer_schema!("favorites"),
    &streamia_events::tombstone_schema!("favorites"),
];

pub const MAX_NOTE_CHARS: usize = 500;

/// `POST /api/favorites/{movieId}`'s optional body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddFavorite {
    #[serde(default)]
    pub note: Option<String>,
}

/// A note: trimmed, at most [`MAX_NOTE_CHARS`]; blank means none.
#[derive(Debug, Clone, PartialEq)]
pub struct Note(Option<String>);

impl Note {
    pub fn parse(note: Option<&str>) -> Result<Self, ApiError> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        match note {
            Some(n) if n.chars().count() > MAX_NOTE_CHARS => Err(ApiError::Validation(vec![FieldError::new(
                "note",
                format!("must be at most {MAX_NOTE_CHARS} characters"),
            )])),
            _ => Ok(Note(note.map(str::to_owned))),
        }
    }
}

/// The movie as the movies service described it.
pub struct MovieRef<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub poster_url: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Favorite {
    pub movie_id: String,
    pub note: Option<String>,
    pub created_at: String,
    pub title: String,
    pub poster_url: Option<String>,
}

fn favorite_from(row: &Row<'_>) -> Result<Favorite, DbError> {
    Ok(Favorite {
        movie_id: row.text("movie_id")?,
        note: row.opt_text("note")?,
        created_at: row.text("created_at")?,
        title: row.text("title")?,
        poster_url: row.opt_text("poster_url")?,
    })
}

#[derive(Debug, PartialEq)]
pub enum Added {
    Created(Favorite),
    /// It was a favourite already; nothing changed.
    AlreadyThere(Favorite),
}

pub struct Favorites<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
}

const COLUMNS: &str = "movie_id, note, created_at, title, poster_url";

fn movie_not_found() -> ApiError {
    ApiError::NotFound("movie not found".into())
}

impl Favorites<'_> {
    pub fn migrate(&self) -> Result<(), ApiError> {
        Ok(streamia_db::migrate(self.db, MIGRATIONS)?)
    }

    /// A token issued before its account was deleted is refused.
    pub fn check_user(&self, user_id: &str) -> Result<(), ApiError> {
        if tombstone::is_buried(self.db, SERVICE, Kind::User, user_id)? {
            return Err(ApiError::account_gone());
        }
        Ok(())
    }

    fn find(&self, user_id: &str, movie_id: &str) -> Result<Option<Favorite>, ApiError> {
        let rows = self.db.execute(
            &format!("SELECT {COLUMNS} FROM favorites_items WHERE user_id = ? AND movie_id = ?"),
            &[user_id.into(), movie_id.into()],
        )?;
        Ok(rows.first().map(|r| favorite_from(&r)).transpose()?)
    }

    pub fn add(&self, user_id: &str, movie: &MovieRef<'_>, note: &Note) -> Result<Added, ApiError> {
        self.check_user(user_id)?;
        transaction(self.db, || {
            // The movie may have been deleted since the movies service said it exists.
            if tombstone::is_buried(self.db, SERVICE, Kind::Movie, movie.id)? {
                return Err(movie_not_found());
            }
            if let Some(existing) = self.find(user_id, movie.id)? {
                return Ok(Added::AlreadyThere(existing));
            }
            self.db.execute(
                "INSERT INTO favorites_items (user_id, movie_id, note, title, poster_url, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)",
                &[
                    user_id.into(),
                    movie.id.into(),
                    note.0.clone().into(),
                    movie.title.into(),
                    movie.poster_url.into(),
                    streamia_events::now_rfc3339().into(),
                ],
            )?;
            self.outbox.add(
                self.db,
                &Event::FavoriteAdded(FavoriteAdded {
                    user_id: user_id.to_owned(),
                    movie_id: movie.id.to_owned(),
                }),
            )?;
            let created = self
                .find(user_id, movie.id)?
                .ok_or_else(|| ApiError::internal("added favourite vanished"))?;
            Ok(Added::Created(created))
        })
    }

    pub fn remove(&self, user_id: &str, movie_id: &str) -> Result<(), ApiError> {
        self.check_user(user_id)?;
        transaction(self.db, || {
            let gone = self.db.execute(
                "DELETE FROM favorites_items WHERE user_id = ? AND movie_id = ? RETURNING movie_id",
                &[user_id.into(), movie_id.into()],
            )?;
            if gone.is_empty() {
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
        Ok(self.find(user_id, movie_id)?.is_some())
    }

    /// The user's favourites, newest first.
    pub fn list(&self, user_id: &str, page: Page) -> Result<Paginated<Favorite>, ApiError> {
        self.check_user(user_id)?;
        let total = self.db.count(
            "SELECT COUNT(*) AS n FROM favorites_items WHERE user_id = ?",
            &[user_id.into()],
        )?;
        let rows = self.db.execute(
            &format!(
                "SELECT {COLUMNS} FROM favorites_items WHERE user_id = ?
                    ORDER BY created_at DESC, movie_id DESC LIMIT ? OFFSET ?"
            ),
            &[user_id.into(), i64::from(page.limit()).into(), page.offset().into()],
        )?;
        let data = rows.iter().map(|r| favorite_from(&r)).collect::<Result<_, _>>()?;
        Ok(Paginated::new(data, page, total))
    }

    /// user.deleted and movie.deleted (the sagas) and movie.updated (fresh
    /// titles and posters), each applied once.
    pub fn apply_event(&self, envelope: &Envelope) -> Result<Consumed, ApiError> {
        Ok(consume(
            self.db,
            SERVICE,
            envelope,
            |event| -> Result<bool, ApiError> {
                match event {
                    Event::UserDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::User, &e.user_id)?;
                        let removed = self
                            .db
                            .execute(
                                "DELETE FROM favorites_items WHERE user_id = ? RETURNING movie_id",
                                &[(&e.user_id).into()],
                            )?
                            .len();
                        self.outbox.add(
                            self.db,
                            &Event::FavoritesClearedForUser(FavoritesClearedForUser {
                                user_id: e.user_id.clone(),
                                removed: removed as u32,
                            }),
                        )?;
                    }
                    Event::MovieDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::Movie, &e.movie_id)?;
                        let removed = self
                            .db
                            .execute(
                                "DELETE FROM favorites_items WHERE movie_id = ? RETURNING user_id",
                                &[(&e.movie_id).into()],
                            )?
                            .len();
                        self.outbox.add(
                            self.db,
                            &Event::FavoritesClearedForMovie(FavoritesClearedForMovie {
                                movie_id: e.movie_id.clone(),
                                removed: removed as u32,
                            }),
                        )?;
                    }
                    Event::MovieUpdated(e) => {
                        self.db.execute(
                            "UPDATE favorites_items SET title = ?, poster_url = ? WHERE movie_id = ?",
                            &[(&e.title).into(), e.poster_url.clone().into(), (&e.movie_id).into()],
                        )?;
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamia_db::MemoryDb;
    use streamia_events::{MovieDeleted, MovieUpdated, UserDeleted};

    struct Fixture {
        db: MemoryDb,
        outbox: Outbox,
    }

    impl Fixture {
        fn new() -> Self {
            let f = Fixture {
                db: MemoryDb::new(),
                outbox: Outbox::new(SERVICE),
            };
            f.favorites().migrate().unwrap();
            f
        }

        fn favorites(&self) -> Favorites<'_> {
            Favorites {
                db: &self.db,
                outbox: &self.outbox,
            }
        }

        fn add(&self, user: &str, movie: &str) -> Added {
            let m = MovieRef {
                id: movie,
                title: "Alien",
                poster_url: None,
            };
            self.favorites().add(user, &m, &Note::parse(None).unwrap()).unwrap()
        }

        fn events(&self) -> Vec<String> {
            self.outbox
                .due(&self.db, i64::MAX, 100)
                .unwrap()
                .into_iter()
                .map(|p| p.envelope.event_type)
                .collect()
        }
    }

    fn page() -> Page {
        Page::parse(None, None).unwrap()
    }

    #[test]
    fn notes_are_trimmed_and_bounded() {
        assert_eq!(Note::parse(Some("  ")).unwrap(), Note(None));
        assert_eq!(Note::parse(Some(" rewatch ")).unwrap(), Note(Some("rewatch".into())));
        assert_eq!(
            Note::parse(Some(&"é".repeat(500))).unwrap().0.unwrap().chars().count(),
            500
        );
        assert_eq!(Note::parse(Some(&"é".repeat(501))).unwrap_err().status(), 400);
    }

    #[test]
    fn a_favourite_is_unique_per_user_and_movie_and_private() {
        let f = Fixture::new();
        assert!(matches!(f.add("ana", "m1"), Added::Created(_)));
        assert!(matches!(f.add("ana", "m1"), Added::AlreadyThere(_)));
        f.add("bob", "m1");
        assert_eq!(f.favorites().list("ana", page()).unwrap().pagination.total, 1);
        assert!(f.favorites().is_favorite("bob", "m1").unwrap());
        f.favorites().remove("ana", "m1").unwrap();
        assert!(!f.favorites().is_favorite("ana", "m1").unwrap());
        assert!(
            f.favorites().is_favorite("bob", "m1").unwrap(),
            "ana's removal left bob's"
        );
        assert_eq!(f.favorites().remove("ana", "m1").unwrap_err().status(), 404);
        assert_eq!(
            f.events(),
            ["favorite.added", "favorite.added", "favorite.removed"],
            "one event per change, none for the repeated add"
        );
    }

    #[test]
    fn sagas_clear_favourites_once_and_refuse_late_writes() {
        let f = Fixture::new();
        f.add("ana", "m1");
        f.add("ana", "m2");
        f.add("bob", "m2");
        let user_gone = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "ana".into() }), "users");
        assert_eq!(f.favorites().apply_event(&user_gone).unwrap(), Consumed::Applied);
        assert_eq!(f.favorites().apply_event(&user_gone).unwrap(), Consumed::Duplicate);
        assert_eq!(
            f.favorites().list("ana", page()).unwrap_err().status(),
            401,
            "a deleted account's token is refused"
        );
        let movie_gone = Envelope::new(&Event::MovieDeleted(MovieDeleted { movie_id: "m2".into() }), "movies");
        f.favorites().apply_event(&movie_gone).unwrap();
        assert_eq!(f.favorites().list("bob", page()).unwrap().pagination.total, 0);
        let m2 = MovieRef {
            id: "m2",
            title: "Gone",
            poster_url: None,
        };
        assert_eq!(f.favorites().add("bob", &m2, &Note(None)).unwrap_err().status(), 404);
        let cleared: Vec<String> = f.events().into_iter().filter(|t| t.contains("cleared")).collect();
        assert_eq!(cleared, ["favorites.cleared_for_user", "favorites.cleared_for_movie"]);
    }

    #[test]
    fn movie_updates_refresh_title_and_poster() {
        let f = Fixture::new();
        f.add("ana", "m1");
        let updated = Envelope::new(
            &Event::MovieUpdated(MovieUpdated {
                movie_id: "m1".into(),
                title: "Aliens".into(),
                genres: vec![],
                release_year: 1986,
                poster_url: Some("https://img/p.jpg".into()),
            }),
            "movies",
        );
        f.favorites().apply_event(&updated).unwrap();
        let list = f.favorites().list("ana", page()).unwrap();
        assert_eq!(list.data[0].title, "Aliens");
        assert_eq!(list.data[0].poster_url.as_deref(), Some("https://img/p.jpg"));
    }
}

//! The movies a service has seen (`<service>_known_movies`): a service that
//! refers to movies asks the movies service about one the first time, then
//! keeps what it was told, so that its writes need no call to another
//! component. The events keep it true: `movie.updated` refreshes a known
//! movie (for services that keep its title), `movie.deleted` leaves a
//! tombstone that refuses it whatever is known.

use streamia_db::{Db, DbError};

/// The table, for a service's migrations.
#[macro_export]
macro_rules! known_movies_schema {
    ($service:literal) => {
        concat!(
            "CREATE TABLE ",
            $service,
            "_known_movies (movie_id TEXT PRIMARY KEY, title TEXT NOT NULL, poster_url TEXT)"
        )
    };
}

/// A movie as the movies service described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownMovie {
    pub id: String,
    pub title: String,
    pub poster_url: Option<String>,
}

pub fn find(db: &dyn Db, service: &str, movie_id: &str) -> Result<Option<KnownMovie>, DbError> {
    let rows = db.execute(
        &format!("SELECT title, poster_url FROM {service}_known_movies WHERE movie_id = ?"),
        &[movie_id.into()],
    )?;
    rows.first()
        .map(|row| {
            Ok(KnownMovie {
                id: movie_id.to_owned(),
                title: row.text("title")?,
                poster_url: row.opt_text("poster_url")?,
            })
        })
        .transpose()
}

pub fn remember(db: &dyn Db, service: &str, movie: &KnownMovie) -> Result<(), DbError> {
    db.execute(
        &format!(
            "INSERT INTO {service}_known_movies (movie_id, title, poster_url) VALUES (?, ?, ?)
                ON CONFLICT (movie_id) DO UPDATE SET title = excluded.title, poster_url = excluded.poster_url"
        ),
        &[
            movie.id.as_str().into(),
            movie.title.as_str().into(),
            movie.poster_url.as_deref().into(),
        ],
    )?;
    Ok(())
}

/// `movie.updated`: the new title and poster of a movie already known.
pub fn refresh(
    db: &dyn Db,
    service: &str,
    movie_id: &str,
    title: &str,
    poster_url: Option<&str>,
) -> Result<(), DbError> {
    db.execute(
        &format!("UPDATE {service}_known_movies SET title = ?, poster_url = ? WHERE movie_id = ?"),
        &[title.into(), poster_url.into(), movie_id.into()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamia_db::MemoryDb;

    #[test]
    fn a_movie_is_remembered_and_refreshed() {
        let db = MemoryDb::new();
        streamia_db::migrate(&db, "t", &[&[crate::known_movies_schema!("t")]]).unwrap();
        assert_eq!(find(&db, "t", "m1").unwrap(), None);
        let alien = KnownMovie {
            id: "m1".into(),
            title: "Alien".into(),
            poster_url: None,
        };
        remember(&db, "t", &alien).unwrap();
        remember(&db, "t", &alien).unwrap();
        assert_eq!(find(&db, "t", "m1").unwrap(), Some(alien));
        refresh(&db, "t", "m1", "Aliens", Some("https://p")).unwrap();
        refresh(&db, "t", "m2", "Never seen", None).unwrap();
        let known = find(&db, "t", "m1").unwrap().unwrap();
        assert_eq!(
            (known.title.as_str(), known.poster_url.as_deref()),
            ("Aliens", Some("https://p"))
        );
        assert_eq!(find(&db, "t", "m2").unwrap(), None, "only what was seen");
    }
}

//! The movie model and its validated inputs.

use serde::{Deserialize, Serialize};
use streamia_api::{FieldError, Validator};

/// The first films date from 1888.
pub const FIRST_FILM_YEAR: u32 = 1888;
pub const MAX_TITLE: usize = 200;
pub const MAX_DESCRIPTION: usize = 5000;
pub const MAX_DURATION_MINUTES: u32 = 1000;
pub const MAX_LIST_ITEMS: usize = 20;
pub const MAX_NAME: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subtitle {
    pub language: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Movie {
    pub id: String,
    pub title: String,
    pub description: String,
    pub genres: Vec<String>,
    pub release_year: u32,
    pub duration_minutes: Option<u32>,
    pub director: Option<String>,
    pub cast: Vec<String>,
    pub poster_url: Option<String>,
    pub video_url: Option<String>,
    pub subtitles: Vec<Subtitle>,
    pub average_rating: f64,
    pub total_ratings: u32,
    pub created_at: String,
    pub updated_at: String,
}

/// The editable fields, as a client sends them (all optional so that PATCH
/// can use the same shape; POST and PUT require title, description, year).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MovieFields {
    pub title: Option<String>,
    pub description: Option<String>,
    pub genres: Option<Vec<String>>,
    /// Whole numbers as JSON Schema's `integer` reads them (`1979.0` too).
    #[serde(default, deserialize_with = "streamia_api::optional_whole_number")]
    pub release_year: Option<i64>,
    #[serde(default, deserialize_with = "streamia_api::optional_whole_number")]
    pub duration_minutes: Option<i64>,
    pub director: Option<String>,
    pub cast: Option<Vec<String>>,
}

/// Fields that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct MovieInput {
    pub title: String,
    pub description: String,
    pub genres: Vec<String>,
    pub release_year: u32,
    pub duration_minutes: Option<u32>,
    pub director: Option<String>,
    pub cast: Vec<String>,
}

impl MovieInput {
    /// The fields whose values differ from `before`'s, as the API names
    /// them (movie.updated's `changes`).
    pub fn changes_from(&self, before: &Movie) -> Vec<String> {
        let differs = [
            ("title", self.title != before.title),
            ("description", self.description != before.description),
            ("genres", self.genres != before.genres),
            ("releaseYear", self.release_year != before.release_year),
            ("durationMinutes", self.duration_minutes != before.duration_minutes),
            ("director", self.director != before.director),
            ("cast", self.cast != before.cast),
        ];
        differs
            .iter()
            .filter(|(_, changed)| *changed)
            .map(|(field, _)| (*field).to_owned())
            .collect()
    }
}

/// Text as sent is at most `max` characters (the bound the API contract
/// states), holds something besides white space, and no control character
/// but a newline; it is kept trimmed.
fn text(v: &mut Validator, field: &str, value: Option<&str>, max: usize) -> Option<String> {
    let raw = value?;
    let value = raw.trim();
    v.check(if value.is_empty() {
        Err(FieldError::new(field, "must not be empty"))
    } else if raw.chars().count() > max {
        Err(FieldError::new(field, format!("must be at most {max} characters")))
    } else if raw.chars().any(|c| c.is_control() && c != '\n') {
        Err(FieldError::new(field, "must not contain control characters"))
    } else {
        Ok(value.to_owned())
    })
}

fn list(v: &mut Validator, field: &str, items: Option<&[String]>) -> Vec<String> {
    let Some(items) = items else { return Vec::new() };
    if items.len() > MAX_LIST_ITEMS {
        v.check::<()>(Err(FieldError::new(
            field,
            format!("must have at most {MAX_LIST_ITEMS} entries"),
        )));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if let Some(item) = text(v, field, Some(item), MAX_NAME) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&item)) {
                out.push(item);
            }
        }
    }
    out
}

impl MovieInput {
    /// Validate a complete movie (POST, PUT, or PATCH merged onto the stored
    /// one). `current_year` bounds the release year: up to next year.
    pub fn parse(fields: &MovieFields, current_year: u32) -> Result<Self, streamia_api::ApiError> {
        let mut v = Validator::new();
        let title = text(&mut v, "title", fields.title.as_deref(), MAX_TITLE);
        if fields.title.is_none() {
            v.check::<()>(Err(FieldError::new("title", "is required")));
        }
        let description = text(&mut v, "description", fields.description.as_deref(), MAX_DESCRIPTION);
        if fields.description.is_none() {
            v.check::<()>(Err(FieldError::new("description", "is required")));
        }
        let release_year = match fields.release_year {
            None => v.check(Err(FieldError::new("releaseYear", "is required"))),
            Some(y) if y >= i64::from(FIRST_FILM_YEAR) && y <= i64::from(current_year + 1) => Some(y as u32),
            Some(_) => v.check(Err(FieldError::new(
                "releaseYear",
                format!("must be from {FIRST_FILM_YEAR} to {}", current_year + 1),
            ))),
        };
        let duration_minutes = match fields.duration_minutes {
            None => None,
            Some(d) if d >= 1 && d <= i64::from(MAX_DURATION_MINUTES) => Some(d as u32),
            Some(_) => v.check(Err(FieldError::new(
                "durationMinutes",
                format!("must be a whole number of minutes from 1 to {MAX_DURATION_MINUTES}"),
            ))),
        };
        let director = text(&mut v, "director", fields.director.as_deref(), MAX_NAME);
        let genres = list(&mut v, "genres", fields.genres.as_deref());
        let cast = list(&mut v, "cast", fields.cast.as_deref());
        v.finish()?;
        match (title, description, release_year) {
            (Some(title), Some(description), Some(release_year)) => Ok(MovieInput {
                title,
                description,
                genres,
                release_year,
                duration_minutes,
                director,
                cast,
            }),
            _ => Err(streamia_api::ApiError::internal("validated movie fields missing")),
        }
    }

    /// PATCH: the stored movie with the given fields replaced.
    pub fn merge(movie: &Movie, patch: &MovieFields) -> MovieFields {
        MovieFields {
            title: patch.title.clone().or_else(|| Some(movie.title.clone())),
            description: patch.description.clone().or_else(|| Some(movie.description.clone())),
            genres: patch.genres.clone().or_else(|| Some(movie.genres.clone())),
            release_year: patch.release_year.or(Some(i64::from(movie.release_year))),
            duration_minutes: patch.duration_minutes.or(movie.duration_minutes.map(i64::from)),
            director: patch.director.clone().or_else(|| movie.director.clone()),
            cast: patch.cast.clone().or_else(|| Some(movie.cast.clone())),
        }
    }
}

/// The calendar year of a Unix time (UTC), for the release-year bound.
pub fn year_of(unix: i64) -> u32 {
    // Days since 1970-01-01 → civil year (Howard Hinnant's algorithm).
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: serde_json::Value) -> MovieFields {
        serde_json::from_value(v).unwrap()
    }

    fn field_names(err: streamia_api::ApiError) -> Vec<String> {
        match err {
            streamia_api::ApiError::Validation(f) => f.into_iter().map(|f| f.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_complete_movie_validates() {
        let m = MovieInput::parse(
            &fields(serde_json::json!({"title": " Alien ", "description": "In space.", "releaseYear": 1979,
                "durationMinutes": 117, "genres": ["Sci-Fi", "Horror", "sci-fi"], "cast": ["Sigourney Weaver"], "director": "Ridley Scott"})),
            2026,
        )
        .unwrap();
        assert_eq!(m.title, "Alien");
        assert_eq!(m.genres, ["Sci-Fi", "Horror"], "duplicates dropped");
        assert_eq!(m.release_year, 1979);
    }

    #[test]
    fn bad_movies_name_every_bad_field() {
        let cases = [
            (serde_json::json!({}), vec!["title", "description", "releaseYear"]),
            (
                serde_json::json!({"title": "", "description": "d", "releaseYear": 1887}),
                vec!["title", "releaseYear"],
            ),
            (
                serde_json::json!({"title": "t", "description": "d", "releaseYear": 2028}),
                vec!["releaseYear"],
            ),
            (
                serde_json::json!({"title": "t", "description": "d", "releaseYear": 2000, "durationMinutes": 0}),
                vec!["durationMinutes"],
            ),
            (
                serde_json::json!({"title": "t", "description": "d", "releaseYear": 2000, "durationMinutes": -5}),
                vec!["durationMinutes"],
            ),
            (
                serde_json::json!({"title": "x".repeat(201), "description": "d", "releaseYear": 2000}),
                vec!["title"],
            ),
            (
                serde_json::json!({"title": "t", "description": "d", "releaseYear": 2000, "genres": vec!["g"; 21]}),
                vec!["genres"],
            ),
            (
                serde_json::json!({"title": "t", "description": "d", "releaseYear": 2000, "cast": [""]}),
                vec!["cast"],
            ),
        ];
        for (body, want) in cases {
            let got = field_names(MovieInput::parse(&fields(body.clone()), 2026).unwrap_err());
            assert_eq!(got, want, "{body}");
        }
        assert!(MovieInput::parse(
            &fields(serde_json::json!({"title": "t", "description": "d", "releaseYear": 2027})),
            2026
        )
        .is_ok());
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_value::<MovieFields>(serde_json::json!({"title": "t", "averageRating": 5})).is_err());
    }

    #[test]
    fn years_of_unix_times() {
        assert_eq!(year_of(0), 1970);
        assert_eq!(year_of(951_782_400), 2000); // 2000-02-29
        assert_eq!(year_of(1_798_761_599), 2026); // 2026-12-31T23:59:59Z
        assert_eq!(year_of(1_798_761_600), 2027);
    }
}

//! `GET /api/movies` parameters, validated: page, filters, the search and
//! the order.

use streamia_api::{FieldError, Page, Validator};

use crate::domain::{FIRST_FILM_YEAR, MAX_NAME, MAX_TITLE};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortField {
    Title,
    ReleaseYear,
    AverageRating,
    CreatedAt,
    /// Best matches of a search first (the default when searching).
    Relevance,
}

impl SortField {
    pub fn column(self) -> &'static str {
        match self {
            SortField::Title => "title COLLATE NOCASE",
            SortField::ReleaseYear => "release_year",
            SortField::AverageRating => "average_rating",
            SortField::CreatedAt => "created_at",
            SortField::Relevance => "score",
        }
    }
}

/// Words a search looks for at most (each is a lookup in the index); the
/// ones after are not looked for. Not refused: no schema can say "words"
/// the way the index splits them, so a client could not know in advance.
pub const MAX_SEARCH_WORDS: usize = 10;

/// A catalogue search: the words of what was typed (letters and digits;
/// the rest separates them; the first [`MAX_SEARCH_WORDS`]), each to be found
/// in the title or the description, the last one also as the start of a
/// word (typed so far).
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    words: Vec<String>,
}

impl Search {
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        if text.chars().count() > MAX_TITLE {
            return Err(FieldError::new(
                "search",
                format!("must be at most {MAX_TITLE} characters"),
            ));
        }
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(MAX_SEARCH_WORDS)
            .map(str::to_lowercase)
            .collect();
        Ok(Search { words })
    }

    /// Nothing to look for (only punctuation was typed): nothing matches.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The SQLite FTS5 query: every word as a quoted string (so nothing
    /// typed is read as the query language), the last as a prefix too
    /// once it has two characters (one would be most of the index).
    pub fn fts_query(&self) -> String {
        let last = self.words.len().saturating_sub(1);
        let quoted: Vec<String> = self
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let prefix = i == last && w.chars().count() >= 2;
                format!("\"{}\"{}", w.replace('"', "\"\""), if prefix { "*" } else { "" })
            })
            .collect();
        quoted.join(" ")
    }

    /// The words, as the list cache's key holds them (marked: a search
    /// of no words is not the same list as no search).
    fn key(&self) -> String {
        format!("?{}", self.words.join(" "))
    }
}

/// `GET /api/movies` parameters, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub page: Page,
    pub genre: Option<String>,
    pub year: Option<u32>,
    pub search: Option<Search>,
    pub sort: SortField,
    pub descending: bool,
}

impl ListQuery {
    pub fn parse(get: impl Fn(&str) -> Option<String>, current_year: u32) -> Result<Self, streamia_api::ApiError> {
        let page = Page::parse(get("page").as_deref(), get("limit").as_deref());
        let mut v = Validator::new();
        let page = match page {
            Ok(p) => Some(p),
            Err(streamia_api::ApiError::Validation(errors)) => {
                for e in errors {
                    v.check::<()>(Err(e));
                }
                None
            }
            Err(e) => return Err(e),
        };
        let genre_sent = get("genre");
        let genre = genre_sent
            .as_deref()
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned);
        if genre_sent.is_some_and(|g| g.chars().count() > MAX_NAME) {
            v.check::<()>(Err(FieldError::new(
                "genre",
                format!("must be at most {MAX_NAME} characters"),
            )));
        }
        let year = match get("year") {
            None => None,
            Some(y) => match y.trim().parse::<u32>() {
                Ok(y) if (FIRST_FILM_YEAR..=current_year + 1).contains(&y) => Some(y),
                _ => v.check(Err(FieldError::new(
                    "year",
                    format!("must be a year from {FIRST_FILM_YEAR} to {}", current_year + 1),
                ))),
            },
        };
        let search = match get("search").as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => v.check(Search::parse(text)),
        };
        let (sort, descending) = match get("sort") {
            None if search.is_some() => (Some(SortField::Relevance), false),
            None => (Some(SortField::CreatedAt), true),
            Some(s) => {
                let (name, dir) = s.split_once(':').map_or((s.as_str(), None), |(n, d)| (n, Some(d)));
                let field = match name {
                    "title" => Some(SortField::Title),
                    "releaseYear" => Some(SortField::ReleaseYear),
                    "averageRating" => Some(SortField::AverageRating),
                    "createdAt" => Some(SortField::CreatedAt),
                    "relevance" => Some(SortField::Relevance),
                    _ => None,
                };
                match (field, dir) {
                    // Nothing to be relevant to: the default order, newest first.
                    (Some(SortField::Relevance), None) if search.is_none() => (Some(SortField::CreatedAt), true),
                    (Some(SortField::Relevance), None) => (Some(SortField::Relevance), false),
                    (Some(SortField::Relevance), Some(_)) => (
                        v.check(Err(FieldError::new("sort", "relevance takes no direction"))),
                        false,
                    ),
                    (Some(f), None | Some("asc")) => (Some(f), false),
                    (Some(f), Some("desc")) => (Some(f), true),
                    _ => (
                        v.check(Err(FieldError::new(
                            "sort",
                            "must be title, releaseYear, averageRating, createdAt (optionally with :asc or :desc) or relevance",
                        ))),
                        false,
                    ),
                }
            }
        };
        v.finish()?;
        match (page, sort) {
            (Some(page), Some(sort)) => Ok(ListQuery {
                page,
                genre,
                year,
                search,
                sort,
                descending,
            }),
            _ => Err(streamia_api::ApiError::internal("validated query missing")),
        }
    }

    /// A stable key for the list cache: equal queries, equal keys.
    pub fn cache_key(&self) -> String {
        format!(
            "p={};l={};g={};y={};s={};o={:?}{}",
            self.page.page(),
            self.page.limit(),
            self.genre.as_deref().unwrap_or("").to_lowercase(),
            self.year.map(|y| y.to_string()).unwrap_or_default(),
            self.search.as_ref().map(Search::key).unwrap_or_default(),
            self.sort,
            if self.descending { ":desc" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Result<ListQuery, streamia_api::ApiError> {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ListQuery::parse(|k| owned.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()), 2026)
    }

    #[test]
    fn list_queries_parse_and_reject_bad_parameters() {
        let q = query(&[
            ("genre", "Drama"),
            ("year", "1999"),
            ("search", "matrix"),
            ("sort", "releaseYear:desc"),
        ])
        .unwrap();
        assert_eq!(q.sort, SortField::ReleaseYear);
        assert!(q.descending);
        assert_eq!(q.year, Some(1999));
        let default = query(&[]).unwrap();
        assert_eq!((default.sort, default.descending), (SortField::CreatedAt, true));
        for (k, v) in [
            ("sort", "rating"),
            ("sort", "title:up"),
            ("year", "19x9"),
            ("year", "1500"),
            ("page", "0"),
            ("limit", "1000"),
            ("sort", "relevance:desc"),
        ] {
            assert_eq!(query(&[(k, v)]).unwrap_err().status(), 400, "{k}={v}");
        }
        let searching = query(&[("search", "  matrix ")]).unwrap();
        assert_eq!(
            (searching.sort, searching.descending),
            (SortField::Relevance, false),
            "a search lists the best matches first"
        );
        let nothing_to_rank = query(&[("sort", "relevance")]).unwrap();
        assert_eq!(
            (nothing_to_rank.sort, nothing_to_rank.descending),
            (SortField::CreatedAt, true),
            "relevance without a search: newest first"
        );
        let by_year = query(&[("search", "matrix"), ("sort", "releaseYear")]).unwrap();
        assert_eq!(by_year.sort, SortField::ReleaseYear, "unless an order is asked for");
        assert!(query(&[("search", "matrix"), ("sort", "relevance:desc")]).is_err());
    }

    #[test]
    fn a_search_is_its_words_quoted_for_the_index_the_last_also_as_a_prefix() {
        let fts = |text: &str| Search::parse(text).unwrap().fts_query();
        assert_eq!(fts("The Matr"), r#""the" "matr"*"#);
        assert_eq!(fts("Amélie, 2001!"), r#""amélie" "2001"*"#);
        assert_eq!(fts("alien a"), r#""alien" "a""#, "one letter is not a prefix");
        assert_eq!(
            fts(r#"x" OR title:* NEAR("#),
            r#""x" "or" "title" "near"*"#,
            "the query language is never read from what was typed"
        );
        assert!(Search::parse("%_*").unwrap().is_empty());
        assert_eq!(
            fts("a b c d e f g h i j k l"),
            r#""a" "b" "c" "d" "e" "f" "g" "h" "i" "j""#,
            "the first ten words"
        );
        assert_eq!(
            Search::parse(&"a".repeat(201)).unwrap_err().field,
            "search",
            "at most 200 characters"
        );
    }

    #[test]
    fn cache_keys_distinguish_queries() {
        let a = query(&[("genre", "Drama")]).unwrap().cache_key();
        let b = query(&[("genre", "drama")]).unwrap().cache_key();
        let c = query(&[("genre", "Drama"), ("page", "2")]).unwrap().cache_key();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let nothing = query(&[]).unwrap().cache_key();
        let no_words = query(&[("search", "%")]).unwrap().cache_key();
        assert_ne!(nothing, no_words, "a search of no words lists nothing, not everything");
    }
}

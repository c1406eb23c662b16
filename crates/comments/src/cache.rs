//! A movie's comment pages as anyone who is not signed in sees them,
//! cached in the comments service's key-value store (`comments`), which the
//! gateway answers hits from ([`cached_read`]) for requests without a token
//! (with one, the page holds the reader's own comments awaiting moderation).
//!
//! A page is cached with the generation it was read in: the movie's (which
//! every change to its comments replaces, once committed) and one for every
//! movie (replaced when an author is named, renamed or deleted: their name
//! shows on every page). A page of another generation is never answered;
//! pages expire after [`LIST_TTL_SECS`] all the same. The generation is
//! read before the page, so a page read across a change is filed under the
//! older generation and never served.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use streamia_api::Page;
use streamia_cache::{fresh, put, Cache};

use crate::domain::MovieId;

/// The components' key-value store (spin.toml's `key_value_stores`).
pub const CACHE_STORE: &str = "comments";
pub const LIST_TTL_SECS: i64 = 60;
const EVERY_MOVIE: &str = "comments:generation";

fn movie_generation_key(movie_id: &str) -> String {
    format!("comments:generation:{movie_id}")
}

fn page_key(movie_id: &str, page: Page) -> String {
    format!("comments:page:{movie_id}:{}:{}", page.page(), page.limit())
}

#[derive(Serialize, Deserialize)]
struct CachedPage {
    generation: String,
    page: Value,
}

/// The generation a page of `movie_id` read now is filed under.
pub fn generation(cache: &dyn Cache, movie_id: &str) -> String {
    let read = |key: &str| {
        cache
            .get(key)
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    };
    format!("{}/{}", read(EVERY_MOVIE), read(&movie_generation_key(movie_id)))
}

/// The page's JSON, if cached in the current generation and fresh at `now`.
pub fn cached_page(cache: &dyn Cache, movie_id: &str, page: Page, now: i64) -> Option<Value> {
    let current = generation(cache, movie_id);
    fresh::<CachedPage>(cache, &page_key(movie_id, page), now)
        .filter(|p| p.generation == current)
        .map(|p| p.page)
}

/// Cache a page read in `generation` (read before the page was).
pub fn remember(cache: &dyn Cache, movie_id: &str, page: Page, generation: String, body: Value, now: i64) {
    let entry = CachedPage { generation, page: body };
    put(cache, &page_key(movie_id, page), &entry, now, LIST_TTL_SECS);
}

/// A movie's comments changed (call once the change is committed).
pub fn changed(cache: &dyn Cache, movie_id: &str) {
    cache.set(
        &movie_generation_key(movie_id),
        uuid::Uuid::now_v7().to_string().as_bytes(),
    );
}

/// Something every page may show changed: an author's name.
pub fn changed_everywhere(cache: &dyn Cache) {
    cache.set(EVERY_MOVIE, uuid::Uuid::now_v7().to_string().as_bytes());
}

/// `GET /api/comments/movie/{movieId}?page&limit` answered from the cache
/// alone, as the comments service answers it to someone not signed in
/// (`rest`: the path after `/api/comments`); `None` on a miss, or for any
/// other route.
pub fn cached_read(
    cache: &dyn Cache,
    rest: &[&str],
    query: impl Fn(&str) -> Option<String>,
    now: i64,
) -> Option<Vec<u8>> {
    let ["movie", id] = rest else {
        return None;
    };
    let id = MovieId::parse(id).ok()?;
    let page = Page::parse(query("page").as_deref(), query("limit").as_deref()).ok()?;
    serde_json::to_vec(&cached_page(cache, id.as_str(), page, now)?).ok()
}

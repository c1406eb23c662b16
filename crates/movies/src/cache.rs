//! The catalogue's cache: one small trait, with Spin's key-value store behind
//! it in the components ([`KvCache`], shared by `movies` and
//! `movies-events`, which drops entries when rating aggregates arrive over
//! Redis) and a map in unit tests ([`MemoryCache`]); and the read-through
//! bookkeeping over it: entries with an expiry, and list pages tied to a
//! generation that every write replaces.
//!
//! On Spin's embedded default each key-value write is a commit to a SQLite
//! file, serialized: a cache hit writes nothing (whether a read hit or
//! missed is the response's `X-Cache` header, not a stored counter), and a
//! write costs three key-value writes however many list pages are cached
//! (the movie's entry, its drop mark, the lists' generation).

use serde::{Deserialize, Serialize};

use streamia_api::{MovieId, Paginated};
use streamia_clock::Now;

use crate::domain::{year_of, Movie};
use crate::query::ListQuery;

pub use streamia_cache::{Cache, KvCache, MemoryCache};

/// The components' key-value store (spin.toml's `key_value_stores`).
pub const CACHE_STORE: &str = "movies";

/// The cached list pages' keys, so that they can be dropped when too many.
pub(crate) const LISTS_INDEX: &str = "movies:lists";
/// The current generation of list pages: a page cached under another one is stale.
pub(crate) const LISTS_GENERATION: &str = "movies:lists:generation";

pub(crate) fn movie_key(id: &str) -> String {
    format!("movies:movie:{id}")
}

/// Whether a read was answered from the cache (`X-Cache: hit|miss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    Miss,
}

impl Lookup {
    pub fn header(self) -> &'static str {
        match self {
            Lookup::Hit => "hit",
            Lookup::Miss => "miss",
        }
    }
}

/// When a change is committed (Unix ms): not when its request began, for
/// an event's request may begin before a read and commit after it; the
/// request's own clock where it is later (tests run at fixed times).
pub(crate) fn committed_at(now: Now) -> i64 {
    now.unix_ms().max(Now::system().unix_ms())
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CachedPage {
    pub data: Vec<Movie>,
    pub total: u64,
    /// The list generation it was read in.
    pub generation: String,
}

/// The generation list pages are cached under now ("" before any write).
fn list_generation(cache: &dyn Cache) -> String {
    cache
        .get(LISTS_GENERATION)
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

/// A movie's entry, if still fresh at `now` and filled since its last drop.
pub(crate) fn cached_movie(cache: &dyn Cache, id: &str, now: Now) -> Option<Movie> {
    streamia_cache::fresh_unless_dropped(cache, &movie_key(id), now.unix())
}

/// A list page still fresh at `now` and of the current generation, if
/// cached; and that generation, which a page read now is cached under.
pub(crate) fn cached_page(cache: &dyn Cache, q: &ListQuery, now: Now) -> (Option<Paginated<Movie>>, String) {
    let generation = list_generation(cache);
    let page = streamia_cache::fresh::<CachedPage>(cache, &list_key(q), now.unix())
        .filter(|p| p.generation == generation)
        .map(|p| Paginated::new(p.data, q.page, p.total));
    (page, generation)
}

/// A public catalogue read answered from the cache alone, as the movies
/// service answers it (the JSON body of its 200): `GET /api/movies/{id}`
/// (`rest` = `[id]`) or `GET /api/movies?…` (`rest` = `[]`). `None` on a
/// miss, or for anything else: the service answers those. The gateway uses
/// it so that a hit costs one component, not two and a chained call; what
/// is cached, for how long and when it is dropped stays the service's.
pub fn cached_read(
    cache: &dyn Cache,
    rest: &[&str],
    query: impl Fn(&str) -> Option<String>,
    now: Now,
) -> Option<Vec<u8>> {
    match rest {
        [id] => {
            let id = MovieId::parse(id).ok()?;
            serde_json::to_vec(&cached_movie(cache, id.as_str(), now)?).ok()
        }
        [] => {
            let q = ListQuery::parse(query, year_of(now.unix())).ok()?;
            serde_json::to_vec(&cached_page(cache, &q, now).0?).ok()
        }
        _ => None,
    }
}

pub(crate) fn list_key(q: &ListQuery) -> String {
    format!("movies:list:{}", q.cache_key())
}

/// Single movies stay cached this long; lists change more often.
pub const MOVIE_TTL_SECS: i64 = 300;
pub const LIST_TTL_SECS: i64 = 30;
/// At most this many list pages are cached at once.
pub const MAX_CACHED_LISTS: usize = 200;

/// The catalogue's entries in the service's cache, as one request at
/// `now` reads and changes them.
pub(crate) struct CatalogueCache<'a> {
    pub cache: &'a dyn Cache,
    pub now: Now,
}

impl CatalogueCache<'_> {
    pub(crate) fn store<T: Serialize>(&self, key: &str, value: &T, ttl: i64) {
        streamia_cache::put(self.cache, key, value, self.now.unix(), ttl);
    }

    /// Drop a movie's entry, once its change is committed: two key-value
    /// writes, the entry and a mark of when ([`streamia_cache::drop_entry`]).
    pub(crate) fn forget_movie(&self, id: &str) {
        streamia_cache::drop_entry(self.cache, &movie_key(id), committed_at(self.now));
    }

    /// Cache a movie read in this request, unless its entry was dropped
    /// since the request began ([`streamia_cache::put_unless_dropped_since`]).
    pub(crate) fn remember_movie(&self, id: &str, movie: &Movie) {
        streamia_cache::put_unless_dropped_since(self.cache, &movie_key(id), movie, self.now.unix_ms(), MOVIE_TTL_SECS);
    }

    /// Drop a movie's entry (if any) and make every cached list page stale:
    /// three key-value writes, whatever the number of pages.
    pub(crate) fn invalidate(&self, id: Option<&str>) {
        if let Some(id) = id {
            self.forget_movie(id);
        }
        let generation = uuid::Uuid::now_v7().to_string();
        self.cache.set(LISTS_GENERATION, generation.as_bytes());
    }

    /// Cache a list page. The keys are indexed so that they stay bounded:
    /// when [`MAX_CACHED_LISTS`] are held, they are all dropped and the
    /// index starts again (stale pages are overwritten in place otherwise).
    pub(crate) fn remember_list(&self, key: &str, page: &CachedPage) {
        let mut keys: Vec<String> = self
            .cache
            .get(LISTS_INDEX)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if !keys.iter().any(|k| k == key) {
            if keys.len() >= MAX_CACHED_LISTS {
                for old in keys.drain(..) {
                    self.cache.delete(&old);
                }
            }
            keys.push(key.to_owned());
            self.cache
                .set(LISTS_INDEX, &serde_json::to_vec(&keys).unwrap_or_default());
        }
        self.store(key, page, LIST_TTL_SECS);
    }
}

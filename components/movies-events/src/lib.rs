//! The movies service's events over Redis (`[[trigger.redis]]` on
//! `streamia.rating.created|updated|deleted`): the same consumer as the
//! movies component's `POST /events`, on the same database and cache. A
//! separate component because a Spin component exports one trigger's
//! interface.

use spin_sdk::redis_component;
use streamia_db::LazySpinDb;
use streamia_events::outbox::Outbox;
use streamia_movies::domain::year_of;
use streamia_movies::{KvCache, Movies, MIGRATIONS, SERVICE};

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    let db = LazySpinDb::new("movies", MIGRATIONS);
    let outbox = Outbox::new(SERVICE);
    let cache = KvCache::open();
    let now = streamia_spin::unix_now();
    let movies = Movies {
        db: &db,
        outbox: &outbox,
        cache: &cache,
        now,
        current_year: year_of(now),
    };
    streamia_spin::on_redis_message(SERVICE, &message, &db, &outbox, |e| movies.apply_rating_event(e))
        .await
        .map_err(anyhow::Error::msg)
}

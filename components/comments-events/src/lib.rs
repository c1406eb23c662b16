//! The comments service's events over Redis (`[[trigger.redis]]` on
//! `streamia.user.deleted`, `streamia.movie.deleted`): the same consumer as
//! the comments component's `POST /events`, on the same database. A separate
//! component because a Spin component exports one trigger's interface.

use spin_sdk::redis_component;
use streamia_comments::{Comments, Moderation, MIGRATIONS, SERVICE};
use streamia_db::LazySpinDb;
use streamia_events::outbox::Outbox;

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    let db = LazySpinDb::new("comments", MIGRATIONS);
    let outbox = Outbox::new(SERVICE);
    let comments = Comments {
        db: &db,
        outbox: &outbox,
        // The sagas do not depend on the moderation mode.
        moderation: Moderation::Post,
    };
    streamia_spin::on_redis_message(SERVICE, &message, &db, &outbox, |e| comments.apply_event(e))
        .await
        .map_err(anyhow::Error::msg)
}

//! The comments service's events over Redis (`[[trigger.redis]]` on
//! `streamia.user.deleted`, `streamia.movie.deleted`): the same consumer as
//! the comments component's `POST /events`, on the same database. A separate
//! component because a Spin component exports one trigger's interface.

use spin_sdk::redis_component;
use streamia_comments::{Comments, Moderation, DATABASE, MIGRATIONS, SERVICE};
use streamia_spin::Service;

const COMMENTS: Service = Service::new(SERVICE, DATABASE, MIGRATIONS);

#[redis_component]
async fn on_message(message: bytes::Bytes) -> anyhow::Result<()> {
    streamia_spin::on_redis_message(&COMMENTS, &message, |db, outbox, now, e| {
        // The sagas do not depend on the moderation mode.
        let moderation = Moderation::Post;
        Comments {
            db,
            outbox,
            moderation,
            now,
        }
        .apply_event(e)
    })
    .await
}

//! The Redis trigger: SUBSCRIBE to each `[[trigger.redis]]` channel and hand
//! every message to the components' inbound-redis handlers, in order.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use futures::StreamExt;

use crate::app::App;
use crate::host::redact_url;

/// channel → components, for one Redis address.
type Subscriptions = BTreeMap<String, Vec<String>>;

/// Connect and subscribe now (a bad address stops start-up, as in Spin),
/// then dispatch in the background. The returned future ends when a
/// subscription's connection drops, with the reason: Spin's trigger does not
/// reconnect, its `spin up` stops (a supervisor restarts it), and so does
/// devhost's.
pub async fn start(
    app: Arc<App>,
    triggers: Vec<(String, String, String)>,
) -> Result<impl Future<Output = anyhow::Error>> {
    let mut by_address: BTreeMap<String, Subscriptions> = BTreeMap::new();
    for (address, channel, component) in triggers {
        by_address
            .entry(address)
            .or_default()
            .entry(channel)
            .or_default()
            .push(component);
    }
    let mut listeners = Vec::new();
    for (address, subs) in by_address {
        let pubsub = subscribe(&address, &subs).await?;
        crate::log::info(format_args!(
            "Redis trigger: subscribed to {} at {}",
            subs.keys().cloned().collect::<Vec<_>>().join(", "),
            redact_url(&address)
        ));
        let app = app.clone();
        listeners.push(tokio::spawn(async move {
            dispatch(&app, pubsub, &subs).await;
            anyhow!("Redis trigger: disconnected from {}", redact_url(&address))
        }));
    }
    Ok(async move {
        if listeners.is_empty() {
            return std::future::pending().await;
        }
        let (ended, _, _) = futures::future::select_all(listeners).await;
        ended.unwrap_or_else(|e| anyhow!("Redis trigger failed: {e}"))
    })
}

async fn subscribe(address: &str, subs: &Subscriptions) -> Result<redis::aio::PubSub> {
    let client =
        redis::Client::open(address).with_context(|| format!("invalid redis address {}", redact_url(address)))?;
    let mut pubsub = client
        .get_async_pubsub()
        .await
        .with_context(|| format!("cannot connect to redis at {}", redact_url(address)))?;
    for channel in subs.keys() {
        pubsub
            .subscribe(channel)
            .await
            .with_context(|| format!("SUBSCRIBE {channel}"))?;
    }
    Ok(pubsub)
}

/// Runs until the connection drops. As in Spin, messages are taken one at a
/// time, in order, and the components subscribed to a message's channel
/// handle it at once.
async fn dispatch(app: &Arc<App>, mut pubsub: redis::aio::PubSub, subs: &Subscriptions) {
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        let channel = msg.get_channel_name().to_owned();
        let payload = msg.get_payload_bytes().to_vec();
        let handlers = subs.get(&channel).into_iter().flatten().map(|component| {
            let (payload, channel) = (payload.clone(), &channel);
            async move {
                if let Err(e) = app.handle_redis(component, payload).await {
                    crate::log::info(format_args!(
                        "component '{component}' failed on a message from '{channel}': {e:#}"
                    ));
                }
            }
        });
        futures::future::join_all(handlers).await;
    }
}

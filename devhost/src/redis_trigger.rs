//! The Redis trigger: SUBSCRIBE to each `[[trigger.redis]]` channel and hand
//! every message to the component's inbound-redis handler, in order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use futures::StreamExt;

use crate::app::App;
use crate::host::redact_url;

/// channel → components, for one Redis address.
type Subscriptions = BTreeMap<String, Vec<String>>;

/// Connect and subscribe now (a bad address stops start-up, as in Spin),
/// then keep dispatching in the background, reconnecting if Redis goes away.
pub async fn start(app: Arc<App>, triggers: Vec<(String, String, String)>) -> Result<()> {
    let mut by_address: BTreeMap<String, Subscriptions> = BTreeMap::new();
    for (address, channel, component) in triggers {
        by_address
            .entry(address)
            .or_default()
            .entry(channel)
            .or_default()
            .push(component);
    }
    for (address, subs) in by_address {
        let pubsub = subscribe(&address, &subs).await?;
        crate::log::info(format_args!(
            "Redis trigger: subscribed to {} at {}",
            subs.keys().cloned().collect::<Vec<_>>().join(", "),
            redact_url(&address)
        ));
        let app = app.clone();
        tokio::spawn(async move {
            let mut pubsub = Some(pubsub);
            let mut backoff = Duration::from_millis(100);
            loop {
                let conn = match pubsub.take() {
                    Some(p) => Ok(p),
                    None => subscribe(&address, &subs).await,
                };
                match conn {
                    Ok(p) => {
                        backoff = Duration::from_millis(100);
                        let e = dispatch(&app, p, &subs).await;
                        crate::log::info(format_args!("Redis trigger: {e:#}; reconnecting"));
                    }
                    Err(e) => crate::log::info(format_args!("Redis trigger: {e:#}; retrying in {backoff:?}")),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
    }
    Ok(())
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

/// Runs until the connection drops; returns why.
async fn dispatch(app: &Arc<App>, mut pubsub: redis::aio::PubSub, subs: &Subscriptions) -> anyhow::Error {
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        let channel = msg.get_channel_name().to_owned();
        let payload = msg.get_payload_bytes().to_vec();
        for component in subs.get(&channel).into_iter().flatten() {
            if let Err(e) = app.handle_redis(component, payload.clone()).await {
                crate::log::info(format_args!(
                    "component '{component}' failed on a message from '{channel}': {e:#}"
                ));
            }
        }
    }
    anyhow!("subscription connection closed")
}

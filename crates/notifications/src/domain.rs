//! What the notifications service works with: where e-mail goes and how
//! hard to try (its configuration), an e-mail to send, how sending it ended,
//! and the sent log's entries.

use serde::Serialize;
use streamia_api::settings::{Misconfigured, Settings};

use crate::message::{Message, Sender};

/// Where e-mail goes (variable `email_provider`).
#[derive(Debug, Clone, PartialEq)]
pub enum Provider {
    /// The embedded default: the log and the key-value sent log.
    Log,
    SendGrid {
        base_url: String,
        api_key: String,
    },
}

impl Provider {
    pub fn configure(kind: &str, base_url: &str, api_key: &str) -> Result<Self, String> {
        match kind.trim() {
            "" | "log" => Ok(Provider::Log),
            "sendgrid" if api_key.trim().is_empty() => {
                Err("email_provider = sendgrid needs the secret variable sendgrid_api_key".into())
            }
            "sendgrid" if !(base_url.starts_with("https://") || base_url.starts_with("http://")) => {
                Err("sendgrid_base_url must be an http(s) URL".into())
            }
            "sendgrid" => Ok(Provider::SendGrid {
                base_url: base_url.trim().to_owned(),
                api_key: api_key.trim().to_owned(),
            }),
            other => Err(format!("email_provider must be log or sendgrid, not {other:?}")),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Provider::Log => "log",
            Provider::SendGrid { .. } => "sendgrid",
        }
    }
}

/// How hard to try (variables `email_max_attempts`, `email_retry_base_ms`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_ms: u64,
    /// No single wait is longer: the request that carries the event waits.
    pub max_wait_ms: u64,
}

impl RetryPolicy {
    pub fn parse(max_attempts: &str, base_ms: &str) -> Result<Self, String> {
        let max_attempts: u32 = max_attempts
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=10).contains(n))
            .ok_or("email_max_attempts must be a whole number from 1 to 10")?;
        let base_ms: u64 = base_ms
            .trim()
            .parse()
            .ok()
            .filter(|n| *n <= 10_000)
            .ok_or("email_retry_base_ms must be a whole number of milliseconds up to 10000")?;
        Ok(RetryPolicy {
            max_attempts,
            base_ms,
            max_wait_ms: 5_000,
        })
    }
}

/// An e-mail to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub event_id: String,
    pub message: Message,
}

/// How delivering one e-mail ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Sent { message_id: Option<String>, attempts: u32 },
    Failed { reason: String, attempts: u32 },
}

/// An entry of the key-value sent log. The bodies are kept only for the
/// `log` provider, whose sent log is the mailbox of a development machine.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SentEntry {
    pub id: String,
    pub event_id: String,
    pub to: String,
    pub subject: String,
    pub template: String,
    pub provider: String,
    pub message_id: Option<String>,
    pub attempts: u32,
    pub sent_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// The service's configuration, each variable parsed.
pub struct Config {
    pub provider: Provider,
    pub policy: RetryPolicy,
    pub from: Sender,
    /// Where links in e-mails point (variable `frontend_url`).
    pub frontend_url: String,
}

impl Config {
    /// From the service's settings; the error names what is wrong.
    pub fn load(settings: &Settings<'_>) -> Result<Self, Misconfigured> {
        let base_url = settings.text("sendgrid_base_url")?;
        let api_key = settings.text("sendgrid_api_key")?;
        let max_attempts = settings.text("email_max_attempts")?;
        Ok(Config {
            provider: settings.parsed("email_provider", |kind| Provider::configure(kind, &base_url, &api_key))?,
            policy: settings.parsed("email_retry_base_ms", |base_ms| {
                RetryPolicy::parse(&max_attempts, base_ms)
            })?,
            from: settings.parsed("email_from", Sender::parse)?,
            frontend_url: settings.text("frontend_url")?,
        })
    }
}

//! The notifications service's logic, in plain Rust so native tests run it:
//! which e-mail an event causes, its templates, SendGrid's API, the retry
//! loop and the bookkeeping that makes an event send one e-mail even when
//! it is delivered twice.
//!
//! Layout, the same rooms as every service crate: [`domain`] its
//! configuration, the e-mail to send and how sending ended; [`store`] its
//! schema and SQL; [`service`] the operations ([`Notifications`]: send with
//! retries, pick up what a dead request left, record the end); [`events`]
//! the consumer that turns an event into an e-mail. Notifications' own:
//! [`message`] (from an event to an e-mail), [`templates`], [`sendgrid`]
//! (the API's request and answers), [`sent_log`] (the key-value sent log)
//! and [`mailer`] (all of it on Spin: variables, outbound HTTP, key-value),
//! which `components/notifications` and `notifications-events` both call.

pub mod domain;
pub mod events;
pub mod mailer;
pub mod message;
pub mod sendgrid;
pub mod sent_log;
pub mod service;
pub mod store;
pub mod templates;

pub use domain::{Config, Delivery, Job, Provider, RetryPolicy, SentEntry};
pub use service::{deliver, MailApi, Notifications, STALE_AFTER_SECS};
pub use store::MIGRATIONS;

pub const SERVICE: &str = "notifications";
/// Its SQLite database and key-value store (spin.toml).
pub const DATABASE: &str = "notifications";

#[cfg(test)]
mod tests;

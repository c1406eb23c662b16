//! What a service is to Spin ([`Service`]: its name, database, migrations,
//! the events it consumes and how, the old system's rows it imports) and
//! one request to it as a route sees it ([`Call`]). The lowest layer of
//! this crate: [`crate::builtin_routes`] and [`crate::serve`] build on it.

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;

use spin_sdk::http::{Method, Request};
use streamia_api::{ApiError, Ctx, Settings};
use streamia_auth::Claims;
use streamia_clock::Now;
use streamia_db::{Db, LazySpinDb};
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::Envelope;

use crate::{authenticate, ServiceConfig};

pub type Applying<'a> = Pin<Box<dyn Future<Output = Result<Consumed, ApiError>> + 'a>>;

/// How a service applies one event (once: the consumer's event-id record).
#[derive(Clone, Copy)]
pub enum Consumer {
    Sync(fn(&dyn Db, &Outbox, Now, &Envelope) -> Result<Consumed, ApiError>),
    /// For a consumer whose effect waits on the network (sending an e-mail).
    Async(for<'a> fn(&'a dyn Db, &'a Outbox, Now, &'a Envelope) -> Applying<'a>),
}

impl Consumer {
    pub(crate) async fn apply(
        &self,
        db: &dyn Db,
        outbox: &Outbox,
        now: Now,
        envelope: &Envelope,
    ) -> Result<Consumed, ApiError> {
        match self {
            Consumer::Sync(apply) => apply(db, outbox, now, envelope),
            Consumer::Async(apply) => apply(db, outbox, now, envelope).await,
        }
    }
}

/// A service as its components serve it.
pub struct Service {
    /// The service's name: its events' `source`, its outbox and its variables' owner.
    pub name: &'static str,
    /// Its SQLite database (`sqlite_databases` in spin.toml).
    pub database: &'static str,
    pub migrations: &'static [&'static [&'static str]],
    /// How it applies the events it consumes; `None` when it consumes none.
    pub consumer: Option<Consumer>,
    /// The event types it consumes (`*`: all), as its Redis consumer's
    /// channels in redis-triggers.toml.
    pub consumes: &'static [&'static str],
    /// How it writes rows moved from the old system (`POST /import`,
    /// admins); `None` when it keeps none of the old system's data.
    pub importer: Option<Importer>,
    /// Its key-value store (`key_value_stores` in spin.toml) and how its
    /// readiness checks it; `None` when it keeps none.
    pub key_value: Option<(&'static str, StoreCheck)>,
}

/// Whether a key-value store answers a read.
pub type StoreCheck = fn(&str) -> Result<(), String>;

/// Writes one batch of imported rows (see `streamia_api::import`).
pub type Importer =
    fn(&Call<'_>, &streamia_api::import::ImportBatch) -> Result<streamia_api::import::Imported, ApiError>;

impl Service {
    pub const fn new(
        name: &'static str,
        database: &'static str,
        migrations: &'static [&'static [&'static str]],
    ) -> Self {
        Service {
            name,
            database,
            migrations,
            consumer: None,
            consumes: &[],
            importer: None,
            key_value: None,
        }
    }

    /// A service that keeps a key-value store named `store`, which its
    /// readiness checks with `check` ([`crate::key_value_answers`]). Passed
    /// in, not called here: a component without a store must not import
    /// the key-value interface at all (least privilege, wit/worlds.wit).
    pub const fn keeping(self, store: &'static str, check: StoreCheck) -> Self {
        Service {
            key_value: Some((store, check)),
            ..self
        }
    }

    /// A service that takes the old system's rows through `POST /import`.
    pub const fn importing(self, importer: Importer) -> Self {
        Service {
            importer: Some(importer),
            ..self
        }
    }

    /// A service that consumes the event types `consumes` with `consumer`
    /// (its migrations hold the consumer's and the dead letters' tables).
    pub const fn consuming(self, consumes: &'static [&'static str], consumer: Consumer) -> Self {
        Service {
            consumer: Some(consumer),
            consumes,
            ..self
        }
    }

    /// Its database and an outbox for one request or event handled `now`.
    pub(crate) fn open(&self, now: Now) -> (LazySpinDb, Outbox) {
        (
            LazySpinDb::new(self.database, self.migrations),
            Outbox::new(self.name, now),
        )
    }
}

/// One request as a route sees it.
pub struct Call<'a> {
    pub ctx: &'a Ctx,
    pub req: &'a Request,
    pub method: Method,
    /// The path the service routes on (without a mount prefix).
    pub path: &'a str,
    /// The path's segments: `/api/movies/42` is `["api", "movies", "42"]`.
    pub segments: Vec<&'a str>,
    pub db: &'a LazySpinDb,
    pub outbox: &'a Outbox,
    /// The clock, read once for the whole request.
    pub now: Now,
    pub(crate) service: &'a Service,
    pub(crate) config: OnceCell<ServiceConfig>,
    /// The caller, once a route has checked its token: for the log line.
    pub(crate) user: OnceCell<String>,
}

impl Call<'_> {
    /// Token keys and event transport, read from Spin variables on first use.
    pub fn config(&self) -> Result<&ServiceConfig, ApiError> {
        if let Some(config) = self.config.get() {
            return Ok(config);
        }
        let config = ServiceConfig::load(&self.settings())?;
        Ok(self.config.get_or_init(|| config))
    }

    /// This service's settings (its Spin variables), each read when asked for.
    pub fn settings(&self) -> Settings<'static> {
        Settings::of_service(self.service.name)
    }

    /// The caller's claims from the bearer token, checked again here
    /// (defence in depth); any failure is 401.
    pub fn claims(&self) -> Result<Claims, ApiError> {
        let claims = authenticate(self.req, &self.config()?.keys, self.now)?;
        let _ = self.user.set(claims.sub.clone());
        Ok(claims)
    }

    /// The claims when a token is sent (and valid), `None` when none is.
    pub fn optional_claims(&self) -> Result<Option<Claims>, ApiError> {
        match self.req.header("authorization") {
            Some(_) => self.claims().map(Some),
            None => Ok(None),
        }
    }

    pub fn no_route(&self) -> ApiError {
        ApiError::NotFound(format!("no route for {}", self.path))
    }
}

//! SQLite access shared by every Streamia service.
//!
//! Layout: [`Db`] is the one trait services write SQL against; [`SpinDb`]
//! implements it on Spin's SQLite (the `.wasm` builds), [`MemoryDb`] on
//! rusqlite for native unit tests (feature `native`). [`migrate`] brings a
//! service's schema to its newest version, recorded per service in
//! `streamia_schema` (services may share one database: Fermyon Cloud gives
//! an account one); [`transaction`] wraps work in `BEGIN IMMEDIATE … COMMIT`.

#[cfg(feature = "native")]
mod native;
mod rows;

#[cfg(feature = "native")]
pub use native::MemoryDb;
pub use rows::{Row, Rows, Value};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A UNIQUE or PRIMARY KEY constraint refused the statement.
    #[error("unique constraint violated: {0}")]
    Unique(String),
    /// Another writer held the database for longer than the busy timeout.
    #[error("database busy: {0}")]
    Busy(String),
    #[error("database error: {0}")]
    Sql(String),
    #[error("column '{0}' is missing or holds another type")]
    Column(String),
    #[error("cannot open database '{0}': {1}")]
    Open(String, String),
    /// The schema is older than this code's and this replica may not
    /// migrate it (`schema_migrations = "job"`).
    #[error("database '{label}' is at schema version {have}, this release needs {want}: run the migration job")]
    SchemaBehind { label: String, have: usize, want: usize },
}

impl DbError {
    /// Sort a driver message into [`DbError::Unique`], [`DbError::Busy`] or [`DbError::Sql`].
    pub fn from_message(message: String) -> Self {
        if message.contains("UNIQUE constraint failed") || message.contains("PRIMARY KEY constraint failed") {
            DbError::Unique(message)
        } else if message.contains("database is locked") || message.contains("database is busy") {
            DbError::Busy(message)
        } else {
            DbError::Sql(message)
        }
    }
}

/// One SQL statement at a time, as Spin's SQLite interface runs them.
pub trait Db {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError>;

    /// The first row, if any.
    fn query_one(&self, sql: &str, params: &[Value]) -> Result<Option<Vec<Value>>, DbError> {
        Ok(self.execute(sql, params)?.into_rows().into_iter().next())
    }

    /// The number a `SELECT COUNT(*) AS n …` query answers (0 for no row).
    fn count(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let rows = self.execute(sql, params)?;
        let n = rows.first().map(|r| r.int("n")).transpose()?.unwrap_or(0);
        Ok(n.max(0) as u64)
    }

    /// One page of rows and the count of all: `count_sql` is a
    /// `SELECT COUNT(*) AS n …` and `rows_sql` the same query's rows ending
    /// in `LIMIT ? OFFSET ?`; both take `params` (then limit and offset).
    fn page(
        &self,
        count_sql: &str,
        rows_sql: &str,
        params: &[Value],
        limit: u32,
        offset: i64,
    ) -> Result<(Rows, u64), DbError> {
        let total = self.count(count_sql, params)?;
        let mut paged = params.to_vec();
        paged.push(i64::from(limit).into());
        paged.push(offset.into());
        Ok((self.execute(rows_sql, &paged)?, total))
    }

    /// Readiness: the database opens (a lazy one also migrates) and answers.
    fn is_ready(&self) -> bool {
        self.execute("SELECT 1", &[]).is_ok()
    }
}

/// Spin's SQLite (`fermyon:spin/sqlite`), the database a component declares
/// in `sqlite_databases`.
pub struct SpinDb(spin_sdk::sqlite::Connection);

impl SpinDb {
    pub fn open(label: &str) -> Result<Self, DbError> {
        spin_sdk::sqlite::Connection::open(label)
            .map(SpinDb)
            .map_err(|e| DbError::Open(label.to_owned(), format!("{e:?}")))
    }
}

impl Db for SpinDb {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        use spin_sdk::sqlite::Value as V;
        let params: Vec<V> = params
            .iter()
            .map(|p| match p {
                Value::Integer(i) => V::Integer(*i),
                Value::Real(f) => V::Real(*f),
                Value::Text(s) => V::Text(s.clone()),
                Value::Blob(b) => V::Blob(b.clone()),
                Value::Null => V::Null,
            })
            .collect();
        let result = self.0.execute(sql, &params).map_err(|e| match e {
            spin_sdk::sqlite::Error::Io(message) => DbError::from_message(message),
            other => DbError::Sql(format!("{other:?}")),
        })?;
        let rows = result
            .rows
            .into_iter()
            .map(|r| {
                r.values
                    .into_iter()
                    .map(|v| match v {
                        V::Integer(i) => Value::Integer(i),
                        V::Real(f) => Value::Real(f),
                        V::Text(s) => Value::Text(s),
                        V::Blob(b) => Value::Blob(b),
                        V::Null => Value::Null,
                    })
                    .collect()
            })
            .collect();
        Ok(Rows::new(result.columns, rows))
    }
}

/// A Spin database opened, tuned for concurrent requests ([`tune`]) and
/// brought up to date by [`migrate`] on its first statement: a request
/// answered from a cache never touches SQLite.
pub struct LazySpinDb {
    label: &'static str,
    migrations: &'static [&'static [&'static str]],
    db: std::cell::OnceCell<SpinDb>,
}

impl LazySpinDb {
    pub fn new(label: &'static str, migrations: &'static [&'static [&'static str]]) -> Self {
        LazySpinDb {
            label,
            migrations,
            db: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> Result<&SpinDb, DbError> {
        if let Some(db) = self.db.get() {
            return Ok(db);
        }
        let db = SpinDb::open(self.label)?;
        tune(&db);
        // The variable is read only when the schema is behind (a new
        // release's first requests), not on every request that opens it.
        let version = schema_version(&db, self.label)?;
        if !version.recorded || version.number < self.migrations.len() {
            match SchemaMigrations::configured() {
                SchemaMigrations::OnFirstUse => migrate(&db, self.label, self.migrations)?,
                SchemaMigrations::Job => require_schema(&db, self.label, self.migrations)?,
            }
        }
        Ok(self.db.get_or_init(|| db))
    }

    /// Bring the schema up to date whatever `schema_migrations` says (the
    /// migration job's call): the versions before and after.
    pub fn migrate_now(&self) -> Result<(usize, usize), DbError> {
        let db = SpinDb::open(self.label)?;
        tune(&db);
        let before = schema_version(&db, self.label)?.number;
        migrate(&db, self.label, self.migrations)?;
        Ok((before, schema_version(&db, self.label)?.number))
    }
}

/// Who brings a database's schema up to date (the `schema_migrations`
/// variable): each instance on its first statement (`auto`, the default: one
/// machine, or replicas racing safely under `BEGIN IMMEDIATE`), or only the
/// release's migration job (`job`: replicas never change the schema, and
/// answer 503 `schema_outdated` until the job has run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaMigrations {
    OnFirstUse,
    Job,
}

impl SchemaMigrations {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "" | "auto" => Ok(SchemaMigrations::OnFirstUse),
            "job" => Ok(SchemaMigrations::Job),
            other => Err(format!("schema_migrations must be \"auto\" or \"job\", not {other:?}")),
        }
    }

    /// The component's variable; unset (a component without it), `auto`.
    fn configured() -> Self {
        let value = streamia_settings::Settings::spin("this component")
            .optional("schema_migrations")
            .unwrap_or_default();
        Self::parse(&value).unwrap_or_else(|e| {
            streamia_log::warn(
                streamia_log::component(),
                "schema_migrations unreadable; migrating on first use",
                streamia_log::because(e),
            );
            SchemaMigrations::OnFirstUse
        })
    }
}

/// Refuse a schema older than `migrations` make it; a newer one is fine (a
/// release rolled back runs on the schema of the one after it).
pub fn require_schema(db: &dyn Db, schema: &str, migrations: &[&[&str]]) -> Result<(), DbError> {
    let have = schema_version(db, schema)?.number;
    if have < migrations.len() {
        return Err(DbError::SchemaBehind {
            label: schema.to_owned(),
            have,
            want: migrations.len(),
        });
    }
    Ok(())
}

impl Db for LazySpinDb {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.get()?.execute(sql, params)
    }
}

/// Concurrent requests on one SQLite file: write-ahead logging, so that
/// readers never wait for a writer nor a writer for readers (Spin opens
/// databases in the rollback journal, where they do), and commits that
/// append to the log without syncing it each time (`synchronous=NORMAL`: a
/// power cut may lose the last commits, never corrupt the file or split a
/// transaction; a crashed host loses nothing).
/// A writer waits up to 10 s for the lock (`busy_timeout`; Spin's default is
/// 5 s, which 100 concurrent writers exceeded) before a statement fails as
/// [`DbError::Busy`], a 503 the client may retry.
/// `synchronous` and `busy_timeout` are per connection, so every request
/// sets them; `journal_mode` is stored in the file, so [`migrate`] sets it
/// once (each statement is a host call, on every request).
/// Best effort: a database that is not a local file (libSQL) keeps its own.
pub fn tune(db: &dyn Db) {
    for pragma in ["PRAGMA busy_timeout = 10000", "PRAGMA synchronous = NORMAL"] {
        if let Err(e) = db.execute(pragma, &[]) {
            streamia_log::warn(
                streamia_log::component(),
                "sqlite pragma not applied",
                streamia_log::json!({"pragma": pragma, "error": e.to_string()}),
            );
        }
    }
}

/// Run `work` inside `BEGIN IMMEDIATE … COMMIT`; any error rolls back.
/// IMMEDIATE takes the write lock up front, so two requests cannot both read
/// and then race to write.
pub fn transaction<T, E: From<DbError>>(db: &dyn Db, work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    db.execute("BEGIN IMMEDIATE", &[])?;
    match work() {
        Ok(value) => {
            db.execute("COMMIT", &[])?;
            Ok(value)
        }
        Err(e) => {
            // The original error matters more than a failed rollback, and
            // the connection closing at the end of the request rolls back anyway.
            db.execute("ROLLBACK", &[]).ok();
            Err(e)
        }
    }
}

/// Rows inserted a statement at a time of up to [`INSERT_MANY_ROWS`]:
/// `insert` is `INSERT INTO t (a, b, …)`, each row a value per column, and
/// `tail` what follows the `VALUES` (e.g. `ON CONFLICT DO NOTHING`). Returns
/// how many rows were written (an ignored conflict is not), counted with
/// `RETURNING`. Run it inside a [`transaction`] for all or nothing.
pub fn insert_many(db: &dyn Db, insert: &str, tail: &str, rows: &[Vec<Value>]) -> Result<usize, DbError> {
    let mut written = 0;
    for chunk in rows.chunks(INSERT_MANY_ROWS) {
        let Some(width) = chunk.first().map(Vec::len) else {
            continue;
        };
        let row = format!("({})", vec!["?"; width].join(", "));
        let sql = format!(
            "{insert} VALUES {} {tail} RETURNING 1",
            vec![row; chunk.len()].join(", ")
        );
        let params: Vec<Value> = chunk.iter().flatten().cloned().collect();
        written += db.execute(&sql, &params)?.len();
    }
    Ok(written)
}

/// Rows per statement in [`insert_many`]: well under SQLite's 32,766 parameters.
pub const INSERT_MANY_ROWS: usize = 200;

/// Bring `schema` (a service's tables) up to date. `migrations[i]` takes
/// it from version `i` to `i + 1`; each is a list of statements, and all
/// that are due run in one transaction.
pub fn migrate(db: &dyn Db, schema: &str, migrations: &[&[&str]]) -> Result<(), DbError> {
    let target = migrations.len();
    let version = schema_version(db, schema)?;
    if version.recorded && version.number >= target {
        return Ok(());
    }
    // Write-ahead logging, kept in the file (see [`tune`]); not inside a
    // transaction, where SQLite cannot change it.
    if let Err(e) = db.execute("PRAGMA journal_mode = WAL", &[]) {
        streamia_log::warn(
            streamia_log::component(),
            "sqlite pragma not applied",
            streamia_log::json!({"pragma": "journal_mode = WAL", "error": e.to_string()}),
        );
    }
    transaction(db, || {
        // Another request may have migrated while this one waited for the
        // lock; read before the table exists, or a database of the releases
        // before it would look new.
        let current = schema_version(db, schema)?.number;
        db.execute(
            "CREATE TABLE IF NOT EXISTS streamia_schema (name TEXT PRIMARY KEY, version INTEGER NOT NULL)",
            &[],
        )?;
        for statements in migrations.iter().skip(current) {
            for sql in statements.iter() {
                db.execute(sql, &[])?;
            }
        }
        let recorded = current.max(target) as i64;
        db.execute(
            "INSERT INTO streamia_schema (name, version) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            &[schema.into(), recorded.into()],
        )?;
        // For a release before streamia_schema, should one be rolled back
        // to: it reads the version here (and only ever had a database of
        // its own). PRAGMA takes no parameters; `recorded` is a length.
        db.execute(&format!("PRAGMA user_version = {recorded}"), &[])?;
        Ok(())
    })
}

/// Where a schema stands: `recorded` in `streamia_schema`, or (`recorded`
/// false) as a release before that table left it in `PRAGMA user_version`
/// — a database of that service's own — or new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SchemaVersion {
    number: usize,
    recorded: bool,
}

fn schema_version(db: &dyn Db, schema: &str) -> Result<SchemaVersion, DbError> {
    let number = |v: &Value| match v {
        Value::Integer(v) => Ok(usize::try_from(*v).unwrap_or(0)),
        _ => Err(DbError::Column("version".into())),
    };
    match db.query_one("SELECT version FROM streamia_schema WHERE name = ?", &[schema.into()]) {
        Ok(Some(row)) => Ok(SchemaVersion {
            number: number(row.first().unwrap_or(&Value::Null))?,
            recorded: true,
        }),
        // Another service's schema shares this database; this one's is new.
        Ok(None) => Ok(SchemaVersion {
            number: 0,
            recorded: false,
        }),
        Err(DbError::Sql(message)) if message.contains("no such table") => Ok(SchemaVersion {
            number: user_version(db)?,
            recorded: false,
        }),
        Err(e) => Err(e),
    }
}

fn user_version(db: &dyn Db) -> Result<usize, DbError> {
    let row = db.query_one("PRAGMA user_version", &[])?;
    match row.as_deref() {
        Some([Value::Integer(v)]) => Ok(usize::try_from(*v).unwrap_or(0)),
        _ => Err(DbError::Column("user_version".into())),
    }
}

#[cfg(all(test, feature = "native"))]
mod tests;

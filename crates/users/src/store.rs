//! The users service's schema, and the SQL that reads accounts.

use streamia_api::ApiError;
use streamia_auth::Role;
use streamia_db::{Db, DbError, Row, Value};

use crate::domain::{Email, User, Username};

pub const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE users_accounts (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, username TEXT NOT NULL,
            password_hash TEXT NOT NULL, role TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE TABLE users_refresh_tokens (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, family_id TEXT NOT NULL,
            expires_at INTEGER NOT NULL, created_at TEXT NOT NULL, rotated_at TEXT, revoked_at TEXT)",
        "CREATE INDEX users_refresh_tokens_user ON users_refresh_tokens (user_id)",
        "CREATE INDEX users_refresh_tokens_family ON users_refresh_tokens (family_id)",
        "CREATE TABLE users_password_resets (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL,
            expires_at INTEGER NOT NULL, used_at TEXT, created_at TEXT NOT NULL)",
    ],
    &streamia_events::outbox_schema!("users"),
];

pub(crate) const USER_COLUMNS: &str = "id, email, username, role, password_hash, created_at, updated_at";

pub(crate) fn user_from(row: &Row<'_>) -> Result<User, ApiError> {
    let role = row.text("role")?;
    Ok(User {
        id: row.text("id")?,
        email: row.text("email")?,
        username: row.text("username")?,
        role: Role::parse(&role).ok_or_else(|| ApiError::internal(format!("stored role {role:?}")))?,
        created_at: row.text("created_at")?,
        updated_at: row.text("updated_at")?,
        password_hash: row.text("password_hash")?,
    })
}

/// The only UNIQUE column of users_accounts besides the id is the e-mail.
pub(crate) fn email_taken(result: Result<streamia_db::Rows, DbError>) -> Result<(), ApiError> {
    match result {
        Err(DbError::Unique(_)) => Err(ApiError::Conflict("an account with this e-mail already exists".into())),
        other => other.map(drop).map_err(Into::into),
    }
}

pub fn find(db: &dyn Db, id: &str) -> Result<Option<User>, ApiError> {
    let rows = db.execute(
        &format!("SELECT {USER_COLUMNS} FROM users_accounts WHERE id = ?"),
        &[id.into()],
    )?;
    rows.first().map(|r| user_from(&r)).transpose()
}

/// Replaces a password hash with a new one of the same password (a legacy
/// hash upgraded at sign-in), unless the password changed meanwhile.
pub fn upgrade_password_hash(db: &dyn Db, id: &str, old: &str, new: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE users_accounts SET password_hash = ? WHERE id = ? AND password_hash = ?",
        &[new.into(), id.into(), old.into()],
    )?;
    Ok(())
}

pub fn find_by_email(db: &dyn Db, email: &Email) -> Result<Option<User>, ApiError> {
    let rows = db.execute(
        &format!("SELECT {USER_COLUMNS} FROM users_accounts WHERE email = ?"),
        &[email.as_ref().into()],
    )?;
    rows.first().map(|r| user_from(&r)).transpose()
}

/// An imported account's row for [`import_accounts`].
pub(crate) fn account_row(
    id: &str,
    email: &Email,
    username: &Username,
    hash: &str,
    role: Role,
    at: &str,
) -> Vec<Value> {
    vec![
        id.into(),
        email.as_ref().into(),
        username.as_ref().into(),
        hash.into(),
        role.as_str().into(),
        at.into(),
        at.into(),
    ]
}

/// Writes the accounts not there yet (by id, or by e-mail: an account of
/// the new system with the same e-mail is left alone); how many were written.
pub(crate) fn import_accounts(db: &dyn Db, rows: &[Vec<Value>]) -> Result<usize, ApiError> {
    Ok(streamia_db::insert_many(
        db,
        "INSERT INTO users_accounts (id, email, username, password_hash, role, created_at, updated_at)",
        "ON CONFLICT DO NOTHING",
        rows,
    )?)
}

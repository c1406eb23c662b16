//! The users service's schema and all its SQL: accounts, sessions
//! (refresh-token families) and password resets.

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
    // Admins suspend accounts (crate::admin): when, or NULL while active.
    &["ALTER TABLE users_accounts ADD COLUMN suspended_at TEXT"],
];

pub(crate) const USER_COLUMNS: &str = "id, email, username, role, password_hash, created_at, updated_at, suspended_at";

pub(crate) fn user_from(row: &Row<'_>) -> Result<User, ApiError> {
    let role = row.text("role")?;
    Ok(User {
        id: row.text("id")?,
        email: row.text("email")?,
        username: row.text("username")?,
        role: Role::parse(&role).ok_or_else(|| ApiError::internal(format!("stored role {role:?}")))?,
        created_at: row.text("created_at")?,
        updated_at: row.text("updated_at")?,
        suspended_at: row.opt_text("suspended_at")?,
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

/// Creates an account; 409 when its e-mail is taken.
pub(crate) fn insert_account(db: &dyn Db, user: &User) -> Result<(), ApiError> {
    email_taken(db.execute(
        "INSERT INTO users_accounts (id, email, username, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            (&user.id).into(),
            (&user.email).into(),
            (&user.username).into(),
            (&user.password_hash).into(),
            user.role.as_str().into(),
            (&user.created_at).into(),
            (&user.updated_at).into(),
        ],
    ))
}

/// Saves a changed username and e-mail; 409 when the e-mail is taken.
pub(crate) fn update_profile(db: &dyn Db, user: &User) -> Result<(), ApiError> {
    email_taken(db.execute(
        "UPDATE users_accounts SET username = ?, email = ?, updated_at = ? WHERE id = ?",
        &[
            (&user.username).into(),
            (&user.email).into(),
            (&user.updated_at).into(),
            (&user.id).into(),
        ],
    ))
}

pub(crate) fn set_password(db: &dyn Db, user_id: &str, hash: &str, at: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE users_accounts SET password_hash = ?, updated_at = ? WHERE id = ?",
        &[hash.into(), at.into(), user_id.into()],
    )?;
    Ok(())
}

pub(crate) fn set_role(db: &dyn Db, user_id: &str, role: Role, at: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE users_accounts SET role = ?, updated_at = ? WHERE id = ?",
        &[role.as_str().into(), at.into(), user_id.into()],
    )?;
    Ok(())
}

pub(crate) fn count_admins(db: &dyn Db) -> Result<u64, ApiError> {
    Ok(db.count("SELECT COUNT(*) AS n FROM users_accounts WHERE role = 'admin'", &[])?)
}

/// A page of accounts, oldest first, and how many there are.
pub(crate) fn list(db: &dyn Db, limit: u32, offset: i64) -> Result<(Vec<User>, u64), ApiError> {
    let total = db.count("SELECT COUNT(*) AS n FROM users_accounts", &[])?;
    let rows = db.execute(
        &format!("SELECT {USER_COLUMNS} FROM users_accounts ORDER BY created_at, id LIMIT ? OFFSET ?"),
        &[i64::from(limit).into(), offset.into()],
    )?;
    let users = rows.iter().map(|r| user_from(&r)).collect::<Result<Vec<_>, _>>()?;
    Ok((users, total))
}

/// Deletes an account with its sessions and resets; `false` when there was none.
/// Deletes the account and its sessions and reset tokens; its e-mail
/// address and username, or `None` when there was no such account.
pub(crate) fn delete_account(db: &dyn Db, user_id: &str) -> Result<Option<(String, String)>, ApiError> {
    let gone = db.execute(
        "DELETE FROM users_accounts WHERE id = ? RETURNING email, username",
        &[user_id.into()],
    )?;
    let Some(row) = gone.first() else {
        return Ok(None);
    };
    let account = (row.text("email")?, row.text("username")?);
    db.execute("DELETE FROM users_refresh_tokens WHERE user_id = ?", &[user_id.into()])?;
    db.execute("DELETE FROM users_password_resets WHERE user_id = ?", &[user_id.into()])?;
    Ok(Some(account))
}

/// A stored refresh token (by its digest; the token itself is never kept).
pub(crate) struct RefreshToken {
    pub user_id: String,
    pub family_id: String,
    pub expires_at: i64,
    pub rotated: bool,
    pub revoked: bool,
}

pub(crate) fn insert_refresh_token(
    db: &dyn Db,
    digest: &str,
    user_id: &str,
    family_id: &str,
    expires_at: i64,
    at: &str,
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO users_refresh_tokens (token_hash, user_id, family_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
        &[digest.into(), user_id.into(), family_id.into(), expires_at.into(), at.into()],
    )?;
    Ok(())
}

pub(crate) fn refresh_token(db: &dyn Db, digest: &str) -> Result<Option<RefreshToken>, ApiError> {
    let rows = db.execute(
        "SELECT user_id, family_id, expires_at, rotated_at, revoked_at FROM users_refresh_tokens WHERE token_hash = ?",
        &[digest.into()],
    )?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(RefreshToken {
        user_id: row.text("user_id")?,
        family_id: row.text("family_id")?,
        expires_at: row.int("expires_at")?,
        rotated: row.opt_text("rotated_at")?.is_some(),
        revoked: row.opt_text("revoked_at")?.is_some(),
    }))
}

pub(crate) fn mark_rotated(db: &dyn Db, digest: &str, at: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE users_refresh_tokens SET rotated_at = ? WHERE token_hash = ?",
        &[at.into(), digest.into()],
    )?;
    Ok(())
}

pub(crate) fn revoke_family(db: &dyn Db, family_id: &str, at: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE users_refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
        &[at.into(), family_id.into()],
    )?;
    Ok(())
}

/// Every session of `user_id` ends.
pub(crate) fn revoke_sessions(db: &dyn Db, user_id: &str, at: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE users_refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        &[at.into(), user_id.into()],
    )?;
    Ok(())
}

/// A password reset (by its token's digest).
pub(crate) struct Reset {
    pub user_id: String,
    pub expires_at: i64,
    pub used: bool,
}

pub(crate) fn insert_reset(
    db: &dyn Db,
    digest: &str,
    user_id: &str,
    expires_at: i64,
    at: &str,
) -> Result<(), ApiError> {
    db.execute(
        "INSERT INTO users_password_resets (token_hash, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
        &[digest.into(), user_id.into(), expires_at.into(), at.into()],
    )?;
    Ok(())
}

pub(crate) fn reset(db: &dyn Db, digest: &str) -> Result<Option<Reset>, ApiError> {
    let rows = db.execute(
        "SELECT user_id, expires_at, used_at FROM users_password_resets WHERE token_hash = ?",
        &[digest.into()],
    )?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(Reset {
        user_id: row.text("user_id")?,
        expires_at: row.int("expires_at")?,
        used: row.opt_text("used_at")?.is_some(),
    }))
}

pub(crate) fn mark_reset_used(db: &dyn Db, digest: &str, at: &str) -> Result<(), ApiError> {
    db.execute(
        "UPDATE users_password_resets SET used_at = ? WHERE token_hash = ?",
        &[at.into(), digest.into()],
    )?;
    Ok(())
}

/// Suspends (`Some(at)`) or reactivates (`None`) an account; `false` if
/// there is none.
pub(crate) fn set_suspended(
    db: &dyn Db,
    user_id: &str,
    suspended_at: Option<&str>,
    at: &str,
) -> Result<bool, ApiError> {
    let changed = db.execute(
        "UPDATE users_accounts SET suspended_at = ?, updated_at = ? WHERE id = ? RETURNING id",
        &[suspended_at.map(str::to_owned).into(), at.into(), user_id.into()],
    )?;
    Ok(!changed.is_empty())
}

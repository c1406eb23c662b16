//! The users service in plain Rust: accounts, sessions and password resets
//! over a [`Db`], with events through the outbox. Native unit tests run it
//! on an in-memory database; the component runs it on Spin's SQLite.

use serde::Serialize;
use streamia_api::{ApiError, Page, Paginated, Validator};
use streamia_auth::{password, token, JwtKeys, Role};
use streamia_db::{transaction, Db, DbError, Row};
use streamia_events::outbox::Outbox;
use streamia_events::{Event, PasswordResetRequested, UserDeleted, UserRegistered, UserUpdated};

use crate::domain::{is_bootstrap_admin, Email, Password, Username};

pub const SERVICE: &str = "users";

/// Refresh tokens last 30 days; each use rotates them.
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;
/// Password reset tokens last one hour and work once.
pub const RESET_TTL_SECS: i64 = 3600;

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

const USER_COLUMNS: &str = "id, email, username, role, password_hash, created_at, updated_at";

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip)]
    password_hash: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub user: User,
    pub access_token: String,
    pub refresh_token: String,
}

impl Session {
    fn new(user: User, tokens: Tokens) -> Self {
        Session {
            user,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

/// Everything a request needs besides its input.
pub struct Users<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
    pub keys: &'a JwtKeys,
    pub admin_emails: &'a str,
    /// Unix seconds.
    pub now: i64,
}

fn user_from(row: &Row<'_>) -> Result<User, ApiError> {
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
fn email_taken(result: Result<streamia_db::Rows, DbError>) -> Result<(), ApiError> {
    match result {
        Err(DbError::Unique(_)) => Err(ApiError::Conflict("an account with this e-mail already exists".into())),
        other => other.map(drop).map_err(Into::into),
    }
}

/// After [`Validator::finish`] succeeded every checked value is `Some`.
fn parsed<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::internal("validated value missing"))
}

impl Users<'_> {
    pub fn migrate(&self) -> Result<(), ApiError> {
        Ok(streamia_db::migrate(self.db, MIGRATIONS)?)
    }

    fn timestamp(&self) -> String {
        streamia_events::now_rfc3339()
    }

    pub fn find(&self, id: &str) -> Result<Option<User>, ApiError> {
        let rows = self.db.execute(
            &format!("SELECT {USER_COLUMNS} FROM users_accounts WHERE id = ?"),
            &[id.into()],
        )?;
        rows.first().map(|r| user_from(&r)).transpose()
    }

    fn find_by_email(&self, email: &Email) -> Result<Option<User>, ApiError> {
        let rows = self.db.execute(
            &format!("SELECT {USER_COLUMNS} FROM users_accounts WHERE email = ?"),
            &[email.as_ref().into()],
        )?;
        rows.first().map(|r| user_from(&r)).transpose()
    }

    /// Issue an access token and a refresh token in `family` (a new family
    /// for a new login). Call inside a transaction.
    fn session_tokens(&self, user: &User, family: Option<&str>) -> Result<Tokens, ApiError> {
        let (access_token, _) = self
            .keys
            .issue(&user.id, user.role, self.now as u64)
            .map_err(ApiError::internal)?;
        let refresh_token = token::new_token().map_err(ApiError::internal)?;
        let family = family
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        self.db
            .execute(
                "INSERT INTO users_refresh_tokens (token_hash, user_id, family_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
                &[token::digest(&refresh_token).into(), (&user.id).into(), family.into(), (self.now + REFRESH_TTL_SECS).into(), self.timestamp().into()],
            )
            ?;
        Ok(Tokens {
            access_token,
            refresh_token,
        })
    }

    pub fn register(&self, email: &str, password: &str, username: &str) -> Result<Session, ApiError> {
        let mut v = Validator::new();
        let email = v.check(Email::parse(email));
        let password = v.check(Password::parse(password, "password"));
        let username = v.check(Username::parse(username));
        v.finish()?;
        let (email, password, username) = (parsed(email)?, parsed(password)?, parsed(username)?);
        let hash = password::hash(password.as_ref()).map_err(ApiError::internal)?;
        let role = if is_bootstrap_admin(self.admin_emails, &email) {
            Role::Admin
        } else {
            Role::User
        };
        let now = self.timestamp();
        let user = User {
            id: uuid::Uuid::now_v7().to_string(),
            email: email.as_ref().to_owned(),
            username: username.as_ref().to_owned(),
            role,
            created_at: now.clone(),
            updated_at: now,
            password_hash: hash,
        };
        transaction(self.db, || {
            let inserted = self.db.execute(
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
            );
            email_taken(inserted)?;
            self.outbox.add(
                self.db,
                &Event::UserRegistered(UserRegistered {
                    user_id: user.id.clone(),
                    email: user.email.clone(),
                    username: user.username.clone(),
                    role: user.role.as_str().to_owned(),
                }),
            )?;
            let tokens = self.session_tokens(&user, None)?;
            Ok(Session::new(user.clone(), tokens))
        })
    }

    /// One answer for an unknown e-mail and a wrong password, after the same
    /// amount of hashing work.
    pub fn login(&self, email: &str, password: &str) -> Result<Session, ApiError> {
        let user = match Email::parse(email) {
            Ok(email) => self.find_by_email(&email)?,
            Err(_) => None,
        };
        let ok = match &user {
            Some(u) => password::verify(password, &u.password_hash),
            None => password::verify_dummy(password),
        };
        let user = match (user, ok) {
            (Some(u), true) => u,
            _ => return Err(ApiError::InvalidCredentials),
        };
        transaction(self.db, || {
            let tokens = self.session_tokens(&user, None)?;
            Ok(Session::new(user.clone(), tokens))
        })
    }

    /// Rotate a refresh token. Presenting a token that was already rotated
    /// means it leaked: the whole family is revoked.
    pub fn refresh(&self, refresh_token: &str) -> Result<Session, ApiError> {
        let invalid = || ApiError::Unauthorized("invalid or expired refresh token".into());
        let digest = token::digest(refresh_token);
        transaction(self.db, || {
            let rows = self
                .db
                .execute(
                    "SELECT user_id, family_id, expires_at, rotated_at, revoked_at FROM users_refresh_tokens WHERE token_hash = ?",
                    &[digest.clone().into()],
                )
                ?;
            let Some(row) = rows.first() else {
                return Err(invalid());
            };
            let family = row.text("family_id")?;
            if row.opt_text("revoked_at")?.is_some() {
                return Err(invalid());
            }
            if row.opt_text("rotated_at")?.is_some() {
                self.revoke_family(&family)?;
                return Ok(Err(invalid()));
            }
            if row.int("expires_at")? <= self.now {
                return Err(invalid());
            }
            let user = self.find(&row.text("user_id")?)?.ok_or_else(invalid)?;
            self.db.execute(
                "UPDATE users_refresh_tokens SET rotated_at = ? WHERE token_hash = ?",
                &[self.timestamp().into(), digest.clone().into()],
            )?;
            let tokens = self.session_tokens(&user, Some(&family))?;
            Ok(Ok(Session::new(user, tokens)))
        })?
        // The reuse case commits the revocation before answering 401.
    }

    fn revoke_family(&self, family: &str) -> Result<(), ApiError> {
        self.db.execute(
            "UPDATE users_refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
            &[self.timestamp().into(), family.into()],
        )?;
        Ok(())
    }

    fn revoke_all_sessions(&self, user_id: &str) -> Result<(), ApiError> {
        self.db.execute(
            "UPDATE users_refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
            &[self.timestamp().into(), user_id.into()],
        )?;
        Ok(())
    }

    /// Ends the session the token belongs to. Unknown tokens are fine: the
    /// outcome (that token no longer works) is the same.
    pub fn logout(&self, refresh_token: &str) -> Result<(), ApiError> {
        let rows = self.db.execute(
            "SELECT family_id FROM users_refresh_tokens WHERE token_hash = ?",
            &[token::digest(refresh_token).into()],
        )?;
        if let Some(row) = rows.first() {
            self.revoke_family(&row.text("family_id")?)?;
        }
        Ok(())
    }

    pub fn update_profile(&self, user_id: &str, username: Option<&str>, email: Option<&str>) -> Result<User, ApiError> {
        if username.is_none() && email.is_none() {
            return Err(ApiError::validation("body", "give a username, an email, or both"));
        }
        let mut v = Validator::new();
        let username = username.map(|u| v.check(Username::parse(u)));
        let email = email.map(|e| v.check(Email::parse(e)));
        v.finish()?;
        let username = username.map(parsed).transpose()?;
        let email = email.map(parsed).transpose()?;
        transaction(self.db, || {
            let mut user = self.find(user_id)?.ok_or_else(ApiError::account_gone)?;
            if let Some(u) = &username {
                user.username = u.as_ref().to_owned();
            }
            if let Some(e) = &email {
                user.email = e.as_ref().to_owned();
            }
            user.updated_at = self.timestamp();
            let updated = self.db.execute(
                "UPDATE users_accounts SET username = ?, email = ?, updated_at = ? WHERE id = ?",
                &[
                    (&user.username).into(),
                    (&user.email).into(),
                    (&user.updated_at).into(),
                    (&user.id).into(),
                ],
            );
            email_taken(updated)?;
            self.outbox.add(
                self.db,
                &Event::UserUpdated(UserUpdated {
                    user_id: user.id.clone(),
                    email: user.email.clone(),
                    username: user.username.clone(),
                }),
            )?;
            Ok(user)
        })
    }

    /// Change the password; every existing session ends and the caller gets
    /// a new one.
    pub fn change_password(&self, user_id: &str, current: &str, new: &str) -> Result<Tokens, ApiError> {
        let new = Password::parse(new, "newPassword").map_err(|e| ApiError::Validation(vec![e]))?;
        let user = self.find(user_id)?.ok_or_else(ApiError::account_gone)?;
        if !password::verify(current, &user.password_hash) {
            return Err(ApiError::Forbidden("the current password is wrong".into()));
        }
        let hash = password::hash(new.as_ref()).map_err(ApiError::internal)?;
        transaction(self.db, || {
            self.db.execute(
                "UPDATE users_accounts SET password_hash = ?, updated_at = ? WHERE id = ?",
                &[hash.clone().into(), self.timestamp().into(), user_id.into()],
            )?;
            self.revoke_all_sessions(user_id)?;
            self.session_tokens(&user, None)
        })
    }

    /// Always succeeds from the caller's point of view; only a known e-mail
    /// gets a token (through password.reset.requested).
    pub fn forgot_password(&self, email: &str) -> Result<(), ApiError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let Some(user) = self.find_by_email(&email)? else {
            return Ok(());
        };
        let reset_token = token::new_token().map_err(ApiError::internal)?;
        let expires = self.now + RESET_TTL_SECS;
        let expires_at =
            humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(expires as u64))
                .to_string();
        transaction(self.db, || {
            self.db.execute(
                "INSERT INTO users_password_resets (token_hash, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
                &[
                    token::digest(&reset_token).into(),
                    (&user.id).into(),
                    expires.into(),
                    self.timestamp().into(),
                ],
            )?;
            self.outbox.add(
                self.db,
                &Event::PasswordResetRequested(PasswordResetRequested {
                    user_id: user.id.clone(),
                    email: user.email.clone(),
                    username: user.username.clone(),
                    token: reset_token.clone(),
                    expires_at: expires_at.clone(),
                }),
            )?;
            Ok(())
        })
    }

    pub fn reset_password(&self, reset_token: &str, new: &str) -> Result<(), ApiError> {
        let new = Password::parse(new, "newPassword").map_err(|e| ApiError::Validation(vec![e]))?;
        let invalid = || ApiError::BadRequest {
            code: "invalid_token",
            message: "the reset token is invalid, used or expired".into(),
        };
        let digest = token::digest(reset_token);
        let hash = password::hash(new.as_ref()).map_err(ApiError::internal)?;
        transaction(self.db, || {
            let rows = self.db.execute(
                "SELECT user_id, expires_at, used_at FROM users_password_resets WHERE token_hash = ?",
                &[digest.clone().into()],
            )?;
            let Some(row) = rows.first() else {
                return Err(invalid());
            };
            if row.opt_text("used_at")?.is_some() || row.int("expires_at")? <= self.now {
                return Err(invalid());
            }
            let user_id = row.text("user_id")?;
            self.db.execute(
                "UPDATE users_password_resets SET used_at = ? WHERE token_hash = ?",
                &[self.timestamp().into(), digest.clone().into()],
            )?;
            self.db.execute(
                "UPDATE users_accounts SET password_hash = ?, updated_at = ? WHERE id = ?",
                &[hash.clone().into(), self.timestamp().into(), (&user_id).into()],
            )?;
            self.revoke_all_sessions(&user_id)
        })
    }

    pub fn delete(&self, user_id: &str) -> Result<(), ApiError> {
        transaction(self.db, || {
            let gone = self.db.execute(
                "DELETE FROM users_accounts WHERE id = ? RETURNING id",
                &[user_id.into()],
            )?;
            if gone.is_empty() {
                return Err(ApiError::NotFound("account not found".into()));
            }
            self.db
                .execute("DELETE FROM users_refresh_tokens WHERE user_id = ?", &[user_id.into()])?;
            self.db
                .execute("DELETE FROM users_password_resets WHERE user_id = ?", &[user_id.into()])?;
            self.outbox.add(
                self.db,
                &Event::UserDeleted(UserDeleted {
                    user_id: user_id.to_owned(),
                }),
            )?;
            Ok(())
        })
    }

    pub fn list(&self, page: Page) -> Result<Paginated<User>, ApiError> {
        let total = self.db.count("SELECT COUNT(*) AS n FROM users_accounts", &[])?;
        let rows = self.db.execute(
            &format!("SELECT {USER_COLUMNS} FROM users_accounts ORDER BY created_at, id LIMIT ? OFFSET ?"),
            &[i64::from(page.limit()).into(), page.offset().into()],
        )?;
        let users = rows.iter().map(|r| user_from(&r)).collect::<Result<Vec<_>, _>>()?;
        Ok(Paginated::new(users, page, total))
    }

    /// An admin changes a role; the last admin cannot be demoted.
    pub fn set_role(&self, user_id: &str, role: &str) -> Result<User, ApiError> {
        let role = Role::parse(role).ok_or_else(|| ApiError::validation("role", "must be user or admin"))?;
        transaction(self.db, || {
            let mut user = self
                .find(user_id)?
                .ok_or_else(|| ApiError::NotFound("user not found".into()))?;
            if user.role == Role::Admin && role == Role::User {
                let admins = self
                    .db
                    .count("SELECT COUNT(*) AS n FROM users_accounts WHERE role = 'admin'", &[])?;
                if admins <= 1 {
                    return Err(ApiError::Unprocessable {
                        code: "last_admin",
                        message: "the last admin cannot be demoted".into(),
                    });
                }
            }
            user.role = role;
            user.updated_at = self.timestamp();
            self.db.execute(
                "UPDATE users_accounts SET role = ?, updated_at = ? WHERE id = ?",
                &[role.as_str().into(), (&user.updated_at).into(), user_id.into()],
            )?;
            Ok(user)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamia_db::MemoryDb;

    const SECRET: &str = "unit-test-secret-that-is-long-enough!!";

    struct Fixture {
        db: MemoryDb,
        outbox: Outbox,
        keys: JwtKeys,
    }

    impl Fixture {
        fn new() -> Self {
            let f = Fixture {
                db: MemoryDb::new(),
                outbox: Outbox::new(SERVICE),
                keys: JwtKeys::new(SECRET).unwrap(),
            };
            f.users(0).migrate().unwrap();
            f
        }

        fn users(&self, now: i64) -> Users<'_> {
            Users {
                db: &self.db,
                outbox: &self.outbox,
                keys: &self.keys,
                admin_emails: "boss@example.com",
                now: 1_800_000_000 + now,
            }
        }

        fn events(&self) -> Vec<String> {
            self.outbox
                .due(&self.db, i64::MAX, 100)
                .unwrap()
                .into_iter()
                .map(|p| p.envelope.event_type)
                .collect()
        }
    }

    #[test]
    fn registration_hashes_the_password_and_records_user_registered() {
        let f = Fixture::new();
        let s = f.users(0).register("Ana@Example.com", "s3cret-pass", "ana").unwrap();
        assert_eq!(s.user.email, "ana@example.com");
        assert_eq!(s.user.role, Role::User);
        assert!(s.user.password_hash.starts_with("$argon2id$"));
        assert_eq!(f.keys.verify(&s.access_token, 1_800_000_001).unwrap().sub, s.user.id);
        assert_eq!(f.events(), vec!["user.registered"]);
        let json = serde_json::to_value(&s.user).unwrap();
        assert!(json.get("passwordHash").is_none() && json.get("password_hash").is_none());
    }

    #[test]
    fn emails_are_unique_whatever_their_case() {
        let f = Fixture::new();
        f.users(0).register("ana@example.com", "s3cret-pass", "ana").unwrap();
        let err = f
            .users(0)
            .register("ANA@example.com", "other-pass", "ana2")
            .unwrap_err();
        assert_eq!(err.status(), 409);
        assert_eq!(f.events().len(), 1, "no event for the refused registration");
    }

    #[test]
    fn invalid_registrations_list_every_bad_field() {
        let f = Fixture::new();
        match f.users(0).register("nope", "short", "x") {
            Err(ApiError::Validation(fields)) => {
                let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(names, ["email", "password", "username"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bootstrap_admins_become_admin() {
        let f = Fixture::new();
        assert_eq!(
            f.users(0)
                .register("boss@example.com", "s3cret-pass", "boss")
                .unwrap()
                .user
                .role,
            Role::Admin
        );
    }

    #[test]
    fn login_fails_the_same_way_for_unknown_email_and_wrong_password() {
        let f = Fixture::new();
        f.users(0).register("ana@example.com", "s3cret-pass", "ana").unwrap();
        assert!(f.users(0).login("ANA@example.com", "s3cret-pass").is_ok());
        for (email, pass) in [
            ("ana@example.com", "wrong-pass"),
            ("nobody@example.com", "s3cret-pass"),
            ("not-an-email", "x"),
        ] {
            let err = f.users(0).login(email, pass).unwrap_err();
            assert!(matches!(err, ApiError::InvalidCredentials), "{email}: {err:?}");
        }
    }

    #[test]
    fn refresh_rotates_and_reuse_revokes_the_family() {
        let f = Fixture::new();
        let s = f.users(0).register("ana@example.com", "s3cret-pass", "ana").unwrap();
        let second = f.users(1).refresh(&s.refresh_token).unwrap();
        assert_ne!(second.refresh_token, s.refresh_token);
        // The first token again: theft suspected, the family dies.
        assert_eq!(f.users(2).refresh(&s.refresh_token).unwrap_err().status(), 401);
        assert_eq!(
            f.users(3).refresh(&second.refresh_token).unwrap_err().status(),
            401,
            "the rotated-to token is revoked too"
        );
        // Another login (another family) is unaffected.
        let other = f.users(4).login("ana@example.com", "s3cret-pass").unwrap();
        assert!(f.users(5).refresh(&other.refresh_token).is_ok());
    }

    #[test]
    fn refresh_tokens_expire_and_logout_ends_the_session() {
        let f = Fixture::new();
        let s = f.users(0).register("ana@example.com", "s3cret-pass", "ana").unwrap();
        assert_eq!(
            f.users(REFRESH_TTL_SECS)
                .refresh(&s.refresh_token)
                .unwrap_err()
                .status(),
            401
        );
        let s = f.users(0).login("ana@example.com", "s3cret-pass").unwrap();
        f.users(1).logout(&s.refresh_token).unwrap();
        assert_eq!(f.users(2).refresh(&s.refresh_token).unwrap_err().status(), 401);
        f.users(3).logout("never-issued").unwrap();
    }

    #[test]
    fn reset_tokens_work_once_within_an_hour() {
        let f = Fixture::new();
        let s = f.users(0).register("ana@example.com", "s3cret-pass", "ana").unwrap();
        f.users(0).forgot_password("ana@example.com").unwrap();
        f.users(0).forgot_password("nobody@example.com").unwrap();
        let token = f
            .outbox
            .due(&f.db, i64::MAX, 100)
            .unwrap()
            .into_iter()
            .find_map(|p| match p.envelope.event().unwrap() {
                Some(Event::PasswordResetRequested(r)) => Some(r.token),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            f.events(),
            vec!["user.registered", "password.reset.requested"],
            "only the known account gets a token"
        );
        assert_eq!(
            f.users(RESET_TTL_SECS)
                .reset_password(&token, "brand-new-pass")
                .unwrap_err()
                .status(),
            400,
            "expired"
        );
        f.users(10).reset_password(&token, "brand-new-pass").unwrap();
        assert_eq!(
            f.users(11).reset_password(&token, "another-pass").unwrap_err().status(),
            400,
            "used"
        );
        assert!(f.users(12).login("ana@example.com", "brand-new-pass").is_ok());
        assert_eq!(
            f.users(13).refresh(&s.refresh_token).unwrap_err().status(),
            401,
            "old sessions end"
        );
    }

    #[test]
    fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
        let f = Fixture::new();
        let s = f.users(0).register("ana@example.com", "s3cret-pass", "ana").unwrap();
        assert_eq!(
            f.users(1)
                .change_password(&s.user.id, "wrong", "brand-new-pass")
                .unwrap_err()
                .status(),
            403
        );
        let fresh = f
            .users(1)
            .change_password(&s.user.id, "s3cret-pass", "brand-new-pass")
            .unwrap();
        assert_eq!(f.users(2).refresh(&s.refresh_token).unwrap_err().status(), 401);
        assert!(f.users(2).refresh(&fresh.refresh_token).is_ok());
    }

    #[test]
    fn the_last_admin_cannot_be_demoted() {
        let f = Fixture::new();
        let boss = f.users(0).register("boss@example.com", "s3cret-pass", "boss").unwrap();
        let ana = f.users(0).register("ana@example.com", "s3cret-pass", "ana").unwrap();
        assert_eq!(f.users(1).set_role(&boss.user.id, "user").unwrap_err().status(), 422);
        assert_eq!(f.users(1).set_role(&ana.user.id, "admin").unwrap().role, Role::Admin);
        assert_eq!(f.users(1).set_role(&boss.user.id, "user").unwrap().role, Role::User);
        assert_eq!(f.users(1).set_role(&ana.user.id, "root").unwrap_err().status(), 400);
        assert_eq!(f.users(1).set_role("missing", "user").unwrap_err().status(), 404);
    }

    #[test]
    fn deleting_an_account_emits_user_deleted_and_ends_its_sessions() {
        let f = Fixture::new();
        let s = f.users(0).register("ana@example.com", "s3cret-pass", "ana").unwrap();
        f.users(1).delete(&s.user.id).unwrap();
        assert_eq!(f.events(), vec!["user.registered", "user.deleted"]);
        assert_eq!(f.users(2).refresh(&s.refresh_token).unwrap_err().status(), 401);
        assert_eq!(f.users(2).delete(&s.user.id).unwrap_err().status(), 404);
    }

    #[test]
    fn lists_are_paginated() {
        let f = Fixture::new();
        for i in 0..5 {
            f.users(0)
                .register(&format!("u{i}@example.com"), "s3cret-pass", &format!("user{i}"))
                .unwrap();
        }
        let page = f.users(0).list(Page::parse(Some("2"), Some("2")).unwrap()).unwrap();
        assert_eq!(page.data.len(), 2);
        assert_eq!(page.data[0].email, "u2@example.com");
        assert_eq!(page.pagination.total, 5);
        assert_eq!(page.pagination.total_pages, 3);
    }
}

//! The users service's operations: accounts, sessions and password resets
//! over a [`Db`], with events through the outbox.

use streamia_api::{ApiError, Page, Paginated, Validator};
use streamia_auth::{password, token, JwtKeys, Role};
use streamia_clock::Now;
use streamia_db::{transaction, Db};
use streamia_events::outbox::Outbox;

use crate::domain::{is_bootstrap_admin, Email, Password, Session, Tokens, User, Username};
use crate::store;
use crate::{events, MIGRATIONS};

/// Refresh tokens last 30 days; each use rotates them.
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;
/// Password reset tokens last one hour and work once.
pub const RESET_TTL_SECS: i64 = 3600;

/// Everything a request needs besides its input.
pub struct Users<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
    pub keys: &'a JwtKeys,
    pub admin_emails: &'a str,
    pub now: Now,
}

/// After [`Validator::finish`] succeeded every checked value is `Some`.
fn parsed<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::internal("validated value missing"))
}

impl Users<'_> {
    pub fn migrate(&self) -> Result<(), ApiError> {
        Ok(streamia_db::migrate(self.db, crate::SERVICE, MIGRATIONS)?)
    }

    /// The caller's own account; gone once deleted, though its token lives on.
    pub fn me(&self, id: &str) -> Result<User, ApiError> {
        store::find(self.db, id)?.ok_or_else(ApiError::account_gone)
    }

    /// Issue an access token and a refresh token in `family` (a new family
    /// for a new login). Call inside a transaction.
    fn session_tokens(&self, user: &User, family: Option<&str>) -> Result<Tokens, ApiError> {
        let (access_token, _) = self
            .keys
            .issue(&user.id, user.role, self.now.unix() as u64)
            .map_err(ApiError::internal)?;
        let refresh_token = token::new_token().map_err(ApiError::internal)?;
        let family = family
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        store::insert_refresh_token(
            self.db,
            &token::digest(&refresh_token),
            &user.id,
            &family,
            self.now.unix() + REFRESH_TTL_SECS,
            &self.now.rfc3339(),
        )?;
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
        let now = self.now.rfc3339();
        let user = User {
            id: uuid::Uuid::now_v7().to_string(),
            email: email.as_ref().to_owned(),
            username: username.as_ref().to_owned(),
            role,
            created_at: now.clone(),
            updated_at: now,
            suspended_at: None,
            password_hash: hash,
        };
        transaction(self.db, || {
            store::insert_account(self.db, &user)?;
            self.outbox.add(self.db, &events::registered(&user))?;
            let tokens = self.session_tokens(&user, None)?;
            Ok(Session::new(user.clone(), tokens))
        })
    }

    /// One answer for an unknown e-mail and a wrong password, after the same
    /// amount of hashing work.
    pub fn login(&self, email: &str, password: &str) -> Result<Session, ApiError> {
        let user = match Email::parse(email) {
            Ok(email) => store::find_by_email(self.db, &email)?,
            Err(_) => None,
        };
        let ok = match &user {
            Some(u) => password::verify(password, &u.password_hash),
            None => password::verify_dummy(password),
        };
        let mut user = match (user, ok) {
            (Some(u), true) => u,
            _ => return Err(ApiError::InvalidCredentials),
        };
        // Said only to whoever knows the password.
        user.refuse_if_suspended()?;
        // An account imported with the old system's bcrypt hash (or an
        // older Argon2id cost) gets today's hash now that the password is
        // known: one more hash, on that one sign-in.
        if password::needs_rehash(&user.password_hash) {
            let upgraded = password::hash(password).map_err(ApiError::internal)?;
            store::upgrade_password_hash(self.db, &user.id, &user.password_hash, &upgraded)?;
            user.password_hash = upgraded;
        }
        // One INSERT, so no explicit transaction: SQLite holds the write
        // lock only while the host runs the statement, never while this
        // instance waits for a CPU (under a burst of logins, each hashing
        // for ~0.1 s, a lock held across that wait made others time out).
        let tokens = self.session_tokens(&user, None)?;
        Ok(Session::new(user, tokens))
    }

    /// Rotate a refresh token. Presenting a token that was already rotated
    /// means it leaked: the whole family is revoked.
    pub fn refresh(&self, refresh_token: &str) -> Result<Session, ApiError> {
        let invalid = || ApiError::Unauthorized("invalid or expired refresh token".into());
        let digest = token::digest(refresh_token);
        transaction(self.db, || {
            let stored = store::refresh_token(self.db, &digest)?.ok_or_else(invalid)?;
            if stored.revoked {
                return Err(invalid());
            }
            if stored.rotated {
                store::revoke_family(self.db, &stored.family_id, &self.now.rfc3339())?;
                return Ok(Err(invalid()));
            }
            if stored.expires_at <= self.now.unix() {
                return Err(invalid());
            }
            let user = store::find(self.db, &stored.user_id)?.ok_or_else(invalid)?;
            user.refuse_if_suspended()?;
            store::mark_rotated(self.db, &digest, &self.now.rfc3339())?;
            let tokens = self.session_tokens(&user, Some(&stored.family_id))?;
            Ok(Ok(Session::new(user, tokens)))
        })?
        // The reuse case commits the revocation before answering 401.
    }

    /// Ends the session the token belongs to. Unknown tokens are fine: the
    /// outcome (that token no longer works) is the same.
    pub fn logout(&self, refresh_token: &str) -> Result<(), ApiError> {
        if let Some(stored) = store::refresh_token(self.db, &token::digest(refresh_token))? {
            store::revoke_family(self.db, &stored.family_id, &self.now.rfc3339())?;
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
            let mut user = store::find(self.db, user_id)?.ok_or_else(ApiError::account_gone)?;
            user.refuse_if_suspended()?;
            if let Some(u) = &username {
                user.username = u.as_ref().to_owned();
            }
            if let Some(e) = &email {
                user.email = e.as_ref().to_owned();
            }
            user.updated_at = self.now.rfc3339();
            store::update_profile(self.db, &user)?;
            self.outbox.add(self.db, &events::updated(&user))?;
            Ok(user)
        })
    }

    /// Change the password; every existing session ends and the caller gets
    /// a new one.
    pub fn change_password(&self, user_id: &str, current: &str, new: &str) -> Result<Tokens, ApiError> {
        let new = Password::parse(new, "newPassword").map_err(|e| ApiError::Validation(vec![e]))?;
        let user = store::find(self.db, user_id)?.ok_or_else(ApiError::account_gone)?;
        user.refuse_if_suspended()?;
        if !password::verify(current, &user.password_hash) {
            return Err(ApiError::Forbidden("the current password is wrong".into()));
        }
        let hash = password::hash(new.as_ref()).map_err(ApiError::internal)?;
        transaction(self.db, || {
            store::set_password(self.db, user_id, &hash, &self.now.rfc3339())?;
            store::revoke_sessions(self.db, user_id, &self.now.rfc3339())?;
            self.session_tokens(&user, None)
        })
    }

    /// Always succeeds from the caller's point of view; only a known e-mail
    /// gets a token (through password.reset.requested).
    pub fn forgot_password(&self, email: &str) -> Result<(), ApiError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(());
        };
        let Some(user) = store::find_by_email(self.db, &email)? else {
            return Ok(());
        };
        let reset_token = token::new_token().map_err(ApiError::internal)?;
        let expires = self.now.unix() + RESET_TTL_SECS;
        let expires_at =
            humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(expires as u64))
                .to_string();
        transaction(self.db, || {
            store::insert_reset(
                self.db,
                &token::digest(&reset_token),
                &user.id,
                expires,
                &self.now.rfc3339(),
            )?;
            self.outbox
                .add(self.db, &events::reset_requested(&user, &reset_token, &expires_at))?;
            Ok(())
        })
    }

    pub fn reset_password(&self, reset_token: &str, new: &str) -> Result<(), ApiError> {
        let new = Password::parse(new, "newPassword").map_err(|e| ApiError::Validation(vec![e]))?;
        // A well-formed token that names no live reset breaks a rule of the
        // domain: 422, not a malformed request.
        let invalid = || ApiError::Unprocessable {
            code: "invalid_token",
            message: "the reset token is invalid, used or expired".into(),
        };
        let digest = token::digest(reset_token);
        let hash = password::hash(new.as_ref()).map_err(ApiError::internal)?;
        transaction(self.db, || {
            let reset = store::reset(self.db, &digest)?.ok_or_else(invalid)?;
            if reset.used || reset.expires_at <= self.now.unix() {
                return Err(invalid());
            }
            let at = self.now.rfc3339();
            store::mark_reset_used(self.db, &digest, &at)?;
            store::set_password(self.db, &reset.user_id, &hash, &at)?;
            store::revoke_sessions(self.db, &reset.user_id, &at)
        })
    }

    pub fn delete(&self, user_id: &str) -> Result<(), ApiError> {
        transaction(self.db, || self.remove(user_id))
    }

    /// Delete the account, start the deletion saga (user.deleted) and ask
    /// for the e-mail that tells its owner. Call inside a transaction.
    pub(crate) fn remove(&self, user_id: &str) -> Result<(), ApiError> {
        let Some((email, username)) = store::delete_account(self.db, user_id)? else {
            return Err(ApiError::NotFound("account not found".into()));
        };
        self.outbox.add(self.db, &events::deleted(user_id))?;
        // The person hears of it, from the notifications service.
        self.outbox.add(self.db, &events::farewell(&email, &username))?;
        Ok(())
    }

    pub fn list(&self, page: Page) -> Result<Paginated<User>, ApiError> {
        let (users, total) = store::list(self.db, page.limit(), page.offset())?;
        Ok(Paginated::new(users, page, total))
    }

    /// An admin announces a page of accounts again, as user.updated with
    /// their current names: services that keep users' names (comments)
    /// learn those they never heard of, such as accounts made before they
    /// consumed the users' events. Oldest accounts first, like the list.
    pub fn announce(&self, page: Page) -> Result<Paginated<User>, ApiError> {
        transaction(self.db, || {
            let listed = self.list(page)?;
            for user in &listed.data {
                self.outbox.add(self.db, &events::updated(user))?;
            }
            Ok(listed)
        })
    }

    /// An admin changes a role; the last admin cannot be demoted.
    pub fn set_role(&self, user_id: &str, role: &str) -> Result<User, ApiError> {
        let role = Role::parse(role).ok_or_else(|| ApiError::validation("role", "must be user or admin"))?;
        transaction(self.db, || {
            let mut user = store::find(self.db, user_id)?.ok_or_else(|| ApiError::NotFound("user not found".into()))?;
            let demoting = user.role == Role::Admin && role == Role::User;
            if demoting && store::count_admins(self.db)? <= 1 {
                return Err(ApiError::Unprocessable {
                    code: "last_admin",
                    message: "the last admin cannot be demoted".into(),
                });
            }
            user.role = role;
            user.updated_at = self.now.rfc3339();
            store::set_role(self.db, user_id, role, &user.updated_at)?;
            Ok(user)
        })
    }
}

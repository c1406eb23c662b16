//! What an admin does to another person's account: look at it, suspend and
//! reactivate it, delete it. A suspended account cannot sign in, renew its
//! session or change its profile; its sessions end at once, so the access
//! token it holds is the last one and stops working when it expires
//! (`streamia_auth::jwt::ACCESS_TOKEN_TTL_SECS`). Admins' accounts are not
//! suspended or deleted here: demote one first (so the last admin stays).

use streamia_api::ApiError;
use streamia_auth::Role;
use streamia_db::transaction;

use crate::domain::User;
use crate::{store, Users};

fn no_such_user() -> ApiError {
    ApiError::NotFound("user not found".into())
}

/// 422 `admin_account`: what an admin may not do to an admin's account.
fn not_an_admin(user: &User, what: &str) -> Result<(), ApiError> {
    match user.role {
        Role::Admin => Err(ApiError::Unprocessable {
            code: "admin_account",
            message: format!("an admin's account is not {what}; change its role to user first"),
        }),
        Role::User => Ok(()),
    }
}

impl Users<'_> {
    /// One account, as the admins' list shows it.
    pub fn account(&self, user_id: &str) -> Result<User, ApiError> {
        store::find(self.db, user_id)?.ok_or_else(no_such_user)
    }

    /// Suspend the account and end its sessions; suspending a suspended
    /// account changes nothing.
    pub fn suspend(&self, user_id: &str) -> Result<User, ApiError> {
        transaction(self.db, || {
            let user = self.account(user_id)?;
            not_an_admin(&user, "suspended")?;
            if user.suspended_at.is_none() {
                let at = self.now.rfc3339();
                store::set_suspended(self.db, user_id, Some(&at), &at)?;
                store::revoke_sessions(self.db, user_id, &at)?;
            }
            self.account(user_id)
        })
    }

    /// Lift a suspension: the person signs in again (their old sessions
    /// stay ended).
    pub fn reactivate(&self, user_id: &str) -> Result<User, ApiError> {
        transaction(self.db, || {
            let user = self.account(user_id)?;
            if user.suspended_at.is_some() {
                store::set_suspended(self.db, user_id, None, &self.now.rfc3339())?;
            }
            self.account(user_id)
        })
    }

    /// Delete someone's account: the same deletion, saga and e-mail as when
    /// its owner deletes it.
    pub fn delete_account(&self, user_id: &str) -> Result<(), ApiError> {
        transaction(self.db, || {
            not_an_admin(&self.account(user_id)?, "deleted")?;
            self.remove(user_id)
        })
    }
}

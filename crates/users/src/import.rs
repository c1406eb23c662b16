//! Accounts moved from the old system (the import route, admins only):
//! written as they come, without events (nobody is greeted again), each
//! account once (a re-run leaves it as it is).

use serde::Deserialize;
use streamia_api::import::{timestamp, uuid, ImportBatch, Imported};
use streamia_api::ApiError;
use streamia_auth::{password, Role};
use streamia_clock::Now;
use streamia_db::{transaction, Db};

use crate::domain::{Email, Username};
use crate::store;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Account {
    id: String,
    email: String,
    username: String,
    password_hash: String,
    admin: bool,
    #[serde(deserialize_with = "streamia_api::required_whole_number")]
    created_at_ms: i64,
}

pub fn import(db: &dyn Db, batch: &ImportBatch) -> Result<Imported, ApiError> {
    if batch.kind != "users" {
        return Err(batch.unknown_kind(&["users"]));
    }
    let accounts: Vec<Account> = batch.rows()?;
    let mut rows = Vec::with_capacity(accounts.len());
    for (i, a) in accounts.iter().enumerate() {
        let field = |name: &str| format!("rows[{i}].{name}");
        let id = uuid(&field("id"), &a.id)?;
        let email = Email::parse(&a.email).map_err(|e| ApiError::validation(&field("email"), e.message))?;
        let username = Username::parse(&a.username).map_err(|e| ApiError::validation(&field("username"), e.message))?;
        if !password::importable(&a.password_hash) {
            return Err(ApiError::validation(
                &field("passwordHash"),
                "must be a bcrypt hash ($2a$, $2b$ or $2y$, cost 4 to 14) or the no-password marker",
            ));
        }
        let role = match a.admin {
            true => Role::Admin,
            false => Role::User,
        };
        let at = Now::at(0)
            .plus_millis(timestamp(&field("createdAtMs"), a.created_at_ms)?)
            .rfc3339();
        rows.push(store::account_row(&id, &email, &username, &a.password_hash, role, &at));
    }
    let written = transaction(db, || store::import_accounts(db, &rows))?;
    Ok(Imported::of(rows.len(), written))
}

//! The monolith's `users` collection, and the rules its rows meet.
//!
//! | what the old data holds | rule |
//! |---|---|
//! | no readable `_id` | skip |
//! | an e-mail missing or not an address (after trimming spaces) | skip |
//! | e-mails that differ only in case | merge: the earliest account is kept; the others' favourites, ratings and comments move to it |
//! | a username the new rules refuse (length, characters) | keep, made valid (other characters dropped, cut to 30, padded from the id) |
//! | usernames used by several accounts | keep (the new system does not require them unique) |
//! | a bcrypt hash (cost 4–14), whatever the password's length | keep: its owner signs in with it, and that re-hashes it |
//! | no usable hash (missing, another scheme, cost over 14) | keep, without a password: its owner uses "forgot password" |
//! | a role other than `admin` | a plain user |
//! | fields the new system does not know | dropped, counted in the report |

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};
use streamia_auth::password;
use streamia_users::domain::{Email, Username, USERNAME_MAX, USERNAME_MIN};

use crate::dump::Document;
use crate::extjson;
use crate::ids::ObjectId;
use crate::report::Collection;
use crate::rows;

pub use streamia_auth::password::NO_PASSWORD;

const KNOWN: &[&str] = &[
    "_id",
    "email",
    "username",
    "name",
    "password",
    "role",
    "createdAt",
    "updatedAt",
    "__v",
];

/// An account as the users service stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub object_id: ObjectId,
    pub id: String,
    pub email: String,
    pub username: String,
    pub password_hash: String,
    pub admin: bool,
    pub created_ms: i64,
}

/// The accounts to import, and where each old account's references go:
/// an account merged into another maps to the one kept.
#[derive(Debug, Default)]
pub struct Users {
    pub rows: Vec<UserRow>,
    pub owner_of: HashMap<ObjectId, ObjectId>,
}

impl Users {
    /// The account an old user id now points at, if it was imported or merged.
    pub fn resolve(&self, old: &ObjectId) -> Option<&ObjectId> {
        self.owner_of.get(old)
    }
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}

/// A username the new rules accept, made from the old one.
fn valid_username(old: Option<&str>, email: &Email, oid: &ObjectId) -> String {
    let allowed = |c: &char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    let local = email.as_ref().split('@').next().unwrap_or_default();
    let mut name: String = old
        .unwrap_or(local)
        .chars()
        .filter(allowed)
        .take(USERNAME_MAX)
        .collect();
    if name.is_empty() {
        name = local.chars().filter(allowed).take(USERNAME_MAX).collect();
    }
    if name.len() < USERNAME_MIN {
        let tail = oid.to_string();
        name.push_str(&tail[tail.len() - (USERNAME_MIN + 3 - name.len())..]);
    }
    name
}

/// Applies the rules above to every row, in the order of the file.
pub fn read(documents: &[Document], report: &mut Collection) -> Users {
    let mut users = Users::default();
    let mut by_email: BTreeMap<String, usize> = BTreeMap::new();
    let mut candidates: Vec<(usize, UserRow)> = Vec::new();
    for doc in documents {
        rows::begin(doc, KNOWN, report);
        let Some(oid) = rows::object_id(doc, report) else {
            continue;
        };
        let fields = &doc.fields;
        let raw_email = text(fields, "email").unwrap_or_default().trim();
        let Ok(email) = Email::parse(raw_email) else {
            report.skip(
                doc.line,
                Some(oid.to_string()),
                format!("e-mail {raw_email:?} is not an address"),
            );
            continue;
        };
        let old_name = text(fields, "username").or_else(|| text(fields, "name"));
        let username = match old_name.map(Username::parse) {
            Some(Ok(name)) => name.as_ref().to_owned(),
            _ => {
                report.changed("username made valid");
                valid_username(old_name, &email, &oid)
            }
        };
        let stored = text(fields, "password").unwrap_or_default();
        let password_hash = match password::bcrypt_cost(stored) {
            Ok(_) => stored.to_owned(),
            Err(_) => {
                report.changed("no usable password hash: must reset the password");
                NO_PASSWORD.to_owned()
            }
        };
        let admin = match text(fields, "role") {
            Some("admin") => true,
            Some("user") | None => false,
            Some(_) => {
                report.changed("unknown role: a plain user");
                false
            }
        };
        let created_ms = match fields.get("createdAt").map(extjson::date_ms) {
            Some(Ok(ms)) => ms,
            _ => i64::from(oid.created_s()) * 1000,
        };
        let row = UserRow {
            object_id: oid,
            id: oid.to_uuid(),
            email: email.as_ref().to_owned(),
            username,
            password_hash,
            admin,
            created_ms,
        };
        candidates.push((doc.line, row));
    }
    // The earliest account of an e-mail is kept, whatever the file's order.
    candidates.sort_by_key(|(_, row)| (row.created_ms, row.object_id));
    let mut usernames: HashMap<String, usize> = HashMap::new();
    for (line, row) in candidates {
        if let Some(&kept) = by_email.get(&row.email) {
            let kept_oid = users.rows[kept].object_id;
            users.owner_of.insert(row.object_id, kept_oid);
            report.merged += 1;
            report.skip(
                line,
                Some(row.object_id.to_string()),
                format!("same e-mail as an older account: merged into {kept_oid}"),
            );
            continue;
        }
        *usernames.entry(row.username.to_lowercase()).or_default() += 1;
        by_email.insert(row.email.clone(), users.rows.len());
        users.owner_of.insert(row.object_id, row.object_id);
        users.rows.push(row);
        report.imported += 1;
    }
    let shared: usize = usernames.values().filter(|n| **n > 1).map(|n| n - 1).sum();
    if shared > 0 {
        report
            .changed
            .insert("username shared with another account (kept)".into(), shared);
    }
    users
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::rows::documents as docs;

    use super::*;

    const HASH: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

    #[test]
    fn clean_rows_become_accounts_with_their_hash_and_a_stable_id() {
        let mut report = Collection::default();
        let users = read(
            &docs(&[
                json!({"_id": {"$oid": "5f1d7f3b8c9d440012345678"}, "email": "Ana@Example.com",
                "username": "ana", "password": HASH, "role": "admin",
                "createdAt": {"$date": "2020-07-26T13:00:00Z"}, "__v": 0, "avatarColor": "red"}),
            ]),
            &mut report,
        );
        let row = &users.rows[0];
        assert_eq!(row.email, "ana@example.com");
        assert_eq!(row.password_hash, HASH);
        assert!(row.admin);
        assert_eq!(row.id, ObjectId::parse("5f1d7f3b8c9d440012345678").unwrap().to_uuid());
        assert_eq!(row.created_ms, 1_595_768_400_000);
        assert_eq!((report.read, report.imported, report.skipped.len()), (1, 1, 0));
        assert_eq!(report.unknown_fields, BTreeMap::from([("avatarColor".to_owned(), 1)]));
    }

    #[test]
    fn e_mails_differing_in_case_merge_into_the_oldest_account() {
        let mut report = Collection::default();
        let users = read(
            &docs(&[
                json!({"_id": {"$oid": "600000000000000000000002"}, "email": "BOB@example.com", "username": "bob2", "password": HASH}),
                json!({"_id": {"$oid": "500000000000000000000001"}, "email": "bob@example.com", "username": "bob", "password": HASH}),
            ]),
            &mut report,
        );
        assert_eq!(users.rows.len(), 1);
        assert_eq!(users.rows[0].username, "bob", "the older account is kept");
        let newer = ObjectId::parse("600000000000000000000002").unwrap();
        let older = ObjectId::parse("500000000000000000000001").unwrap();
        assert_eq!(
            users.resolve(&newer),
            Some(&older),
            "its references move to the kept account"
        );
        assert_eq!((report.merged, report.skipped.len()), (1, 1));
        assert_eq!(report.skipped[0].line, 1);
        assert!(report.skipped[0]
            .reason
            .contains("merged into 500000000000000000000001"));
    }

    #[test]
    fn bad_rows_are_skipped_and_odd_ones_kept_with_a_rule() {
        let mut report = Collection::default();
        let users = read(
            &docs(&[
                json!({"email": "x@example.com"}),
                json!({"_id": {"$oid": "5f1d"}, "email": "y@example.com"}),
                json!({"_id": {"$oid": "500000000000000000000003"}, "email": "not an address"}),
                json!({"_id": {"$oid": "500000000000000000000004"}, "email": " cy@example.com ", "username": "c y!", "password": "plain", "role": "superuser"}),
                json!({"_id": {"$oid": "500000000000000000000005"}, "email": "dee@example.com", "username": "cy", "password": HASH.replace("$10$", "$15$")}),
            ]),
            &mut report,
        );
        let reasons: Vec<&str> = report.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(reasons[0], "no _id");
        assert!(reasons[1].starts_with("_id: "), "{reasons:?}");
        assert_eq!(reasons[2], "e-mail \"not an address\" is not an address");
        assert_eq!(users.rows.len(), 2);
        let cy = &users.rows[0];
        assert_eq!(cy.email, "cy@example.com", "trimmed");
        assert!(Username::parse(&cy.username).is_ok(), "{}", cy.username);
        assert!(cy.username.starts_with("cy"), "{}", cy.username);
        assert_eq!(cy.password_hash, NO_PASSWORD);
        assert!(!password::verify("plain", NO_PASSWORD));
        assert!(!cy.admin);
        assert_eq!(users.rows[1].password_hash, NO_PASSWORD, "cost 15 is over the limit");
        assert_eq!(report.changed["no usable password hash: must reset the password"], 2);
        assert_eq!(report.changed["username made valid"], 2, "c y! and the too short cy");
        assert_eq!(report.changed["unknown role: a plain user"], 1);
    }
}

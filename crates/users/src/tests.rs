use streamia_api::{ApiError, Page};
use streamia_auth::{JwtKeys, Role};
use streamia_clock::Now;
use streamia_db::{Db, MemoryDb};
use streamia_events::outbox::Outbox;
use streamia_events::Event;

use crate::*;

/// When the fixtures' events occur and their outboxes write.
const NOW: Now = Now::at(1_800_000_000);

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
            outbox: Outbox::new(SERVICE, NOW),
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
            now: Now::at(1_800_000_000 + now),
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
fn an_imported_bcrypt_hash_signs_in_once_then_is_argon2id() {
    let f = Fixture::new();
    f.users(0).register("ana@example.com", "s3cret-pass", "ana").unwrap();
    // As the old Node system stored it: bcrypt, cost 10, of a password
    // shorter than today's minimum (its owner keeps it).
    let legacy = bcrypt::hash("short", 10).unwrap();
    f.db.execute(
        "UPDATE users_accounts SET password_hash = ? WHERE email = 'ana@example.com'",
        &[legacy.clone().into()],
    )
    .unwrap();
    let wrong = f.users(1).login("ana@example.com", "shorT").unwrap_err();
    assert!(matches!(wrong, ApiError::InvalidCredentials), "{wrong:?}");
    let stored = |f: &Fixture| {
        f.db.query_one(
            "SELECT password_hash FROM users_accounts WHERE email = 'ana@example.com'",
            &[],
        )
        .unwrap()
        .unwrap()[0]
            .clone()
    };
    assert_eq!(stored(&f), legacy.clone().into(), "a failed sign-in changes nothing");
    let session = f.users(2).login("ana@example.com", "short").unwrap();
    assert!(session.user.password_hash.starts_with("$argon2id$"));
    assert_eq!(
        stored(&f),
        session.user.password_hash.clone().into(),
        "re-hashed and stored"
    );
    assert!(
        f.users(3).login("ana@example.com", "short").is_ok(),
        "the same password, now Argon2id"
    );
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
        422,
        "expired"
    );
    f.users(10).reset_password(&token, "brand-new-pass").unwrap();
    assert_eq!(
        f.users(11).reset_password(&token, "another-pass").unwrap_err().status(),
        422,
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
    assert_eq!(
        f.events(),
        vec!["user.registered", "user.deleted", "notification.send_email"],
        "the saga starts and the owner is told by e-mail"
    );
    assert_eq!(f.users(2).refresh(&s.refresh_token).unwrap_err().status(), 401);
    assert_eq!(f.users(2).delete(&s.user.id).unwrap_err().status(), 404);
}

#[test]
fn a_suspended_account_cannot_sign_in_renew_or_change_until_reactivated() {
    let f = Fixture::new();
    f.users(0).register("boss@example.com", "s3cret-pass", "boss").unwrap();
    let ana = f.users(0).register("ana@example.com", "s3cret-pass", "ana").unwrap();
    let id = &ana.user.id;
    let suspended = f.users(1).suspend(id).unwrap();
    assert!(suspended.suspended_at.is_some());
    assert_eq!(f.users(2).suspend(id).unwrap(), suspended, "twice is once");
    let refused = |e: ApiError| (e.status(), e.code());
    assert_eq!(
        refused(f.users(2).login("ana@example.com", "s3cret-pass").unwrap_err()),
        (403, "account_suspended")
    );
    assert_eq!(
        refused(f.users(2).login("ana@example.com", "wrong-pass").unwrap_err()),
        (401, "invalid_credentials"),
        "only the password's owner learns of the suspension"
    );
    assert_eq!(
        f.users(2).refresh(&ana.refresh_token).unwrap_err().status(),
        401,
        "sessions ended"
    );
    assert_eq!(
        refused(f.users(2).update_profile(id, Some("ana2"), None).unwrap_err()),
        (403, "account_suspended")
    );
    assert_eq!(
        refused(
            f.users(2)
                .change_password(id, "s3cret-pass", "n3w-secret-pass")
                .unwrap_err()
        ),
        (403, "account_suspended")
    );
    // The access token it holds is its last: it expires on its own.
    let claims = f.keys.verify(&ana.access_token, 1_800_000_002).unwrap();
    assert!(claims.exp <= 1_800_000_000 + streamia_auth::jwt::ACCESS_TOKEN_TTL_SECS);

    let back = f.users(3).reactivate(id).unwrap();
    assert_eq!(back.suspended_at, None);
    assert!(f.users(4).login("ana@example.com", "s3cret-pass").is_ok());
    assert_eq!(f.users(4).suspend("missing").unwrap_err().status(), 404);
}

#[test]
fn admins_delete_others_accounts_as_their_owners_would_but_not_an_admins() {
    let f = Fixture::new();
    let boss = f.users(0).register("boss@example.com", "s3cret-pass", "boss").unwrap();
    let ana = f.users(0).register("ana@example.com", "s3cret-pass", "ana").unwrap();
    assert_eq!(f.users(1).account(&ana.user.id).unwrap().email, "ana@example.com");
    for refused in [
        f.users(1).suspend(&boss.user.id).unwrap_err(),
        f.users(1).delete_account(&boss.user.id).unwrap_err(),
    ] {
        assert_eq!((refused.status(), refused.code()), (422, "admin_account"));
    }
    f.users(1).delete_account(&ana.user.id).unwrap();
    assert_eq!(
        f.events(),
        vec![
            "user.registered",
            "user.registered",
            "user.deleted",
            "notification.send_email"
        ]
    );
    assert_eq!(f.users(2).account(&ana.user.id).unwrap_err().status(), 404);
    assert_eq!(f.users(2).delete_account(&ana.user.id).unwrap_err().status(), 404);
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

#[test]
fn accounts_are_announced_again_page_by_page_with_their_current_names() {
    let f = Fixture::new();
    let ana = f
        .users(0)
        .register("ana@example.com", "s3cret-pass", "ana")
        .unwrap()
        .user;
    f.users(1).register("bob@example.com", "s3cret-pass", "bob").unwrap();
    f.users(2).update_profile(&ana.id, Some("ana_m"), None).unwrap();
    let before = f.events().len();
    let announced = |page: &str| {
        let listed = f
            .users(3)
            .announce(Page::parse(Some(page), Some("1")).unwrap())
            .unwrap();
        assert_eq!(listed.pagination.total_pages, 2);
        let names: Vec<String> = f.outbox.due(&f.db, i64::MAX, 100).unwrap()[before..]
            .iter()
            .map(|p| match p.envelope.event().unwrap() {
                Some(Event::UserUpdated(e)) => e.username,
                other => panic!("{other:?}"),
            })
            .collect();
        (listed.data[0].username.clone(), names)
    };
    assert_eq!(announced("1"), ("ana_m".into(), vec!["ana_m".to_owned()]));
    assert_eq!(
        announced("2"),
        ("bob".into(), vec!["ana_m".to_owned(), "bob".to_owned()])
    );
}

#[test]
fn imported_accounts_are_written_once_and_sign_in_with_their_old_hash() {
    use streamia_api::import::{ImportBatch, Imported};
    let f = Fixture::new();
    let legacy = bcrypt::hash("short", 4).unwrap();
    let mut batch: ImportBatch = serde_json::from_value(serde_json::json!({"rows": [
        {"id": "01720000-0000-7000-8000-000000000001", "email": "old@example.com", "username": "old_timer",
         "passwordHash": legacy, "admin": false, "createdAtMs": 1_595_768_400_000_i64},
        {"id": "01720000-0000-7000-8000-000000000002", "email": "gone@example.com", "username": "nopass",
         "passwordHash": streamia_auth::password::NO_PASSWORD, "admin": true, "createdAtMs": 0},
    ]}))
    .unwrap();
    batch.kind = "users".into();
    assert_eq!(
        crate::import::import(&f.db, &batch).unwrap(),
        Imported {
            written: 2,
            unchanged: 0
        }
    );
    assert_eq!(
        crate::import::import(&f.db, &batch).unwrap(),
        Imported {
            written: 0,
            unchanged: 2
        },
        "a re-run"
    );
    assert!(f.events().is_empty(), "no event: nobody is greeted again");
    let session = f.users(0).login("old@example.com", "short").unwrap();
    assert_eq!(session.user.created_at, "2020-07-26T13:00:00.000Z");
    let nopass = f.users(0).login("gone@example.com", "").unwrap_err();
    assert!(matches!(nopass, ApiError::InvalidCredentials));
    // Bad rows: the whole batch refused, nothing written.
    let mut bad: ImportBatch = serde_json::from_value(serde_json::json!({"rows": [
        {"id": "01720000-0000-7000-8000-000000000003", "email": "new@example.com", "username": "newbie",
         "passwordHash": legacy, "admin": false, "createdAtMs": 0},
        {"id": "01720000-0000-7000-8000-000000000004", "email": "x@example.com", "username": "xx",
         "passwordHash": "plain", "admin": false, "createdAtMs": 0},
    ]}))
    .unwrap();
    bad.kind = "users".into();
    let err = crate::import::import(&f.db, &bad).unwrap_err();
    let ApiError::Validation(fields) = err else {
        panic!("{err:?}")
    };
    assert_eq!(fields[0].field, "rows[1].username");
    assert!(
        f.users(0).login("new@example.com", "short").is_err(),
        "nothing of the batch written"
    );
}

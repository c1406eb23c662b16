use std::cell::Cell;

use streamia_api::Page;
use streamia_cache::MemoryCache;
use streamia_clock::Now;
use streamia_db::MemoryDb;
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::{Envelope, Event, MovieDeleted, UserDeleted, UserRegistered, UserUpdated};

use crate::*;

/// When the fixtures' events occur and their outboxes write.
const NOW: Now = Now::at(1_800_000_000);

struct Fixture {
    db: MemoryDb,
    outbox: Outbox,
    cache: MemoryCache,
    moderation: Moderation,
    /// Each operation a millisecond after the one before.
    ticks: Cell<i64>,
}

impl Fixture {
    fn new(moderation: Moderation) -> Self {
        let f = Fixture {
            db: MemoryDb::new(),
            outbox: Outbox::new(SERVICE, NOW),
            cache: MemoryCache::default(),
            moderation,
            ticks: Cell::new(0),
        };
        f.comments().migrate().unwrap();
        f
    }

    fn comments(&self) -> Comments<'_> {
        Comments {
            db: &self.db,
            outbox: &self.outbox,
            cache: &self.cache,
            moderation: self.moderation,
            now: self.tick(),
        }
    }

    fn tick(&self) -> Now {
        self.ticks.set(self.ticks.get() + 1);
        Now::at(1_800_000_000).plus_millis(self.ticks.get())
    }

    fn post(&self, user: &str, movie: &str, text: &str, parent: Option<&str>) -> Comment {
        self.comments()
            .create(
                user,
                &MovieId::parse(movie).unwrap(),
                &Content::parse(text).unwrap(),
                parent,
            )
            .unwrap()
    }

    fn top(&self, viewer: Viewer<'_>, movie: &str) -> Vec<Comment> {
        self.comments().list_for_movie(viewer, movie, page()).unwrap().data
    }
}

fn page() -> Page {
    Page::parse(None, None).unwrap()
}

#[test]
fn content_is_one_to_a_thousand_characters() {
    assert_eq!(Content::parse("  hi  ").unwrap().as_ref(), "hi");
    assert!(Content::parse(&"ñ".repeat(1000)).is_ok());
    for bad in ["", "   ", &"ñ".repeat(1001)] {
        assert_eq!(Content::parse(bad).unwrap_err().status(), 400);
    }
    assert_eq!(Moderation::parse("pre").unwrap(), Moderation::Pre);
    assert!(Moderation::parse("later").is_err());
    assert_eq!(Status::parse(&serde_json::json!("maybe")).unwrap_err().status(), 400);
}

#[test]
fn threads_nest_to_any_depth_within_one_movie() {
    let f = Fixture::new(Moderation::Post);
    let first = f.post("ana", "m1", "first", None);
    let second = f.post("bob", "m1", "second", None);
    let reply = f.post("bob", "m1", "reply", Some(&first.id));
    let deeper = f.post("ana", "m1", "deeper", Some(&reply.id));
    assert_eq!(deeper.parent_id.as_deref(), Some(reply.id.as_str()));
    let top = f.top(Viewer::Anonymous, "m1");
    assert_eq!(
        top.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [second.id.as_str(), first.id.as_str()],
        "newest first, replies not at the top level"
    );
    assert_eq!(top[1].reply_count, 1);
    let replies = f.comments().replies(Viewer::Anonymous, &reply.id, page()).unwrap();
    assert_eq!(replies.data[0].id, deeper.id);
    let elsewhere = f
        .comments()
        .create(
            "ana",
            &MovieId::parse("m2").unwrap(),
            &Content::parse("x").unwrap(),
            Some(&first.id),
        )
        .unwrap_err();
    assert_eq!(
        (elsewhere.status(), elsewhere.code()),
        (422, "parent_not_found"),
        "the parent must be on the same movie"
    );
    let missing = f
        .comments()
        .create(
            "ana",
            &MovieId::parse("m1").unwrap(),
            &Content::parse("x").unwrap(),
            Some("nope"),
        )
        .unwrap_err();
    assert_eq!((missing.status(), missing.code()), (422, "parent_not_found"));
}

#[test]
fn only_the_author_edits_and_the_author_or_an_admin_deletes() {
    let f = Fixture::new(Moderation::Post);
    let c = f.post("ana", "m1", "tpyo", None);
    let reply = f.post("bob", "m1", "re", Some(&c.id));
    let edited = f
        .comments()
        .edit("ana", &c.id, &Content::parse("typo").unwrap())
        .unwrap();
    assert!(edited.is_edited);
    assert_eq!(edited.content.as_deref(), Some("typo"));
    let not_author = f
        .comments()
        .edit("bob", &c.id, &Content::parse("x").unwrap())
        .unwrap_err();
    assert_eq!(not_author.status(), 403);
    assert_eq!(
        f.comments().delete(Viewer::User("bob"), &c.id).unwrap_err().status(),
        403
    );
    f.comments().delete(Viewer::Admin("root"), &reply.id).unwrap();
    f.comments().delete(Viewer::User("ana"), &c.id).unwrap();
    f.comments().delete(Viewer::User("ana"), &c.id).unwrap();
    let kept = f.comments().get(Viewer::Anonymous, &c.id).unwrap();
    assert!(kept.is_deleted);
    assert_eq!(kept.content, None, "the text is gone");
    assert_eq!(kept.reply_count, 1, "the thread is kept");
    let again = f
        .comments()
        .edit("ana", &c.id, &Content::parse("back").unwrap())
        .unwrap_err();
    assert_eq!(again.status(), 422);
    let types: Vec<String> = f
        .outbox
        .due(&f.db, i64::MAX, 100)
        .unwrap()
        .into_iter()
        .map(|p| p.envelope.event_type)
        .collect();
    assert_eq!(
        types,
        [
            "comment.created",
            "comment.created",
            "comment.updated",
            "comment.deleted",
            "comment.deleted"
        ],
        "the second delete changed nothing"
    );
}

#[test]
fn pre_moderation_holds_comments_until_approved_but_authors_see_theirs() {
    let f = Fixture::new(Moderation::Pre);
    let c = f.post("ana", "m1", "hello", None);
    assert_eq!(c.moderation_status, "pending");
    assert!(f.top(Viewer::Anonymous, "m1").is_empty());
    assert!(f.top(Viewer::User("bob"), "m1").is_empty());
    assert_eq!(f.top(Viewer::User("ana"), "m1").len(), 1);
    assert_eq!(f.top(Viewer::Admin("root"), "m1").len(), 1);
    assert_eq!(f.comments().pending(page()).unwrap().pagination.total, 1);
    f.comments().moderate("root", &c.id, Status::Approved).unwrap();
    assert_eq!(f.top(Viewer::Anonymous, "m1").len(), 1);
    f.comments()
        .edit("ana", &c.id, &Content::parse("hello!").unwrap())
        .unwrap();
    assert!(
        f.top(Viewer::Anonymous, "m1").is_empty(),
        "an edit waits for approval again"
    );
}

#[test]
fn post_moderation_shows_at_once_and_rejection_hides() {
    let f = Fixture::new(Moderation::Post);
    let c = f.post("ana", "m1", "spam", None);
    let r = f.post("ana", "m1", "more spam", Some(&c.id));
    assert_eq!(f.top(Viewer::Anonymous, "m1").len(), 1);
    f.comments().moderate("root", &r.id, Status::Rejected).unwrap();
    assert_eq!(
        f.top(Viewer::Anonymous, "m1")[0].reply_count,
        0,
        "rejected replies are not counted"
    );
    assert_eq!(
        f.top(Viewer::User("ana"), "m1")[0].reply_count,
        1,
        "but their author sees them"
    );
}

#[test]
fn sagas_anonymise_a_deleted_user_and_remove_a_deleted_movie_once() {
    let f = Fixture::new(Moderation::Post);
    let c = f.post("ana", "m1", "mine", None);
    f.post("bob", "m1", "reply", Some(&c.id));
    f.post("ana", "m2", "other movie", None);
    let gone = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "ana".into() }), "users", NOW);
    assert_eq!(f.comments().apply_event(&gone).unwrap(), Consumed::Applied);
    assert_eq!(f.comments().apply_event(&gone).unwrap(), Consumed::Duplicate);
    let kept = f.comments().get(Viewer::Anonymous, &c.id).unwrap();
    assert_eq!(kept.user_id, None);
    assert_eq!(kept.content.as_deref(), Some("mine"));
    assert_eq!(
        f.comments()
            .list_for_movie(Viewer::User("ana"), "m1", page())
            .unwrap_err()
            .status(),
        401
    );
    let movie_gone = Envelope::new(
        &Event::MovieDeleted(MovieDeleted { movie_id: "m1".into() }),
        "movies",
        NOW,
    );
    f.comments().apply_event(&movie_gone).unwrap();
    assert!(f.top(Viewer::Admin("root"), "m1").is_empty());
    assert_eq!(f.top(Viewer::Admin("root"), "m2").len(), 1);
    let late = f
        .comments()
        .create(
            "bob",
            &MovieId::parse("m1").unwrap(),
            &Content::parse("late").unwrap(),
            None,
        )
        .unwrap_err();
    assert_eq!(late.status(), 404);
}

/// user.registered or user.updated for `user`, named `name`, as of `at`.
fn named(user: &str, name: &str, at: &str, registered: bool) -> Envelope {
    let event = if registered {
        Event::UserRegistered(UserRegistered {
            user_id: user.into(),
            email: format!("{user}@example.com"),
            username: name.into(),
            role: "user".into(),
        })
    } else {
        Event::UserUpdated(UserUpdated {
            user_id: user.into(),
            email: format!("{user}@example.com"),
            username: name.into(),
        })
    };
    let mut envelope = Envelope::new(&event, "users", NOW);
    envelope.occurred_at = at.into();
    envelope
}

#[test]
fn comments_show_their_authors_names_as_the_users_service_tells_them() {
    let f = Fixture::new(Moderation::Post);
    let c = f.post("ana", "m1", "mine", None);
    f.post("bob", "m1", "reply", Some(&c.id));
    assert_eq!(f.top(Viewer::Anonymous, "m1")[0].author_name, None, "not told yet");
    let apply = |e: &Envelope| f.comments().apply_event(e).unwrap();
    assert_eq!(
        apply(&named("ana", "ana", "2027-01-01T00:00:00.000Z", true)),
        Consumed::Applied
    );
    assert_eq!(f.top(Viewer::Anonymous, "m1")[0].author_name.as_deref(), Some("ana"));
    apply(&named("ana", "ana_m", "2027-01-01T00:00:02.000Z", false));
    // An older rename that arrives late does not undo the newer one.
    apply(&named("ana", "ana_old", "2027-01-01T00:00:01.000Z", false));
    let top = f.top(Viewer::Anonymous, "m1");
    assert_eq!(top[0].author_name.as_deref(), Some("ana_m"));
    let replies = f.comments().replies(Viewer::Anonymous, &c.id, page()).unwrap().data;
    assert_eq!(replies[0].author_name, None, "bob's name is another account's");

    let gone = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "ana".into() }), "users", NOW);
    apply(&gone);
    assert_eq!(f.top(Viewer::Anonymous, "m1")[0].author_name, None);
    // Her rename, delayed past the deletion, brings no name back.
    apply(&named("ana", "ana_late", "2027-01-01T00:00:03.000Z", false));
    let c2 = f.post("cy", "m1", "new voice", None);
    apply(&named("cy", "cy", "2027-01-01T00:00:04.000Z", true));
    let names: Vec<_> = f
        .top(Viewer::Anonymous, "m1")
        .into_iter()
        .map(|c| (c.id, c.author_name))
        .collect();
    assert_eq!(names, [(c2.id, Some("cy".to_owned())), (c.id, None)]);
}

#[test]
fn public_pages_are_cached_and_every_change_of_what_they_show_makes_them_stale() {
    let f = Fixture::new(Moderation::Post);
    let m = MovieId::parse("m1").unwrap();
    let page = Page::parse(None, None).unwrap();
    let list = |expect_hit: bool| {
        let (body, hit) = f.comments().public_list_for_movie("m1", page).unwrap();
        assert_eq!(hit, expect_hit, "{body}");
        body
    };
    let first = f
        .comments()
        .create("ana", &m, &Content::parse("First").unwrap(), None)
        .unwrap();
    assert_eq!(list(false)["data"].as_array().unwrap().len(), 1);
    assert_eq!(list(true)["data"][0]["content"], "First");
    // A reply changes the count the page shows.
    f.comments()
        .create("bob", &m, &Content::parse("Re").unwrap(), Some(&first.id))
        .unwrap();
    assert_eq!(list(false)["data"][0]["replyCount"], 1);
    f.comments()
        .edit("ana", &first.id, &Content::parse("First!").unwrap())
        .unwrap();
    assert_eq!(list(false)["data"][0]["content"], "First!");
    f.comments().moderate("admin", &first.id, Status::Rejected).unwrap();
    assert!(
        list(false)["data"].as_array().unwrap().is_empty(),
        "rejected: gone for the public"
    );
    f.comments().moderate("admin", &first.id, Status::Approved).unwrap();
    list(false);
    // An author's name shows on every page: a rename makes all stale.
    let named = Envelope::new(
        &Event::UserUpdated(UserUpdated {
            user_id: "ana".into(),
            email: "ana@example.com".into(),
            username: "ana_m".into(),
        }),
        "users",
        NOW,
    );
    f.comments().apply_event(&named).unwrap();
    assert_eq!(list(false)["data"][0]["authorName"], "ana_m");
    f.comments().delete(Viewer::User("ana"), &first.id).unwrap();
    assert_eq!(list(false)["data"][0]["isDeleted"], true);
    // What the gateway answers is what the service answers.
    let body = crate::cache::cached_read(&f.cache, &["movie", "m1"], |_| None, f.comments().now.unix()).unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap(), list(true));
    assert_eq!(crate::cache::cached_read(&f.cache, &["movie", "m2"], |_| None, 0), None);
}

#[test]
fn imported_threads_keep_their_parents_authors_and_statuses() {
    use streamia_api::import::{ImportBatch, Imported};
    let f = Fixture::new(Moderation::Post);
    let batch = |kind: &str, rows: serde_json::Value| {
        let mut b: ImportBatch = serde_json::from_value(serde_json::json!({ "rows": rows })).unwrap();
        b.kind = kind.into();
        b
    };
    const MOVIE: &str = "01720000-0000-7000-8000-00000000000a";
    const ANA: &str = "01720000-0000-7000-8000-0000000000a1";
    let authors = batch(
        "comment-authors",
        serde_json::json!([{"userId": ANA, "username": "ana_old"}]),
    );
    assert_eq!(
        crate::import::import(&f.db, &authors, f.tick()).unwrap().0,
        Imported {
            written: 1,
            unchanged: 0
        }
    );
    let row = |id: &str, parent: Option<&str>, status: &str, deleted: bool| {
        serde_json::json!({"id": id, "movieId": MOVIE, "userId": ANA, "parentId": parent,
            "content": if deleted { "[deleted]" } else { "Imported words." }, "status": status,
            "deleted": deleted, "edited": false, "createdAtMs": 1_595_768_400_000_i64, "updatedAtMs": 1_595_768_400_000_i64})
    };
    const PARENT: &str = "01720000-0000-7000-8000-0000000000c1";
    const REPLY: &str = "01720000-0000-7000-8000-0000000000c2";
    let orphan = batch(
        "comments",
        serde_json::json!([row(REPLY, Some(PARENT), "approved", false)]),
    );
    assert_eq!(
        crate::import::import(&f.db, &orphan, f.tick()).unwrap_err().status(),
        404,
        "its parent is unknown"
    );
    let thread = batch(
        "comments",
        serde_json::json!([
            row(PARENT, None, "approved", true),
            row(REPLY, Some(PARENT), "approved", false)
        ]),
    );
    let (imported, movies) = crate::import::import(&f.db, &thread, f.tick()).unwrap();
    assert_eq!(
        (imported, movies.len()),
        (
            Imported {
                written: 2,
                unchanged: 0
            },
            1
        )
    );
    assert_eq!(
        crate::import::import(&f.db, &thread, f.tick()).unwrap().0,
        Imported {
            written: 0,
            unchanged: 2
        }
    );
    let top = f.top(Viewer::Anonymous, MOVIE);
    assert_eq!(top.len(), 1);
    assert!(top[0].is_deleted, "a deleted parent stays, its reply under it");
    assert_eq!(top[0].reply_count, 1);
    assert_eq!(top[0].created_at, "2020-07-26T13:00:00.000Z");
    let replies = f.comments().replies(Viewer::Anonymous, PARENT, page()).unwrap().data;
    assert_eq!(replies[0].author_name.as_deref(), Some("ana_old"));
}

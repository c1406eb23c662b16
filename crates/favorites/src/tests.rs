use streamia_api::Page;
use streamia_clock::Now;
use streamia_db::MemoryDb;
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::{Envelope, Event};

use streamia_events::{MovieDeleted, MovieUpdated, UserDeleted};

use crate::*;

/// When the fixtures' events occur and their outboxes write.
const NOW: Now = Now::at(1_800_000_000);

struct Fixture {
    db: MemoryDb,
    outbox: Outbox,
}

impl Fixture {
    fn new() -> Self {
        let f = Fixture {
            db: MemoryDb::new(),
            outbox: Outbox::new(SERVICE, NOW),
        };
        f.favorites().migrate().unwrap();
        f
    }

    fn favorites(&self) -> Favorites<'_> {
        Favorites {
            db: &self.db,
            outbox: &self.outbox,
            now: Now::at(1_800_000_000),
        }
    }

    fn add(&self, user: &str, movie: &str) -> Added {
        let m = MovieRef {
            id: movie,
            title: "Alien",
            poster_url: None,
        };
        self.favorites().add(user, &m, &Note::parse(None).unwrap()).unwrap()
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

fn page() -> Page {
    Page::parse(None, None).unwrap()
}

#[test]
fn notes_are_trimmed_and_bounded() {
    assert_eq!(Note::parse(Some("  ")).unwrap().as_deref(), None);
    assert_eq!(Note::parse(Some(" rewatch ")).unwrap().as_deref(), Some("rewatch"));
    assert_eq!(
        Note::parse(Some(&"é".repeat(500)))
            .unwrap()
            .as_deref()
            .unwrap()
            .chars()
            .count(),
        500
    );
    assert_eq!(Note::parse(Some(&"é".repeat(501))).unwrap_err().status(), 400);
}

#[test]
fn a_favourite_is_unique_per_user_and_movie_and_private() {
    let f = Fixture::new();
    assert!(matches!(f.add("ana", "m1"), Added::Created(_)));
    assert!(matches!(f.add("ana", "m1"), Added::AlreadyThere(_)));
    f.add("bob", "m1");
    assert_eq!(f.favorites().list("ana", page()).unwrap().pagination.total, 1);
    assert!(f.favorites().is_favorite("bob", "m1").unwrap());
    f.favorites().remove("ana", "m1").unwrap();
    assert!(!f.favorites().is_favorite("ana", "m1").unwrap());
    assert!(
        f.favorites().is_favorite("bob", "m1").unwrap(),
        "ana's removal left bob's"
    );
    assert_eq!(f.favorites().remove("ana", "m1").unwrap_err().status(), 404);
    assert_eq!(
        f.events(),
        ["favorite.added", "favorite.added", "favorite.removed"],
        "one event per change, none for the repeated add"
    );
}

#[test]
fn sagas_clear_favourites_once_and_refuse_late_writes() {
    let f = Fixture::new();
    f.add("ana", "m1");
    f.add("ana", "m2");
    f.add("bob", "m2");
    let user_gone = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "ana".into() }), "users", NOW);
    assert_eq!(f.favorites().apply_event(&user_gone).unwrap(), Consumed::Applied);
    assert_eq!(f.favorites().apply_event(&user_gone).unwrap(), Consumed::Duplicate);
    assert_eq!(
        f.favorites().list("ana", page()).unwrap_err().status(),
        401,
        "a deleted account's token is refused"
    );
    let movie_gone = Envelope::new(
        &Event::MovieDeleted(MovieDeleted { movie_id: "m2".into() }),
        "movies",
        NOW,
    );
    f.favorites().apply_event(&movie_gone).unwrap();
    assert_eq!(f.favorites().list("bob", page()).unwrap().pagination.total, 0);
    let m2 = MovieRef {
        id: "m2",
        title: "Gone",
        poster_url: None,
    };
    assert_eq!(
        f.favorites()
            .add("bob", &m2, &Note::parse(None).unwrap())
            .unwrap_err()
            .status(),
        404
    );
    let cleared: Vec<String> = f.events().into_iter().filter(|t| t.contains("cleared")).collect();
    assert_eq!(cleared, ["favorites.cleared_for_user", "favorites.cleared_for_movie"]);
}

#[test]
fn movie_updates_refresh_title_and_poster() {
    let f = Fixture::new();
    f.add("ana", "m1");
    let updated = Envelope::new(
        &Event::MovieUpdated(MovieUpdated {
            movie_id: "m1".into(),
            title: "Aliens".into(),
            genres: vec![],
            release_year: 1986,
            poster_url: Some("https://img/p.jpg".into()),
            changes: Some(vec!["title".into(), "posterUrl".into()]),
        }),
        "movies",
        NOW,
    );
    f.favorites().apply_event(&updated).unwrap();
    let list = f.favorites().list("ana", page()).unwrap();
    assert_eq!(list.data[0].title, "Aliens");
    assert_eq!(list.data[0].poster_url.as_deref(), Some("https://img/p.jpg"));
}

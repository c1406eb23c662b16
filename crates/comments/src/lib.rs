//! The comments service's logic, in plain Rust so native tests run it:
//! comments on movies with replies to any depth, edits by the author, soft
//! deletion that keeps the thread, moderation (`comment_moderation =
//! post|pre`), and the comments' part in the deletion sagas.
//! `components/comments` wires it to Spin.

use serde::{Deserialize, Serialize};
use streamia_api::{ApiError, Page, Paginated};
use streamia_db::{transaction, Db, DbError, Row, Value};
use streamia_events::consumer::{consume, Consumed};
use streamia_events::outbox::Outbox;
use streamia_events::tombstone::{self, Kind};
use streamia_events::{CommentCreated, CommentDeleted, CommentModerated, CommentUpdated, Envelope, Event};

pub const SERVICE: &str = "comments";

pub const MIGRATIONS: &[&[&str]] = &[
    &[
        // user_id is NULL once the author deleted the account.
        "CREATE TABLE comments_items (id TEXT PRIMARY KEY, movie_id TEXT NOT NULL, user_id TEXT,
            parent_id TEXT REFERENCES comments_items (id), content TEXT NOT NULL, is_edited INTEGER NOT NULL DEFAULT 0,
            is_deleted INTEGER NOT NULL DEFAULT 0, moderation_status TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
        "CREATE INDEX comments_items_movie_top ON comments_items (movie_id, parent_id, created_at)",
        "CREATE INDEX comments_items_parent ON comments_items (parent_id, created_at)",
        "CREATE INDEX comments_items_user ON comments_items (user_id)",
        "CREATE INDEX comments_items_status ON comments_items (moderation_status, created_at)",
    ],
    &streamia_events::outbox_schema!("comments"),
    &streamia_events::consumer_schema!("comments"),
    &streamia_events::tombstone_schema!("comments"),
];

pub const MAX_CONTENT_CHARS: usize = 1000;

/// The variable `comment_moderation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    /// Comments show at once; admins may reject them afterwards.
    Post,
    /// Comments wait, `pending`, until an admin approves them.
    Pre,
}

impl Moderation {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value.trim() {
            "" | "post" => Ok(Moderation::Post),
            "pre" => Ok(Moderation::Pre),
            other => Err(format!("comment_moderation must be post or pre, not {other:?}")),
        }
    }

    /// The status a new (or edited) comment gets.
    fn initial_status(self) -> Status {
        match self {
            Moderation::Post => Status::Approved,
            Moderation::Pre => Status::Pending,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Rejected,
}

impl Status {
    pub fn parse(value: &serde_json::Value) -> Result<Self, ApiError> {
        match value.as_str() {
            Some("pending") => Ok(Status::Pending),
            Some("approved") => Ok(Status::Approved),
            Some("rejected") => Ok(Status::Rejected),
            _ => Err(ApiError::validation("status", "must be pending, approved or rejected")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
        }
    }
}

/// Comment text: trimmed, 1 to [`MAX_CONTENT_CHARS`] characters.
#[derive(Debug, Clone, PartialEq)]
pub struct Content(String);

impl Content {
    pub fn parse(value: &str) -> Result<Self, ApiError> {
        let text = value.trim();
        if text.is_empty() {
            return Err(ApiError::validation("content", "must not be empty"));
        }
        if text.chars().count() > MAX_CONTENT_CHARS {
            return Err(ApiError::validation(
                "content",
                format!("must be at most {MAX_CONTENT_CHARS} characters"),
            ));
        }
        Ok(Content(text.to_owned()))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewComment {
    pub content: String,
    #[serde(default)]
    pub parent_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditComment {
    pub content: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModerateComment {
    pub status: serde_json::Value,
}

/// Who is asking; reads are public, so there may be nobody.
#[derive(Debug, Clone, Copy)]
pub enum Viewer<'a> {
    Anonymous,
    User(&'a str),
    Admin(&'a str),
}

impl Viewer<'_> {
    fn user_id(&self) -> Option<&str> {
        match self {
            Viewer::Anonymous => None,
            Viewer::User(id) | Viewer::Admin(id) => Some(id),
        }
    }

    /// SQL condition on a comment table alias: what this viewer may see.
    /// Admins see everything; authors always see their own; everyone sees
    /// approved comments.
    fn visible(&self, alias: &str) -> (String, Vec<Value>) {
        match self {
            Viewer::Admin(_) => ("1 = 1".into(), vec![]),
            Viewer::User(id) => (
                format!("({alias}.moderation_status = 'approved' OR {alias}.user_id = ?)"),
                vec![(*id).into()],
            ),
            Viewer::Anonymous => (format!("{alias}.moderation_status = 'approved'"), vec![]),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: String,
    pub movie_id: String,
    pub user_id: Option<String>,
    pub parent_id: Option<String>,
    /// `None` once deleted: the thread stays, the text does not.
    pub content: Option<String>,
    pub is_edited: bool,
    pub is_deleted: bool,
    pub moderation_status: String,
    /// Direct replies the viewer can see.
    pub reply_count: u32,
    pub created_at: String,
    pub updated_at: String,
}

fn comment_from(row: &Row<'_>) -> Result<Comment, DbError> {
    let is_deleted = row.bool("is_deleted")?;
    Ok(Comment {
        id: row.text("id")?,
        movie_id: row.text("movie_id")?,
        user_id: row.opt_text("user_id")?,
        parent_id: row.opt_text("parent_id")?,
        content: if is_deleted { None } else { Some(row.text("content")?) },
        is_edited: row.bool("is_edited")?,
        is_deleted,
        moderation_status: row.text("moderation_status")?,
        reply_count: row.int("reply_count")?.max(0) as u32,
        created_at: row.text("created_at")?,
        updated_at: row.text("updated_at")?,
    })
}

fn comment_not_found() -> ApiError {
    ApiError::NotFound("comment not found".into())
}

pub struct Comments<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
    pub moderation: Moderation,
}

impl Comments<'_> {
    pub fn migrate(&self) -> Result<(), ApiError> {
        Ok(streamia_db::migrate(self.db, MIGRATIONS)?)
    }

    /// A token issued before its account was deleted is refused.
    pub fn check_viewer(&self, viewer: Viewer<'_>) -> Result<(), ApiError> {
        if let Some(id) = viewer.user_id() {
            if tombstone::is_buried(self.db, SERVICE, Kind::User, id)? {
                return Err(ApiError::account_gone());
            }
        }
        Ok(())
    }

    /// Comments matching `filter` (on alias `c`) that `viewer` may see, one
    /// page, with each one's visible reply count.
    fn select(
        &self,
        viewer: Viewer<'_>,
        filter: &str,
        params: Vec<Value>,
        order: &str,
        page: Option<Page>,
    ) -> Result<(Vec<Comment>, u64), ApiError> {
        let (visible_c, vis_c_params) = viewer.visible("c");
        let (visible_r, vis_r_params) = viewer.visible("r");
        let mut count_params = params.clone();
        count_params.extend(vis_c_params.clone());
        let total = self.db.count(
            &format!("SELECT COUNT(*) AS n FROM comments_items c WHERE {filter} AND {visible_c}"),
            &count_params,
        )?;
        let mut query_params = vis_r_params;
        query_params.extend(params);
        query_params.extend(vis_c_params);
        let mut sql = format!(
            "SELECT c.*, (SELECT COUNT(*) FROM comments_items r WHERE r.parent_id = c.id AND {visible_r}) AS reply_count
                FROM comments_items c WHERE {filter} AND {visible_c} ORDER BY {order}"
        );
        if let Some(page) = page {
            sql.push_str(" LIMIT ? OFFSET ?");
            query_params.push(i64::from(page.limit()).into());
            query_params.push(page.offset().into());
        }
        let rows = self.db.execute(&sql, &query_params)?;
        let data = rows.iter().map(|r| comment_from(&r)).collect::<Result<_, _>>()?;
        Ok((data, total))
    }

    /// One comment, if `viewer` may see it.
    pub fn get(&self, viewer: Viewer<'_>, id: &str) -> Result<Comment, ApiError> {
        let (found, _) = self.select(viewer, "c.id = ?", vec![id.into()], "c.id", None)?;
        found.into_iter().next().ok_or_else(comment_not_found)
    }

    /// A movie's top-level comments, newest first.
    pub fn list_for_movie(
        &self,
        viewer: Viewer<'_>,
        movie_id: &str,
        page: Page,
    ) -> Result<Paginated<Comment>, ApiError> {
        self.check_viewer(viewer)?;
        let (data, total) = self.select(
            viewer,
            "c.movie_id = ? AND c.parent_id IS NULL",
            vec![movie_id.into()],
            "c.created_at DESC, c.id DESC",
            Some(page),
        )?;
        Ok(Paginated::new(data, page, total))
    }

    /// A comment's direct replies, oldest first (the order of the conversation).
    pub fn replies(&self, viewer: Viewer<'_>, id: &str, page: Page) -> Result<Paginated<Comment>, ApiError> {
        self.check_viewer(viewer)?;
        self.get(viewer, id)?;
        let (data, total) = self.select(
            viewer,
            "c.parent_id = ?",
            vec![id.into()],
            "c.created_at ASC, c.id ASC",
            Some(page),
        )?;
        Ok(Paginated::new(data, page, total))
    }

    /// Admins' moderation queue: pending comments, oldest first.
    pub fn pending(&self, page: Page) -> Result<Paginated<Comment>, ApiError> {
        let (data, total) = self.select(
            Viewer::Admin(""),
            "c.moderation_status = 'pending'",
            vec![],
            "c.created_at ASC, c.id ASC",
            Some(page),
        )?;
        Ok(Paginated::new(data, page, total))
    }

    /// Post a comment on a movie the catalogue has, or a reply to a visible
    /// comment on the same movie.
    pub fn create(
        &self,
        user_id: &str,
        movie_id: &str,
        content: &Content,
        parent_id: Option<&str>,
    ) -> Result<Comment, ApiError> {
        let viewer = Viewer::User(user_id);
        self.check_viewer(viewer)?;
        let id = uuid_v7();
        let status = self.moderation.initial_status();
        transaction(self.db, || {
            if tombstone::is_buried(self.db, SERVICE, Kind::Movie, movie_id)? {
                return Err(ApiError::NotFound("movie not found".into()));
            }
            if let Some(parent_id) = parent_id {
                // A missing parent is the client's mistake; a failing database is not.
                let parent = match self.get(viewer, parent_id) {
                    Ok(p) => Some(p).filter(|p| p.movie_id == movie_id),
                    Err(ApiError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                };
                match parent {
                    None => return Err(ApiError::validation("parentId", "is not a comment on this movie")),
                    Some(p) if p.is_deleted => {
                        return Err(ApiError::Unprocessable {
                            code: "comment_deleted",
                            message: "cannot reply to a deleted comment".into(),
                        })
                    }
                    Some(_) => {}
                }
            }
            let now = streamia_events::now_rfc3339();
            self.db.execute(
                "INSERT INTO comments_items (id, movie_id, user_id, parent_id, content, moderation_status, created_at,
                    updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    (&id).into(),
                    movie_id.into(),
                    user_id.into(),
                    parent_id.into(),
                    (&content.0).into(),
                    status.as_str().into(),
                    (&now).into(),
                    (&now).into(),
                ],
            )?;
            self.outbox.add(
                self.db,
                &Event::CommentCreated(CommentCreated {
                    comment_id: id.clone(),
                    movie_id: movie_id.to_owned(),
                    user_id: user_id.to_owned(),
                    parent_id: parent_id.map(str::to_owned),
                    moderation_status: status.as_str().to_owned(),
                }),
            )?;
            self.get(viewer, &id)
        })
    }

    /// The author changes the text; with pre-moderation it waits again.
    pub fn edit(&self, user_id: &str, id: &str, content: &Content) -> Result<Comment, ApiError> {
        let viewer = Viewer::User(user_id);
        self.check_viewer(viewer)?;
        transaction(self.db, || {
            let comment = self.get(viewer, id)?;
            if comment.user_id.as_deref() != Some(user_id) {
                return Err(ApiError::Forbidden("only the author may edit a comment".into()));
            }
            if comment.is_deleted {
                return Err(ApiError::Unprocessable {
                    code: "comment_deleted",
                    message: "a deleted comment cannot be edited".into(),
                });
            }
            let status = match self.moderation {
                Moderation::Pre => Status::Pending.as_str(),
                Moderation::Post => &comment.moderation_status,
            };
            self.db.execute(
                "UPDATE comments_items SET content = ?, is_edited = 1, moderation_status = ?, updated_at = ? WHERE id = ?",
                &[
                    (&content.0).into(),
                    status.into(),
                    streamia_events::now_rfc3339().into(),
                    id.into(),
                ],
            )?;
            self.outbox.add(
                self.db,
                &Event::CommentUpdated(CommentUpdated {
                    comment_id: id.to_owned(),
                    movie_id: comment.movie_id.clone(),
                    user_id: user_id.to_owned(),
                }),
            )?;
            self.get(viewer, id)
        })
    }

    /// Soft delete by the author or an admin: the text goes, the thread stays.
    /// Deleting a deleted comment changes nothing.
    pub fn delete(&self, viewer: Viewer<'_>, id: &str) -> Result<(), ApiError> {
        self.check_viewer(viewer)?;
        transaction(self.db, || {
            let comment = self.get(viewer, id)?;
            let by = match viewer {
                Viewer::Admin(admin) => admin,
                Viewer::User(user) if comment.user_id.as_deref() == Some(user) => user,
                _ => {
                    return Err(ApiError::Forbidden(
                        "only the author or an admin may delete a comment".into(),
                    ))
                }
            };
            if comment.is_deleted {
                return Ok(());
            }
            self.db.execute(
                "UPDATE comments_items SET content = '', is_deleted = 1, updated_at = ? WHERE id = ?",
                &[streamia_events::now_rfc3339().into(), id.into()],
            )?;
            self.outbox.add(
                self.db,
                &Event::CommentDeleted(CommentDeleted {
                    comment_id: id.to_owned(),
                    movie_id: comment.movie_id,
                    deleted_by: by.to_owned(),
                }),
            )?;
            Ok(())
        })
    }

    /// An admin sets the moderation status.
    pub fn moderate(&self, admin_id: &str, id: &str, status: Status) -> Result<Comment, ApiError> {
        let viewer = Viewer::Admin(admin_id);
        self.check_viewer(viewer)?;
        transaction(self.db, || {
            let comment = self.get(viewer, id)?;
            self.db.execute(
                "UPDATE comments_items SET moderation_status = ?, updated_at = ? WHERE id = ?",
                &[status.as_str().into(), streamia_events::now_rfc3339().into(), id.into()],
            )?;
            self.outbox.add(
                self.db,
                &Event::CommentModerated(CommentModerated {
                    comment_id: id.to_owned(),
                    movie_id: comment.movie_id,
                    moderation_status: status.as_str().to_owned(),
                    moderated_by: admin_id.to_owned(),
                }),
            )?;
            self.get(viewer, id)
        })
    }

    /// The sagas: user.deleted anonymises the user's comments (the
    /// conversation stays); movie.deleted removes the movie's comments.
    pub fn apply_event(&self, envelope: &Envelope) -> Result<Consumed, ApiError> {
        Ok(consume(
            self.db,
            SERVICE,
            envelope,
            |event| -> Result<bool, ApiError> {
                match event {
                    Event::UserDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::User, &e.user_id)?;
                        self.db.execute(
                            "UPDATE comments_items SET user_id = NULL WHERE user_id = ?",
                            &[(&e.user_id).into()],
                        )?;
                    }
                    Event::MovieDeleted(e) => {
                        tombstone::bury(self.db, SERVICE, Kind::Movie, &e.movie_id)?;
                        // Replies are on the same movie as their parents, so one
                        // statement takes whole threads.
                        self.db
                            .execute("DELETE FROM comments_items WHERE movie_id = ?", &[(&e.movie_id).into()])?;
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?)
    }
}

fn uuid_v7() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamia_db::MemoryDb;
    use streamia_events::{MovieDeleted, UserDeleted};

    struct Fixture {
        db: MemoryDb,
        outbox: Outbox,
        moderation: Moderation,
    }

    impl Fixture {
        fn new(moderation: Moderation) -> Self {
            let f = Fixture {
                db: MemoryDb::new(),
                outbox: Outbox::new(SERVICE),
                moderation,
            };
            f.comments().migrate().unwrap();
            f
        }

        fn comments(&self) -> Comments<'_> {
            Comments {
                db: &self.db,
                outbox: &self.outbox,
                moderation: self.moderation,
            }
        }

        fn post(&self, user: &str, movie: &str, text: &str, parent: Option<&str>) -> Comment {
            self.comments()
                .create(user, movie, &Content::parse(text).unwrap(), parent)
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
        assert_eq!(Content::parse("  hi  ").unwrap(), Content("hi".into()));
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
            .create("ana", "m2", &Content::parse("x").unwrap(), Some(&first.id))
            .unwrap_err();
        assert_eq!(elsewhere.status(), 400, "the parent must be on the same movie");
        let missing = f
            .comments()
            .create("ana", "m1", &Content::parse("x").unwrap(), Some("nope"))
            .unwrap_err();
        assert_eq!(missing.status(), 400);
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
        let gone = Envelope::new(&Event::UserDeleted(UserDeleted { user_id: "ana".into() }), "users");
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
        let movie_gone = Envelope::new(&Event::MovieDeleted(MovieDeleted { movie_id: "m1".into() }), "movies");
        f.comments().apply_event(&movie_gone).unwrap();
        assert!(f.top(Viewer::Admin("root"), "m1").is_empty());
        assert_eq!(f.top(Viewer::Admin("root"), "m2").len(), 1);
        let late = f
            .comments()
            .create("bob", "m1", &Content::parse("late").unwrap(), None)
            .unwrap_err();
        assert_eq!(late.status(), 404);
    }
}

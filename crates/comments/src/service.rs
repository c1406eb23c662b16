//! The comments service's operations: reading threads as a viewer may see
//! them, posting, editing, soft deletion and moderation.

use streamia_api::{ApiError, Page, Paginated};
use streamia_clock::Now;
use streamia_db::{transaction, Db};
use streamia_events::outbox::Outbox;
use streamia_events::tombstone::{self, Kind};
use streamia_events::{CommentCreated, CommentDeleted, CommentModerated, CommentUpdated, Event};

use crate::cache;
use crate::domain::{Comment, Content, Moderation, MovieId, Status, Viewer};
use crate::store::{self, Filter};
use crate::{MIGRATIONS, SERVICE};
use streamia_cache::Cache;

pub struct Comments<'a> {
    pub db: &'a dyn Db,
    pub outbox: &'a Outbox,
    /// The pages anyone not signed in sees (crate::cache).
    pub cache: &'a dyn Cache,
    pub moderation: Moderation,
    pub now: Now,
}

fn comment_not_found() -> ApiError {
    ApiError::NotFound("comment not found".into())
}

fn deleted(message: &str) -> ApiError {
    ApiError::Unprocessable {
        code: "comment_deleted",
        message: message.into(),
    }
}

impl Comments<'_> {
    pub fn migrate(&self) -> Result<(), ApiError> {
        Ok(streamia_db::migrate(self.db, SERVICE, MIGRATIONS)?)
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

    fn page_of(&self, viewer: Viewer<'_>, filter: Filter<'_>, page: Page) -> Result<Paginated<Comment>, ApiError> {
        let (data, total) = store::select(self.db, viewer, filter, Some(page))?;
        Ok(Paginated::new(data, page, total))
    }

    /// One comment, if `viewer` may see it.
    pub fn get(&self, viewer: Viewer<'_>, id: &str) -> Result<Comment, ApiError> {
        let filter = Filter {
            condition: "c.id = ?",
            params: vec![id.into()],
            order: "c.id",
        };
        let (found, _) = store::select(self.db, viewer, filter, None)?;
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
        let filter = Filter {
            condition: "c.movie_id = ? AND c.parent_id IS NULL",
            params: vec![movie_id.into()],
            order: "c.created_at DESC, c.id DESC",
        };
        self.page_of(viewer, filter, page)
    }

    /// A movie's top-level comments as anyone not signed in sees them: the
    /// cache, else the database (then cached). `true` when the cache answered.
    pub fn public_list_for_movie(&self, movie_id: &str, page: Page) -> Result<(serde_json::Value, bool), ApiError> {
        let now = self.now.unix();
        if let Some(cached) = cache::cached_page(self.cache, movie_id, page, now) {
            return Ok((cached, true));
        }
        let generation = cache::generation(self.cache, movie_id);
        let listed = self.list_for_movie(Viewer::Anonymous, movie_id, page)?;
        let body = serde_json::to_value(&listed).map_err(ApiError::internal)?;
        cache::remember(self.cache, movie_id, page, generation, body.clone(), now);
        Ok((body, false))
    }

    /// A comment's direct replies, oldest first (the order of the conversation).
    pub fn replies(&self, viewer: Viewer<'_>, id: &str, page: Page) -> Result<Paginated<Comment>, ApiError> {
        self.check_viewer(viewer)?;
        self.get(viewer, id)?;
        let filter = Filter {
            condition: "c.parent_id = ?",
            params: vec![id.into()],
            order: "c.created_at ASC, c.id ASC",
        };
        self.page_of(viewer, filter, page)
    }

    /// Admins' moderation queue: pending comments, oldest first.
    pub fn pending(&self, page: Page) -> Result<Paginated<Comment>, ApiError> {
        let filter = Filter {
            condition: "c.moderation_status = 'pending'",
            params: vec![],
            order: "c.created_at ASC, c.id ASC",
        };
        self.page_of(Viewer::Admin(""), filter, page)
    }

    /// Post a comment on a movie the catalogue has, or a reply to a visible
    /// comment on the same movie.
    pub fn create(
        &self,
        user_id: &str,
        movie_id: &MovieId,
        content: &Content,
        parent_id: Option<&str>,
    ) -> Result<Comment, ApiError> {
        let movie_id = movie_id.as_str();
        let viewer = Viewer::User(user_id);
        let status = self.moderation.initial_status();
        // Read first, without a lock; then one statement (its outbox row,
        // see Outbox::write) that writes only while it still may.
        for _ in 0..3 {
            if tombstone::is_buried(self.db, SERVICE, Kind::Movie, movie_id)? {
                return Err(ApiError::NotFound("movie not found".into()));
            }
            if let Some(parent_id) = parent_id {
                self.check_parent(viewer, movie_id, parent_id)?;
            }
            let id = uuid::Uuid::now_v7().to_string();
            let event = Event::CommentCreated(CommentCreated {
                comment_id: id.clone(),
                movie_id: movie_id.to_owned(),
                user_id: user_id.to_owned(),
                parent_id: parent_id.map(str::to_owned),
                moderation_status: status.as_str().to_owned(),
            });
            let effect = serde_json::json!({"op": "create", "id": id, "movieId": movie_id, "userId": user_id,
                "parentId": parent_id, "content": content.as_ref(), "status": status.as_str(), "at": self.now.rfc3339()});
            let params = [
                movie_id.into(),
                user_id.into(),
                parent_id.into(),
                parent_id.into(),
                movie_id.into(),
            ];
            if self
                .outbox
                .write(self.db, &event, &effect, store::POSTABLE, &params)?
                .is_some()
            {
                cache::changed(self.cache, movie_id);
                return self.get(viewer, &id);
            }
            // Something changed since the reads (the movie, the account or
            // the parent deleted): they say what, on the next round.
            self.check_viewer(viewer)?;
        }
        Err(ApiError::Busy)
    }

    /// A reply's parent: a comment of the same movie this viewer can see,
    /// not deleted (422 otherwise).
    fn check_parent(&self, viewer: Viewer<'_>, movie_id: &str, parent_id: &str) -> Result<(), ApiError> {
        // A parent this movie does not have breaks a rule of the domain
        // (422), as a deleted one does; a failing database is not the
        // client's mistake.
        let parent = match self.get(viewer, parent_id) {
            Ok(p) => Some(p).filter(|p| p.movie_id == movie_id),
            Err(ApiError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        match parent {
            None => Err(ApiError::Unprocessable {
                code: "parent_not_found",
                message: "parentId: this movie has no such comment".into(),
            }),
            Some(p) if p.is_deleted => Err(deleted("cannot reply to a deleted comment")),
            Some(_) => Ok(()),
        }
    }

    /// The author changes the text; with pre-moderation it waits again.
    pub fn edit(&self, user_id: &str, id: &str, content: &Content) -> Result<Comment, ApiError> {
        let viewer = Viewer::User(user_id);
        self.check_viewer(viewer)?;
        let edited = transaction(self.db, || {
            let comment = self.get(viewer, id)?;
            if comment.user_id.as_deref() != Some(user_id) {
                return Err(ApiError::Forbidden("only the author may edit a comment".into()));
            }
            if comment.is_deleted {
                return Err(deleted("a deleted comment cannot be edited"));
            }
            let status = match self.moderation {
                Moderation::Pre => Status::Pending.as_str(),
                Moderation::Post => &comment.moderation_status,
            };
            store::set_content(self.db, id, content, status, &self.now.rfc3339())?;
            self.outbox.add(
                self.db,
                &Event::CommentUpdated(CommentUpdated {
                    comment_id: id.to_owned(),
                    movie_id: comment.movie_id.clone(),
                    user_id: user_id.to_owned(),
                }),
            )?;
            self.get(viewer, id)
        })?;
        cache::changed(self.cache, &edited.movie_id);
        Ok(edited)
    }

    /// Soft delete by the author or an admin: the text goes, the thread stays.
    /// Deleting a deleted comment changes nothing.
    pub fn delete(&self, viewer: Viewer<'_>, id: &str) -> Result<(), ApiError> {
        self.check_viewer(viewer)?;
        let movie_id = transaction(self.db, || {
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
                return Ok(None);
            }
            store::soft_delete(self.db, id, &self.now.rfc3339())?;
            self.outbox.add(
                self.db,
                &Event::CommentDeleted(CommentDeleted {
                    comment_id: id.to_owned(),
                    movie_id: comment.movie_id.clone(),
                    deleted_by: by.to_owned(),
                }),
            )?;
            Ok(Some(comment.movie_id))
        })?;
        if let Some(movie_id) = movie_id {
            cache::changed(self.cache, &movie_id);
        }
        Ok(())
    }

    /// An admin sets the moderation status.
    pub fn moderate(&self, admin_id: &str, id: &str, status: Status) -> Result<Comment, ApiError> {
        let viewer = Viewer::Admin(admin_id);
        self.check_viewer(viewer)?;
        let moderated = transaction(self.db, || {
            let comment = self.get(viewer, id)?;
            store::set_status(self.db, id, status, &self.now.rfc3339())?;
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
        })?;
        cache::changed(self.cache, &moderated.movie_id);
        Ok(moderated)
    }
}

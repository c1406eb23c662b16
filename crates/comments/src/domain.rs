//! What the comments service takes and answers, and who is asking.

use serde::{Deserialize, Serialize};
use streamia_api::ApiError;
/// Movies are named by the id the catalogue gave them.
pub use streamia_api::MovieId;

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
    pub(crate) fn initial_status(self) -> Status {
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

/// Comment text: at most [`MAX_CONTENT_CHARS`] characters as sent, not
/// only white space; kept trimmed.
#[derive(Debug, Clone, PartialEq)]
pub struct Content(String);

impl Content {
    pub fn parse(value: &str) -> Result<Self, ApiError> {
        let text = value.trim();
        if text.is_empty() {
            return Err(ApiError::validation("content", "must not be empty"));
        }
        if value.chars().count() > MAX_CONTENT_CHARS {
            return Err(ApiError::validation(
                "content",
                format!("must be at most {MAX_CONTENT_CHARS} characters"),
            ));
        }
        Ok(Content(text.to_owned()))
    }
}

impl AsRef<str> for Content {
    fn as_ref(&self) -> &str {
        &self.0
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
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Viewer::Anonymous => None,
            Viewer::User(id) | Viewer::Admin(id) => Some(id),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: String,
    pub movie_id: String,
    pub user_id: Option<String>,
    /// The author's username; `None` once the account is deleted (or while
    /// its name has not reached this service yet).
    pub author_name: Option<String>,
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

//! What the users service announces. It consumes no events: the deletion
//! saga starts here (user.deleted) and the other services finish it.

use streamia_events::{Event, PasswordResetRequested, UserDeleted, UserRegistered, UserUpdated};

use crate::domain::User;

pub fn registered(user: &User) -> Event {
    Event::UserRegistered(UserRegistered {
        user_id: user.id.clone(),
        email: user.email.clone(),
        username: user.username.clone(),
        role: user.role.as_str().to_owned(),
    })
}

pub fn updated(user: &User) -> Event {
    Event::UserUpdated(UserUpdated {
        user_id: user.id.clone(),
        email: user.email.clone(),
        username: user.username.clone(),
    })
}

/// The token travels to the notifications service only, which e-mails it.
pub fn reset_requested(user: &User, token: &str, expires_at: &str) -> Event {
    Event::PasswordResetRequested(PasswordResetRequested {
        user_id: user.id.clone(),
        email: user.email.clone(),
        username: user.username.clone(),
        token: token.to_owned(),
        expires_at: expires_at.to_owned(),
    })
}

pub fn deleted(user_id: &str) -> Event {
    Event::UserDeleted(UserDeleted {
        user_id: user_id.to_owned(),
    })
}

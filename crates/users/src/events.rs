//! What the users service announces. It consumes no events: the deletion
//! saga starts here (user.deleted) and the other services finish it.

use streamia_events::{Event, NotificationSendEmail, PasswordResetRequested, UserDeleted, UserRegistered, UserUpdated};

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

/// The e-mail that tells a person their account was deleted: a
/// notification.send_email command for the notifications service (the
/// address is gone from here once the deletion commits).
pub fn farewell(email: &str, username: &str) -> Event {
    let mut data = serde_json::Map::new();
    data.insert("name".into(), username.into());
    data.insert(
        "message".into(),
        "Your Streamia account has been deleted, with your favourites and ratings; your comments \
         stay without your name. If you did not ask for this, contact Streamia at once."
            .into(),
    );
    Event::NotificationSendEmail(NotificationSendEmail {
        to: email.to_owned(),
        subject: "Your Streamia account was deleted".to_owned(),
        template: "notification".to_owned(),
        data,
    })
}

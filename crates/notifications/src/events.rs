//! The notifications service's consumer: an event that asks for an e-mail
//! becomes one pending e-mail (or a failed one, announced at once), exactly
//! once however often the event arrives.

use streamia_api::ApiError;
use streamia_events::consumer::{consume, Consumed};
use streamia_events::{Envelope, Event, NotificationFailed};

use crate::domain::Job;
use crate::store::{self, NewEmail};
use crate::templates::Template;
use crate::{message, Notifications, SERVICE};

impl Notifications<'_> {
    /// Take an event once: the e-mail it causes is recorded as pending and
    /// handed back to be sent; an event that cannot become an e-mail is
    /// recorded as failed (notification.failed). A duplicate yields nothing.
    pub fn accept(&self, envelope: &Envelope) -> Result<(Consumed, Option<Job>), ApiError> {
        let mut job = None;
        let outcome = consume(
            self.db,
            SERVICE,
            envelope,
            self.now,
            |event: &Event| -> Result<bool, ApiError> {
                let Some(planned) = message::plan(event, self.frontend_url) else {
                    return Ok(false);
                };
                let id = uuid::Uuid::now_v7().to_string();
                let at = self.now.rfc3339();
                let mut row = NewEmail {
                    id: &id,
                    event_id: &envelope.event_id,
                    template: "",
                    recipient: "",
                    subject: "",
                    status: "failed",
                    html: None,
                    text: None,
                    error: None,
                    created_unix: self.now.unix(),
                    at: &at,
                };
                let requested = requested_template(event);
                match &planned {
                    Ok(m) => {
                        row.template = m.template.name();
                        row.recipient = m.to.as_str();
                        row.subject = &m.subject;
                        row.status = "pending";
                        row.html = Some(&m.html);
                        row.text = Some(&m.text);
                    }
                    Err(reason) => {
                        row.template = &requested;
                        row.error = Some(reason);
                    }
                }
                store::insert(self.db, &row)?;
                match planned {
                    Ok(message) => {
                        job = Some(Job {
                            id,
                            event_id: envelope.event_id.clone(),
                            message,
                        })
                    }
                    Err(reason) => {
                        self.outbox.add(
                            self.db,
                            &Event::NotificationFailed(NotificationFailed {
                                notification_id: id,
                                source_event_id: envelope.event_id.clone(),
                                template: requested,
                                attempts: 0,
                                reason,
                            }),
                        )?;
                    }
                }
                Ok(true)
            },
        )?;
        Ok((outcome, job))
    }
}

/// The template an event asked for, for the record of one that failed to build.
fn requested_template(event: &Event) -> String {
    match event {
        Event::UserRegistered(_) => Template::Welcome.name().to_owned(),
        Event::PasswordResetRequested(_) => Template::PasswordReset.name().to_owned(),
        Event::NotificationSendEmail(e) => e.template.chars().take(50).collect(),
        _ => String::new(),
    }
}

//! From an event to the e-mail it causes: recipient, subject and both
//! bodies. Everything here is checked before anything is sent.

use serde_json::{json, Value};
use streamia_events::Event;

use crate::templates::{self, Template};

/// An e-mail address as SendGrid takes it: one `@`, no spaces or control
/// characters, at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let valid = text.len() <= 254
            && !text
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | '"'))
            && matches!(text.split_once('@'), Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                    && !domain.starts_with('.') && !domain.ends_with('.'));
        if valid {
            Ok(Address(text.to_owned()))
        } else {
            Err(format!("{text:?} is not an e-mail address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `Name <address>` or `address` (the variable `email_from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub name: Option<String>,
    pub address: Address,
}

impl Sender {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        match text.strip_suffix('>').and_then(|t| t.rsplit_once('<')) {
            Some((name, address)) => Ok(Sender {
                name: Some(name.trim().trim_matches('"').to_owned()).filter(|n| !n.is_empty()),
                address: Address::parse(address)?,
            }),
            None => Ok(Sender {
                name: None,
                address: Address::parse(text)?,
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub to: Address,
    pub subject: String,
    pub template: Template,
    pub html: String,
    pub text: String,
}

pub const MAX_SUBJECT_CHARS: usize = 200;

/// The e-mail an event asks for: `None` for an event this service does not
/// handle, `Some(Err(reason))` for one it cannot turn into an e-mail.
/// `frontend_url` is where links point (`https://streamia.example`).
pub fn plan(event: &Event, frontend_url: &str) -> Option<Result<Message, String>> {
    let base = frontend_url.trim_end_matches('/');
    Some(match event {
        Event::UserRegistered(e) => build(
            &e.email,
            &format!("Welcome to Streamia, {}", e.username),
            Template::Welcome,
            &json!({"username": e.username, "email": e.email, "frontendUrl": base}),
        ),
        Event::PasswordResetRequested(e) => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("token", &e.token)
                .finish();
            build(
                &e.email,
                "Reset your Streamia password",
                Template::PasswordReset,
                &json!({
                    "username": e.username,
                    "resetUrl": format!("{base}/reset-password?{query}"),
                    "expiresAt": e.expires_at,
                }),
            )
        }
        Event::NotificationSendEmail(e) => match Template::parse(&e.template) {
            None => Err(format!(
                "template {:?} does not exist (welcome, password-reset, notification)",
                e.template
            )),
            Some(template) => {
                let data = Value::Object(e.data.clone());
                check_links(&data).and_then(|()| build(&e.to, &e.subject, template, &data))
            }
        },
        _ => return None,
    })
}

/// Links in producer data must be web links: no `javascript:` in an href.
fn check_links(data: &Value) -> Result<(), String> {
    for key in ["actionUrl", "frontendUrl", "resetUrl"] {
        if let Some(url) = data.get(key).and_then(Value::as_str) {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!("{key} must be an http(s) URL"));
            }
        }
    }
    Ok(())
}

fn build(to: &str, subject: &str, template: Template, data: &Value) -> Result<Message, String> {
    let to = Address::parse(to)?;
    // A subject is one line.
    let subject: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned();
    if subject.is_empty() || subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(format!("the subject must be 1 to {MAX_SUBJECT_CHARS} characters"));
    }
    let rendered = templates::render(template, data)?;
    Ok(Message {
        to,
        subject,
        template,
        html: rendered.html,
        text: rendered.text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamia_events::{NotificationSendEmail, PasswordResetRequested, UserDeleted, UserRegistered};

    #[test]
    fn addresses_and_senders() {
        assert!(Address::parse("ana@example.com").is_ok());
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "a b@example.com",
            "ana@example",
            "a@b@c.d",
            "x@y.com\r\nBcc: z@w.com",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?}");
        }
        let s = Sender::parse("Streamia <no-reply@streamia.example>").unwrap();
        assert_eq!(s.name.as_deref(), Some("Streamia"));
        assert_eq!(s.address.as_str(), "no-reply@streamia.example");
        assert_eq!(Sender::parse("a@b.co").unwrap().name, None);
    }

    #[test]
    fn a_registration_is_a_welcome_to_the_new_address() {
        let event = Event::UserRegistered(UserRegistered {
            user_id: "u".into(),
            email: "ana@example.com".into(),
            username: "ana".into(),
            role: "user".into(),
        });
        let m = plan(&event, "https://streamia.example/").unwrap().unwrap();
        assert_eq!(m.to.as_str(), "ana@example.com");
        assert_eq!(m.template, Template::Welcome);
        assert!(m.subject.contains("ana"));
        // minijinja escapes `/` too (`&#x2f;`), which browsers read back as `/`.
        let html = m.html.replace("&#x2f;", "/");
        assert!(html.contains("href=\"https://streamia.example\""), "{}", m.html);
    }

    #[test]
    fn a_reset_links_to_the_frontend_with_the_token() {
        let event = Event::PasswordResetRequested(PasswordResetRequested {
            user_id: "u".into(),
            email: "ana@example.com".into(),
            username: "ana".into(),
            token: "a+b/c=".into(),
            expires_at: "2026-11-23T18:00:00Z".into(),
        });
        let m = plan(&event, "http://localhost:5173").unwrap().unwrap();
        assert!(
            m.text
                .contains("http://localhost:5173/reset-password?token=a%2Bb%2Fc%3D"),
            "{}",
            m.text
        );
    }

    #[test]
    fn asked_for_e_mails_are_checked() {
        let ask = |to: &str, subject: &str, template: &str, data: Value| {
            let Value::Object(data) = data else { unreachable!() };
            plan(
                &Event::NotificationSendEmail(NotificationSendEmail {
                    to: to.into(),
                    subject: subject.into(),
                    template: template.into(),
                    data,
                }),
                "https://s.example",
            )
            .unwrap()
        };
        let m = ask(
            "bob@example.com",
            "News\r\nBcc: x@y.z",
            "notification",
            json!({"message": "hi"}),
        )
        .unwrap();
        assert_eq!(m.subject, "News  Bcc: x@y.z", "one line");
        assert!(ask("bob", "s", "notification", json!({"message": "hi"})).is_err());
        assert!(ask("bob@example.com", "", "notification", json!({"message": "hi"})).is_err());
        assert!(ask("bob@example.com", "s", "invoice", json!({})).is_err());
        assert!(
            ask("bob@example.com", "s", "notification", json!({})).is_err(),
            "message is required"
        );
        assert!(ask(
            "bob@example.com",
            "s",
            "notification",
            json!({"message": "m", "actionUrl": "javascript:alert(1)"})
        )
        .is_err());
        let other = Event::UserDeleted(UserDeleted { user_id: "u".into() });
        assert!(plan(&other, "https://s.example").is_none());
    }
}

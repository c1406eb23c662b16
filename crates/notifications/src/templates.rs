//! The e-mail templates (`templates/*.html` and `*.txt`), rendered with
//! minijinja. HTML templates escape every value (autoescape by file name);
//! a value missing from the data is an error, never an empty hole.

use std::sync::OnceLock;

use minijinja::{Environment, UndefinedBehavior};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    Welcome,
    PasswordReset,
    Notification,
}

impl Template {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "welcome" => Some(Template::Welcome),
            "password-reset" => Some(Template::PasswordReset),
            "notification" => Some(Template::Notification),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Template::Welcome => "welcome",
            Template::PasswordReset => "password-reset",
            Template::Notification => "notification",
        }
    }
}

const SOURCES: &[(&str, &str)] = &[
    ("welcome.html", include_str!("../templates/welcome.html")),
    ("welcome.txt", include_str!("../templates/welcome.txt")),
    ("password-reset.html", include_str!("../templates/password-reset.html")),
    ("password-reset.txt", include_str!("../templates/password-reset.txt")),
    ("notification.html", include_str!("../templates/notification.html")),
    ("notification.txt", include_str!("../templates/notification.txt")),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // Missing data fails the render; `{% if x %}` may still test for it.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        for (name, source) in SOURCES {
            // The sources are ours and a unit test renders each one.
            if let Err(e) = env.add_template(name, source) {
                streamia_log::error(
                    crate::SERVICE,
                    "template not loaded",
                    streamia_log::json!({"template": name, "error": e.to_string()}),
                );
            }
        }
        env
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub html: String,
    pub text: String,
}

/// Render both forms of `template` with `data` (a JSON object).
pub fn render(template: Template, data: &serde_json::Value) -> Result<Rendered, String> {
    let one = |ext: &str| {
        let name = format!("{}.{ext}", template.name());
        environment()
            .get_template(&name)
            .and_then(|t| t.render(minijinja::value::Serde(data)))
            .map_err(|e| format!("template {name}: {}", e.detail().unwrap_or(&e.to_string())))
    };
    Ok(Rendered {
        html: one("html")?,
        text: one("txt")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_template_renders_in_both_forms() {
        let cases = [
            (
                Template::Welcome,
                json!({"username": "ana", "email": "ana@example.com", "frontendUrl": "https://streamia.example"}),
            ),
            (
                Template::PasswordReset,
                json!({"username": "ana", "resetUrl": "https://streamia.example/reset-password?token=t", "expiresAt": "2026-01-01T00:00:00Z"}),
            ),
            (Template::Notification, json!({"message": "New films this week"})),
        ];
        for (template, data) in cases {
            let r = render(template, &data).unwrap();
            assert!(r.html.starts_with("<!doctype html>"), "{template:?}");
            assert!(!r.text.contains('<'), "{template:?}: {}", r.text);
        }
    }

    #[test]
    fn markup_in_values_never_reaches_the_html() {
        let evil = "<script>alert(1)</script>";
        let r = render(
            Template::Welcome,
            &json!({"username": evil, "email": "a@b.c", "frontendUrl": "https://x\" onclick=\"y"}),
        )
        .unwrap();
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;"), "{}", r.html);
        assert!(
            !r.html.contains("\" onclick"),
            "attributes cannot be broken out of: {}",
            r.html
        );
        assert!(r.text.contains(evil), "plain text is not HTML: it stays as written");
    }

    #[test]
    fn missing_data_is_an_error_and_optional_parts_may_be_left_out() {
        let err = render(Template::PasswordReset, &json!({"username": "ana"})).unwrap_err();
        assert!(err.contains("password-reset"), "{err}");
        let r = render(Template::Notification, &json!({"message": "hi"})).unwrap();
        assert!(!r.html.contains("Hello"));
        assert!(!r.html.contains("href"));
        let r = render(
            Template::Notification,
            &json!({"message": "hi", "name": "Ana", "actionUrl": "https://s.example/m/1"}),
        )
        .unwrap();
        assert!(r.html.contains("Hello Ana"));
        assert!(r.text.contains("Open Streamia: https://s.example/m/1"), "{}", r.text);
    }
}

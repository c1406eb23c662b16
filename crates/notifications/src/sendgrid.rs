//! SendGrid's v3 Mail Send API: `POST {base}/v3/mail/send` with
//! `Authorization: Bearer <API key>` and a JSON body of personalizations,
//! from, subject and content (text/plain first, then text/html, as SendGrid
//! requires). It answers 202 with an `X-Message-Id` header; 429 and 5xx are
//! worth retrying, other errors are not.

use serde_json::{json, Value};

use crate::message::{Message, Sender};

pub const PATH: &str = "/v3/mail/send";

pub fn endpoint(base_url: &str) -> String {
    format!("{}{PATH}", base_url.trim_end_matches('/'))
}

/// The request body for one message to one recipient.
pub fn body(from: &Sender, message: &Message) -> Value {
    let mut sender = json!({"email": from.address.as_str()});
    if let Some(name) = &from.name {
        sender["name"] = json!(name);
    }
    json!({
        "personalizations": [{"to": [{"email": message.to.as_str()}]}],
        "from": sender,
        "subject": message.subject,
        "content": [
            {"type": "text/plain", "value": message.text},
            {"type": "text/html", "value": message.html},
        ],
    })
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Sent {
        message_id: Option<String>,
    },
    /// Worth another try (429, 5xx, no answer); `retry_after_secs` from a 429.
    Retry {
        reason: String,
        retry_after_secs: Option<u64>,
    },
    /// Trying again would fail the same way (400, 401, 403, 413, …).
    Fail {
        reason: String,
    },
}

/// Judge SendGrid's answer. `body` is read for its `errors[].message`.
pub fn judge(status: u16, message_id: Option<&str>, retry_after: Option<&str>, body: &[u8]) -> Attempt {
    let detail = || {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| {
                v["errors"].as_array().map(|errors| {
                    errors
                        .iter()
                        .filter_map(|e| e["message"].as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            })
            .filter(|m| !m.is_empty())
            .map(|m| format!("SendGrid {status}: {}", m.chars().take(300).collect::<String>()))
            .unwrap_or_else(|| format!("SendGrid {status}"))
    };
    match status {
        200..=299 => Attempt::Sent {
            message_id: message_id.map(str::to_owned),
        },
        429 => Attempt::Retry {
            reason: detail(),
            retry_after_secs: retry_after.and_then(|v| v.trim().parse().ok()),
        },
        500..=599 => Attempt::Retry {
            reason: detail(),
            retry_after_secs: None,
        },
        _ => Attempt::Fail { reason: detail() },
    }
}

/// How long to wait before try number `next` (2, 3, …): `base_ms` doubled
/// each time, or what a 429 asked for, never more than `max_ms`.
pub fn backoff_ms(next: u32, base_ms: u64, retry_after_secs: Option<u64>, max_ms: u64) -> u64 {
    let exponential = base_ms.saturating_mul(1u64 << next.saturating_sub(2).min(20));
    let wait = retry_after_secs.map_or(exponential, |s| s.saturating_mul(1000).max(exponential));
    wait.min(max_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Address, Message};
    use crate::templates::Template;

    #[test]
    fn the_body_is_what_sendgrid_takes() {
        let m = Message {
            to: Address::parse("ana@example.com").unwrap(),
            subject: "Hi".into(),
            template: Template::Notification,
            html: "<p>x</p>".into(),
            text: "x".into(),
        };
        let b = body(&Sender::parse("Streamia <no-reply@s.example>").unwrap(), &m);
        assert_eq!(b["personalizations"][0]["to"][0]["email"], "ana@example.com");
        assert_eq!(b["from"], json!({"email": "no-reply@s.example", "name": "Streamia"}));
        assert_eq!(b["content"][0]["type"], "text/plain", "plain text must come first");
        assert_eq!(b["content"][1]["value"], "<p>x</p>");
        assert_eq!(endpoint("http://127.0.0.1:9/"), "http://127.0.0.1:9/v3/mail/send");
    }

    #[test]
    fn answers_are_judged_by_status() {
        assert_eq!(
            judge(202, Some("abc"), None, b""),
            Attempt::Sent {
                message_id: Some("abc".into())
            }
        );
        assert!(matches!(
            judge(429, None, Some("2"), b""),
            Attempt::Retry {
                retry_after_secs: Some(2),
                ..
            }
        ));
        assert!(matches!(judge(503, None, None, b""), Attempt::Retry { .. }));
        let Attempt::Fail { reason } = judge(
            400,
            None,
            None,
            br#"{"errors":[{"message":"Does not contain a valid address.","field":"personalizations.0.to.0.email"}]}"#,
        ) else {
            panic!("400 is final")
        };
        assert_eq!(reason, "SendGrid 400: Does not contain a valid address.");
        assert!(matches!(judge(401, None, None, b"not json"), Attempt::Fail { .. }));
    }

    #[test]
    fn backoff_doubles_honours_retry_after_and_is_capped() {
        assert_eq!(backoff_ms(2, 100, None, 5000), 100);
        assert_eq!(backoff_ms(3, 100, None, 5000), 200);
        assert_eq!(backoff_ms(4, 100, None, 5000), 400);
        assert_eq!(backoff_ms(2, 100, Some(2), 5000), 2000);
        assert_eq!(backoff_ms(2, 100, Some(3600), 5000), 5000);
        assert_eq!(backoff_ms(40, 100, None, 5000), 5000);
    }
}

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use streamia_api::Settings;
use streamia_clock::Now;
use streamia_db::MemoryDb;
use streamia_events::consumer::Consumed;
use streamia_events::outbox::Outbox;
use streamia_events::{Envelope, Event, NotificationSendEmail, UserRegistered};

use crate::message::{Message, Sender};
use crate::sendgrid::Attempt;
use crate::sent_log::{KeyValue, SentLog, SENT_LOG_MAX};
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
        f.at(0).migrate().unwrap();
        f
    }

    fn at(&self, now: i64) -> Notifications<'_> {
        Notifications {
            db: &self.db,
            outbox: &self.outbox,
            frontend_url: "https://streamia.example",
            now: Now::at(1_800_000_000 + now),
        }
    }

    fn events(&self) -> Vec<Event> {
        self.outbox
            .due(&self.db, i64::MAX, 100)
            .unwrap()
            .into_iter()
            .map(|p| p.envelope.event().unwrap().unwrap())
            .collect()
    }
}

fn registered() -> Envelope {
    Envelope::new(
        &Event::UserRegistered(UserRegistered {
            user_id: "u1".into(),
            email: "ana@example.com".into(),
            username: "ana".into(),
            role: "user".into(),
        }),
        "users",
        NOW,
    )
}

fn block_on<F: Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}

const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_ms: 100,
    max_wait_ms: 5_000,
};

#[test]
fn an_event_delivered_twice_yields_one_e_mail() {
    let f = Fixture::new();
    let env = registered();
    let (first, job) = f.at(0).accept(&env).unwrap();
    assert_eq!(first, Consumed::Applied);
    let job = job.expect("an e-mail to send");
    assert_eq!(job.message.to.as_str(), "ana@example.com");
    let (again, none) = f.at(0).accept(&env).unwrap();
    assert_eq!((again, none), (Consumed::Duplicate, None));

    let sent = Delivery::Sent {
        message_id: Some("m1".into()),
        attempts: 2,
    };
    let entry = f.at(0).finish(&job, &Provider::Log, &sent).unwrap().unwrap();
    assert_eq!(entry.attempts, 2);
    assert!(
        entry.text.as_deref().unwrap().contains("ana"),
        "the log provider keeps the bodies"
    );
    assert_eq!(
        f.at(0).finish(&job, &Provider::Log, &sent).unwrap(),
        None,
        "finished once"
    );
    assert!(matches!(f.events().as_slice(), [Event::NotificationSent(e)] if e.message_id.as_deref() == Some("m1")));
}

#[test]
fn sendgrid_entries_keep_no_bodies_and_failures_are_announced() {
    let f = Fixture::new();
    let (_, job) = f.at(0).accept(&registered()).unwrap();
    let provider = Provider::configure("sendgrid", "https://api.sendgrid.com", "SG.key").unwrap();
    let failed = Delivery::Failed {
        reason: "SendGrid 400".into(),
        attempts: 1,
    };
    assert_eq!(f.at(0).finish(job.as_ref().unwrap(), &provider, &failed).unwrap(), None);
    assert!(matches!(f.events().as_slice(), [Event::NotificationFailed(e)] if e.attempts == 1));

    let (_, job) = f
        .at(0)
        .accept(&Envelope::new(
            &Event::UserRegistered(UserRegistered {
                user_id: "u2".into(),
                email: "bob@example.com".into(),
                username: "bob".into(),
                role: "user".into(),
            }),
            "users",
            NOW,
        ))
        .unwrap();
    let sent = Delivery::Sent {
        message_id: None,
        attempts: 1,
    };
    let entry = f
        .at(0)
        .finish(job.as_ref().unwrap(), &provider, &sent)
        .unwrap()
        .unwrap();
    assert_eq!((entry.text, entry.html), (None, None));
}

#[test]
fn an_event_that_cannot_become_an_e_mail_fails_at_once() {
    let f = Fixture::new();
    let serde_json::Value::Object(data) = serde_json::json!({}) else {
        unreachable!()
    };
    let bad = Envelope::new(
        &Event::NotificationSendEmail(NotificationSendEmail {
            to: "not-an-address".into(),
            subject: "s".into(),
            template: "notification".into(),
            data,
        }),
        "movies",
        NOW,
    );
    let (outcome, job) = f.at(0).accept(&bad).unwrap();
    assert_eq!((outcome, job), (Consumed::Applied, None));
    assert!(
        matches!(f.events().as_slice(), [Event::NotificationFailed(e)] if e.attempts == 0 && e.template == "notification")
    );
}

#[test]
fn pending_e_mails_of_a_dead_request_are_picked_up_later() {
    let f = Fixture::new();
    f.at(0).accept(&registered()).unwrap();
    assert!(f.at(STALE_AFTER_SECS - 1).stale(10).unwrap().is_empty());
    let stale = f.at(STALE_AFTER_SECS).stale(10).unwrap();
    assert_eq!(stale.len(), 1);
    assert!(stale[0].message.html.contains("ana"));
    assert!(
        f.at(STALE_AFTER_SECS).stale(10).unwrap().is_empty(),
        "claimed: another request does not send it too"
    );
}

#[test]
fn delivery_retries_what_is_worth_retrying_up_to_the_bound() {
    let run = |answers: Vec<Attempt>| {
        let answers = RefCell::new(answers.into_iter());
        let waits = RefCell::new(Vec::new());
        let out = block_on(deliver(
            &POLICY,
            || {
                let next = answers.borrow_mut().next().expect("no more tries expected");
                async move { next }
            },
            |ms| waits.borrow_mut().push(ms),
        ));
        (out, waits.into_inner())
    };
    let retry = |after| Attempt::Retry {
        reason: "SendGrid 429".into(),
        retry_after_secs: after,
    };
    let sent = Attempt::Sent {
        message_id: Some("id".into()),
    };
    assert_eq!(
        run(vec![retry(None), sent.clone()]),
        (
            Delivery::Sent {
                message_id: Some("id".into()),
                attempts: 2
            },
            vec![100]
        )
    );
    let (out, waits) = run(vec![retry(None), retry(Some(1)), retry(None)]);
    assert!(matches!(out, Delivery::Failed { attempts: 3, .. }), "{out:?}");
    assert_eq!(waits, [100, 1000]);
    let (out, waits) = run(vec![Attempt::Fail {
        reason: "SendGrid 400".into(),
    }]);
    assert_eq!(
        out,
        Delivery::Failed {
            reason: "SendGrid 400".into(),
            attempts: 1
        }
    );
    assert!(waits.is_empty());
}

#[test]
fn configuration_is_checked() {
    assert_eq!(Provider::configure("", "", "").unwrap(), Provider::Log);
    assert!(Provider::configure("sendgrid", "https://api.sendgrid.com", "").is_err());
    assert!(Provider::configure("smtp", "", "").is_err());
    assert!(RetryPolicy::parse("0", "100").is_err());
    assert!(RetryPolicy::parse("3", "x").is_err());
    assert_eq!(RetryPolicy::parse("4", "250").unwrap().max_attempts, 4);
}

/// SendGrid as a script: each try takes the next answer and is recorded.
struct ScriptedApi {
    answers: RefCell<Vec<Attempt>>,
    sent_to: RefCell<Vec<String>>,
}

impl ScriptedApi {
    fn new(mut answers: Vec<Attempt>) -> Self {
        answers.reverse();
        ScriptedApi {
            answers: RefCell::new(answers),
            sent_to: RefCell::new(Vec::new()),
        }
    }
}

impl MailApi for ScriptedApi {
    fn send_once(&self, _: &str, api_key: &str, from: &Sender, message: &Message) -> impl Future<Output = Attempt> {
        assert_eq!(api_key, "SG.key");
        assert_eq!(from.address.as_str(), "noreply@streamia.example");
        self.sent_to.borrow_mut().push(message.to.as_str().to_owned());
        let next = self.answers.borrow_mut().pop().expect("no more tries expected");
        async move { next }
    }
}

#[derive(Default)]
struct MemoryKv(RefCell<BTreeMap<String, Vec<u8>>>);

impl KeyValue for MemoryKv {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.borrow().get(key).cloned()
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.0.borrow_mut().insert(key.to_owned(), value.to_vec());
        Ok(())
    }
    fn delete(&self, key: &str) {
        self.0.borrow_mut().remove(key);
    }
    fn keys(&self) -> Result<Vec<String>, String> {
        Ok(self.0.borrow().keys().cloned().collect())
    }
}

fn config(provider: &str) -> Config {
    let vars: HashMap<&str, &str> = [
        ("email_provider", provider),
        ("sendgrid_base_url", "https://api.sendgrid.com"),
        ("sendgrid_api_key", "SG.key"),
        ("email_max_attempts", "3"),
        ("email_retry_base_ms", "100"),
        ("email_from", "Streamia <noreply@streamia.example>"),
        ("frontend_url", "https://streamia.example"),
    ]
    .into_iter()
    .collect();
    Config::load(&Settings::new("the notifications service", &vars)).unwrap()
}

#[test]
fn an_event_is_sent_through_sendgrid_with_retries_and_logged_once() {
    let f = Fixture::new();
    let api = ScriptedApi::new(vec![
        Attempt::Retry {
            reason: "SendGrid 429".into(),
            retry_after_secs: None,
        },
        Attempt::Sent {
            message_id: Some("m1".into()),
        },
    ]);
    let kv = MemoryKv::default();
    let waits = RefCell::new(Vec::new());
    let env = registered();
    let handle = |api: &ScriptedApi| {
        block_on(f.at(0).handle(&env, &config("sendgrid"), api, &SentLog(&kv), |ms| {
            waits.borrow_mut().push(ms)
        }))
        .unwrap()
    };
    assert_eq!(handle(&api), Consumed::Applied);
    assert_eq!(
        *api.sent_to.borrow(),
        ["ana@example.com", "ana@example.com"],
        "tried twice"
    );
    assert_eq!(*waits.borrow(), [100]);
    let log = SentLog(&kv).recent(10).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["messageId"], "m1");
    assert_eq!(log[0]["attempts"], 2);
    assert!(log[0].get("html").is_none(), "SendGrid's entries keep no bodies");

    let again = ScriptedApi::new(vec![]);
    assert_eq!(handle(&again), Consumed::Duplicate);
    assert!(again.sent_to.borrow().is_empty(), "a duplicate sends nothing");
    assert!(matches!(f.events().as_slice(), [Event::NotificationSent(_)]));
}

#[test]
fn the_log_provider_sends_nothing_and_keeps_the_bodies() {
    let f = Fixture::new();
    let kv = MemoryKv::default();
    let api = ScriptedApi::new(vec![]);
    let out = block_on(
        f.at(0)
            .handle(&registered(), &config("log"), &api, &SentLog(&kv), |_| {}),
    )
    .unwrap();
    assert_eq!(out, Consumed::Applied);
    assert!(api.sent_to.borrow().is_empty());
    let log = SentLog(&kv).recent(10).unwrap();
    assert!(log[0]["text"].as_str().unwrap().contains("ana"), "{log:?}");
}

#[test]
fn an_e_mail_that_keeps_failing_is_announced_as_failed() {
    let f = Fixture::new();
    let kv = MemoryKv::default();
    let unavailable = || Attempt::Retry {
        reason: "SendGrid 503".into(),
        retry_after_secs: None,
    };
    let api = ScriptedApi::new(vec![unavailable(), unavailable(), unavailable()]);
    block_on(
        f.at(0)
            .handle(&registered(), &config("sendgrid"), &api, &SentLog(&kv), |_| {}),
    )
    .unwrap();
    assert_eq!(api.sent_to.borrow().len(), 3, "email_max_attempts tries");
    assert!(SentLog(&kv).recent(10).unwrap().is_empty());
    assert!(matches!(f.events().as_slice(), [Event::NotificationFailed(e)] if e.attempts == 3));
}

#[test]
fn the_sent_log_keeps_the_newest_entries_only() {
    let kv = MemoryKv::default();
    let log = SentLog(&kv);
    for n in 0..SENT_LOG_MAX + 3 {
        log.record(&SentEntry {
            id: format!("{n:06}"),
            event_id: "e".into(),
            to: "ana@example.com".into(),
            subject: "s".into(),
            template: "welcome".into(),
            provider: "log".into(),
            message_id: None,
            attempts: 1,
            sent_at: "t".into(),
            text: None,
            html: None,
        });
    }
    assert_eq!(kv.keys().unwrap().len(), SENT_LOG_MAX);
    let newest = log.recent(2).unwrap();
    let ids: Vec<&str> = newest.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [format!("{:06}", SENT_LOG_MAX + 2), format!("{:06}", SENT_LOG_MAX + 1)]
    );
    assert!(kv.get("sent:000000").is_none(), "the oldest went");
}

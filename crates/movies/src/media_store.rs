//! The movies' files on Cloudinary: signed server-side uploads (posters,
//! subtitles) and the destruction of assets no movie uses, through the
//! service's breaker around Cloudinary. What crosses the network is one
//! POST ([`CloudinaryApi`]): Spin's outbound HTTP within its deadline in
//! the component, an answer in memory in the tests — as the notifications
//! service's SendGrid client sits behind its `MailApi`.

use std::future::Future;

use streamia_api::ApiError;

use crate::breaker::{self, CloudinaryBreaker};
use crate::cloudinary::{Cloudinary, Stored};
use crate::media;

/// Cloudinary's status and body, or why there is none (unreachable, no
/// answer in time) for the log.
pub type Answer = Result<(u16, Vec<u8>), String>;

/// One POST to Cloudinary.
pub trait CloudinaryApi {
    fn post(&self, url: &str, content_type: &str, body: Vec<u8>) -> impl Future<Output = Answer>;
}

/// A file to store on Cloudinary.
pub struct File<'a> {
    /// Cloudinary's resource type: `image` or `raw`.
    pub kind: &'static str,
    pub public_id: String,
    pub name: String,
    pub mime: &'static str,
    pub bytes: &'a [u8],
}

/// The account, the way to it and the breaker around it, for one request.
pub struct MediaStore<'a, A: CloudinaryApi> {
    pub cloud: &'a Cloudinary,
    pub api: &'a A,
    pub breaker: &'a CloudinaryBreaker<'a>,
    pub request_id: &'a str,
    /// Unix seconds: what the signatures are made at.
    pub now: i64,
}

impl<A: CloudinaryApi> MediaStore<'_, A> {
    /// A POST through the breaker: refused at once (503 `media_unavailable`)
    /// while it is open; the answer, or why there is none.
    async fn post(
        &self,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Result<(u16, Vec<u8>), String>, ApiError> {
        let admission = self.breaker.admit()?;
        let answer = self.api.post(url, content_type, body).await;
        let failed = match &answer {
            Ok((status, _)) => breaker::answer_failed(*status),
            Err(_) => true,
        };
        self.breaker.record(admission, failed);
        Ok(answer)
    }

    /// A signed server-side upload; Cloudinary down or refusing is 503
    /// `media_unavailable`, naming it.
    pub async fn upload(&self, file: &File<'_>) -> Result<Stored, ApiError> {
        let unavailable = |why: String| {
            streamia_log::warn(
                crate::SERVICE,
                "cloudinary upload failed",
                serde_json::json!({"requestId": self.request_id, "publicId": file.public_id, "error": why}),
            );
            ApiError::DependencyUnavailable {
                dependency: breaker::NAME,
                code: "media_unavailable",
                message: "the media store did not take the file; try again".into(),
                retry_after: None,
            }
        };
        let boundary = format!(
            "streamia-{}",
            self.request_id.replace(|c: char| !c.is_ascii_alphanumeric(), "")
        );
        let form = self.cloud.upload_form(&file.public_id, self.now);
        let body = media::multipart_body(&boundary, &form, &file.name, file.mime, file.bytes);
        let content_type = format!("multipart/form-data; boundary={boundary}");
        let (status, answer) = self
            .post(&self.cloud.endpoint(file.kind, "upload"), &content_type, body)
            .await?
            .map_err(unavailable)?;
        Stored::from_answer(status, &answer).map_err(unavailable)
    }

    /// Destroy an asset: `Ok` once Cloudinary confirms it is gone (`ok`, or
    /// `not found`: gone already); why not otherwise, its breaker open
    /// included. The caller retries ([`crate::cleanup`]).
    pub async fn destroy(&self, kind: &str, public_id: &str) -> Result<(), String> {
        let form: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.cloud.destroy_form(public_id, self.now))
            .finish();
        let url = self.cloud.endpoint(kind, "destroy");
        let (status, body) = self
            .post(&url, "application/x-www-form-urlencoded", form.into_bytes())
            .await
            .map_err(|refused| refused.to_string())??;
        let result = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["result"].as_str().map(str::to_owned));
        match (status, result.as_deref()) {
            (200..=299, Some("ok" | "not found")) => Ok(()),
            (status, result) => Err(format!(
                "Cloudinary answered {status} ({})",
                result.unwrap_or("no result")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use streamia_db::MemoryDb;

    use super::*;

    fn block_on<F: Future>(future: F) -> F::Output {
        match pin!(future).as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("a fake never waits"),
        }
    }

    /// Answers each POST with the next scripted reply and keeps what it was sent.
    struct ScriptedCloudinary {
        replies: RefCell<Vec<Answer>>,
        sent: RefCell<Vec<(String, String, Vec<u8>)>>,
    }

    impl ScriptedCloudinary {
        fn new(mut replies: Vec<Answer>) -> Self {
            replies.reverse();
            ScriptedCloudinary {
                replies: RefCell::new(replies),
                sent: RefCell::new(Vec::new()),
            }
        }
    }

    impl CloudinaryApi for ScriptedCloudinary {
        async fn post(&self, url: &str, content_type: &str, body: Vec<u8>) -> Answer {
            self.sent
                .borrow_mut()
                .push((url.to_owned(), content_type.to_owned(), body));
            self.replies
                .borrow_mut()
                .pop()
                .expect("an unexpected call to Cloudinary")
        }
    }

    /// Runs `test` with a store over `api` for the account demo/1234/abcd,
    /// its breaker in a fresh database, signing at `now`.
    fn with_store<A: CloudinaryApi, R>(
        api: &A,
        request_id: &str,
        now: i64,
        test: impl FnOnce(&MediaStore<'_, A>) -> R,
    ) -> R {
        let db = MemoryDb::new();
        streamia_db::migrate(&db, crate::SERVICE, crate::MIGRATIONS).unwrap();
        let cloud = Cloudinary::configure("demo", "1234", "abcd", "https://api.cloudinary.com").unwrap();
        let breaker = CloudinaryBreaker {
            db: &db,
            config: breaker::config(5_000),
            now_ms: 1_000,
        };
        test(&MediaStore {
            cloud: &cloud,
            api,
            breaker: &breaker,
            request_id,
            now,
        })
    }

    fn poster() -> File<'static> {
        File {
            kind: "image",
            public_id: "streamia/m1/poster".into(),
            name: "poster.png".into(),
            mime: "image/png",
            bytes: b"\x89PNG",
        }
    }

    #[test]
    fn an_upload_is_a_signed_multipart_post_and_its_answer_the_stored_asset() {
        let api = ScriptedCloudinary::new(vec![Ok((
            200,
            br#"{"public_id":"streamia/m1/poster","secure_url":"https://res.cloudinary.com/demo/image/upload/streamia/m1/poster.png"}"#.to_vec(),
        ))]);
        with_store(&api, "req-1", 1_315_060_510, |store| {
            let stored = block_on(store.upload(&poster())).unwrap();
            assert_eq!(stored.public_id, "streamia/m1/poster");
        });
        let sent = api.sent.borrow();
        let (url, content_type, body) = &sent[0];
        assert_eq!(url, "https://api.cloudinary.com/v1_1/demo/image/upload");
        assert_eq!(content_type, "multipart/form-data; boundary=streamia-req1");
        let body = String::from_utf8_lossy(body);
        assert!(body.contains("name=\"signature\""), "{body}");
        assert!(body.contains("name=\"api_key\"\r\n\r\n1234"), "{body}");
        assert!(!body.contains("abcd"), "the secret never leaves");
    }

    #[test]
    fn cloudinary_failing_is_a_named_503_and_enough_failures_open_the_breaker() {
        let failures = (0..40).map(|_| Err("connection refused".to_owned())).collect();
        let api = ScriptedCloudinary::new(failures);
        with_store(&api, "r", 1, |store| {
            let mut refused_at_once = None;
            for attempt in 0..40 {
                match block_on(store.upload(&poster())) {
                    Err(ApiError::DependencyUnavailable {
                        code: "media_unavailable",
                        retry_after: None,
                        ..
                    }) => {}
                    Err(ApiError::DependencyUnavailable {
                        code: "media_unavailable",
                        retry_after: Some(_),
                        ..
                    }) => {
                        refused_at_once = Some(attempt);
                        break;
                    }
                    other => panic!("{other:?}"),
                }
            }
            let calls = api.sent.borrow().len();
            assert!(refused_at_once.is_some(), "the breaker never opened");
            assert_eq!(calls, refused_at_once.unwrap(), "an open breaker sends nothing");
            // Destroying while it is open is refused too, for a later retry.
            assert!(block_on(store.destroy("image", "streamia/m1/poster")).is_err());
            assert_eq!(api.sent.borrow().len(), calls);
        });
    }

    #[test]
    fn a_destroy_is_a_signed_form_post_confirmed_by_cloudinarys_result() {
        let api = ScriptedCloudinary::new(vec![
            Ok((200, br#"{"result":"ok"}"#.to_vec())),
            Ok((200, br#"{"result":"not found"}"#.to_vec())),
            Ok((500, br#"{"error":{"message":"General Error"}}"#.to_vec())),
            Err("no answer within 10000 ms".into()),
        ]);
        let outcomes = with_store(&api, "r", 1_315_060_510, |store| {
            (0..4)
                .map(|_| block_on(store.destroy("raw", "streamia/m1/subtitles/en.vtt")))
                .collect::<Vec<_>>()
        });
        assert_eq!(outcomes[0], Ok(()));
        assert_eq!(outcomes[1], Ok(()), "gone already is gone");
        assert!(outcomes[2].as_ref().unwrap_err().contains("500"), "{outcomes:?}");
        assert!(outcomes[3].as_ref().unwrap_err().contains("no answer"), "{outcomes:?}");
        let sent = api.sent.borrow();
        assert_eq!(sent[0].0, "https://api.cloudinary.com/v1_1/demo/raw/destroy");
        let form = String::from_utf8_lossy(&sent[0].2);
        assert!(form.contains("public_id=streamia%2Fm1%2Fsubtitles%2Fen.vtt"), "{form}");
        assert!(
            form.contains("timestamp=1315060510") && form.contains("signature="),
            "{form}"
        );
    }
}

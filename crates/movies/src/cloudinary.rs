//! Cloudinary, as its documentation defines the signatures:
//! - a signed request: the parameters (all but `file`, `cloud_name`,
//!   `resource_type`, `api_key`) sorted by name, joined as `k=v&k=v`, the API
//!   secret appended, SHA-1 in hex;
//! - a notification: SHA-1 hex of the raw body, then the `X-Cld-Timestamp`
//!   value, then the API secret.
//!
//! Videos go from the browser straight to Cloudinary with parameters signed
//! here ([`Cloudinary::video_upload`]); Cloudinary then notifies
//! `POST /api/movies/cloudinary/notify` ([`Cloudinary::verify_notification`]).

use serde::Serialize;
use sha1::{Digest, Sha1};
use streamia_api::ApiError;

/// A notification older than this is refused (replay protection).
pub const NOTIFICATION_MAX_AGE_SECS: i64 = 2 * 3600;
/// Public ids of a movie's assets live under this folder.
pub const FOLDER: &str = "streamia/movies";

#[derive(Debug, Clone, PartialEq)]
pub struct Cloudinary {
    pub cloud_name: String,
    pub api_key: String,
    api_secret: String,
    /// `https://api.cloudinary.com`, or a local fake in tests.
    pub base_url: String,
}

#[derive(Debug, PartialEq)]
pub enum NotificationError {
    MissingHeaders,
    Stale,
    BadSignature,
}

/// What the browser needs to upload a movie's video directly to Cloudinary.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VideoUpload {
    pub upload_url: String,
    pub cloud_name: String,
    pub api_key: String,
    pub resource_type: &'static str,
    pub timestamp: i64,
    pub public_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<String>,
    pub signature: String,
}

fn sha1_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha1::new();
    for p in parts {
        hasher.update(p);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compare without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Cloudinary {
    /// `None` (media not configured) unless cloud name, key and secret are all set.
    pub fn configure(cloud_name: &str, api_key: &str, api_secret: &str, base_url: &str) -> Option<Self> {
        let (cloud_name, api_key, api_secret) = (cloud_name.trim(), api_key.trim(), api_secret.trim());
        if cloud_name.is_empty() || api_key.is_empty() || api_secret.is_empty() {
            return None;
        }
        Some(Cloudinary {
            cloud_name: cloud_name.to_owned(),
            api_key: api_key.to_owned(),
            api_secret: api_secret.to_owned(),
            base_url: base_url.trim().trim_end_matches('/').to_owned(),
        })
    }

    /// The signature of a request with these parameters.
    pub fn sign(&self, params: &[(&str, &str)]) -> String {
        let mut signed: Vec<&(&str, &str)> = params
            .iter()
            .filter(|(k, v)| !matches!(*k, "file" | "cloud_name" | "resource_type" | "api_key") && !v.is_empty())
            .collect();
        signed.sort_by(|a, b| a.0.cmp(b.0));
        let joined = signed
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        sha1_hex(&[joined.as_bytes(), self.api_secret.as_bytes()])
    }

    pub fn endpoint(&self, resource_type: &str, action: &str) -> String {
        format!("{}/v1_1/{}/{resource_type}/{action}", self.base_url, self.cloud_name)
    }

    pub fn video_upload(&self, movie_id: &str, now: i64, notification_url: Option<&str>) -> VideoUpload {
        let public_id = video_public_id(movie_id);
        let timestamp = now.to_string();
        let notification_url = notification_url.map(str::to_owned).filter(|u| !u.is_empty());
        let mut params = vec![("public_id", public_id.as_str()), ("timestamp", timestamp.as_str())];
        if let Some(url) = &notification_url {
            params.push(("notification_url", url.as_str()));
        }
        VideoUpload {
            upload_url: self.endpoint("video", "upload"),
            cloud_name: self.cloud_name.clone(),
            api_key: self.api_key.clone(),
            resource_type: "video",
            timestamp: now,
            signature: self.sign(&params),
            public_id,
            notification_url,
        }
    }

    /// The form fields (besides `file`) of a signed upload to `public_id`,
    /// replacing what is there.
    pub fn upload_form(&self, public_id: &str, now: i64) -> Vec<(&'static str, String)> {
        let timestamp = now.to_string();
        let signature = self.sign(&[
            ("public_id", public_id),
            ("timestamp", &timestamp),
            ("overwrite", "true"),
        ]);
        vec![
            ("public_id", public_id.to_owned()),
            ("timestamp", timestamp),
            ("overwrite", "true".to_owned()),
            ("api_key", self.api_key.clone()),
            ("signature", signature),
        ]
    }

    /// The form fields of a signed `destroy` request for `public_id`.
    pub fn destroy_form(&self, public_id: &str, now: i64) -> Vec<(&'static str, String)> {
        let timestamp = now.to_string();
        let signature = self.sign(&[("public_id", public_id), ("timestamp", &timestamp)]);
        vec![
            ("public_id", public_id.to_owned()),
            ("timestamp", timestamp),
            ("api_key", self.api_key.clone()),
            ("signature", signature),
        ]
    }

    pub fn verify_notification(
        &self,
        body: &[u8],
        timestamp: Option<&str>,
        signature: Option<&str>,
        now: i64,
    ) -> Result<(), NotificationError> {
        let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
            return Err(NotificationError::MissingHeaders);
        };
        let sent: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| NotificationError::MissingHeaders)?;
        if now - sent > NOTIFICATION_MAX_AGE_SECS || sent - now > 300 {
            return Err(NotificationError::Stale);
        }
        let expected = sha1_hex(&[body, timestamp.trim().as_bytes(), self.api_secret.as_bytes()]);
        if same(&expected, &signature.trim().to_ascii_lowercase()) {
            Ok(())
        } else {
            Err(NotificationError::BadSignature)
        }
    }
}

pub fn video_public_id(movie_id: &str) -> String {
    format!("{FOLDER}/{movie_id}/video")
}

/// `streamia/movies/<id>/video` → `<id>`.
pub fn movie_of_video(public_id: &str) -> Option<&str> {
    let id = public_id
        .strip_prefix(FOLDER)?
        .strip_prefix('/')?
        .strip_suffix("/video")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// What a verified notification asks of the catalogue.
#[derive(Debug, PartialEq)]
pub enum Notice<'a> {
    /// Not a video upload: acknowledged, nothing to do.
    Ignored,
    VideoUploaded {
        movie_id: &'a str,
        url: &'a str,
        public_id: &'a str,
    },
}

/// A notification's JSON body, read once its signature was checked.
pub struct NotificationBody(serde_json::Value);

impl NotificationBody {
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        serde_json::from_slice(body)
            .map(NotificationBody)
            .map_err(|e| ApiError::BadRequest {
                code: "invalid_json",
                message: e.to_string(),
            })
    }

    /// An upload of a Streamia movie's video over https, or nothing to do.
    pub fn notice(&self) -> Result<Notice<'_>, ApiError> {
        let field = |name: &str| self.0.get(name).and_then(|v| v.as_str());
        if field("notification_type") != Some("upload") || field("resource_type") != Some("video") {
            return Ok(Notice::Ignored);
        }
        let public_id = field("public_id").ok_or_else(|| ApiError::validation("public_id", "is required"))?;
        let url = field("secure_url").ok_or_else(|| ApiError::validation("secure_url", "is required"))?;
        if !url.starts_with("https://") {
            return Err(ApiError::validation("secure_url", "must be an https URL"));
        }
        let movie_id = movie_of_video(public_id)
            .ok_or_else(|| ApiError::validation("public_id", "is not a Streamia movie video"))?;
        Ok(Notice::VideoUploaded {
            movie_id,
            url,
            public_id,
        })
    }
}

impl NotificationError {
    /// Every failure is 401: the sender is not (provably) Cloudinary.
    pub fn to_api_error(&self) -> ApiError {
        ApiError::Unauthorized(
            match self {
                NotificationError::MissingHeaders => "X-Cld-Timestamp and X-Cld-Signature are required",
                NotificationError::Stale => "the notification is too old",
                NotificationError::BadSignature => "the notification signature does not match",
            }
            .into(),
        )
    }
}

/// What Cloudinary answers to an upload (the fields we keep).
#[derive(Debug, PartialEq)]
pub struct Stored {
    pub public_id: String,
    pub secure_url: String,
}

impl Stored {
    /// Cloudinary's answer to a server-side upload; the error says why it
    /// is not a stored asset (for the log, not the client).
    pub fn from_answer(status: u16, body: &[u8]) -> Result<Self, String> {
        if !(200..300).contains(&status) {
            return Err(format!("status {status}: {}", String::from_utf8_lossy(body)));
        }
        let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        match (v["public_id"].as_str(), v["secure_url"].as_str()) {
            (Some(id), Some(url)) => Ok(Stored {
                public_id: id.to_owned(),
                secure_url: url.to_owned(),
            }),
            _ => Err("the answer lacks public_id or secure_url".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud() -> Cloudinary {
        Cloudinary::configure("demo", "1234", "abcd", "https://api.cloudinary.com/").unwrap()
    }

    #[test]
    fn unconfigured_media_is_none() {
        assert_eq!(Cloudinary::configure("", "k", "s", "https://x"), None);
        assert_eq!(Cloudinary::configure("c", "k", " ", "https://x"), None);
    }

    #[test]
    fn signatures_follow_cloudinarys_recipe() {
        // Cloudinary's published sanity check: "public_id=sample_image&timestamp=1315060510"
        // signed with the secret "abcd" is b4ad47fb4e25c7bf5f92a20089f9db59bc302313.
        let c = cloud();
        let sig = c.sign(&[
            ("timestamp", "1315060510"),
            ("public_id", "sample_image"),
            ("api_key", "1234"),
            ("file", "x"),
        ]);
        assert_eq!(sig, "b4ad47fb4e25c7bf5f92a20089f9db59bc302313");
    }

    #[test]
    fn video_uploads_are_signed_for_the_movie() {
        let up = cloud().video_upload(
            "m1",
            1_800_000_000,
            Some("https://streamia.example/api/movies/cloudinary/notify"),
        );
        assert_eq!(up.upload_url, "https://api.cloudinary.com/v1_1/demo/video/upload");
        assert_eq!(up.public_id, "streamia/movies/m1/video");
        let expected = sha1_hex(&[
            b"notification_url=https://streamia.example/api/movies/cloudinary/notify&public_id=streamia/movies/m1/video&timestamp=1800000000abcd",
        ]);
        assert_eq!(up.signature, expected);
        assert_eq!(movie_of_video(&up.public_id), Some("m1"));
        assert_eq!(movie_of_video("other/m1/video"), None);
        assert_eq!(movie_of_video("streamia/movies/a/b/video"), None);
    }

    #[test]
    fn notifications_need_a_fresh_valid_signature() {
        let c = cloud();
        let body = br#"{"notification_type":"upload","public_id":"streamia/movies/m1/video"}"#;
        let sig = sha1_hex(&[body, b"1800000000", b"abcd"]);
        assert_eq!(
            c.verify_notification(body, Some("1800000000"), Some(&sig), 1_800_000_100),
            Ok(())
        );
        assert_eq!(
            c.verify_notification(body, Some("1800000000"), Some(&sig.to_uppercase()), 1_800_000_100),
            Ok(())
        );
        assert_eq!(
            c.verify_notification(b"{}", Some("1800000000"), Some(&sig), 1_800_000_100),
            Err(NotificationError::BadSignature)
        );
        assert_eq!(
            c.verify_notification(
                body,
                Some("1800000000"),
                Some(&sig),
                1_800_000_000 + NOTIFICATION_MAX_AGE_SECS + 1
            ),
            Err(NotificationError::Stale)
        );
        assert_eq!(
            c.verify_notification(body, None, Some(&sig), 0),
            Err(NotificationError::MissingHeaders)
        );
    }

    #[test]
    fn notifications_name_a_streamia_video_over_https_or_are_ignored() {
        let notice = |v: serde_json::Value| {
            let body = NotificationBody::parse(v.to_string().as_bytes()).unwrap();
            body.notice().map(|n| format!("{n:?}")).map_err(|e| e.status())
        };
        let upload = |public_id: &str, url: &str| serde_json::json!({"notification_type": "upload", "resource_type": "video", "public_id": public_id, "secure_url": url});
        assert!(notice(upload("streamia/movies/m1/video", "https://res/v.mp4"))
            .unwrap()
            .contains("movie_id: \"m1\""));
        assert_eq!(notice(upload("streamia/movies/m1/video", "http://res/v.mp4")), Err(400));
        assert_eq!(notice(upload("elsewhere/m1/video", "https://res/v.mp4")), Err(400));
        assert_eq!(
            notice(serde_json::json!({"notification_type": "delete", "resource_type": "video"})),
            Ok("Ignored".into())
        );
        assert_eq!(NotificationBody::parse(b"{").err().map(|e| e.status()), Some(400));
    }

    #[test]
    fn an_upload_answer_is_kept_only_when_it_names_the_asset() {
        let ok = br#"{"public_id":"streamia/movies/m1/poster","secure_url":"https://res/p.jpg"}"#;
        assert_eq!(
            Stored::from_answer(200, ok).unwrap(),
            Stored {
                public_id: "streamia/movies/m1/poster".into(),
                secure_url: "https://res/p.jpg".into()
            }
        );
        assert!(Stored::from_answer(401, b"{}").unwrap_err().contains("401"));
        assert!(Stored::from_answer(200, br#"{"public_id":"x"}"#).is_err());
        assert!(Stored::from_answer(200, b"<html>").is_err());
    }
}

//! Poster and subtitle uploads: reading the client's multipart form, checking
//! each file by its content (not by what the client claims), and the signed
//! multipart request that passes it on to Cloudinary.

use streamia_api::{ApiError, FieldError};

pub const MAX_POSTER_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_SUBTITLE_BYTES: usize = 1024 * 1024;
/// A form may carry little besides the file.
const MAX_FIELDS: usize = 8;

pub struct Part {
    pub name: String,
    pub file_name: Option<String>,
    pub bytes: Vec<u8>,
}

/// The parts of a `multipart/form-data` body, each bounded by `max_part`.
pub async fn read_form(content_type: Option<&str>, body: Vec<u8>, max_part: usize) -> Result<Vec<Part>, ApiError> {
    let bad = |message: String| ApiError::BadRequest {
        code: "invalid_multipart",
        message,
    };
    let boundary = content_type
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| bad("expected multipart/form-data with a boundary".into()))?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes::Bytes::from(body)) });
    let constraints = multer::Constraints::new().size_limit(multer::SizeLimit::new().per_field(max_part as u64 + 1));
    let mut form = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut parts = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| bad(e.to_string()))? {
        if parts.len() == MAX_FIELDS {
            return Err(bad(format!("at most {MAX_FIELDS} form fields")));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|e| match e {
            multer::Error::FieldSizeExceeded { .. } => ApiError::PayloadTooLarge { limit: max_part },
            other => bad(other.to_string()),
        })?;
        if bytes.len() > max_part {
            return Err(ApiError::PayloadTooLarge { limit: max_part });
        }
        parts.push(Part {
            name,
            file_name,
            bytes: bytes.to_vec(),
        });
    }
    Ok(parts)
}

fn field<'a>(parts: &'a [Part], name: &str) -> Option<&'a Part> {
    parts.iter().find(|p| p.name == name)
}

/// A form holds only the fields its route takes (the API contract says so:
/// no other property).
fn only(parts: &[Part], names: &[&str]) -> Result<(), ApiError> {
    let unknown: Vec<_> = parts
        .iter()
        .filter(|p| !names.contains(&p.name.as_str()))
        .map(|p| {
            FieldError::new(
                &p.name,
                format!("is not a field of this form (it takes {})", names.join(", ")),
            )
        })
        .collect();
    match unknown.is_empty() {
        true => Ok(()),
        false => Err(ApiError::Validation(unknown)),
    }
}

#[derive(Debug, PartialEq)]
pub struct Poster {
    pub bytes: Vec<u8>,
    pub mime: &'static str,
    pub extension: &'static str,
}

/// A file the form holds that is not what the route takes: a rule of the
/// domain (422 `unsupported_file`), where a missing field or a malformed
/// one is a 400.
fn unsupported(message: &str) -> ApiError {
    ApiError::Unprocessable {
        code: "unsupported_file",
        message: format!("file: {message}"),
    }
}

/// The `file` field must be a JPEG, PNG or WebP image (checked by its bytes).
pub fn poster(parts: &[Part]) -> Result<Poster, ApiError> {
    only(parts, &["file"])?;
    let file = field(parts, "file").ok_or_else(|| ApiError::validation("file", "is required"))?;
    if file.bytes.len() > MAX_POSTER_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_POSTER_BYTES,
        });
    }
    let b = &file.bytes;
    let (mime, extension) = if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        ("image/jpeg", "jpg")
    } else if b.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        ("image/png", "png")
    } else if b.len() > 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        ("image/webp", "webp")
    } else {
        return Err(unsupported("must be a JPEG, PNG or WebP image"));
    };
    Ok(Poster {
        bytes: file.bytes.clone(),
        mime,
        extension,
    })
}

#[derive(Debug, PartialEq)]
pub struct SubtitleFile {
    /// Always WebVTT: an `.srt` is converted on the way in.
    pub bytes: Vec<u8>,
    pub language: String,
}

/// `ab`, `abc`, or with a region or script: `pt-BR`, `zh-Hant`
/// (`^[a-z]{2,3}(-[A-Za-z0-9]{2,4})?$`).
pub fn language_code(raw: &str) -> Option<String> {
    let (lang, rest) = raw.split_once('-').map_or((raw, None), |(l, r)| (l, Some(r)));
    let lang_ok = (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_lowercase());
    let rest_ok = rest.is_none_or(|r| (2..=4).contains(&r.len()) && r.chars().all(|c| c.is_ascii_alphanumeric()));
    (lang_ok && rest_ok).then(|| raw.to_owned())
}

/// The `file` field must be a UTF-8 `.vtt` (starting `WEBVTT`) or `.srt`
/// file; `language` a language code. An `.srt` is stored as WebVTT, the
/// only format a browser's `<track>` plays.
pub fn subtitle(parts: &[Part]) -> Result<SubtitleFile, ApiError> {
    only(parts, &["file", "language"])?;
    let mut errors = Vec::new();
    let language = field(parts, "language")
        .and_then(|p| std::str::from_utf8(&p.bytes).ok())
        .and_then(language_code);
    if language.is_none() {
        errors.push(FieldError::new(
            "language",
            "is required: a language code like en, es or pt-BR",
        ));
    }
    let file = field(parts, "file");
    if file.is_none() {
        errors.push(FieldError::new("file", "is required"));
    }
    let (Some(language), Some(file), true) = (language, file, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let extension = file
        .file_name
        .as_deref()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    let Some(ext @ ("vtt" | "srt")) = extension.as_deref() else {
        return Err(unsupported("must be a .vtt or .srt file"));
    };
    if file.bytes.len() > MAX_SUBTITLE_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_SUBTITLE_BYTES,
        });
    }
    let bytes = match std::str::from_utf8(&file.bytes) {
        Ok(text) if ext == "vtt" && !text.trim_start_matches('\u{feff}').starts_with("WEBVTT") => {
            return Err(unsupported("a .vtt file must start with WEBVTT"))
        }
        Ok(text) if text.trim().is_empty() => return Err(unsupported("is empty")),
        Ok(text) if ext == "srt" => srt_to_webvtt(text).into_bytes(),
        Ok(_) => file.bytes.clone(),
        Err(_) => return Err(unsupported("must be UTF-8 text")),
    };
    Ok(SubtitleFile { bytes, language })
}

/// SubRip as WebVTT: the header, and cue times with a dot before the
/// milliseconds (`00:00:01,000` → `00:00:01.000`); SubRip's cue numbers
/// are valid WebVTT cue identifiers and stay.
pub fn srt_to_webvtt(srt: &str) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for line in srt.trim_start_matches('\u{feff}').lines() {
        if line.contains("-->") {
            out.push_str(&line.replace(',', "."));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// A `multipart/form-data` body: text fields, then the file.
pub fn multipart_body(boundary: &str, fields: &[(&str, String)], file_name: &str, mime: &str, file: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(file.len() + 512);
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {mime}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDARY: &str = "XyZ123";

    fn form(fields: &[(&str, String)], file_name: &str, file: &[u8]) -> Vec<Part> {
        let body = multipart_body(BOUNDARY, fields, file_name, "application/octet-stream", file);
        futures_executor::block_on(read_form(
            Some(&format!("multipart/form-data; boundary={BOUNDARY}")),
            body,
            2 * MAX_POSTER_BYTES,
        ))
        .unwrap()
    }

    #[test]
    fn multipart_round_trip() {
        let parts = form(
            &[("language", "es".into())],
            "a.vtt",
            b"WEBVTT\n\n00:00.000 --> 00:01.000\nHola",
        );
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "language");
        assert_eq!(parts[1].file_name.as_deref(), Some("a.vtt"));
        assert_eq!(parts[1].bytes, b"WEBVTT\n\n00:00.000 --> 00:01.000\nHola");
    }

    #[test]
    fn posters_are_checked_by_content() {
        assert_eq!(
            poster(&form(&[], "p.jpg", &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2]))
                .unwrap()
                .mime,
            "image/jpeg"
        );
        let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0];
        assert_eq!(poster(&form(&[], "p.png", &png)).unwrap().extension, "png");
        assert_eq!(
            poster(&form(&[], "evil.jpg", b"<script>alert(1)</script>"))
                .unwrap_err()
                .status(),
            422,
            "not an image: a well-formed form with a file the route does not take"
        );
        let big = vec![0xFF; MAX_POSTER_BYTES + 1];
        assert_eq!(poster(&form(&[], "big.jpg", &big)).unwrap_err().status(), 413);
        assert_eq!(poster(&[]).unwrap_err().status(), 400);
        let extra = form(&[("caption", "x".into())], "p.jpg", &[0xFF, 0xD8, 0xFF, 0xE0]);
        assert_eq!(
            poster(&extra).unwrap_err().status(),
            400,
            "a field the form does not take"
        );
    }

    #[test]
    fn subtitles_need_a_language_and_a_vtt_or_srt_file() {
        let ok = subtitle(&form(
            &[("language", "pt-BR".into())],
            "x.srt",
            b"1\n00:00:01,000 --> 00:00:02,000\nOi",
        ))
        .unwrap();
        assert_eq!(ok.language, "pt-BR");
        assert_eq!(
            String::from_utf8(ok.bytes).unwrap(),
            "WEBVTT\n\n1\n00:00:01.000 --> 00:00:02.000\nOi\n",
            "an .srt is stored as WebVTT"
        );
        for (lang, name, body, status) in [
            ("", "x.vtt", &b"WEBVTT\n"[..], 400),
            ("english", "x.vtt", b"WEBVTT\n", 400),
            (" en", "x.vtt", b"WEBVTT\n", 400),
            ("en", "x.txt", b"hello", 422),
            ("en", "x.vtt", b"not a vtt", 422),
            ("en", "x.srt", &[0xFF, 0xFE, 0x00][..], 422),
        ] {
            assert_eq!(
                subtitle(&form(&[("language", lang.into())], name, body))
                    .unwrap_err()
                    .status(),
                status,
                "{lang} {name}"
            );
        }
        assert_eq!(subtitle(&[]).unwrap_err().status(), 400, "no fields");
    }

    #[test]
    fn bad_forms_are_400_not_500() {
        let r = futures_executor::block_on(read_form(Some("application/json"), b"{}".to_vec(), 10));
        assert_eq!(r.err().map(|e| e.status()), Some(400));
        let r = futures_executor::block_on(read_form(
            Some("multipart/form-data; boundary=x"),
            b"garbage".to_vec(),
            10,
        ));
        assert_eq!(r.err().map(|e| e.status()), Some(400));
    }
}

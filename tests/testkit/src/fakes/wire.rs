//! What the fake servers read off the wire: one HTTP/1.1 request parsed by
//! `httparse` (body framed by Content-Length or chunked), and the parts of
//! a multipart/form-data body parsed by `multer`, the parser the movies
//! service itself uses.

use std::io::Read;
use std::net::TcpStream;

/// A request as a fake server received it (header names lower-cased).
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Read one request; `None` if the client sent no complete request head.
pub fn read_request(stream: &mut TcpStream) -> Option<Incoming> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_len, method, path, headers) = loop {
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut slots);
        if let httparse::Status::Complete(len) = req.parse(&buf).ok()? {
            let headers = req
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).trim().to_owned(),
                    )
                })
                .collect::<Vec<_>>();
            break (len, req.method?.to_owned(), req.path?.to_owned(), headers);
        }
    };
    let mut incoming = Incoming {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let mut rest = buf.split_off(head_len);
    let chunked = incoming
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        incoming.body = read_chunked(stream, rest);
    } else {
        let length = incoming
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while rest.len() < length {
            let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(length);
        incoming.body = rest;
    }
    Some(incoming)
}

/// A chunked body: chunk sizes parsed by `httparse::parse_chunk_size`.
fn read_chunked(stream: &mut TcpStream, mut buf: Vec<u8>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut more = |buf: &mut Vec<u8>| {
        let mut chunk = [0u8; 8192];
        match stream.read(&mut chunk) {
            Ok(n) if n > 0 => {
                buf.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    };
    loop {
        let (start, size) = match httparse::parse_chunk_size(&buf) {
            Ok(httparse::Status::Complete((start, size))) => (start, size as usize),
            Ok(httparse::Status::Partial) if more(&mut buf) => continue,
            _ => return body,
        };
        if size == 0 {
            return body;
        }
        // The chunk's data and its trailing CRLF.
        while buf.len() < start + size + 2 {
            if !more(&mut buf) {
                return body;
            }
        }
        body.extend_from_slice(&buf[start..start + size]);
        buf.drain(..start + size + 2);
    }
}

/// `(name, value)` of each part of a multipart/form-data body; nothing if
/// it is not one.
pub fn multipart_fields(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Ok(boundary) = multer::parse_boundary(content_type) else {
        return Vec::new();
    };
    let body = bytes::Bytes::copy_from_slice(body);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    futures_executor::block_on(async {
        let mut fields = Vec::new();
        while let Ok(Some(field)) = form.next_field().await {
            let name = field.name().unwrap_or_default().to_owned();
            match field.bytes().await {
                Ok(value) => fields.push((name, value.to_vec())),
                Err(_) => break,
            }
        }
        fields
    })
}

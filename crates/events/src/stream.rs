//! The Redis transport's durable log. Every event is appended to one Redis
//! Stream, [`STREAM`], trimmed to about `event_stream_maxlen` entries, and
//! its channel `streamia.<event type>` is rung as a doorbell (the message is
//! the event id; consumers read the stream, never the message). Each
//! consuming service reads through its own consumer group, named after it:
//! entries new to the group, and entries another reader took but did not
//! acknowledge for a while (it failed, or died). Replicas of one service
//! share its group, so each entry goes to one of them; a service that was
//! down finds in its group everything it missed. An entry is acknowledged
//! once it is applied, known, or parked as a dead letter.

use spin_sdk::redis::{Connection, RedisParameter, RedisResult};

use crate::drain::{ConsumerGroup, Entry, START};
use crate::Envelope;

/// The stream every service appends to.
pub const STREAM: &str = "streamia:events";
/// The one field of an entry: the envelope's JSON.
const FIELD: &[u8] = b"e";

/// Entries one read takes: few, so that what a reader holds is applied
/// well within the retry base, before another reader may reclaim it.
const BATCH: i64 = 20;

fn bytes(s: &str) -> RedisParameter {
    RedisParameter::Binary(s.as_bytes().to_vec())
}

fn text(r: &RedisResult) -> Option<&[u8]> {
    match r {
        RedisResult::Binary(b) => Some(b),
        RedisResult::Status(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The entries in an `XREADGROUP` or `XAUTOCLAIM` reply as Spin hands it
/// over: nested arrays flattened, so `stream-or-cursor, id, "e", json, id,
/// "e", json, …` and, for `XAUTOCLAIM`, the ids of entries trimmed away at
/// the end (an id not followed by our field), which are skipped.
pub fn entries(reply: &[RedisResult]) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut i = 1;
    while i < reply.len() {
        let field = reply.get(i + 1).and_then(text);
        match (text(&reply[i]), field, reply.get(i + 2).and_then(text)) {
            (Some(id), Some(FIELD), Some(body)) => {
                out.push(Entry {
                    id: String::from_utf8_lossy(id).into_owned(),
                    body: body.to_vec(),
                });
                i += 3;
            }
            _ => i += 1,
        }
    }
    out
}

fn redis_error(what: &str, e: impl std::fmt::Debug) -> String {
    format!("redis {what}: {e:?}")
}

/// Append `envelope` to the stream, then ring its doorbell. Once appended
/// the event is safe: a doorbell that fails to ring is made up for by the
/// next event or the relay.
pub fn append(address: &str, envelope: &Envelope, max_len: u64) -> Result<(), String> {
    let conn = Connection::open(address).map_err(|e| redis_error("connect", e))?;
    conn.execute(
        "XADD",
        &[
            bytes(STREAM),
            bytes("MAXLEN"),
            bytes("~"),
            RedisParameter::Int64(i64::try_from(max_len).unwrap_or(i64::MAX)),
            bytes("*"),
            RedisParameter::Binary(FIELD.to_vec()),
            RedisParameter::Binary(envelope.to_json().into_bytes()),
        ],
    )
    .map_err(|e| redis_error("XADD", e))?;
    if let Err(e) = conn.publish(&crate::channel(&envelope.event_type), envelope.event_id.as_bytes()) {
        let fields = streamia_log::json!({"eventType": envelope.event_type, "error": format!("{e:?}")});
        streamia_log::warn(&envelope.source, "doorbell not rung", fields);
    }
    Ok(())
}

/// Whether Redis at `address` answers (a service's readiness).
pub fn ping(address: &str) -> Result<(), String> {
    let conn = Connection::open(address).map_err(|e| redis_error("connect", e))?;
    conn.execute("PING", &[])
        .map(|_| ())
        .map_err(|e| redis_error("PING", e))
}

/// A service's consumer group on the stream.
pub struct Group {
    conn: Connection,
    name: String,
}

impl Group {
    pub fn open(address: &str, service: &str) -> Result<Self, String> {
        Ok(Group {
            conn: Connection::open(address).map_err(|e| redis_error("connect", e))?,
            name: service.to_owned(),
        })
    }

    /// `XGROUP CREATE … 0 MKSTREAM`: a group made now starts at the
    /// beginning of what the stream holds, so nothing published before a
    /// service first ran is missed. "Already exists" is not an error.
    fn create(&self) -> Result<(), String> {
        match self.conn.execute(
            "XGROUP",
            &[
                bytes("CREATE"),
                bytes(STREAM),
                bytes(&self.name),
                bytes("0"),
                bytes("MKSTREAM"),
            ],
        ) {
            Ok(_) => Ok(()),
            Err(e) if format!("{e:?}").contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(redis_error("XGROUP CREATE", e)),
        }
    }
}

impl ConsumerGroup for Group {
    fn new_entries(&self) -> Result<Vec<Entry>, String> {
        let read = || {
            self.conn.execute(
                "XREADGROUP",
                &[
                    bytes("GROUP"),
                    bytes(&self.name),
                    bytes(&self.name),
                    bytes("COUNT"),
                    RedisParameter::Int64(BATCH),
                    bytes("STREAMS"),
                    bytes(STREAM),
                    bytes(">"),
                ],
            )
        };
        let reply = match read() {
            Err(e) if format!("{e:?}").contains("NOGROUP") => {
                self.create()?;
                read()
            }
            other => other,
        }
        .map_err(|e| redis_error("XREADGROUP", e))?;
        Ok(entries(&reply))
    }

    fn stale_entries(&self, min_idle_ms: i64, cursor: &str) -> Result<(String, Vec<Entry>), String> {
        let reply = self.conn.execute(
            "XAUTOCLAIM",
            &[
                bytes(STREAM),
                bytes(&self.name),
                bytes(&self.name),
                RedisParameter::Int64(min_idle_ms),
                bytes(cursor),
                bytes("COUNT"),
                RedisParameter::Int64(BATCH),
            ],
        );
        match reply {
            Ok(reply) => {
                let next = reply.first().and_then(text).map(String::from_utf8_lossy);
                Ok((
                    next.map_or_else(|| START.to_owned(), |c| c.into_owned()),
                    entries(&reply),
                ))
            }
            // No group yet: nothing was ever taken.
            Err(e) if format!("{e:?}").contains("NOGROUP") => Ok((START.to_owned(), Vec::new())),
            Err(e) => Err(redis_error("XAUTOCLAIM", e)),
        }
    }

    fn ack(&self, ids: &[&str]) -> Result<(), String> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut args = vec![bytes(STREAM), bytes(&self.name)];
        args.extend(ids.iter().map(|id| bytes(id)));
        self.conn
            .execute("XACK", &args)
            .map(|_| ())
            .map_err(|e| redis_error("XACK", e))
    }

    fn ring(&self, event_type: &str) {
        if let Err(e) = self.conn.publish(&crate::channel(event_type), b"more") {
            streamia_log::warn(
                &self.name,
                "doorbell not rung",
                streamia_log::json!({"error": format!("{e:?}")}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> RedisResult {
        RedisResult::Binary(s.as_bytes().to_vec())
    }

    #[test]
    fn flattened_readgroup_replies_give_their_entries() {
        let reply = vec![
            b(STREAM),
            b("1-0"),
            b("e"),
            b("{\"a\":1}"),
            b("2-0"),
            b("e"),
            b("{\"b\":2}"),
        ];
        let got = entries(&reply);
        assert_eq!(
            got,
            vec![
                Entry {
                    id: "1-0".into(),
                    body: b"{\"a\":1}".to_vec()
                },
                Entry {
                    id: "2-0".into(),
                    body: b"{\"b\":2}".to_vec()
                },
            ]
        );
        assert!(entries(&[RedisResult::Nil]).is_empty(), "nothing new");
        assert!(entries(&[]).is_empty());
    }

    #[test]
    fn autoclaim_replies_skip_the_cursor_and_trimmed_ids() {
        // cursor, one entry, then the id of an entry trimmed from the stream
        let reply = vec![b("0-0"), b("5-0"), b("e"), b("{}"), b("3-0")];
        let got = entries(&reply);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, "5-0");
        // a pending entry whose fields are gone (older servers): id, nil
        let reply = vec![b(STREAM), b("4-0"), RedisResult::Nil, b("6-0"), b("e"), b("{}")];
        assert_eq!(
            entries(&reply).iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            vec!["6-0"]
        );
    }
}

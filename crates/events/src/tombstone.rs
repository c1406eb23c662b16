//! What a deletion saga leaves behind: the ids of deleted users and movies,
//! so a request that races the saga (a token issued before the account was
//! deleted, a movie checked just before it went) cannot recreate what the
//! saga cleared.

use streamia_db::{Db, DbError};

/// The tombstone table of `service`, for its migrations.
#[macro_export]
macro_rules! tombstone_schema {
    ($service:literal) => {
        [concat!(
            "CREATE TABLE ",
            $service,
            "_tombstones (kind TEXT NOT NULL, id TEXT NOT NULL, buried_at TEXT NOT NULL, PRIMARY KEY (kind, id))"
        )]
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Movie,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Movie => "movie",
        }
    }
}

/// Record that `id` is gone (idempotent).
pub fn bury(db: &dyn Db, service: &str, kind: Kind, id: &str, now: streamia_clock::Now) -> Result<(), DbError> {
    db.execute(
        &format!("INSERT OR IGNORE INTO {service}_tombstones (kind, id, buried_at) VALUES (?, ?, ?)"),
        &[kind.as_str().into(), id.into(), now.rfc3339().into()],
    )?;
    Ok(())
}

pub fn is_buried(db: &dyn Db, service: &str, kind: Kind, id: &str) -> Result<bool, DbError> {
    let rows = db.execute(
        &format!("SELECT 1 FROM {service}_tombstones WHERE kind = ? AND id = ?"),
        &[kind.as_str().into(), id.into()],
    )?;
    Ok(!rows.is_empty())
}

#[cfg(test)]
mod tests {
    const NOW: streamia_clock::Now = streamia_clock::Now::at(1_800_000_000);
    use super::*;
    use streamia_db::MemoryDb;

    #[test]
    fn buried_ids_are_remembered_per_kind() {
        let db = MemoryDb::new();
        streamia_db::migrate(&db, "s", &[&crate::tombstone_schema!("s")]).unwrap();
        assert!(!is_buried(&db, "s", Kind::User, "u1").unwrap());
        bury(&db, "s", Kind::User, "u1", NOW).unwrap();
        bury(&db, "s", Kind::User, "u1", NOW).unwrap();
        assert!(is_buried(&db, "s", Kind::User, "u1").unwrap());
        assert!(!is_buried(&db, "s", Kind::Movie, "u1").unwrap());
    }
}

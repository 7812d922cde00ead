//! [`Engine`]: what an open database provides to the rest of the store, and
//! all that differs between SQLite and PostgreSQL.
//!
//! Two handles implement it: [`SqliteDb`](crate::sqlite::SqliteDb) (a
//! one-connection write pool and a read pool) and
//! [`PgDb`](crate::postgres::PgDb) (one pool, and a probe connection for
//! pings). Everything the backends do alike is written once on top of it:
//! the reads, acceptances and appeals in [`Ops`](crate::ops::Ops), the
//! group commit in [`writer`](crate::writer). A method belongs here only
//! when its SQL or its mechanics differ between the two; each
//! implementation says why.

use std::future::Future;

use sqlx::{Database, Pool, Transaction};

use crate::acceptance::AcceptanceRecord;
use crate::record::ApplicationRecord;

/// An open database of one backend.
pub(crate) trait Engine: Send + Sync + 'static {
    /// The sqlx database.
    type Db: Database;

    /// The pool reads go to.
    fn reads(&self) -> &Pool<Self::Db>;

    /// Begins a write transaction. SQLite: `BEGIN IMMEDIATE` on the
    /// one-connection write pool (the write lock is taken up front, so no
    /// lock upgrade can fail half-way); PostgreSQL: `BEGIN` (READ
    /// COMMITTED, which the statements in [`Ops`](crate::ops::Ops) rely
    /// on: each statement sees every commit made before it started).
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;

    /// Rows changed by a statement (sqlx has no trait for it).
    fn rows_affected(result: &<Self::Db as Database>::QueryResult) -> u64;

    /// Runs one statement without arguments (the writer's savepoints).
    /// The same line on both backends: here, the writer (generic over the
    /// engine) needs none of sqlx's generic bounds.
    fn execute<'a>(
        tx: &'a mut Transaction<'static, Self::Db>,
        sql: &'static str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'a;

    /// Inserts `records` (applications, then offers, then channel
    /// reports) for the group-commit writer.
    fn insert<'a>(
        tx: &'a mut Transaction<'static, Self::Db>,
        records: &'a [&'a ApplicationRecord],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'a;

    /// Leases up to `limit` due outbox rows to `owner` until
    /// `lease_until_ms`, counting an attempt on each; returns each leased
    /// row's `(acceptance_id, next_attempt_ms)`, in no particular order.
    /// Two callers never lease the same row.
    fn lease_due<'a>(
        tx: &'a mut Transaction<'static, Self::Db>,
        owner: &'a str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<(String, i64)>, sqlx::Error>> + Send + 'a;

    /// The acceptances `ids` (every one exists), in the order of `ids`.
    fn acceptances_by_ids<'a>(
        tx: &'a mut Transaction<'static, Self::Db>,
        ids: &'a [&'a str],
    ) -> impl Future<Output = Result<Vec<AcceptanceRecord>, sqlx::Error>> + Send + 'a;

    /// The statement leasing due webhook events: `$1` owner, `$2` now_ms,
    /// `$3` lease_until_ms, `$4` limit; returns the leased events' columns
    /// (see `event::event`). Two callers never lease the same row.
    fn lease_events_sql() -> &'static str;

    /// A statement locking the application row (`$1` application_id, `$2`
    /// tenant) until the transaction ends, so that two transactions
    /// enqueueing events of one application number them one after the
    /// other; `None` where the write transaction already excludes every
    /// other writer (SQLite).
    fn lock_application_sql() -> Option<&'static str>;

    /// `SELECT 1`, for [`Store::ping`](crate::Store::ping).
    fn ping(&self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Closes the pools (and any connection of its own).
    fn close(&self) -> impl Future<Output = ()> + Send;
}

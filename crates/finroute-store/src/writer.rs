//! The group-commit writer: one task owns every write.
//!
//! Callers put their [`ApplicationRecord`] on a bounded channel with a
//! oneshot for the answer and wait. The writer takes whatever is queued (up
//! to `max_batch` records), writes it all in one transaction, commits, and
//! answers every caller. One commit (one fsync) is thus shared by as many
//! records as arrived while the previous commit was running: under load the
//! batches grow by themselves, idle the latency is one transaction.
//!
//! A record that breaks a constraint (a duplicate request_id, say) must not
//! sink the others. The batch is first tried as a whole (the fast path, one
//! statement per table on PostgreSQL). If that fails with a constraint
//! violation, it is rolled back and written again in one transaction with a
//! savepoint around each record: a failing record is rolled back to its
//! savepoint and gets its own error, the others commit together. Any other
//! failure (connection lost, disk full, commit refused) fails the whole
//! batch, and every caller gets a copy of the error.
//!
//! The bounded channel is the back-pressure: when the writer falls behind,
//! callers wait in `send` instead of growing memory. A caller that goes away
//! after its record was queued does not cancel the write.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Transaction;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::engine::Engine;
use crate::error::{StoreError, is_record_error, replicate, unreachable};
use crate::record::ApplicationRecord;

/// A record waiting for its group commit, with the way back to its caller.
pub(crate) struct Pending {
    pub(crate) record: ApplicationRecord,
    pub(crate) reply: oneshot::Sender<Result<(), StoreError>>,
}

/// Counters of the writer, read by [`Store::stats`](crate::Store::stats).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) batches: AtomicU64,
    pub(crate) records: AtomicU64,
}

/// The handles of a running writer.
pub(crate) struct WriterHandle {
    pub(crate) queue: mpsc::Sender<Pending>,
    pub(crate) shutdown: Arc<Notify>,
    pub(crate) task: JoinHandle<()>,
}

/// Starts the writer task on `engine`.
/// `reachable` is what the store's last ping found: while false, a batch
/// fails at once (and one waiting for a connection stops waiting) instead
/// of making every record queued behind it wait out the pool's acquire
/// timeout in turn.
pub(crate) fn spawn<B: Engine>(
    engine: B,
    max_batch: usize,
    counters: Arc<Counters>,
    reachable: watch::Receiver<bool>,
) -> WriterHandle {
    let max_batch = max_batch.max(1);
    let (queue, rx) = mpsc::channel(max_batch.saturating_mul(4));
    let shutdown = Arc::new(Notify::new());
    let engine = Gated { engine, reachable };
    let task = tokio::spawn(run(engine, rx, max_batch, counters, Arc::clone(&shutdown)));
    WriterHandle {
        queue,
        shutdown,
        task,
    }
}

/// An engine whose [`begin`](Gated::begin) gives up as soon as the store
/// is known to be unreachable. Only the wait for a connection is cut short:
/// a transaction that has begun runs to its end (or its connection's).
struct Gated<B> {
    engine: B,
    reachable: watch::Receiver<bool>,
}

impl<B: Engine> Gated<B> {
    async fn begin(&self) -> Result<Transaction<'static, B::Db>, sqlx::Error> {
        let mut reachable = self.reachable.clone();
        tokio::select! {
            biased;
            // Not when the store (the sender) is gone: its queue is still
            // written.
            Ok(_) = reachable.wait_for(|up| !*up) => Err(unreachable()),
            tx = self.engine.begin_write() => tx,
        }
    }
}

/// The writer loop. Ends when every sender is gone, or on `shutdown`: then
/// the channel is closed to new records and what is already queued is still
/// written before the task ends.
async fn run<B: Engine>(
    engine: Gated<B>,
    mut rx: mpsc::Receiver<Pending>,
    max_batch: usize,
    counters: Arc<Counters>,
    shutdown: Arc<Notify>,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    let mut draining = false;
    loop {
        let received = if draining {
            rx.recv_many(&mut batch, max_batch).await
        } else {
            tokio::select! {
                biased;
                () = shutdown.notified() => {
                    // No new sends succeed from here; queued ones are kept.
                    rx.close();
                    draining = true;
                    continue;
                }
                n = rx.recv_many(&mut batch, max_batch) => n,
            }
        };
        if received == 0 {
            break; // closed and empty
        }
        commit(&engine, &mut batch, &counters).await;
    }
    tracing::debug!("store writer stopped");
}

/// Writes `batch` and answers every caller in it; leaves `batch` empty.
async fn commit<B: Engine>(engine: &Gated<B>, batch: &mut Vec<Pending>, counters: &Counters) {
    let started = Instant::now();
    let results = {
        let records: Vec<&ApplicationRecord> = batch.iter().map(|p| &p.record).collect();
        write_batch(engine, &records).await
    };
    let written = results.iter().filter(|r| r.is_ok()).count();
    counters.batches.fetch_add(1, Ordering::Relaxed);
    counters
        .records
        .fetch_add(written as u64, Ordering::Relaxed);
    tracing::debug!(
        records = batch.len(),
        written,
        elapsed_us = started.elapsed().as_micros() as u64,
        "group commit"
    );
    for (pending, result) in batch.drain(..).zip(results) {
        // The caller may have gone away; its record is written all the same.
        let _ = pending.reply.send(result);
    }
}

/// One result per record, in order.
async fn write_batch<B: Engine>(
    engine: &Gated<B>,
    records: &[&ApplicationRecord],
) -> Vec<Result<(), StoreError>> {
    let error = match whole_batch(engine, records).await {
        Ok(()) => return records.iter().map(|_| Ok(())).collect(),
        Err(e) => e,
    };
    if !is_record_error(&error) {
        tracing::warn!(records = records.len(), error = %error, "group commit failed");
        return fail_all(error, records.len());
    }
    tracing::debug!(
        records = records.len(),
        error = %error,
        "constraint violation in a batch; writing it record by record"
    );
    match record_by_record(engine, records).await {
        Ok(results) => results
            .into_iter()
            .map(|r| r.map_err(StoreError::from))
            .collect(),
        Err(error) => {
            tracing::warn!(records = records.len(), error = %error, "group commit failed");
            fail_all(error, records.len())
        }
    }
}

/// The fast path: all records in one transaction, no savepoints.
async fn whole_batch<B: Engine>(
    engine: &Gated<B>,
    records: &[&ApplicationRecord],
) -> Result<(), sqlx::Error> {
    let mut tx = engine.begin().await?;
    if let Err(e) = B::insert(&mut tx, records).await {
        // Best effort: a failed rollback also ends the transaction (the
        // connection is then discarded by the pool).
        let _ = tx.rollback().await;
        return Err(e);
    }
    tx.commit().await
}

/// The slow path: one transaction, a savepoint per record. `Ok` holds each
/// record's own outcome; `Err` is a failure of the whole transaction.
async fn record_by_record<B: Engine>(
    engine: &Gated<B>,
    records: &[&ApplicationRecord],
) -> Result<Vec<Result<(), sqlx::Error>>, sqlx::Error> {
    let mut tx = engine.begin().await?;
    let mut results = Vec::with_capacity(records.len());
    for record in records {
        B::execute(&mut tx, "SAVEPOINT record").await?;
        match B::insert(&mut tx, std::slice::from_ref(record)).await {
            Ok(()) => {
                B::execute(&mut tx, "RELEASE SAVEPOINT record").await?;
                results.push(Ok(()));
            }
            Err(e) if is_record_error(&e) => {
                B::execute(&mut tx, "ROLLBACK TO SAVEPOINT record").await?;
                B::execute(&mut tx, "RELEASE SAVEPOINT record").await?;
                results.push(Err(e));
            }
            // Dropping `tx` rolls the whole transaction back.
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    Ok(results)
}

/// The same failure for `n` callers: the original for the first, copies
/// for the rest.
fn fail_all(error: sqlx::Error, n: usize) -> Vec<Result<(), StoreError>> {
    let mut results: Vec<Result<(), StoreError>> = Vec::with_capacity(n);
    for _ in 1..n {
        results.push(Err(replicate(&error).into()));
    }
    if n > 0 {
        results.insert(0, Err(error.into()));
    }
    results
}

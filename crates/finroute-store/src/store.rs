//! [`Store`]: the handle the router holds. Writes go to the group-commit
//! writer task (see [`crate::writer`]); reads go straight to the pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Mutex, Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::StoreError;
use crate::options::{Backend, StoreOptions};
use crate::postgres::{self, PgDb};
use crate::record::{ApplicationRecord, OfferRecord, StoredApplication};
use crate::sqlite::{self, SqliteDb};
use crate::writer::{self, Counters, Pending, WriterHandle};

/// The durable store: applications, offers and channel reports.
///
/// Cheap to clone (an `Arc` inside); every clone talks to the same writer
/// task and pools. Dropping the last clone stops the writer once its queue
/// is written; [`Store::close`] does the same and waits for it.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    queue: mpsc::Sender<Pending>,
    shutdown: Arc<Notify>,
    /// Taken by the first `close`; later ones wait on the lock until the
    /// writer is done.
    writer: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    closed: AtomicBool,
}

#[derive(Clone, Debug)]
enum Db {
    Sqlite(SqliteDb),
    Postgres(PgDb),
}

/// Counters of the group-commit writer since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Group commits run (each one transaction, or two when a constraint
    /// violation sent the batch record by record).
    pub batches: u64,
    /// Records committed.
    pub records: u64,
}

impl Store {
    /// Opens `sqlite://path.db` (created if missing), `sqlite::memory:`, or
    /// `postgres://...` with default [`StoreOptions`], and runs migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, StoreOptions::default()).await
    }

    /// Like [`Store::connect`], with options.
    pub async fn connect_with(url: &str, opts: StoreOptions) -> Result<Store, StoreError> {
        let backend = backend_of(url)?;
        let counters = Arc::new(Counters::default());
        let (db, handle) = match backend {
            Backend::Sqlite => {
                let db = sqlite::open(url, &opts).await?;
                let handle = writer::spawn(db.clone(), opts.max_batch, Arc::clone(&counters));
                (Db::Sqlite(db), handle)
            }
            Backend::Postgres => {
                let db = postgres::open(url, &opts).await?;
                let handle = writer::spawn(db.clone(), opts.max_batch, Arc::clone(&counters));
                (Db::Postgres(db), handle)
            }
        };
        let WriterHandle {
            queue,
            shutdown,
            task,
        } = handle;
        tracing::info!(
            backend = backend.name(),
            max_batch = opts.max_batch,
            "store open"
        );
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                queue,
                shutdown,
                writer: Mutex::new(Some(task)),
                counters,
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// Applies migrations only (the `finroute migrate` command).
    pub async fn migrate(url: &str) -> Result<(), StoreError> {
        match backend_of(url)? {
            Backend::Sqlite => sqlite::migrate(url).await,
            Backend::Postgres => postgres::migrate(url).await,
        }
    }

    /// The database this store runs on.
    pub fn backend(&self) -> Backend {
        match self.inner.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Records an application with its offers and channel reports; returns
    /// once they are committed (group commit). All or nothing per record:
    /// on `Duplicate` or any error nothing of it was written (except after
    /// a commit lost with its connection, see [`StoreError::Database`]).
    ///
    /// Dropping the returned future after the record was queued does not
    /// cancel the write.
    pub async fn record_application(&self, app: ApplicationRecord) -> Result<(), StoreError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let (reply, answer) = oneshot::channel();
        self.inner
            .queue
            .send(Pending { record: app, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        // A dropped reply means the writer died before answering.
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// The application, or `None` if absent or owned by another tenant.
    pub async fn get_application(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Option<StoredApplication>, StoreError> {
        self.check_open()?;
        Ok(match &self.inner.db {
            Db::Sqlite(db) => db.get_application(tenant, application_id).await?,
            Db::Postgres(db) => db.get_application(tenant, application_id).await?,
        })
    }

    /// The tenant's application recorded with this caller `request_id`;
    /// `None` if there is none (always for an empty `request_id`).
    pub async fn find_by_request_id(
        &self,
        tenant: &str,
        request_id: &str,
    ) -> Result<Option<StoredApplication>, StoreError> {
        self.check_open()?;
        if request_id.is_empty() {
            return Ok(None);
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => db.find_by_request_id(tenant, request_id).await?,
            Db::Postgres(db) => db.find_by_request_id(tenant, request_id).await?,
        })
    }

    /// One offer, or `None` if absent or owned by another tenant.
    pub async fn get_offer(
        &self,
        tenant: &str,
        offer_id: &str,
    ) -> Result<Option<OfferRecord>, StoreError> {
        self.check_open()?;
        Ok(match &self.inner.db {
            Db::Sqlite(db) => db.get_offer(tenant, offer_id).await?,
            Db::Postgres(db) => db.get_offer(tenant, offer_id).await?,
        })
    }

    /// Stops the writer after writing everything already queued, then
    /// closes the pools. Later calls (on any clone) fail with
    /// [`StoreError::Closed`]. Idempotent; concurrent calls all return once
    /// the writer is done.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.shutdown.notify_one();
        let mut writer = self.inner.writer.lock().await;
        if let Some(task) = writer.take() {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "store writer task failed");
            }
            match &self.inner.db {
                Db::Sqlite(db) => db.close().await,
                Db::Postgres(db) => db.close().await,
            }
            tracing::info!("store closed");
        }
    }

    /// Counters of the group-commit writer.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            batches: self.inner.counters.batches.load(Ordering::Relaxed),
            records: self.inner.counters.records.load(Ordering::Relaxed),
        }
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    Backend::of_url(url)
        .ok_or_else(|| StoreError::InvalidUrl("expected a sqlite: or postgres:// url".to_owned()))
}

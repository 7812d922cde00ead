//! [`Store`]: the handle the router holds. Application records go to the
//! group-commit writer task (see [`crate::writer`]); acceptance and appeal
//! writes and all reads go straight to the pool, through
//! [`Ops`](crate::ops::Ops), written once for both backends.
//!
//! A store holds one engine (`Db`: SQLite or PostgreSQL, chosen by the
//! URL); each call checks its arguments here, then runs the same generic
//! code on whichever engine it is, through a two-armed `match`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{Mutex, Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::acceptance::{
    AcceptanceClaim, AcceptanceRecord, AcceptanceState, ClaimOutcome, OutcomeCount, OutcomeRecord,
};
use crate::appeal::{
    AppealCursor, AppealEvent, AppealRecord, AppealState, AppealStep, NewAppeal, ResolveOutcome,
    StepOutcome,
};
use crate::engine::Engine;
use crate::error::StoreError;
use crate::event::{EventBacklog, EventRecord, NewEvent};
use crate::ops::Ops;
use crate::options::{Backend, StoreOptions};
use crate::outcome::{OutcomeEvent, OutcomeKind, OutcomeWrite};
use crate::partner_list::{PartnerListRecord, PartnerListWrite};
use crate::postgres::{self, PgDb};
use crate::record::{ApplicationRecord, OfferRecord, StoredApplication};
use crate::record::{LateOfferRecord, StoredLateOffer};
use crate::sqlite::{self, SqliteDb};
use crate::text;
use crate::usage::{PeriodLimit, Reservation, Usage};
use crate::writer::{self, Counters, Pending, WriterHandle};

/// The durable store: applications, offers and channel reports;
/// acceptances with their outbox and outcomes; appeals.
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
    /// What the last [`Store::ping`] found (true until one fails): while
    /// false, calls fail at once instead of waiting for a connection that
    /// cannot be had, and so does the writer's next batch.
    reachable: watch::Sender<bool>,
}

/// The open database: the engine every call runs on.
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
        let (reachable, reachable_rx) = watch::channel(true);
        let (db, handle) = match backend {
            Backend::Sqlite => {
                let db = sqlite::open(url, &opts).await?;
                let handle = writer::spawn(
                    db.clone(),
                    opts.max_batch,
                    Arc::clone(&counters),
                    reachable_rx,
                );
                sqlite::spawn_checkpointer(&db, url, handle.queue.downgrade());
                (Db::Sqlite(db), handle)
            }
            Backend::Postgres => {
                let db = postgres::open(url, &opts).await?;
                let handle = writer::spawn(
                    db.clone(),
                    opts.max_batch,
                    Arc::clone(&counters),
                    reachable_rx,
                );
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
                reachable,
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
    pub async fn record_application(&self, mut app: ApplicationRecord) -> Result<(), StoreError> {
        self.check_open()?;
        text::application(&app)?;
        // Compressed here, on the caller's task, not on the single writer.
        app.response = crate::blob::pack(&app.response).into();
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
        if !text::findable(&[tenant, application_id]) {
            return Ok(None);
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).get_application(tenant, application_id).await?,
            Db::Postgres(db) => Ops(db).get_application(tenant, application_id).await?,
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
        if request_id.is_empty() || !text::findable(&[tenant, request_id]) {
            return Ok(None);
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).find_by_request_id(tenant, request_id).await?,
            Db::Postgres(db) => Ops(db).find_by_request_id(tenant, request_id).await?,
        })
    }

    /// Stores an offer that arrived after the reply against its application
    /// (a row of `offers`: AcceptOffer finds it like any other). An
    /// application that is not recorded (yet), or is another tenant's:
    /// [`StoreError::NotFound`], nothing written.
    pub async fn record_late_offer(&self, late: LateOfferRecord) -> Result<(), StoreError> {
        self.check_open()?;
        text::offer(&late.offer)?;
        let written = match &self.inner.db {
            Db::Sqlite(db) => Ops(db).record_late_offer(&late).await,
            Db::Postgres(db) => Ops(db).record_late_offer(&late).await,
        };
        match written {
            // The composite foreign key to (application_id, tenant): no
            // such application of this tenant.
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::NotFound)
            }
            other => Ok(other?),
        }
    }

    /// The late offers of an application, in the order they arrived (none
    /// for an unknown application or another tenant's).
    pub async fn late_offers(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Vec<StoredLateOffer>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant, application_id]) {
            return Ok(Vec::new());
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).late_offers(tenant, application_id).await?,
            Db::Postgres(db) => Ops(db).late_offers(tenant, application_id).await?,
        })
    }

    /// One offer, or `None` if absent or owned by another tenant.
    pub async fn get_offer(
        &self,
        tenant: &str,
        offer_id: &str,
    ) -> Result<Option<OfferRecord>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant, offer_id]) {
            return Ok(None);
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).get_offer(tenant, offer_id).await?,
            Db::Postgres(db) => Ops(db).get_offer(tenant, offer_id).await?,
        })
    }

    /// Transaction 1 of an acceptance: stores `claim` as PENDING with its
    /// outbox row, all or nothing, unless
    /// - the tenant already used `claim.idempotency_key`: [`ClaimOutcome::Existing`]
    ///   with that acceptance (which may name another offer);
    /// - another key holds a live (PENDING or ACCEPTED) acceptance of the
    ///   offer: [`ClaimOutcome::OfferTaken`] with it.
    ///
    /// Safe under concurrency, across replicas: of any number of claims
    /// racing on one key exactly one is `Created` and the others see it as
    /// `Existing`; of claims racing with different keys on one offer one
    /// wins and the others get `OfferTaken`. An offer that is not the
    /// tenant's: [`StoreError::NotFound`].
    pub async fn claim_acceptance(
        &self,
        claim: AcceptanceClaim,
    ) -> Result<ClaimOutcome, StoreError> {
        self.check_open()?;
        text::claim(&claim)?;
        match &self.inner.db {
            Db::Sqlite(db) => Ops(db).claim_acceptance(&claim).await,
            Db::Postgres(db) => Ops(db).claim_acceptance(&claim).await,
        }
    }

    /// The acceptance, or `None` if absent or owned by another tenant.
    pub async fn get_acceptance(
        &self,
        tenant: &str,
        acceptance_id: &str,
    ) -> Result<Option<AcceptanceRecord>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant, acceptance_id]) {
            return Ok(None);
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).get_acceptance(tenant, acceptance_id).await,
            Db::Postgres(db) => Ops(db).get_acceptance(tenant, acceptance_id).await,
        }?)
    }

    /// The tenant's acceptance claimed under `idempotency_key`, if any.
    pub async fn find_acceptance_by_key(
        &self,
        tenant: &str,
        idempotency_key: &str,
    ) -> Result<Option<AcceptanceRecord>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant, idempotency_key]) {
            return Ok(None);
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => {
                Ops(db)
                    .find_acceptance_by_key(tenant, idempotency_key)
                    .await
            }
            Db::Postgres(db) => {
                Ops(db)
                    .find_acceptance_by_key(tenant, idempotency_key)
                    .await
            }
        }?)
    }

    /// The acceptances of offers of an application, oldest first (empty for
    /// another tenant's application).
    pub async fn acceptances_of_application(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Vec<AcceptanceRecord>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant, application_id]) {
            return Ok(Vec::new());
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => {
                Ops(db)
                    .acceptances_of_application(tenant, application_id)
                    .await
            }
            Db::Postgres(db) => {
                Ops(db)
                    .acceptances_of_application(tenant, application_id)
                    .await
            }
        }?)
    }

    /// Leases up to `limit` outbox rows that are due (`next_attempt_ms <=
    /// now_ms`) and not leased (lease expired), earliest due first (for a
    /// row never retried, that is the order of the claims), to `owner`
    /// until `now_ms + lease_ms`; counts an attempt on each and returns
    /// their acceptances. Callers leasing at the same time (replicas on one
    /// PostgreSQL) never get the same row. No lock is held once this
    /// returns: call the partner afterwards, then
    /// [`complete_acceptance`](Store::complete_acceptance) or
    /// [`release_acceptance`](Store::release_acceptance).
    pub async fn lease_due_acceptances(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<AcceptanceRecord>, StoreError> {
        self.check_open()?;
        text::storable("owner", owner)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let until = lease_until(now_ms, lease_ms);
        let limit = i64::from(limit);
        Ok(match &self.inner.db {
            Db::Sqlite(db) => {
                Ops(db)
                    .lease_due_acceptances(owner, now_ms, until, limit)
                    .await
            }
            Db::Postgres(db) => {
                Ops(db)
                    .lease_due_acceptances(owner, now_ms, until, limit)
                    .await
            }
        }?)
    }

    /// Leases this acceptance's outbox row to `owner` until `now_ms +
    /// lease_ms`, whether or not it is due (to drive a fresh claim at
    /// once), unless another owner holds an unexpired lease; `owner` may
    /// re-lease its own. Counts an attempt. `None` if there is no outbox
    /// row (unknown, or already final) or someone else holds it.
    pub async fn lease_acceptance(
        &self,
        acceptance_id: &str,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Option<AcceptanceRecord>, StoreError> {
        self.check_open()?;
        text::storable("owner", owner)?;
        if !text::findable(&[acceptance_id]) {
            return Ok(None);
        }
        let until = lease_until(now_ms, lease_ms);
        Ok(match &self.inner.db {
            Db::Sqlite(db) => {
                Ops(db)
                    .lease_acceptance(acceptance_id, owner, now_ms, until)
                    .await
            }
            Db::Postgres(db) => {
                Ops(db)
                    .lease_acceptance(acceptance_id, owner, now_ms, until)
                    .await
            }
        }?)
    }

    /// Transaction 2 of an acceptance: stores the partner's final answer
    /// (`status` ACCEPTED or DECLINED), deletes the outbox row and records
    /// an outcome for the approval-odds model, if the acceptance is still
    /// PENDING. If it is already final nothing changes (whatever the
    /// arguments). Returns the acceptance as stored.
    /// [`StoreError::NotFound`] if there is no such acceptance;
    /// [`StoreError::InvalidArgument`] for `status` PENDING.
    pub async fn complete_acceptance(
        &self,
        acceptance_id: &str,
        status: AcceptanceState,
        partner_reference: &str,
        detail: &str,
        now_ms: i64,
    ) -> Result<AcceptanceRecord, StoreError> {
        self.check_open()?;
        if status == AcceptanceState::Pending {
            return Err(StoreError::InvalidArgument(
                "status: an acceptance completes as ACCEPTED or DECLINED",
            ));
        }
        if !text::findable(&[acceptance_id]) {
            return Err(StoreError::NotFound);
        }
        text::storable("partner_reference", partner_reference)?;
        text::storable("detail", detail)?;
        let (reference, detail) = (partner_reference, detail);
        match &self.inner.db {
            Db::Sqlite(db) => {
                Ops(db)
                    .complete_acceptance(acceptance_id, status, reference, detail, now_ms)
                    .await
            }
            Db::Postgres(db) => {
                Ops(db)
                    .complete_acceptance(acceptance_id, status, reference, detail, now_ms)
                    .await
            }
        }
    }

    /// Gives a lease back after a failed attempt, if `owner` holds it: the
    /// row is due again at `next_attempt_ms` (the caller's backoff), and
    /// `last_error` is kept for operators. `last_error` must name an error
    /// kind, never personal data. Does nothing if `owner` does not hold the
    /// lease (it expired and another owner took it, or the row is final).
    pub async fn release_acceptance(
        &self,
        acceptance_id: &str,
        owner: &str,
        next_attempt_ms: i64,
        last_error: &str,
    ) -> Result<(), StoreError> {
        self.check_open()?;
        text::storable("last_error", last_error)?;
        if !text::findable(&[acceptance_id, owner]) {
            return Ok(());
        }
        let (id, next, error) = (acceptance_id, next_attempt_ms, last_error);
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).release_acceptance(id, owner, next, error).await,
            Db::Postgres(db) => Ops(db).release_acceptance(id, owner, next, error).await,
        }?)
    }

    /// Outbox rows remaining: acceptances not final yet.
    pub async fn open_acceptances(&self) -> Result<u64, StoreError> {
        self.check_open()?;
        let n = match &self.inner.db {
            Db::Sqlite(db) => Ops(db).open_acceptances().await,
            Db::Postgres(db) => Ops(db).open_acceptances().await,
        }?;
        Ok(u64::try_from(n).unwrap_or_default())
    }

    /// Final acceptance outcomes counted per (adapter, product kind, risk
    /// band), in that order; all tenants.
    pub async fn outcome_counts(&self) -> Result<Vec<OutcomeCount>, StoreError> {
        self.check_open()?;
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).outcome_counts().await,
            Db::Postgres(db) => Ops(db).outcome_counts().await,
        }?)
    }

    /// Each adapter's newest `per_adapter` final acceptances that carry the
    /// odds inputs, grouped by adapter, newest first within each (what the
    /// approval-odds model learns from); all tenants.
    pub async fn recent_outcomes(
        &self,
        per_adapter: u32,
    ) -> Result<Vec<OutcomeRecord>, StoreError> {
        self.check_open()?;
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).recent_outcomes(i64::from(per_adapter)).await,
            Db::Postgres(db) => Ops(db).recent_outcomes(i64::from(per_adapter)).await,
        }?)
    }

    /// Records an outcome a partner reported for an acceptance
    /// (`event.seq` is ignored: the store numbers events in arrival order).
    /// The acceptance must be ACCEPTED, of `event.tenant` and of
    /// `event.adapter_id`, else [`StoreError::NotFound`] (callers check the
    /// acceptance first to say which). The same event id again: with the
    /// same content [`OutcomeWrite::Duplicate`] and nothing changes; with
    /// other content [`StoreError::Duplicate`]
    /// ([`DuplicateKey::OutcomeEventId`]). Returns the acceptance's
    /// outcomes ordered by `occurred_at_ms`, then arrival.
    ///
    /// [`DuplicateKey::OutcomeEventId`]: crate::DuplicateKey::OutcomeEventId
    pub async fn report_outcome(&self, event: &OutcomeEvent) -> Result<OutcomeWrite, StoreError> {
        self.check_open()?;
        if !text::findable(&[&event.tenant, &event.acceptance_id, &event.adapter_id]) {
            return Err(StoreError::NotFound);
        }
        text::storable("event_id", &event.event_id)?;
        text::storable("currency", &event.currency)?;
        text::storable("funded_on", &event.funded_on)?;
        text::storable("decline_reason", &event.decline_reason)?;
        text::storable("text", &event.text)?;
        match &self.inner.db {
            Db::Sqlite(db) => Ops(db).report_outcome(event).await,
            Db::Postgres(db) => Ops(db).report_outcome(event).await,
        }
    }

    /// The outcomes of every acceptance of the tenant's application, each
    /// acceptance's ordered by `occurred_at_ms`, then arrival (acceptances
    /// by id).
    pub async fn outcomes_of_application(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Vec<OutcomeEvent>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant, application_id]) {
            return Ok(Vec::new());
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => {
                Ops(db)
                    .outcomes_of_application(tenant, application_id)
                    .await
            }
            Db::Postgres(db) => {
                Ops(db)
                    .outcomes_of_application(tenant, application_id)
                    .await
            }
        }?)
    }

    /// The partner's final credit decision on a final acceptance, as the
    /// approval-odds model will read it: the latest FUNDED or
    /// DECLINED_AFTER_REVIEW outcome by the partner's time, `None` while
    /// the partner has reported neither (or the acceptance has no outcome
    /// record); all tenants, as the odds model reads.
    pub async fn credit_decision(
        &self,
        acceptance_id: &str,
    ) -> Result<Option<OutcomeKind>, StoreError> {
        self.check_open()?;
        if !text::findable(&[acceptance_id]) {
            return Ok(None);
        }
        let name = match &self.inner.db {
            Db::Sqlite(db) => Ops(db).credit_decision(acceptance_id).await,
            Db::Postgres(db) => Ops(db).credit_decision(acceptance_id).await,
        }?;
        Ok(name.as_deref().and_then(OutcomeKind::parse))
    }

    /// The outcomes of the tenant's acceptance, ordered by
    /// `occurred_at_ms`, then arrival.
    pub async fn outcomes_of_acceptance(
        &self,
        tenant: &str,
        acceptance_id: &str,
    ) -> Result<Vec<OutcomeEvent>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant, acceptance_id]) {
            return Ok(Vec::new());
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).outcomes_of_acceptance(tenant, acceptance_id).await,
            Db::Postgres(db) => Ops(db).outcomes_of_acceptance(tenant, acceptance_id).await,
        }?)
    }

    /// Stores a version of a lender's partner name-list. Append-only: a
    /// version already stored with the same date and entries is
    /// [`PartnerListWrite::Unchanged`]; with other content it is refused
    /// with [`StoreError::Duplicate`] ([`DuplicateKey::PartnerListVersion`])
    /// and the stored one stays.
    ///
    /// [`DuplicateKey::PartnerListVersion`]: crate::DuplicateKey::PartnerListVersion
    pub async fn insert_partner_list(
        &self,
        list: &PartnerListRecord,
    ) -> Result<PartnerListWrite, StoreError> {
        self.check_open()?;
        text::storable("lender", &list.lender)?;
        text::storable("version", &list.version)?;
        text::storable("entries", &list.entries)?;
        match &self.inner.db {
            Db::Sqlite(db) => Ops(db).insert_partner_list(list).await,
            Db::Postgres(db) => Ops(db).insert_partner_list(list).await,
        }
    }

    /// Every stored version of every lender's partner name-list, by
    /// lender (byte order), then effective date, then version.
    pub async fn partner_lists(&self) -> Result<Vec<PartnerListRecord>, StoreError> {
        self.check_open()?;
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).partner_lists().await,
            Db::Postgres(db) => Ops(db).partner_lists().await,
        }?)
    }

    /// Reserves one quote of channel `adapter_id` in each period of
    /// `limits` (a UTC day and month, say), atomically across replicas:
    /// counted in all of them, or, when a counter of one is at its limit,
    /// in none ([`Reservation::AtLimit`]).
    pub async fn reserve_quote(
        &self,
        adapter_id: &str,
        limits: &[PeriodLimit],
    ) -> Result<Reservation, StoreError> {
        self.check_open()?;
        text::storable("adapter_id", adapter_id)?;
        match &self.inner.db {
            Db::Sqlite(db) => Ops(db).reserve_quote(adapter_id, limits).await,
            Db::Postgres(db) => Ops(db).reserve_quote(adapter_id, limits).await,
        }
    }

    /// Counts an acceptance the partner confirmed, of `lent_minor`, in
    /// each of `periods`; the usage after it, in that order.
    pub async fn count_acceptance(
        &self,
        adapter_id: &str,
        periods: &[String],
        lent_minor: i64,
    ) -> Result<Vec<Usage>, StoreError> {
        self.check_open()?;
        text::storable("adapter_id", adapter_id)?;
        match &self.inner.db {
            Db::Sqlite(db) => {
                Ops(db)
                    .count_acceptance(adapter_id, periods, lent_minor)
                    .await
            }
            Db::Postgres(db) => {
                Ops(db)
                    .count_acceptance(adapter_id, periods, lent_minor)
                    .await
            }
        }
    }

    /// Whether the applicant of `application_id` was routed again later
    /// with other applicant data: the latest such application's id. Older
    /// rows (no digest) are never reported.
    pub async fn applicant_changed_since(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Option<String>, StoreError> {
        self.check_open()?;
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).changed_since(tenant, application_id).await,
            Db::Postgres(db) => Ops(db).changed_since(tenant, application_id).await,
        }?)
    }

    /// The usage of channel `adapter_id` in `period` (zero if none).
    pub async fn usage(&self, adapter_id: &str, period: &str) -> Result<Usage, StoreError> {
        self.check_open()?;
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).usage(adapter_id, period).await,
            Db::Postgres(db) => Ops(db).usage(adapter_id, period).await,
        }?)
    }

    /// Files an appeal (status OPEN, with an OPEN event) against an
    /// application of `appeal.tenant`. [`StoreError::NotFound`] if the
    /// application is not the tenant's; [`StoreError::Duplicate`] if the
    /// appeal id is taken.
    pub async fn file_appeal(&self, appeal: NewAppeal) -> Result<AppealRecord, StoreError> {
        self.check_open()?;
        text::appeal(&appeal)?;
        match &self.inner.db {
            Db::Sqlite(db) => Ops(db).file_appeal(&appeal).await,
            Db::Postgres(db) => Ops(db).file_appeal(&appeal).await,
        }
    }

    /// The appeal, or `None` if absent or owned by another tenant.
    pub async fn get_appeal(
        &self,
        tenant: &str,
        appeal_id: &str,
    ) -> Result<Option<AppealRecord>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant, appeal_id]) {
            return Ok(None);
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).get_appeal(tenant, appeal_id).await,
            Db::Postgres(db) => Ops(db).get_appeal(tenant, appeal_id).await,
        }?)
    }

    /// The appeals of an application, oldest first.
    pub async fn appeals_of_application(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Vec<AppealRecord>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant, application_id]) {
            return Ok(Vec::new());
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).appeals_of_application(tenant, application_id).await,
            Db::Postgres(db) => Ops(db).appeals_of_application(tenant, application_id).await,
        }?)
    }

    /// One page of the tenant's appeals (optionally only those in
    /// `status`), in (filed_at_ms, appeal_id) order, strictly after `after`
    /// (the last appeal of the previous page), at most `limit`. Keyset
    /// pagination: pages neither repeat nor skip appeals when others are
    /// filed meanwhile (a newly filed one shows up on a later page).
    pub async fn list_appeals(
        &self,
        tenant: &str,
        status: Option<AppealState>,
        after: Option<&AppealCursor>,
        limit: u32,
    ) -> Result<Vec<AppealRecord>, StoreError> {
        self.check_open()?;
        let cursor_id = after.map_or("", |c| c.appeal_id.as_str());
        if limit == 0 || !text::findable(&[tenant, cursor_id]) {
            return Ok(Vec::new());
        }
        let limit = i64::from(limit);
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).list_appeals(tenant, status, after, limit).await,
            Db::Postgres(db) => Ops(db).list_appeals(tenant, status, after, limit).await,
        }?)
    }

    /// OPEN -> IN_REVIEW, recording an event with `note`:
    /// [`ResolveOutcome::Resolved`] with the appeal now. In any other state
    /// the appeal is unchanged: [`ResolveOutcome::AlreadyResolved`].
    pub async fn start_review(
        &self,
        tenant: &str,
        appeal_id: &str,
        note: &str,
        now_ms: i64,
    ) -> Result<ResolveOutcome, StoreError> {
        self.check_open()?;
        text::storable("note", note)?;
        if !text::findable(&[tenant, appeal_id]) {
            return Ok(ResolveOutcome::NotFound);
        }
        match &self.inner.db {
            Db::Sqlite(db) => Ops(db).start_review(tenant, appeal_id, note, now_ms).await,
            Db::Postgres(db) => Ops(db).start_review(tenant, appeal_id, note, now_ms).await,
        }
    }

    /// Decides an appeal (`decision` UPHELD or OVERTURNED) if it is OPEN or
    /// IN_REVIEW, storing `note` and recording an event, in one conditional
    /// update: of operators racing on one appeal exactly one gets
    /// [`ResolveOutcome::Resolved`], the others
    /// [`ResolveOutcome::AlreadyResolved`] with the appeal as decided.
    /// [`StoreError::InvalidArgument`] for another `decision`.
    pub async fn resolve_appeal(
        &self,
        tenant: &str,
        appeal_id: &str,
        decision: AppealState,
        note: &str,
        now_ms: i64,
    ) -> Result<ResolveOutcome, StoreError> {
        self.check_open()?;
        if !decision.is_final() {
            return Err(StoreError::InvalidArgument(
                "decision: an appeal is resolved as UPHELD or OVERTURNED",
            ));
        }
        text::storable("note", note)?;
        if !text::findable(&[tenant, appeal_id]) {
            return Ok(ResolveOutcome::NotFound);
        }
        match &self.inner.db {
            Db::Sqlite(db) => {
                Ops(db)
                    .resolve_appeal(tenant, appeal_id, decision, note, now_ms)
                    .await
            }
            Db::Postgres(db) => {
                Ops(db)
                    .resolve_appeal(tenant, appeal_id, decision, note, now_ms)
                    .await
            }
        }
    }

    /// The tenant's undecided appeals (OPEN, IN_REVIEW), oldest first, at
    /// most `limit`: the review queue before its filters and SLA order.
    pub async fn undecided_appeals(
        &self,
        tenant: &str,
        limit: u32,
    ) -> Result<Vec<AppealRecord>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant]) {
            return Ok(Vec::new());
        }
        let limit = i64::from(limit);
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).undecided_appeals(tenant, limit).await,
            Db::Postgres(db) => Ops(db).undecided_appeals(tenant, limit).await,
        }?)
    }

    /// One step of the review workflow by operator `actor` (a key id) at
    /// `now_ms`; claims lapse `lapse_ms` after they were made. The row is
    /// locked, the step planned on what is stored and written with its
    /// audit events in one transaction: of two operators racing to claim,
    /// exactly one wins and the other is refused with the winner's key id.
    pub async fn appeal_step(
        &self,
        tenant: &str,
        appeal_id: &str,
        step: AppealStep,
        actor: &str,
        now_ms: i64,
        lapse_ms: i64,
    ) -> Result<StepOutcome, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant, appeal_id]) {
            return Ok(StepOutcome::NotFound);
        }
        if actor.is_empty() {
            return Err(StoreError::InvalidArgument("actor: a key id is required"));
        }
        text::storable("actor", actor)?;
        match &step {
            AppealStep::Decide {
                decision,
                reason_code,
                note,
                ..
            } => {
                if !decision.is_final() {
                    return Err(StoreError::InvalidArgument(
                        "decision: an appeal is resolved as UPHELD or OVERTURNED",
                    ));
                }
                text::storable("reason_code", reason_code)?;
                text::storable("note", note)?;
            }
            AppealStep::Approve { note } | AppealStep::Reject { note } => {
                text::storable("note", note)?;
            }
            AppealStep::Claim | AppealStep::Release => {}
        }
        match &self.inner.db {
            Db::Sqlite(db) => {
                Ops(db)
                    .appeal_step(tenant, appeal_id, &step, actor, now_ms, lapse_ms)
                    .await
            }
            Db::Postgres(db) => {
                Ops(db)
                    .appeal_step(tenant, appeal_id, &step, actor, now_ms, lapse_ms)
                    .await
            }
        }
    }

    /// The appeal's history, in order (filing first); empty if absent or
    /// owned by another tenant.
    pub async fn appeal_history(
        &self,
        tenant: &str,
        appeal_id: &str,
    ) -> Result<Vec<AppealEvent>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant, appeal_id]) {
            return Ok(Vec::new());
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).appeal_history(tenant, appeal_id).await,
            Db::Postgres(db) => Ops(db).appeal_history(tenant, appeal_id).await,
        }?)
    }

    /// Enqueues an event for the tenant's webhook in a transaction of its
    /// own; returns its id. Changes of the store that report an event
    /// (an acceptance becoming final, an appeal decided) enqueue theirs in
    /// their own transaction instead (`Ops::enqueue_event`), which is what
    /// a new event source should do too. `payload` must be a JSON object
    /// of ids and statuses, never personal data.
    pub async fn enqueue_event(&self, e: NewEvent) -> Result<String, StoreError> {
        self.check_open()?;
        text::storable("tenant", &e.tenant)?;
        text::storable("application_id", &e.application_id)?;
        text::storable("kind", &e.kind)?;
        text::storable("payload", &e.payload)?;
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).enqueue_event_alone(&e).await,
            Db::Postgres(db) => Ops(db).enqueue_event_alone(&e).await,
        }?)
    }

    /// Leases up to `limit` due webhook events to `owner` until `now_ms +
    /// lease_ms`, counting an attempt on each: only the oldest undelivered
    /// event of each application, so an application's events go out one
    /// at a time, in order. Callers leasing at the same time never get the
    /// same event. Then [`ack_event`](Store::ack_event) or
    /// [`release_event`](Store::release_event).
    pub async fn lease_due_events(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.check_open()?;
        text::storable("owner", owner)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let until = lease_until(now_ms, lease_ms);
        let limit = i64::from(limit);
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).lease_due_events(owner, now_ms, until, limit).await,
            Db::Postgres(db) => Ops(db).lease_due_events(owner, now_ms, until, limit).await,
        }?)
    }

    /// Marks an event delivered (acknowledged, or settled without a
    /// webhook), with `note` saying how (an outcome name, never personal
    /// data). False if it was already delivered.
    pub async fn ack_event(
        &self,
        event_id: &str,
        now_ms: i64,
        note: &str,
    ) -> Result<bool, StoreError> {
        self.check_open()?;
        text::storable("note", note)?;
        if !text::findable(&[event_id]) {
            return Ok(false);
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).ack_event(event_id, now_ms, note).await,
            Db::Postgres(db) => Ops(db).ack_event(event_id, now_ms, note).await,
        }?)
    }

    /// Gives an event's lease back after a failed delivery, if `owner`
    /// holds it: due again at `next_attempt_ms`; `last_error` names the
    /// failure kind (never personal data).
    pub async fn release_event(
        &self,
        event_id: &str,
        owner: &str,
        next_attempt_ms: i64,
        last_error: &str,
    ) -> Result<(), StoreError> {
        self.check_open()?;
        text::storable("last_error", last_error)?;
        if !text::findable(&[event_id, owner]) {
            return Ok(());
        }
        let (id, next, error) = (event_id, next_attempt_ms, last_error);
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).release_event(id, owner, next, error).await,
            Db::Postgres(db) => Ops(db).release_event(id, owner, next, error).await,
        }?)
    }

    /// Undelivered events: how many, and when the oldest happened.
    pub async fn event_backlog(&self) -> Result<EventBacklog, StoreError> {
        self.check_open()?;
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).event_backlog().await,
            Db::Postgres(db) => Ops(db).event_backlog().await,
        }?)
    }

    /// Every event of a tenant, delivered or not, oldest first.
    pub async fn events_of_tenant(&self, tenant: &str) -> Result<Vec<EventRecord>, StoreError> {
        self.check_open()?;
        if !text::findable(&[tenant]) {
            return Ok(Vec::new());
        }
        Ok(match &self.inner.db {
            Db::Sqlite(db) => Ops(db).events_of_tenant(tenant).await,
            Db::Postgres(db) => Ops(db).events_of_tenant(tenant).await,
        }?)
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

    /// Whether the database answers within `timeout`: `SELECT 1`. On
    /// PostgreSQL on a connection of its own (not the pool's, so a busy pool
    /// does not look like an outage), reconnected when it was lost; on
    /// SQLite on the read pool. For health checks: an error of kind
    /// [`StoreErrorKind::Unavailable`](crate::StoreErrorKind) means the
    /// database is unreachable now.
    ///
    /// The outcome is remembered: after a ping that failed as unreachable
    /// every other call fails at once (kind `Unavailable`), and a batch of
    /// the writer waiting for a connection gives up, until a ping succeeds.
    pub async fn ping(&self, timeout: std::time::Duration) -> Result<(), StoreError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let ping = async {
            match &self.inner.db {
                Db::Sqlite(db) => db.ping().await,
                Db::Postgres(db) => db.ping().await,
            }
        };
        let result = match tokio::time::timeout(timeout, ping).await {
            Ok(result) => result.map_err(StoreError::from),
            Err(_) => Err(StoreError::Database(sqlx::Error::PoolTimedOut)),
        };
        let reachable = match (&result, &self.inner.db) {
            (Ok(()), _) => true,
            // A SQLite file does not go away like a server: a slow answer
            // is a busy read pool, which must not close the store.
            (Err(StoreError::Database(sqlx::Error::PoolTimedOut)), Db::Sqlite(_)) => true,
            (Err(e), _) => e.kind() != crate::StoreErrorKind::Unavailable,
        };
        self.inner.reachable.send_if_modified(|r| {
            let changed = *r != reachable;
            *r = reachable;
            changed
        });
        result
    }

    /// What the last [`Store::ping`] found: false after one found the
    /// database unreachable, until one succeeds (true if none ran).
    pub fn is_reachable(&self) -> bool {
        *self.inner.reachable.borrow()
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
        } else if !*self.inner.reachable.borrow() {
            Err(StoreError::Database(crate::error::unreachable()))
        } else {
            Ok(())
        }
    }
}

/// The end of a lease of `lease_ms` (negative taken as 0) from `now_ms`.
fn lease_until(now_ms: i64, lease_ms: i64) -> i64 {
    now_ms.saturating_add(lease_ms.max(0))
}

fn backend_of(url: &str) -> Result<Backend, StoreError> {
    Backend::of_url(url)
        .ok_or_else(|| StoreError::InvalidUrl("expected a sqlite: or postgres:// url".to_owned()))
}

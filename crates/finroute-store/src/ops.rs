//! The store's operations, written once for both backends over an
//! [`Engine`]: the reads, acceptances with their outbox, appeals.
//!
//! The SQL is one text for both (SQLite takes PostgreSQL's `$n`
//! placeholders, row values, `ON CONFLICT DO NOTHING` and `RETURNING`), and
//! so is the logic around it. [`Ops`] borrows an engine; its `impl` block
//! names, once, what the code needs of the sqlx database (executing on a
//! connection and a pool, binding and decoding the column types used here),
//! which SQLite and PostgreSQL both provide. The store calls it with the
//! concrete engine, so the futures are checked for `Send` (which the server
//! needs) on concrete types. Where the backends differ (leasing due outbox
//! rows, reading acceptances by a list of ids) the code calls the
//! [`Engine`].
//!
//! Every write here is a transaction of its own, straight on the pool (not
//! through the group-commit writer): these are single rows whose callers
//! need the outcome of a conditional write, not throughput. On SQLite they
//! share the one write connection with the writer, so they are serialised
//! with its batches.
//!
//! Lock order on PostgreSQL: a transaction touching both an outbox row and
//! its acceptance locks the outbox row first (leases lock only outbox rows),
//! so completions and leases cannot deadlock.

use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Transaction, Type,
};

use crate::acceptance::{
    self, ACCEPTANCE_BY_ID, ACCEPTANCES_OF_APPLICATION, AcceptanceClaim, AcceptanceRecord,
    AcceptanceState, COMPLETE, COUNT_OUTBOX, ClaimOutcome, DELETE_OUTBOX, FIND_ACCEPTANCE_BY_KEY,
    GET_ACCEPTANCE, INSERT_ACCEPTANCE, INSERT_OUTBOX, INSERT_OUTCOME, LEASE_ONE,
    LIVE_ACCEPTANCE_OF_OFFER, OFFER_EXISTS, OUTCOME_COUNTS, OutcomeCount, OutcomeRecord,
    RECENT_OUTCOMES, RELEASE,
};
use crate::appeal::{
    self, APPEAL_HISTORY, APPEALS_OF_APPLICATION, AppealCursor, AppealEvent, AppealEventKind,
    AppealRecord, AppealState, AppealStep, GET_APPEAL, INSERT_APPEAL, INSERT_APPEAL_EVENT,
    LIST_APPEALS, LIST_APPEALS_AFTER, LIST_APPEALS_IN, LIST_APPEALS_IN_AFTER, LIST_UNDECIDED,
    LOCK_APPEAL, NewAppeal, NewEvent, RESOLVE, ResolveOutcome, START_REVIEW, StepOutcome,
    WRITE_APPEAL_STEP,
};
use crate::engine::Engine;
use crate::error::{DuplicateKey, StoreError};
use crate::event::{
    self, ACK_EVENT, EVENT_BACKLOG, EVENTS_OF_TENANT, EventBacklog, EventRecord, INSERT_EVENT,
    NewEvent as NewWebhookEvent, RELEASE_EVENT,
};
use crate::outcome::{
    self, BUMP_EVENTS, GET_CREDIT_DECISION, GET_OUTCOME_EVENT, INSERT_OUTCOME_EVENT,
    OUTCOMES_OF_ACCEPTANCE, OUTCOMES_OF_APPLICATION, OutcomeEvent, OutcomeWrite,
    SET_CREDIT_DECISION,
};
use crate::partner_list::{
    self, ALL_PARTNER_LISTS, GET_PARTNER_LIST, INSERT_PARTNER_LIST, PartnerListRecord,
    PartnerListWrite,
};
use crate::read::{self, FIND_BY_REQUEST_ID, GET_APPLICATION, GET_OFFER};
use crate::record::{LateOfferRecord, OfferRecord, StoredApplication, StoredLateOffer};

/// A late offer's row (the reply's offers go through the writer's batches).
const INSERT_LATE_OFFER: &str = "INSERT INTO offers (offer_id, application_id, tenant, \
     adapter_id, partner_offer_ref, product_kind, currency, principal_minor, term_months, \
     apr_bps, approval_odds, rank, expires_at_ms, risk_band, prior_odds, partner_odds, \
     arrived_late_at_ms, late_offer) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

/// The application of an acceptance (for the events it leaves).
const APPLICATION_OF_ACCEPTANCE: &str =
    "SELECT application_id FROM acceptances WHERE acceptance_id = $1 AND tenant = $2";

/// An application's late offers, in arrival order.
const LATE_OFFERS: &str = "SELECT arrived_late_at_ms, late_offer FROM offers \
     WHERE application_id = $1 AND tenant = $2 AND arrived_late_at_ms IS NOT NULL \
     ORDER BY arrived_late_at_ms, offer_id";
use crate::usage::{
    self, COUNT_ACCEPTANCE, ENSURE_USAGE, GET_USAGE, PeriodLimit, RESERVE_QUOTE, Reservation, Usage,
};

/// How many times a claim is retried when its insert conflicted but the
/// conflicting row was gone by the time it was looked up (a live
/// acceptance declined in between). Then an id collision is the only
/// explanation left.
const CLAIM_ROUNDS: usize = 3;

/// A write transaction of engine `E`.
type Tx<E> = Transaction<'static, <E as Engine>::Db>;

/// The store's operations on one engine: `Ops(&db).get_offer(..)`. Each
/// method is the body of the [`Store`](crate::Store) method of the same
/// name, which has checked the arguments (text the database can hold,
/// limits, states) before calling it.
pub(crate) struct Ops<'a, E>(pub(crate) &'a E);

impl<E> Ops<'_, E>
where
    E: Engine,
    // Statements run on a transaction's connection, and on the read pool
    // (sqlx derives the pool's `Executor` from the connection's).
    for<'c> &'c mut <E::Db as Database>::Connection: Executor<'c, Database = E::Db>,
    <E::Db as Database>::Arguments: IntoArguments<E::Db>,
    // What is bound.
    for<'v> &'v str: Encode<'v, E::Db> + Type<E::Db>,
    for<'v> &'v [u8]: Encode<'v, E::Db> + Type<E::Db>,
    for<'v> i64: Encode<'v, E::Db>,
    for<'v> Option<i32>: Encode<'v, E::Db>,
    for<'v> Option<i64>: Encode<'v, E::Db>,
    for<'v> i32: Encode<'v, E::Db>,
    for<'v> f64: Encode<'v, E::Db>,
    for<'v> Option<f64>: Encode<'v, E::Db>,
    // What is decoded, by column position.
    usize: ColumnIndex<<E::Db as Database>::Row>,
    for<'r> String: Decode<'r, E::Db> + Type<E::Db>,
    for<'r> Vec<u8>: Decode<'r, E::Db> + Type<E::Db>,
    for<'r> i64: Decode<'r, E::Db> + Type<E::Db>,
    for<'r> i32: Decode<'r, E::Db> + Type<E::Db>,
    for<'r> f64: Decode<'r, E::Db> + Type<E::Db>,
{
    pub(crate) async fn get_application(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Option<StoredApplication>, sqlx::Error> {
        sqlx::query(GET_APPLICATION.as_str())
            .bind(application_id)
            .bind(tenant)
            .fetch_optional(self.0.reads())
            .await?
            .as_ref()
            .map(read::application)
            .transpose()
    }

    pub(crate) async fn find_by_request_id(
        &self,
        tenant: &str,
        request_id: &str,
    ) -> Result<Option<StoredApplication>, sqlx::Error> {
        sqlx::query(FIND_BY_REQUEST_ID.as_str())
            .bind(tenant)
            .bind(request_id)
            .fetch_optional(self.0.reads())
            .await?
            .as_ref()
            .map(read::application)
            .transpose()
    }

    pub(crate) async fn record_late_offer(
        &self,
        late: &LateOfferRecord,
    ) -> Result<(), sqlx::Error> {
        let o = &late.offer;
        let mut tx = self.0.begin_write().await?;
        sqlx::query(INSERT_LATE_OFFER)
            .bind(o.offer_id.as_str())
            .bind(o.application_id.as_str())
            .bind(o.tenant.as_str())
            .bind(o.adapter_id.as_str())
            .bind(o.partner_offer_ref.as_str())
            .bind(o.product_kind.as_str())
            .bind(o.currency.as_str())
            .bind(o.principal_minor)
            .bind(o.term_months)
            .bind(o.apr_bps)
            .bind(o.approval_odds)
            .bind(o.rank)
            .bind(o.expires_at_ms)
            .bind(o.risk_band.as_str())
            .bind(o.prior_odds)
            .bind(o.partner_odds)
            .bind(late.arrived_at_ms)
            .bind(late.wire.as_slice())
            .execute(&mut *tx)
            .await?;
        let e = NewWebhookEvent {
            tenant: o.tenant.clone(),
            application_id: o.application_id.clone(),
            kind: event::LATE_OFFER.into(),
            payload: event::late_offer_payload(late),
            now_ms: late.arrived_at_ms,
        };
        Self::enqueue_event(&mut tx, &e).await?;
        tx.commit().await
    }

    pub(crate) async fn late_offers(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Vec<StoredLateOffer>, sqlx::Error> {
        let rows = sqlx::query(LATE_OFFERS)
            .bind(application_id)
            .bind(tenant)
            .fetch_all(self.0.reads())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredLateOffer {
                    arrived_at_ms: row.try_get(0)?,
                    wire: row.try_get(1)?,
                })
            })
            .collect()
    }

    pub(crate) async fn get_offer(
        &self,
        tenant: &str,
        offer_id: &str,
    ) -> Result<Option<OfferRecord>, sqlx::Error> {
        sqlx::query(GET_OFFER.as_str())
            .bind(offer_id)
            .bind(tenant)
            .fetch_optional(self.0.reads())
            .await?
            .as_ref()
            .map(read::offer)
            .transpose()
    }

    /// Leases due outbox rows (see
    /// [`Store::lease_due_acceptances`](crate::Store::lease_due_acceptances))
    /// in one short transaction: the engine leases them (the statement
    /// differs per backend), then their acceptances are read, earliest due
    /// first. No row lock outlives this call.
    pub(crate) async fn lease_due_acceptances(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<AcceptanceRecord>, sqlx::Error> {
        let mut tx = self.0.begin_write().await?;
        let mut leased = E::lease_due(&mut tx, owner, now_ms, lease_until_ms, limit).await?;
        if leased.is_empty() {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        leased.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        let ids: Vec<&str> = leased.iter().map(|(id, _)| id.as_str()).collect();
        let rows = E::acceptances_by_ids(&mut tx, &ids).await?;
        tx.commit().await?;
        Ok(rows)
    }

    pub(crate) async fn claim_acceptance(
        &self,
        claim: &AcceptanceClaim,
    ) -> Result<ClaimOutcome, StoreError> {
        for _ in 0..CLAIM_ROUNDS {
            let mut tx = self.0.begin_write().await?;
            let inserted = sqlx::query(INSERT_ACCEPTANCE)
                .bind(claim.acceptance_id.as_str())
                .bind(claim.tenant.as_str())
                .bind(claim.idempotency_key.as_str())
                .bind(claim.offer_id.as_str())
                .bind(claim.application_id.as_str())
                .bind(claim.adapter_id.as_str())
                .bind(claim.partner_offer_ref.as_str())
                .bind(claim.applicant_id.as_str())
                .bind(claim.fingerprint.as_slice())
                .bind(claim.now_ms)
                .fetch_optional(&mut *tx)
                .await?;
            if inserted.is_some() {
                sqlx::query(INSERT_OUTBOX)
                    .bind(claim.acceptance_id.as_str())
                    .bind(claim.now_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                return Ok(ClaimOutcome::Created(created(claim)));
            }
            // Nothing inserted. On PostgreSQL a concurrent claim
            // of the same key or offer has committed by now (the
            // insert waited for it), and each statement below
            // sees every commit made before it started.
            let key = Some(claim.idempotency_key.as_str());
            if let Some(r) =
                Self::acceptance_in(&mut tx, &FIND_ACCEPTANCE_BY_KEY, &claim.tenant, key).await?
            {
                tx.rollback().await?;
                return Ok(ClaimOutcome::Existing(r));
            }
            let (offer, tenant) = (&claim.offer_id, Some(claim.tenant.as_str()));
            if let Some(r) =
                Self::acceptance_in(&mut tx, &LIVE_ACCEPTANCE_OF_OFFER, offer, tenant).await?
            {
                tx.rollback().await?;
                return Ok(ClaimOutcome::OfferTaken(r));
            }
            let offer = sqlx::query(OFFER_EXISTS)
                .bind(claim.offer_id.as_str())
                .bind(claim.tenant.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            tx.rollback().await?;
            if offer.is_none() {
                return Err(StoreError::NotFound);
            }
        }
        tracing::warn!(
            acceptance_id = %claim.acceptance_id,
            "acceptance claim kept conflicting with no row to show for it"
        );
        Err(StoreError::Duplicate {
            key: DuplicateKey::Other,
        })
    }

    pub(crate) async fn get_acceptance(
        &self,
        tenant: &str,
        acceptance_id: &str,
    ) -> Result<Option<AcceptanceRecord>, sqlx::Error> {
        sqlx::query(GET_ACCEPTANCE.as_str())
            .bind(acceptance_id)
            .bind(tenant)
            .fetch_optional(self.0.reads())
            .await?
            .as_ref()
            .map(acceptance::acceptance)
            .transpose()
    }

    pub(crate) async fn find_acceptance_by_key(
        &self,
        tenant: &str,
        idempotency_key: &str,
    ) -> Result<Option<AcceptanceRecord>, sqlx::Error> {
        sqlx::query(FIND_ACCEPTANCE_BY_KEY.as_str())
            .bind(tenant)
            .bind(idempotency_key)
            .fetch_optional(self.0.reads())
            .await?
            .as_ref()
            .map(acceptance::acceptance)
            .transpose()
    }

    pub(crate) async fn acceptances_of_application(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Vec<AcceptanceRecord>, sqlx::Error> {
        sqlx::query(ACCEPTANCES_OF_APPLICATION.as_str())
            .bind(application_id)
            .bind(tenant)
            .fetch_all(self.0.reads())
            .await?
            .iter()
            .map(acceptance::acceptance)
            .collect()
    }

    pub(crate) async fn lease_acceptance(
        &self,
        acceptance_id: &str,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<AcceptanceRecord>, sqlx::Error> {
        let mut tx = self.0.begin_write().await?;
        let leased = E::rows_affected(
            &sqlx::query(LEASE_ONE)
                .bind(acceptance_id)
                .bind(owner)
                .bind(now_ms)
                .bind(lease_until_ms)
                .execute(&mut *tx)
                .await?,
        );
        if leased == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let row = Self::acceptance_in(&mut tx, &ACCEPTANCE_BY_ID, acceptance_id, None).await?;
        tx.commit().await?;
        Ok(row)
    }

    pub(crate) async fn complete_acceptance(
        &self,
        acceptance_id: &str,
        status: AcceptanceState,
        partner_reference: &str,
        detail: &str,
        now_ms: i64,
    ) -> Result<AcceptanceRecord, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let attempts: Option<i32> = sqlx::query(DELETE_OUTBOX)
            .bind(acceptance_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
        let changed = E::rows_affected(
            &sqlx::query(COMPLETE)
                .bind(acceptance_id)
                .bind(status.as_str())
                .bind(partner_reference)
                .bind(detail)
                .bind(now_ms)
                .bind(attempts)
                .execute(&mut *tx)
                .await?,
        );
        if changed == 1 {
            sqlx::query(INSERT_OUTCOME)
                .bind(acceptance_id)
                .execute(&mut *tx)
                .await?;
        }
        let Some(row) =
            Self::acceptance_in(&mut tx, &ACCEPTANCE_BY_ID, acceptance_id, None).await?
        else {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        };
        if changed == 1 {
            // The platform's event, in the transaction of the change: one
            // event per acceptance that became final, and none without it.
            let e = NewWebhookEvent {
                tenant: row.tenant.clone(),
                application_id: row.application_id.clone(),
                kind: event::ACCEPTANCE_FINAL.to_owned(),
                payload: event::acceptance_payload(&row),
                now_ms,
            };
            Self::enqueue_event(&mut tx, &e).await?;
        }
        tx.commit().await?;
        Ok(row)
    }

    pub(crate) async fn release_acceptance(
        &self,
        acceptance_id: &str,
        owner: &str,
        next_attempt_ms: i64,
        last_error: &str,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(RELEASE)
            .bind(acceptance_id)
            .bind(owner)
            .bind(next_attempt_ms)
            .bind(last_error)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub(crate) async fn open_acceptances(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(COUNT_OUTBOX)
            .fetch_one(self.0.reads())
            .await
    }

    pub(crate) async fn outcome_counts(&self) -> Result<Vec<OutcomeCount>, sqlx::Error> {
        sqlx::query(OUTCOME_COUNTS)
            .fetch_all(self.0.reads())
            .await?
            .iter()
            .map(acceptance::outcome_count)
            .collect()
    }

    pub(crate) async fn recent_outcomes(
        &self,
        per_adapter: i64,
    ) -> Result<Vec<OutcomeRecord>, sqlx::Error> {
        sqlx::query(RECENT_OUTCOMES)
            .bind(per_adapter)
            .fetch_all(self.0.reads())
            .await?
            .iter()
            .map(acceptance::outcome_record)
            .collect()
    }

    /// Writes a version of a partner name-list unless stored; a stored
    /// version with other content is refused (never overwritten).
    pub(crate) async fn insert_partner_list(
        &self,
        list: &PartnerListRecord,
    ) -> Result<PartnerListWrite, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let inserted = E::rows_affected(
            &sqlx::query(INSERT_PARTNER_LIST)
                .bind(list.lender.as_str())
                .bind(list.version.as_str())
                .bind(list.effective_from_ms)
                .bind(list.entries.as_str())
                .bind(list.loaded_at_ms)
                .execute(&mut *tx)
                .await?,
        );
        if inserted == 1 {
            tx.commit().await?;
            return Ok(PartnerListWrite::Inserted);
        }
        let stored = sqlx::query(GET_PARTNER_LIST)
            .bind(list.lender.as_str())
            .bind(list.version.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let stored = partner_list::partner_list(&stored)?;
        tx.rollback().await?;
        if stored.effective_from_ms == list.effective_from_ms && stored.entries == list.entries {
            Ok(PartnerListWrite::Unchanged)
        } else {
            Err(StoreError::Duplicate {
                key: DuplicateKey::PartnerListVersion,
            })
        }
    }

    /// Reserves one quote of `adapter_id` in every period of `limits`, or
    /// none when a counter of one of them is at its limit.
    pub(crate) async fn reserve_quote(
        &self,
        adapter_id: &str,
        limits: &[PeriodLimit],
    ) -> Result<Reservation, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let mut after = Vec::with_capacity(limits.len());
        for l in limits {
            sqlx::query(ENSURE_USAGE)
                .bind(adapter_id)
                .bind(l.period.as_str())
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query(RESERVE_QUOTE)
                .bind(adapter_id)
                .bind(l.period.as_str())
                .bind(l.limit.quotes)
                .bind(l.limit.acceptances)
                .bind(l.limit.lent_minor)
                .fetch_optional(&mut *tx)
                .await?;
            match row {
                Some(row) => after.push(usage::usage(&row)?),
                None => {
                    let row = sqlx::query(GET_USAGE)
                        .bind(adapter_id)
                        .bind(l.period.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                    let now = usage::usage(&row)?;
                    tx.rollback().await?;
                    return Ok(Reservation::AtLimit {
                        period: l.period.clone(),
                        usage: now,
                    });
                }
            }
        }
        tx.commit().await?;
        Ok(Reservation::Reserved(after))
    }

    /// Counts one confirmed acceptance of `lent_minor` in every period.
    pub(crate) async fn count_acceptance(
        &self,
        adapter_id: &str,
        periods: &[String],
        lent_minor: i64,
    ) -> Result<Vec<Usage>, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let mut after = Vec::with_capacity(periods.len());
        for period in periods {
            sqlx::query(ENSURE_USAGE)
                .bind(adapter_id)
                .bind(period.as_str())
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query(COUNT_ACCEPTANCE)
                .bind(adapter_id)
                .bind(period.as_str())
                .bind(lent_minor)
                .fetch_one(&mut *tx)
                .await?;
            after.push(usage::usage(&row)?);
        }
        tx.commit().await?;
        Ok(after)
    }

    /// The applicant's latest application after `application_id`, if its
    /// applicant data differs: (its id). Unknown digests never differ.
    pub(crate) async fn changed_since(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query(read::LATEST_LATER_APPLICATION)
            .bind(application_id)
            .bind(tenant)
            .fetch_optional(self.0.reads())
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let newer: String = row.try_get(0)?;
        let newer_digest: Vec<u8> = row.try_get(1)?;
        let digest: Vec<u8> = row.try_get(2)?;
        Ok(
            (!digest.is_empty() && !newer_digest.is_empty() && newer_digest != digest)
                .then_some(newer),
        )
    }

    /// The usage of `adapter_id` in `period` (zero when nothing counted).
    pub(crate) async fn usage(&self, adapter_id: &str, period: &str) -> Result<Usage, sqlx::Error> {
        Ok(
            match sqlx::query(GET_USAGE)
                .bind(adapter_id)
                .bind(period)
                .fetch_optional(self.0.reads())
                .await?
            {
                Some(row) => usage::usage(&row)?,
                None => Usage::default(),
            },
        )
    }

    pub(crate) async fn partner_lists(&self) -> Result<Vec<PartnerListRecord>, sqlx::Error> {
        let mut lists = sqlx::query(ALL_PARTNER_LISTS)
            .fetch_all(self.0.reads())
            .await?
            .iter()
            .map(partner_list::partner_list)
            .collect::<Result<Vec<_>, _>>()?;
        // Byte order, the same on both backends (PostgreSQL's ORDER BY
        // follows the database's collation).
        lists.sort_by(|a, b| {
            (a.lender.as_str(), a.effective_from_ms, a.version.as_str()).cmp(&(
                b.lender.as_str(),
                b.effective_from_ms,
                b.version.as_str(),
            ))
        });
        Ok(lists)
    }

    pub(crate) async fn file_appeal(&self, new: &NewAppeal) -> Result<AppealRecord, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let inserted = E::rows_affected(
            &sqlx::query(INSERT_APPEAL)
                .bind(new.appeal_id.as_str())
                .bind(new.tenant.as_str())
                .bind(new.application_id.as_str())
                .bind(new.adapter_id.as_str())
                .bind(new.reason.as_str())
                .bind(new.details.as_str())
                .bind(new.now_ms)
                .bind(new.filed_by.as_str())
                .execute(&mut *tx)
                .await?,
        );
        if inserted == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        let filed = NewEvent {
            kind: AppealEventKind::Filed,
            actor: new.filed_by.clone(),
            from: AppealState::Open,
            to: AppealState::Open,
            reason_code: String::new(),
            note: String::new(),
        };
        Self::append_event(&mut tx, &new.appeal_id, &filed, None, new.now_ms).await?;
        tx.commit().await?;
        Ok(AppealRecord {
            appeal_id: new.appeal_id.clone(),
            tenant: new.tenant.clone(),
            application_id: new.application_id.clone(),
            adapter_id: new.adapter_id.clone(),
            reason: new.reason.clone(),
            details: new.details.clone(),
            status: AppealState::Open,
            filed_at_ms: new.now_ms,
            resolved_at_ms: None,
            resolution_note: String::new(),
            filed_by: new.filed_by.clone(),
            assignee: String::new(),
            claimed_at_ms: None,
            pending_decision: None,
            proposed_by: String::new(),
            pending_reason_code: String::new(),
            pending_note: String::new(),
            resolution_reason_code: String::new(),
            resolved_by: String::new(),
        })
    }

    pub(crate) async fn get_appeal(
        &self,
        tenant: &str,
        appeal_id: &str,
    ) -> Result<Option<AppealRecord>, sqlx::Error> {
        sqlx::query(GET_APPEAL.as_str())
            .bind(appeal_id)
            .bind(tenant)
            .fetch_optional(self.0.reads())
            .await?
            .as_ref()
            .map(appeal::appeal)
            .transpose()
    }

    pub(crate) async fn appeals_of_application(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Vec<AppealRecord>, sqlx::Error> {
        sqlx::query(APPEALS_OF_APPLICATION.as_str())
            .bind(application_id)
            .bind(tenant)
            .fetch_all(self.0.reads())
            .await?
            .iter()
            .map(appeal::appeal)
            .collect()
    }

    pub(crate) async fn list_appeals(
        &self,
        tenant: &str,
        status: Option<AppealState>,
        after: Option<&AppealCursor>,
        limit: i64,
    ) -> Result<Vec<AppealRecord>, sqlx::Error> {
        let query = match (status, after) {
            (None, None) => sqlx::query(LIST_APPEALS.as_str()).bind(tenant).bind(limit),
            (None, Some(c)) => sqlx::query(LIST_APPEALS_AFTER.as_str())
                .bind(tenant)
                .bind(limit)
                .bind(c.filed_at_ms)
                .bind(c.appeal_id.as_str()),
            (Some(s), None) => sqlx::query(LIST_APPEALS_IN.as_str())
                .bind(tenant)
                .bind(limit)
                .bind(s.as_str()),
            (Some(s), Some(c)) => sqlx::query(LIST_APPEALS_IN_AFTER.as_str())
                .bind(tenant)
                .bind(limit)
                .bind(s.as_str())
                .bind(c.filed_at_ms)
                .bind(c.appeal_id.as_str()),
        };
        query
            .fetch_all(self.0.reads())
            .await?
            .iter()
            .map(appeal::appeal)
            .collect()
    }

    /// Moves an appeal (review, or a decision) if its state
    /// allows, recording the event in the same transaction.
    async fn change_appeal(
        &self,
        tenant: &str,
        appeal_id: &str,
        change: Change,
        note: &str,
        now_ms: i64,
    ) -> Result<ResolveOutcome, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let before = Self::appeal_in(&mut tx, tenant, appeal_id).await?;
        let (query, entered, kind) = match change {
            Change::Review => (
                sqlx::query(START_REVIEW).bind(appeal_id).bind(tenant),
                AppealState::InReview,
                AppealEventKind::ReviewStarted,
            ),
            Change::Decide(decision) => (
                sqlx::query(RESOLVE)
                    .bind(appeal_id)
                    .bind(tenant)
                    .bind(decision.as_str())
                    .bind(now_ms)
                    .bind(note),
                decision,
                AppealEventKind::Resolved,
            ),
        };
        let changed = E::rows_affected(&query.execute(&mut *tx).await?) == 1;
        if changed {
            let from = before.as_ref().map_or(AppealState::Open, |a| a.status);
            let e = NewEvent {
                kind,
                actor: String::new(),
                from,
                to: entered,
                reason_code: String::new(),
                note: note.to_owned(),
            };
            Self::append_event(&mut tx, appeal_id, &e, Some(from), now_ms).await?;
        }
        let row = Self::appeal_in(&mut tx, tenant, appeal_id).await?;
        if changed
            && let Change::Decide(_) = change
            && let Some(decided) = &row
        {
            Self::enqueue_appeal_decided(&mut tx, decided, now_ms).await?;
        }
        if changed {
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(match row {
            None => ResolveOutcome::NotFound,
            Some(a) if changed => ResolveOutcome::Resolved(a),
            Some(a) => ResolveOutcome::AlreadyResolved(a),
        })
    }

    pub(crate) async fn start_review(
        &self,
        tenant: &str,
        appeal_id: &str,
        note: &str,
        now_ms: i64,
    ) -> Result<ResolveOutcome, StoreError> {
        self.change_appeal(tenant, appeal_id, Change::Review, note, now_ms)
            .await
    }

    /// `decision` must be UPHELD or OVERTURNED (checked by the
    /// caller; the schema's CHECK rejects anything else).
    pub(crate) async fn resolve_appeal(
        &self,
        tenant: &str,
        appeal_id: &str,
        decision: AppealState,
        note: &str,
        now_ms: i64,
    ) -> Result<ResolveOutcome, StoreError> {
        self.change_appeal(tenant, appeal_id, Change::Decide(decision), note, now_ms)
            .await
    }

    /// The tenant's undecided appeals, oldest first, at most `limit`.
    pub(crate) async fn undecided_appeals(
        &self,
        tenant: &str,
        limit: i64,
    ) -> Result<Vec<AppealRecord>, sqlx::Error> {
        sqlx::query(LIST_UNDECIDED.as_str())
            .bind(tenant)
            .bind(limit)
            .fetch_all(self.0.reads())
            .await?
            .iter()
            .map(appeal::appeal)
            .collect()
    }

    /// One workflow step: locks the appeal's row, plans the step on what
    /// it reads, and writes the appeal and its events in one transaction.
    pub(crate) async fn appeal_step(
        &self,
        tenant: &str,
        appeal_id: &str,
        step: &AppealStep,
        actor: &str,
        now_ms: i64,
        lapse_ms: i64,
    ) -> Result<StepOutcome, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let locked = E::rows_affected(
            &sqlx::query(LOCK_APPEAL)
                .bind(appeal_id)
                .bind(tenant)
                .execute(&mut *tx)
                .await?,
        );
        let Some(before) = (if locked == 0 {
            None
        } else {
            Self::appeal_in(&mut tx, tenant, appeal_id).await?
        }) else {
            tx.rollback().await?;
            return Ok(StepOutcome::NotFound);
        };
        let (next, events) = match appeal::plan_step(&before, step, actor, now_ms, lapse_ms) {
            Ok(planned) => planned,
            Err(why) => {
                tx.rollback().await?;
                return Ok(StepOutcome::Refused(why, before));
            }
        };
        let written = E::rows_affected(
            &sqlx::query(WRITE_APPEAL_STEP)
                .bind(appeal_id)
                .bind(tenant)
                .bind(next.status.as_str())
                .bind(next.assignee.as_str())
                .bind(next.claimed_at_ms)
                .bind(next.pending_decision.map_or("", AppealState::as_str))
                .bind(next.proposed_by.as_str())
                .bind(next.pending_reason_code.as_str())
                .bind(next.pending_note.as_str())
                .bind(next.resolved_at_ms)
                .bind(next.resolution_note.as_str())
                .bind(next.resolution_reason_code.as_str())
                .bind(next.resolved_by.as_str())
                .execute(&mut *tx)
                .await?,
        );
        if written != 1 {
            tx.rollback().await?;
            return Ok(StepOutcome::Refused(
                appeal::StepRefusal::AlreadyDecided,
                before,
            ));
        }
        for e in &events {
            Self::append_event(&mut tx, appeal_id, e, Some(e.from), now_ms).await?;
        }
        let after = Self::appeal_in(&mut tx, tenant, appeal_id).await?;
        if !before.status.is_final()
            && let Some(decided) = after.as_ref().filter(|a| a.status.is_final())
        {
            Self::enqueue_appeal_decided(&mut tx, decided, now_ms).await?;
        }
        tx.commit().await?;
        Ok(after.map_or(StepOutcome::NotFound, StepOutcome::Done))
    }

    pub(crate) async fn appeal_history(
        &self,
        tenant: &str,
        appeal_id: &str,
    ) -> Result<Vec<AppealEvent>, sqlx::Error> {
        sqlx::query(APPEAL_HISTORY)
            .bind(appeal_id)
            .bind(tenant)
            .fetch_all(self.0.reads())
            .await?
            .iter()
            .map(appeal::event)
            .collect()
    }

    /// Records a partner's outcome event (see
    /// [`Store::report_outcome`](crate::Store::report_outcome)): numbers it
    /// under the acceptance's row lock, inserts it unless its id is taken,
    /// and keeps the partner's latest credit decision for the odds model.
    pub(crate) async fn report_outcome(
        &self,
        e: &OutcomeEvent,
    ) -> Result<OutcomeWrite, StoreError> {
        let mut tx = self.0.begin_write().await?;
        let seq: Option<i64> = sqlx::query(BUMP_EVENTS)
            .bind(e.acceptance_id.as_str())
            .bind(e.tenant.as_str())
            .bind(e.adapter_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get(0))
            .transpose()?;
        let Some(seq) = seq else {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        };
        let inserted = sqlx::query(INSERT_OUTCOME_EVENT)
            .bind(e.tenant.as_str())
            .bind(e.acceptance_id.as_str())
            .bind(e.event_id.as_str())
            .bind(e.adapter_id.as_str())
            .bind(e.kind.as_str())
            .bind(e.occurred_at_ms)
            .bind(e.received_at_ms)
            .bind(e.amount_minor)
            .bind(e.currency.as_str())
            .bind(e.funded_on.as_str())
            .bind(e.decline_reason.as_str())
            .bind(e.days_past_due)
            .bind(e.text.as_str())
            .bind(seq)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !inserted {
            // The id is taken: the stored event decides (the counter's bump
            // is rolled back with the rest).
            let stored = sqlx::query(GET_OUTCOME_EVENT.as_str())
                .bind(e.tenant.as_str())
                .bind(e.acceptance_id.as_str())
                .bind(e.event_id.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .as_ref()
                .map(outcome::outcome_event)
                .transpose()?;
            let history = Self::outcomes_in(&mut tx, &e.tenant, &e.acceptance_id).await?;
            tx.rollback().await?;
            return match stored {
                Some(stored) if stored.same_content(e) => Ok(OutcomeWrite::Duplicate(history)),
                _ => Err(StoreError::Duplicate {
                    key: DuplicateKey::OutcomeEventId,
                }),
            };
        }
        if e.kind.is_credit_decision() {
            sqlx::query(SET_CREDIT_DECISION)
                .bind(e.acceptance_id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let application_id: String = sqlx::query(APPLICATION_OF_ACCEPTANCE)
            .bind(e.acceptance_id.as_str())
            .bind(e.tenant.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let event = NewWebhookEvent {
            tenant: e.tenant.clone(),
            application_id,
            kind: event::PARTNER_OUTCOME.into(),
            payload: event::outcome_payload(e),
            now_ms: e.received_at_ms,
        };
        Self::enqueue_event(&mut tx, &event).await?;
        let history = Self::outcomes_in(&mut tx, &e.tenant, &e.acceptance_id).await?;
        tx.commit().await?;
        Ok(OutcomeWrite::Recorded(history))
    }

    pub(crate) async fn outcomes_of_application(
        &self,
        tenant: &str,
        application_id: &str,
    ) -> Result<Vec<OutcomeEvent>, sqlx::Error> {
        sqlx::query(OUTCOMES_OF_APPLICATION.as_str())
            .bind(tenant)
            .bind(application_id)
            .fetch_all(self.0.reads())
            .await?
            .iter()
            .map(outcome::outcome_event)
            .collect()
    }

    pub(crate) async fn outcomes_of_acceptance(
        &self,
        tenant: &str,
        acceptance_id: &str,
    ) -> Result<Vec<OutcomeEvent>, sqlx::Error> {
        sqlx::query(OUTCOMES_OF_ACCEPTANCE.as_str())
            .bind(tenant)
            .bind(acceptance_id)
            .fetch_all(self.0.reads())
            .await?
            .iter()
            .map(outcome::outcome_event)
            .collect()
    }

    pub(crate) async fn credit_decision(
        &self,
        acceptance_id: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query(GET_CREDIT_DECISION)
            .bind(acceptance_id)
            .fetch_optional(self.0.reads())
            .await?;
        row.map(|r| r.try_get::<Option<String>, _>(0))
            .transpose()
            .map(Option::flatten)
    }

    /// An acceptance's outcomes in order, inside `tx`.
    async fn outcomes_in(
        tx: &mut Tx<E>,
        tenant: &str,
        acceptance_id: &str,
    ) -> Result<Vec<OutcomeEvent>, sqlx::Error> {
        sqlx::query(OUTCOMES_OF_ACCEPTANCE.as_str())
            .bind(tenant)
            .bind(acceptance_id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(outcome::outcome_event)
            .collect()
    }

    /// Enqueues an event for the platform's webhook inside `tx`, the
    /// transaction of the change it reports: it commits (and is delivered)
    /// exactly when the change does. Numbered after the application's
    /// previous events. Returns the event id.
    pub(crate) async fn enqueue_event(
        tx: &mut Tx<E>,
        e: &NewWebhookEvent,
    ) -> Result<String, sqlx::Error> {
        if let Some(lock) = E::lock_application_sql() {
            sqlx::query(lock)
                .bind(e.application_id.as_str())
                .bind(e.tenant.as_str())
                .execute(&mut **tx)
                .await?;
        }
        let event_id = event::new_event_id();
        sqlx::query(INSERT_EVENT)
            .bind(event_id.as_str())
            .bind(e.tenant.as_str())
            .bind(e.application_id.as_str())
            .bind(e.kind.as_str())
            .bind(e.payload.as_str())
            .bind(e.now_ms)
            .execute(&mut **tx)
            .await?;
        Ok(event_id)
    }

    /// The `appeal.decided` event of an appeal just decided.
    async fn enqueue_appeal_decided(
        tx: &mut Tx<E>,
        decided: &AppealRecord,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        let e = NewWebhookEvent {
            tenant: decided.tenant.clone(),
            application_id: decided.application_id.clone(),
            kind: event::APPEAL_DECIDED.to_owned(),
            payload: event::appeal_payload(decided),
            now_ms,
        };
        Self::enqueue_event(tx, &e).await.map(drop)
    }

    /// An event in a transaction of its own (the store's public call).
    pub(crate) async fn enqueue_event_alone(
        &self,
        e: &NewWebhookEvent,
    ) -> Result<String, sqlx::Error> {
        let mut tx = self.0.begin_write().await?;
        let id = Self::enqueue_event(&mut tx, e).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Leases due events, each the oldest undelivered of its application;
    /// ordered by application and number.
    pub(crate) async fn lease_due_events(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<EventRecord>, sqlx::Error> {
        let mut tx = self.0.begin_write().await?;
        let mut rows = sqlx::query(E::lease_events_sql())
            .bind(owner)
            .bind(now_ms)
            .bind(lease_until_ms)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(event::event)
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await?;
        rows.sort_by_key(|a| (a.created_at_ms, a.seq));
        Ok(rows)
    }

    pub(crate) async fn ack_event(
        &self,
        event_id: &str,
        now_ms: i64,
        note: &str,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.0.begin_write().await?;
        let n = E::rows_affected(
            &sqlx::query(ACK_EVENT)
                .bind(event_id)
                .bind(now_ms)
                .bind(note)
                .execute(&mut *tx)
                .await?,
        );
        tx.commit().await?;
        Ok(n == 1)
    }

    pub(crate) async fn release_event(
        &self,
        event_id: &str,
        owner: &str,
        next_attempt_ms: i64,
        last_error: &str,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(RELEASE_EVENT)
            .bind(event_id)
            .bind(owner)
            .bind(next_attempt_ms)
            .bind(last_error)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub(crate) async fn event_backlog(&self) -> Result<EventBacklog, sqlx::Error> {
        let row = sqlx::query(EVENT_BACKLOG).fetch_one(self.0.reads()).await?;
        Ok(EventBacklog {
            count: row.try_get(0)?,
            oldest_created_at_ms: row.try_get(1)?,
        })
    }

    pub(crate) async fn events_of_tenant(
        &self,
        tenant: &str,
    ) -> Result<Vec<EventRecord>, sqlx::Error> {
        sqlx::query(EVENTS_OF_TENANT)
            .bind(tenant)
            .fetch_all(self.0.reads())
            .await?
            .iter()
            .map(event::event)
            .collect()
    }

    /// One acceptance by id, inside `tx`.
    async fn acceptance_in(
        tx: &mut Tx<E>,
        sql: &'static str,
        a: &str,
        b: Option<&str>,
    ) -> Result<Option<AcceptanceRecord>, sqlx::Error> {
        let mut query = sqlx::query(sql).bind(a);
        if let Some(b) = b {
            query = query.bind(b);
        }
        query
            .fetch_optional(&mut **tx)
            .await?
            .as_ref()
            .map(acceptance::acceptance)
            .transpose()
    }

    /// One appeal of a tenant, inside `tx`.
    async fn appeal_in(
        tx: &mut Tx<E>,
        tenant: &str,
        appeal_id: &str,
    ) -> Result<Option<AppealRecord>, sqlx::Error> {
        sqlx::query(GET_APPEAL.as_str())
            .bind(appeal_id)
            .bind(tenant)
            .fetch_optional(&mut **tx)
            .await?
            .as_ref()
            .map(appeal::appeal)
            .transpose()
    }

    /// Appends an event to an appeal's history (`from`: `None` on filing).
    async fn append_event(
        tx: &mut Tx<E>,
        appeal_id: &str,
        e: &NewEvent,
        from: Option<AppealState>,
        at_ms: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(INSERT_APPEAL_EVENT)
            .bind(appeal_id)
            .bind(e.to.as_str())
            .bind(at_ms)
            .bind(e.note.as_str())
            .bind(e.actor.as_str())
            .bind(e.kind.as_str())
            .bind(from.map_or("", AppealState::as_str))
            .bind(e.reason_code.as_str())
            .execute(&mut **tx)
            .await
            .map(drop)
    }
}

/// A move of an appeal.
#[derive(Clone, Copy)]
enum Change {
    /// OPEN -> IN_REVIEW.
    Review,
    /// OPEN or IN_REVIEW -> this decision.
    Decide(AppealState),
}

/// The row a successful claim stored.
fn created(claim: &AcceptanceClaim) -> AcceptanceRecord {
    AcceptanceRecord {
        acceptance_id: claim.acceptance_id.clone(),
        tenant: claim.tenant.clone(),
        idempotency_key: claim.idempotency_key.clone(),
        offer_id: claim.offer_id.clone(),
        application_id: claim.application_id.clone(),
        adapter_id: claim.adapter_id.clone(),
        partner_offer_ref: claim.partner_offer_ref.clone(),
        applicant_id: claim.applicant_id.clone(),
        fingerprint: claim.fingerprint.clone(),
        status: AcceptanceState::Pending,
        partner_reference: String::new(),
        detail: String::new(),
        attempts: 0,
        created_at_ms: claim.now_ms,
        completed_at_ms: None,
    }
}

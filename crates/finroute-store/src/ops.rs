//! Acceptance and appeal operations, written once for both backends.
//!
//! The SQL is shared (SQLite takes PostgreSQL's `$n` placeholders, row
//! values, `ON CONFLICT DO NOTHING` and `RETURNING`), and so is the logic
//! around it; only the types differ. Generic code over `sqlx::Database`
//! needs a long list of higher-ranked bounds per function and tends to lose
//! `Send` on its futures (which the server needs), so [`shared_ops!`]
//! expands the same code once per backend, into concrete types, as an
//! `impl` block of the backend's handle. The handle provides:
//!
//! - `begin_write(&self)`: a write transaction (SQLite: `BEGIN IMMEDIATE`
//!   on the one-connection write pool, so no lock upgrade can fail);
//! - `reads(&self)`: the pool for reads.
//!
//! Every write here is a transaction of its own, straight on the pool (not
//! through the group-commit writer): these are single rows whose callers
//! need the outcome of a conditional write, not throughput.
//!
//! Lock order on PostgreSQL: a transaction touching both an outbox row and
//! its acceptance locks the outbox row first (leases lock only outbox rows),
//! so completions and leases cannot deadlock.

/// How many times a claim is retried when its insert conflicted but the
/// conflicting row was gone by the time it was looked up (a live
/// acceptance declined in between). Then an id collision is the only
/// explanation left.
pub(crate) const CLAIM_ROUNDS: usize = 3;

/// Expands the shared operations for one backend: `$backend` is the handle
/// type (in the invoking module), `$db` the sqlx database.
macro_rules! shared_ops {
    ($backend:ident, $db:ty) => {
        mod shared_ops {
            use sqlx::{Row, Transaction};

            use super::$backend;
            use $crate::acceptance::{
                self, ACCEPTANCE_BY_ID, ACCEPTANCES_OF_APPLICATION, AcceptanceClaim,
                AcceptanceRecord, AcceptanceState, COMPLETE, COUNT_OUTBOX, ClaimOutcome,
                DELETE_OUTBOX, FIND_ACCEPTANCE_BY_KEY, GET_ACCEPTANCE, INSERT_ACCEPTANCE,
                INSERT_OUTBOX, INSERT_OUTCOME, LEASE_ONE, LIVE_ACCEPTANCE_OF_OFFER, OFFER_EXISTS,
                OUTCOME_COUNTS, OutcomeCount, OutcomeRecord, RECENT_OUTCOMES, RELEASE,
            };
            use $crate::appeal::{
                self, APPEAL_HISTORY, APPEALS_OF_APPLICATION, AppealCursor, AppealEvent,
                AppealRecord, AppealState, GET_APPEAL, INSERT_APPEAL, INSERT_APPEAL_EVENT,
                LIST_APPEALS, LIST_APPEALS_AFTER, LIST_APPEALS_IN, LIST_APPEALS_IN_AFTER,
                NewAppeal, RESOLVE, ResolveOutcome, START_REVIEW,
            };
            use $crate::error::{DuplicateKey, StoreError};
            use $crate::ops::CLAIM_ROUNDS;

            type Tx = Transaction<'static, $db>;

            /// One acceptance by id, inside `tx`.
            async fn acceptance_in(
                tx: &mut Tx,
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
                tx: &mut Tx,
                tenant: &str,
                appeal_id: &str,
            ) -> Result<Option<AppealRecord>, sqlx::Error> {
                sqlx::query(GET_APPEAL)
                    .bind(appeal_id)
                    .bind(tenant)
                    .fetch_optional(&mut **tx)
                    .await?
                    .as_ref()
                    .map(appeal::appeal)
                    .transpose()
            }

            /// Appends an event to an appeal's history.
            async fn append_event(
                tx: &mut Tx,
                appeal_id: &str,
                status: AppealState,
                at_ms: i64,
                note: &str,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(INSERT_APPEAL_EVENT)
                    .bind(appeal_id)
                    .bind(status.as_str())
                    .bind(at_ms)
                    .bind(note)
                    .execute(&mut **tx)
                    .await
                    .map(drop)
            }

            impl $backend {
                pub(crate) async fn claim_acceptance(
                    &self,
                    claim: &AcceptanceClaim,
                ) -> Result<ClaimOutcome, StoreError> {
                    for _ in 0..CLAIM_ROUNDS {
                        let mut tx = self.begin_write().await?;
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
                            acceptance_in(&mut tx, FIND_ACCEPTANCE_BY_KEY, &claim.tenant, key)
                                .await?
                        {
                            tx.rollback().await?;
                            return Ok(ClaimOutcome::Existing(r));
                        }
                        let (offer, tenant) = (&claim.offer_id, Some(claim.tenant.as_str()));
                        if let Some(r) =
                            acceptance_in(&mut tx, LIVE_ACCEPTANCE_OF_OFFER, offer, tenant).await?
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
                    sqlx::query(GET_ACCEPTANCE)
                        .bind(acceptance_id)
                        .bind(tenant)
                        .fetch_optional(self.reads())
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
                    sqlx::query(FIND_ACCEPTANCE_BY_KEY)
                        .bind(tenant)
                        .bind(idempotency_key)
                        .fetch_optional(self.reads())
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
                    sqlx::query(ACCEPTANCES_OF_APPLICATION)
                        .bind(application_id)
                        .bind(tenant)
                        .fetch_all(self.reads())
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
                    let mut tx = self.begin_write().await?;
                    let leased = sqlx::query(LEASE_ONE)
                        .bind(acceptance_id)
                        .bind(owner)
                        .bind(now_ms)
                        .bind(lease_until_ms)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if leased == 0 {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                    let row = acceptance_in(&mut tx, ACCEPTANCE_BY_ID, acceptance_id, None).await?;
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
                    let mut tx = self.begin_write().await?;
                    let attempts: Option<i32> = sqlx::query(DELETE_OUTBOX)
                        .bind(acceptance_id)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|row| row.try_get(0))
                        .transpose()?;
                    let changed = sqlx::query(COMPLETE)
                        .bind(acceptance_id)
                        .bind(status.as_str())
                        .bind(partner_reference)
                        .bind(detail)
                        .bind(now_ms)
                        .bind(attempts)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if changed == 1 {
                        sqlx::query(INSERT_OUTCOME)
                            .bind(acceptance_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let Some(row) =
                        acceptance_in(&mut tx, ACCEPTANCE_BY_ID, acceptance_id, None).await?
                    else {
                        tx.rollback().await?;
                        return Err(StoreError::NotFound);
                    };
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
                    let mut tx = self.begin_write().await?;
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
                        .fetch_one(self.reads())
                        .await
                }

                pub(crate) async fn outcome_counts(
                    &self,
                ) -> Result<Vec<OutcomeCount>, sqlx::Error> {
                    sqlx::query(OUTCOME_COUNTS)
                        .fetch_all(self.reads())
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
                        .fetch_all(self.reads())
                        .await?
                        .iter()
                        .map(acceptance::outcome_record)
                        .collect()
                }

                pub(crate) async fn file_appeal(
                    &self,
                    new: &NewAppeal,
                ) -> Result<AppealRecord, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let inserted = sqlx::query(INSERT_APPEAL)
                        .bind(new.appeal_id.as_str())
                        .bind(new.tenant.as_str())
                        .bind(new.application_id.as_str())
                        .bind(new.adapter_id.as_str())
                        .bind(new.reason.as_str())
                        .bind(new.details.as_str())
                        .bind(new.now_ms)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if inserted == 0 {
                        tx.rollback().await?;
                        return Err(StoreError::NotFound);
                    }
                    append_event(&mut tx, &new.appeal_id, AppealState::Open, new.now_ms, "")
                        .await?;
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
                    })
                }

                pub(crate) async fn get_appeal(
                    &self,
                    tenant: &str,
                    appeal_id: &str,
                ) -> Result<Option<AppealRecord>, sqlx::Error> {
                    sqlx::query(GET_APPEAL)
                        .bind(appeal_id)
                        .bind(tenant)
                        .fetch_optional(self.reads())
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
                    sqlx::query(APPEALS_OF_APPLICATION)
                        .bind(application_id)
                        .bind(tenant)
                        .fetch_all(self.reads())
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
                        (None, None) => sqlx::query(LIST_APPEALS).bind(tenant).bind(limit),
                        (None, Some(c)) => sqlx::query(LIST_APPEALS_AFTER)
                            .bind(tenant)
                            .bind(limit)
                            .bind(c.filed_at_ms)
                            .bind(c.appeal_id.as_str()),
                        (Some(s), None) => sqlx::query(LIST_APPEALS_IN)
                            .bind(tenant)
                            .bind(limit)
                            .bind(s.as_str()),
                        (Some(s), Some(c)) => sqlx::query(LIST_APPEALS_IN_AFTER)
                            .bind(tenant)
                            .bind(limit)
                            .bind(s.as_str())
                            .bind(c.filed_at_ms)
                            .bind(c.appeal_id.as_str()),
                    };
                    query
                        .fetch_all(self.reads())
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
                    let mut tx = self.begin_write().await?;
                    let (query, entered) = match change {
                        Change::Review => (
                            sqlx::query(START_REVIEW).bind(appeal_id).bind(tenant),
                            AppealState::InReview,
                        ),
                        Change::Decide(decision) => (
                            sqlx::query(RESOLVE)
                                .bind(appeal_id)
                                .bind(tenant)
                                .bind(decision.as_str())
                                .bind(now_ms)
                                .bind(note),
                            decision,
                        ),
                    };
                    let changed = query.execute(&mut *tx).await?.rows_affected() == 1;
                    if changed {
                        append_event(&mut tx, appeal_id, entered, now_ms, note).await?;
                    }
                    let row = appeal_in(&mut tx, tenant, appeal_id).await?;
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

                pub(crate) async fn appeal_history(
                    &self,
                    tenant: &str,
                    appeal_id: &str,
                ) -> Result<Vec<AppealEvent>, sqlx::Error> {
                    sqlx::query(APPEAL_HISTORY)
                        .bind(appeal_id)
                        .bind(tenant)
                        .fetch_all(self.reads())
                        .await?
                        .iter()
                        .map(appeal::event)
                        .collect()
                }
            }

            /// A move of an appeal.
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
        }
    };
}

pub(crate) use shared_ops;

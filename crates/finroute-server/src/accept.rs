//! Exactly-once acceptance (`docs/reliability.md`, "Exactly-once acceptance").
//!
//! AcceptOffer never calls the partner inside the request future (tonic
//! drops it when the caller goes away). Instead:
//!
//! 1. the handler claims `(tenant, idempotency_key)` in the store, in one
//!    transaction with an outbox row (a spawned task, so a cancelled call
//!    still commits or rolls back whole);
//! 2. the [`Relay`] leases the outbox row, calls the partner's `Accept` with
//!    the acceptance id as the partner's idempotency key (stable across
//!    re-drives), and stores the answer in a second transaction;
//! 3. the handler waits for the stored answer until its deadline, else
//!    answers PENDING; a retry with the same key gets the final answer.
//!
//! A failed or unanswered partner call is never marked failed (UNAVAILABLE
//! does not prove the partner did nothing): the lease is given back and the
//! row retried later with the same key, with a growing backoff. At start-up
//! and every `acceptance.poll_interval_ms` the relay leases every row that
//! is due: rows left by a crash (once their lease runs out), by another
//! replica, or by a failed attempt. Leases make a row driven by one replica
//! at a time; the partner's idempotency on the key covers the rest.

use std::sync::Arc;
use std::time::Duration;

use finroute_adapters::{AcceptOutcome, AcceptRequest, AcceptStatus, AdapterError};
use finroute_core::text;
use finroute_store::{AcceptanceRecord, AcceptanceState, Store, StoreError};
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::fanout::Registry;
use crate::metrics::Metrics;
use crate::odds::OddsLearner;
use crate::router::unix_millis;

/// Relay settings, from `[acceptance]`.
#[derive(Debug, Clone, Copy)]
pub struct RelaySettings {
    /// Budget of one partner `Accept` call.
    pub partner_timeout: Duration,
    /// How often due rows are looked for.
    pub poll_interval: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl RelaySettings {
    /// The lease on a row being driven: the call's budget plus a second of
    /// slack for the store writes around it.
    fn lease_ms(&self) -> i64 {
        self.partner_timeout.as_millis() as i64 + 1_000
    }
}

/// Drives claimed acceptances to the partners. Cheap to clone.
#[derive(Clone)]
pub struct Relay {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    registry: Registry,
    settings: RelaySettings,
    /// This process's lease owner name (unique per start).
    owner: String,
    /// Ids of acceptances this process finished, for waiting handlers.
    finished: broadcast::Sender<String>,
    /// Wakes the poller (tests, shutdown).
    wake: Notify,
    metrics: Arc<Metrics>,
    /// Learns from each outcome recorded.
    odds: OddsLearner,
    /// Counts confirmed acceptances against channels' volume agreements.
    quotas: Arc<crate::quota::Quotas>,
    /// Acceptances this process is driving now. The store's lease keeps
    /// other replicas off a row; this keeps the poller and `drive_now` of
    /// one process (same lease owner) from both calling the partner.
    driving: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("owner", &self.inner.owner)
            .finish_non_exhaustive()
    }
}

/// When to try a row again after `attempts` failed attempts: 200 ms
/// doubling, capped.
fn backoff(attempts: i32, max: Duration) -> Duration {
    let exp = attempts.clamp(1, 20) as u32 - 1;
    Duration::from_millis(200u64.saturating_mul(1u64 << exp)).min(max)
}

impl Relay {
    pub fn new(
        store: Store,
        registry: Registry,
        settings: RelaySettings,
        metrics: Arc<Metrics>,
        odds: OddsLearner,
        quotas: Arc<crate::quota::Quotas>,
    ) -> Relay {
        let (finished, _) = broadcast::channel(1024);
        Relay {
            inner: Arc::new(Inner {
                store,
                registry,
                settings,
                owner: format!("relay-{}", uuid::Uuid::new_v4().simple()),
                finished,
                wake: Notify::new(),
                metrics,
                odds,
                quotas,
                driving: Default::default(),
            }),
        }
    }

    /// Starts the poller: at once (resuming what a previous run left), then
    /// every poll interval. The task ends when the store closes.
    pub fn spawn_poller(&self) -> JoinHandle<()> {
        let relay = self.clone();
        tokio::spawn(async move {
            loop {
                match relay.poll_once().await {
                    Ok(()) => {}
                    Err(StoreError::Closed) => break,
                    Err(e) => tracing::warn!(error = %e, "acceptance relay: store poll failed"),
                }
                tokio::select! {
                    () = tokio::time::sleep(relay.inner.settings.poll_interval) => {}
                    () = relay.inner.wake.notified() => {}
                }
            }
            tracing::debug!("acceptance relay stopped");
        })
    }

    /// Leases every due row and drives each on its own task.
    async fn poll_once(&self) -> Result<(), StoreError> {
        loop {
            let rows = self
                .inner
                .store
                .lease_due_acceptances(
                    &self.inner.owner,
                    unix_millis(),
                    self.inner.settings.lease_ms(),
                    32,
                )
                .await?;
            let n = rows.len();
            for row in rows {
                tracing::info!(
                    acceptance_id = %row.acceptance_id,
                    adapter = %row.adapter_id,
                    attempts = row.attempts,
                    "acceptance relay: resuming"
                );
                let relay = self.clone();
                tokio::spawn(async move { relay.attempt(row).await });
            }
            if n < 32 {
                return Ok(());
            }
        }
    }

    /// Drives a freshly claimed acceptance now, on a task of its own (the
    /// caller's future may be dropped at any moment).
    pub fn drive_now(&self, acceptance_id: String) {
        let relay = self.clone();
        if self.driving().contains(&acceptance_id) {
            return;
        }
        tokio::spawn(async move {
            let leased = relay
                .inner
                .store
                .lease_acceptance(
                    &acceptance_id,
                    &relay.inner.owner,
                    unix_millis(),
                    relay.inner.settings.lease_ms(),
                )
                .await;
            match leased {
                Ok(Some(row)) => relay.attempt(row).await,
                // Someone else holds it, or it is finished: nothing to do.
                Ok(None) => {}
                Err(e) => {
                    // The poller picks it up later.
                    tracing::warn!(error = %e, %acceptance_id, "acceptance relay: lease failed");
                }
            }
        });
    }

    fn driving(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        // Inserts and removes only: a poisoned set is still consistent.
        self.inner.driving.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One attempt at the partner for a leased row, unless this process is
    /// already driving it.
    async fn attempt(&self, row: AcceptanceRecord) {
        if !self.driving().insert(row.acceptance_id.clone()) {
            return;
        }
        self.attempt_exclusive(&row).await;
        self.driving().remove(&row.acceptance_id);
    }

    async fn attempt_exclusive(&self, row: &AcceptanceRecord) {
        let outcome = self.call_partner(row).await;
        let now = unix_millis();
        let result = match outcome {
            Ok(AcceptOutcome {
                status: status @ (AcceptStatus::Accepted | AcceptStatus::Declined),
                partner_reference,
                detail,
            }) => {
                let state = if status == AcceptStatus::Accepted {
                    AcceptanceState::Accepted
                } else {
                    AcceptanceState::Declined
                };
                self.finish(row, state, &partner_reference, &detail, now)
                    .await
            }
            Ok(AcceptOutcome {
                status: AcceptStatus::Pending,
                ..
            }) => self.retry_later(row, "partner answered PENDING", now).await,
            Err(e) => {
                tracing::warn!(
                    acceptance_id = %row.acceptance_id,
                    adapter = %row.adapter_id,
                    attempts = row.attempts,
                    error = %e,
                    "acceptance attempt failed; will retry with the same key"
                );
                self.retry_later(row, &e.to_string(), now).await
            }
        };
        if let Err(e) = result {
            // The lease runs out and the poller retries the row.
            tracing::error!(acceptance_id = %row.acceptance_id, error = %e, "acceptance relay: store write failed");
        }
    }

    /// The partner's Accept for `row`, with the key derived from the
    /// acceptance (the same on every attempt), under the partner timeout.
    async fn call_partner(&self, row: &AcceptanceRecord) -> Result<AcceptOutcome, AttemptError> {
        let timeout = self.inner.settings.partner_timeout;
        let channel = self
            .inner
            .registry
            .get(&row.adapter_id)
            .ok_or(AttemptError::NoAdapter)?;
        let req = AcceptRequest {
            partner_offer_ref: row.partner_offer_ref.clone(),
            idempotency_key: partner_key(row),
            applicant_id: row.applicant_id.clone(),
            budget: Some(timeout),
        };
        match tokio::time::timeout(timeout, channel.adapter().accept(req)).await {
            Ok(Ok(o)) => Ok(o),
            Ok(Err(e)) => Err(AttemptError::Adapter(e)),
            Err(_) => Err(AttemptError::Adapter(AdapterError::Timeout(timeout))),
        }
    }

    /// Stores the partner's final answer (its text cleaned and bounded),
    /// counts it, and wakes the handlers waiting for it.
    async fn finish(
        &self,
        row: &AcceptanceRecord,
        state: AcceptanceState,
        partner_reference: &str,
        detail: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let detail = text::clean(detail, 200);
        let partner_reference = text::clean(partner_reference, 128);
        let stored = self
            .inner
            .store
            .complete_acceptance(&row.acceptance_id, state, &partner_reference, &detail, now)
            .await?;
        tracing::info!(
            acceptance_id = %row.acceptance_id,
            adapter = %row.adapter_id,
            status = stored.status.as_str(),
            attempts = row.attempts,
            "acceptance finished"
        );
        self.inner
            .metrics
            .acceptance_finished(stored.status == AcceptanceState::Accepted);
        if let Some(channel) = self.inner.registry.get(&row.adapter_id) {
            channel
                .metrics()
                .acceptance_finished(stored.status == AcceptanceState::Accepted);
            // From the claim to the partner's final answer, PENDING rounds and
            // re-drives included: the channel's decision time.
            let elapsed = now.saturating_sub(row.created_at_ms).max(0);
            channel
                .decisions()
                .observe(u64::try_from(elapsed).unwrap_or(0));
        }
        if stored.status == AcceptanceState::Accepted && self.inner.quotas.limited(&row.adapter_id)
        {
            match self.inner.store.get_offer(&row.tenant, &row.offer_id).await {
                Ok(Some(offer)) => {
                    self.inner
                        .quotas
                        .acceptance_confirmed(&row.adapter_id, offer.principal_minor, now)
                        .await
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(
                    acceptance_id = %row.acceptance_id,
                    error = %e,
                    "quota: the accepted offer could not be read; the acceptance is not counted"
                ),
            }
        }
        self.inner.odds.outcome_recorded();
        let _ = self.inner.finished.send(row.acceptance_id.clone());
        Ok(())
    }

    async fn retry_later(
        &self,
        row: &AcceptanceRecord,
        why: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.inner.metrics.acceptance_retry();
        let wait = backoff(row.attempts, self.inner.settings.max_backoff);
        self.inner
            .store
            .release_acceptance(
                &row.acceptance_id,
                &self.inner.owner,
                now + wait.as_millis() as i64,
                &text::clean(why, 200),
            )
            .await
    }

    /// Waits until the acceptance is final or `deadline` passes; returns
    /// the last stored state. Finishing on this process wakes the wait at
    /// once; one finished by another replica is seen by polling the store.
    pub async fn wait_final(
        &self,
        tenant: &str,
        acceptance_id: &str,
        deadline: Instant,
    ) -> Result<Option<AcceptanceRecord>, StoreError> {
        let mut finished = self.inner.finished.subscribe();
        let mut poll = Duration::from_millis(5);
        loop {
            let row = self
                .inner
                .store
                .get_acceptance(tenant, acceptance_id)
                .await?;
            match &row {
                Some(r) if r.status != AcceptanceState::Pending => return Ok(row),
                None => return Ok(None),
                _ => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(row);
            }
            let sleep_until = (now + poll).min(deadline);
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(sleep_until) => break,
                    id = finished.recv() => match id {
                        Ok(id) if id == acceptance_id => break,
                        Ok(_) => {}
                        // Missed messages: look at the store.
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => {
                            tokio::time::sleep_until(sleep_until).await;
                            break;
                        }
                    },
                }
            }
            poll = (poll * 2).min(Duration::from_millis(100));
        }
    }
}

/// The key the partner sees: the acceptance id, fixed at the claim, so a
/// re-drive after a crash or on another replica is the same acceptance.
pub fn partner_key(row: &AcceptanceRecord) -> String {
    row.acceptance_id.clone()
}

#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("adapter not configured on this router")]
    NoAdapter,
    #[error("{0}")]
    Adapter(AdapterError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let max = Duration::from_secs(30);
        assert_eq!(backoff(0, max), Duration::from_millis(200));
        assert_eq!(backoff(1, max), Duration::from_millis(200));
        assert_eq!(backoff(2, max), Duration::from_millis(400));
        assert_eq!(backoff(5, max), Duration::from_millis(3_200));
        assert_eq!(backoff(9, max), max);
        assert_eq!(backoff(i32::MAX, max), max);
    }
}

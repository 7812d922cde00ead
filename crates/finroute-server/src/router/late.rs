//! Late work: channel calls still working when the router replied go on
//! for their channel's late window (`late_window_ms`, never past its
//! `timeout_ms`), and the offers they make are stored against the
//! application as late offers: shown by GetApplication with when they
//! arrived, acceptable like any other (docs/api.md, "Late offers").
//!
//! Bounded: at most `routing.max_late_calls` calls router-wide (a call
//! over the limit is cancelled at the reply), each within its window. It
//! never delays a reply: it starts after the result was handed over, in
//! the fan-out's own task. A graceful shutdown stops it at once
//! (`InFlight::draining`): calls still working are cancelled, and every
//! offer that had arrived is already stored (each is stored as it comes).

use finroute_core::Offer;
use prost::Message;
use tokio::sync::oneshot;

use super::RouterService;
use super::record::offer_record;
use crate::convert;
use crate::fanout::Pending;
use crate::metrics::LateResult;
use finroute_core::ChannelStatus;

/// What the late work of one application needs.
#[derive(Debug)]
pub(super) struct LateJob {
    pub(super) tenant: String,
    pub(super) application_id: String,
    /// The applicant's risk band (stored with each offer for the odds).
    pub(super) risk_band: String,
    /// Sent once the application is stored; dropped when it never will be
    /// (the caller went away, the record failed or lost a request_id race).
    pub(super) recorded: oneshot::Receiver<()>,
}

impl RouterService {
    /// Polls the calls still working after the reply until each ends, the
    /// late limit refuses it, or the shutdown begins; stores the offers.
    pub(super) async fn late_work(&self, mut pending: Pending<'_>, mut job: LateJob) {
        let metrics = &self.inner.metrics;
        let mut permits = Vec::new();
        for index in pending.indices() {
            match self.inner.late_permits.clone().try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => {
                    pending.abort(index);
                    metrics.late_call(LateResult::Limit, 1);
                }
            }
        }
        let kept = permits.len() as i64;
        metrics.late_in_flight(kept);
        let mut running = kept;
        let draining = self.inner.in_flight.draining();
        tokio::pin!(draining);
        // Whether the application is stored: asked once, when the first
        // late offer is there to store.
        let mut recorded: Option<bool> = None;
        loop {
            let done = tokio::select! {
                done = pending.next() => done,
                () = &mut draining => {
                    metrics.late_call(LateResult::Shutdown, pending.indices().len());
                    break;
                }
            };
            let Some(done) = done else { break };
            running -= 1;
            metrics.late_in_flight(-1);
            let report = done.report();
            if done.offers.is_empty() {
                let result = match report.status {
                    ChannelStatus::NoOffer => LateResult::NoOffer,
                    _ => LateResult::Failed,
                };
                metrics.late_call(result, 1);
                continue;
            }
            if recorded.is_none() {
                recorded = Some((&mut job.recorded).await.is_ok());
            }
            if recorded != Some(true) {
                metrics.late_call(LateResult::Discarded, 1);
                continue;
            }
            tracing::info!(
                application_id = %job.application_id,
                adapter = %report.adapter_id,
                offers = done.offers.len(),
                "late offers arrived"
            );
            self.store_late(&job, &done.offers).await;
            metrics.late_call(LateResult::Offers, 1);
        }
        metrics.late_in_flight(-running);
        // Dropping `pending` cancels what is left; the permits go with it.
        drop(pending);
        drop(permits);
    }

    /// Stores each offer as a late offer of the job's application.
    async fn store_late(&self, job: &LateJob, offers: &[Offer]) {
        let now = super::unix_millis();
        for offer in offers {
            let late = finroute_store::LateOfferRecord {
                offer: offer_record(&job.application_id, &job.tenant, &job.risk_band, offer),
                arrived_at_ms: now,
                wire: convert::offer_to_pb(offer).encode_to_vec(),
            };
            match self.inner.store.record_late_offer(late).await {
                Ok(()) => self.inner.metrics.late_offers(1),
                Err(e) => tracing::warn!(
                    application_id = %job.application_id,
                    adapter = %offer.adapter_id,
                    error = %e,
                    "a late offer could not be stored"
                ),
            }
        }
    }
}

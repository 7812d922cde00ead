//! The record stage: the answer is durable before it is sent. The
//! application, its offers and channel reports go to the store's group
//! commit (`Store::record_application`); two calls that raced on one
//! `request_id` both answer with the one stored first.

use std::time::Duration;

use finroute_core::{ChannelReport, Offer};
use finroute_store::{ApplicationRecord, ChannelReportRecord, OfferRecord, StoreError};
use tokio::time::Instant;

use super::RouterService;
use super::route::{Answer, Routing};
use crate::convert;
use crate::error::RouterError;

/// A store commit slower than this is logged.
const SLOW_COMMIT: Duration = Duration::from_millis(50);

impl RouterService {
    /// The record stage: stores the application (with the response as
    /// sent); `Some(answer)` when another call with the same `request_id`
    /// stored first (the answer to send instead).
    pub(super) async fn record(
        &self,
        routing: &Routing,
        record: ApplicationRecord,
    ) -> Result<Option<Answer>, RouterError> {
        match self.commit(record).await {
            Ok(()) => Ok(None),
            Err(StoreError::Duplicate { .. }) if !routing.request.request_id.is_empty() => {
                self.race_lost(routing).await.map(Some)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Commits one application, timed in the metrics (`store_commit`).
    async fn commit(&self, record: ApplicationRecord) -> Result<(), StoreError> {
        let commit_started = Instant::now();
        let committed = self.inner.store.record_application(record).await;
        let commit_took = commit_started.elapsed();
        self.inner.metrics.store_commit(commit_took);
        if commit_took > SLOW_COMMIT {
            tracing::warn!(
                took_ms = commit_took.as_millis() as u64,
                "slow store commit before the reply"
            );
        }
        committed
    }

    /// Two calls raced on one `request_id`: the first one stored wins.
    async fn race_lost(&self, routing: &Routing) -> Result<Answer, RouterError> {
        let Routing {
            request,
            tenant,
            fingerprint,
            ..
        } = routing;
        self.stored_answer(tenant, &request.request_id, fingerprint)
            .await?
            .ok_or_else(|| RouterError::Internal("duplicate without a stored application".into()))
    }
}

/// The store's record of a routed application, its response bytes still
/// empty (filled in once encoded).
pub(super) fn application_record(
    routing: &Routing,
    id: &str,
    created_at_ms: i64,
    partial: bool,
    offers: &[Offer],
    reports: &[ChannelReport],
) -> ApplicationRecord {
    let (request, tenant) = (&routing.request, routing.tenant.as_str());
    let band = finroute_core::risk_band(request.applicant.credit_score);
    ApplicationRecord {
        application_id: id.to_owned(),
        tenant: tenant.into(),
        request_id: request.request_id.clone(),
        request_fingerprint: routing.fingerprint.clone(),
        applicant_fingerprint: routing.applicant_fingerprint.clone(),
        applicant_id: request.applicant.applicant_id.clone(),
        created_at_ms,
        partial,
        response: bytes::Bytes::new(),
        offers: offers
            .iter()
            .map(|o| offer_record(id, tenant, band, o))
            .collect(),
        channel_reports: reports.iter().map(report_record).collect(),
    }
}

/// One offer's row.
pub(super) fn offer_record(
    application_id: &str,
    tenant: &str,
    band: &str,
    o: &Offer,
) -> OfferRecord {
    OfferRecord {
        offer_id: o.offer_id.clone(),
        application_id: application_id.into(),
        tenant: tenant.into(),
        adapter_id: o.adapter_id.clone(),
        partner_offer_ref: o.partner_offer_ref.clone(),
        product_kind: convert::product_kind_name(o.product_kind).into(),
        currency: o.principal.currency.as_str().into(),
        principal_minor: o.principal.amount_minor,
        term_months: o.term_months as i32,
        apr_bps: o.apr_bps,
        approval_odds: o.approval_odds,
        rank: o.rank as i32,
        expires_at_ms: o.expires_at,
        risk_band: band.into(),
        prior_odds: Some(o.odds_inputs.prior),
        partner_odds: o.odds_inputs.partner,
    }
}

/// One channel report's row.
fn report_record(r: &ChannelReport) -> ChannelReportRecord {
    ChannelReportRecord {
        adapter_id: r.adapter_id.clone(),
        product_kind: convert::product_kind_name(r.product_kind).into(),
        status: convert::channel_status_name(r.status).into(),
        latency_ms: r.latency_ms as i64,
        offers_returned: r.offers_returned as i32,
        offers_rejected: r.offers_rejected as i32,
        detail: r.detail.clone(),
    }
}

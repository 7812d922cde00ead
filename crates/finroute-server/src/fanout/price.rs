//! The price stage and the channel report: what one channel's call comes
//! to, from how its stack ended.

use std::time::Duration;

use finroute_adapters::AdapterError;
use finroute_core::{ChannelReport, ChannelStatus, text};
use tokio::time::Instant;

use super::stack::{CallError, Quoted};
use super::{Channel, ChannelDone, Fanout};

/// Longest `detail` text in a channel report.
pub(crate) const MAX_DETAIL: usize = 600;

impl Fanout<'_> {
    /// The report stage of one called channel (the `map_result` step of its
    /// stack): the report for how the call ended; an answered quote is
    /// priced (`Fanout::price`). `deadline` is the call's own.
    pub(super) fn report(
        &self,
        index: usize,
        channel: &Channel,
        started: Instant,
        deadline: Instant,
        ended: Result<Quoted, CallError>,
    ) -> ChannelDone {
        let mut report = ChannelReport {
            adapter_id: channel.id.clone(),
            product_kind: channel.adapter.product_kind(),
            status: ChannelStatus::Error,
            latency_ms: 0,
            offers_returned: 0,
            offers_rejected: 0,
            detail: String::new(),
            recipients: Vec::new(),
            rejections: Vec::new(),
        };
        // A call refused before the channel was reached took no time.
        let called = !matches!(
            ended,
            Err(CallError::NoTimeLeft | CallError::LimitReached { .. })
        );
        if called {
            report.latency_ms = started.elapsed().as_millis() as u64;
        }
        match ended {
            Ok(quoted) => self.price(index, report, quoted),
            Err(e) => {
                let budget = deadline.saturating_duration_since(started);
                (report.status, report.detail) = failure(channel, budget, e);
                ChannelDone {
                    report,
                    offers: Vec::new(),
                    rejections: Vec::new(),
                }
            }
        }
    }

    /// The price stage: every offer of an answered quote validated against
    /// the request and the channel's terms, priced
    /// (`finroute_core::price_offer_learned`: schedule, APR by IRR, rate
    /// caps, affordability, learned odds) and given its offer id, or
    /// rejected with its reason; the report's counts, status and detail.
    pub(super) fn price(
        &self,
        index: usize,
        mut report: ChannelReport,
        quoted: Quoted,
    ) -> ChannelDone {
        let Quoted { outcome, described } = quoted;
        let returned = outcome.offers.len() + outcome.malformed.len();
        let mut reasons: Vec<String> = (outcome.malformed.iter())
            .map(|m| format!("offer {}: {}", m.partner_offer_ref, m.reason))
            .collect();
        let (mut offers, mut rejections) = (Vec::new(), Vec::new());
        let id_prefix = self.application_id.replacen("app_", "off_", 1);
        for (i, offer) in outcome.offers.into_iter().enumerate() {
            let terms = &described.terms;
            match finroute_core::price_offer_learned(
                self.request,
                terms,
                self.policy,
                self.odds,
                offer,
                self.now_ms,
            ) {
                Ok(mut o) => {
                    o.offer_id = format!("{id_prefix}-{index}-{i}");
                    offers.push(o);
                }
                Err(r) => {
                    reasons.push(r.to_string());
                    rejections.push(r);
                }
            }
        }
        report.offers_returned = returned as u32;
        report.offers_rejected = (returned - offers.len()) as u32;
        report.status = if offers.is_empty() {
            ChannelStatus::NoOffer
        } else {
            ChannelStatus::Ok
        };
        report.detail = quote_detail(&outcome.decline_reason, &reasons);
        ChannelDone {
            report,
            offers,
            rejections,
        }
    }
}

/// Status and detail of a call that ended without a quote (`budget` is
/// the time it had).
fn failure(channel: &Channel, budget: Duration, e: CallError) -> (ChannelStatus, String) {
    match e {
        CallError::NoTimeLeft => (
            ChannelStatus::Timeout,
            "no time left within the caller's deadline".to_owned(),
        ),
        CallError::LimitReached { max } => (
            ChannelStatus::Error,
            format!("in-flight limit of {max} calls reached"),
        ),
        CallError::CutShort => (
            ChannelStatus::Timeout,
            "cut short: the router is shutting down".to_owned(),
        ),
        CallError::Elapsed | CallError::Adapter(AdapterError::Timeout(_)) => (
            ChannelStatus::Timeout,
            format!("no answer within {} ms", budget.as_millis()),
        ),
        CallError::Adapter(e) => {
            tracing::warn!(adapter = %channel.id, error = %e, "quote failed");
            (ChannelStatus::Error, error_detail(&e))
        }
    }
}

/// A failed channel's report text: the error, cleaned and bounded.
pub(crate) fn error_detail(e: &AdapterError) -> String {
    text::clean(&e.to_string(), MAX_DETAIL)
}

/// An answered channel's report text: the partner's decline reason and why
/// each offer was rejected, cleaned and bounded.
pub(crate) fn quote_detail(decline_reason: &str, reasons: &[String]) -> String {
    let mut detail = decline_reason.to_owned();
    for r in reasons {
        if !detail.is_empty() {
            detail.push_str("; ");
        }
        detail.push_str(r);
    }
    text::clean(&detail, MAX_DETAIL)
}

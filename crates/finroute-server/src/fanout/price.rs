//! The price stage and the channel report: what one channel's call comes
//! to, from how its stack ended.

use std::time::Duration;

use finroute_adapters::AdapterError;
use finroute_core::disclosure::{lender_of, merge_parties};
use finroute_core::{
    ChannelReport, ChannelStatus, DeclineReason, OfferRejection, PartnerDecline, Party, PartyRole,
    RejectReason, Rejection, text,
};
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
            advertised_apr_from_bps: None,
            decline: None,
            late_pending: false,
        };
        // A call refused before the channel was reached took no time.
        let called = !matches!(
            ended,
            Err(CallError::NoTimeLeft | CallError::LimitReached { .. } | CallError::NotConsented)
        );
        if called {
            report.latency_ms = started.elapsed().as_millis() as u64;
            // Whoever received the applicant's data, answered or not.
            if channel.adapter.is_partner()
                && let Some(d) = channel.cached()
            {
                report.recipients = self.recipients(&d.description.parties);
            }
        }
        match ended {
            Ok(quoted) => self.price(index, channel, report, quoted),
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
        channel: &Channel,
        mut report: ChannelReport,
        quoted: Quoted,
    ) -> ChannelDone {
        let Quoted {
            mut outcome,
            described,
        } = quoted;
        report.advertised_apr_from_bps = described.description.advertised_apr_from_bps;
        if outcome.offers.is_empty() && outcome.malformed.is_empty() {
            // A no: typed when the partner typed it, else OTHER with its words.
            report.decline = Some(outcome.decline.take().unwrap_or_else(|| PartnerDecline {
                reason: DeclineReason::Other,
                missing_fields: Vec::new(),
                text: outcome.decline_reason.clone(),
                untyped: true,
            }));
        }
        let decision_ms = (channel.decisions).expected_ms(channel.adapter.product_kind());
        let partner = channel.adapter.is_partner();
        let defaults = self.channel_parties(&described.description.parties, partner);
        let returned = outcome.offers.len() + outcome.malformed.len();
        let mut rejections: Vec<Rejection> = (outcome.malformed.iter())
            .map(|m| Rejection {
                partner_offer_ref: m.partner_offer_ref.clone(),
                reason: RejectReason::InvalidField,
                field: malformed_field(&m.reason),
                message: m.reason.clone(),
                priced: None,
            })
            .collect();
        let mut offers = Vec::new();
        let id_prefix = self.application_id.replacen("app_", "off_", 1);
        let consent = &self.request.applicant.consent;
        for (i, mut offer) in outcome.offers.into_iter().enumerate() {
            offer.parties = merge_parties(&offer.parties, &defaults);
            let reject = |reason, message: String| Rejection {
                partner_offer_ref: offer.partner_offer_ref.clone(),
                reason,
                field: "parties".into(),
                message,
                priced: None,
            };
            if partner && lender_of(&offer.parties).is_none() {
                rejections.push(reject(
                    RejectReason::InvalidField,
                    "parties: no lender of record named".into(),
                ));
                continue;
            }
            let charges = offer.charges.clone();
            let terms = &described.terms;
            let priced = finroute_core::price_offer_learned(
                self.request,
                terms,
                self.policy,
                self.odds,
                offer,
                self.now_ms,
            );
            let mut o = match priced {
                Ok(o) => o,
                Err(r) => {
                    rejections.push(r);
                    continue;
                }
            };
            let rejected = |reason, message: String, o: finroute_core::Offer| Rejection {
                partner_offer_ref: o.partner_offer_ref.clone(),
                reason,
                field: "parties".into(),
                message,
                priced: Some(Box::new(o)),
            };
            if partner && !consent.names(lender_of(&o.parties)) {
                rejections.push(rejected(
                    RejectReason::LenderNotConsented,
                    "parties: the applicant's consent does not name the offer's lender of record"
                        .into(),
                    o,
                ));
                continue;
            }
            let list = (self.disclosure.lists).check(
                &o.parties,
                &charges,
                self.disclosure.require_list,
                self.now_ms,
            );
            match list {
                Ok(check) => o.partner_list = check,
                Err(not_on) => {
                    let message = text::clean(&format!("parties: {}", not_on.0), MAX_DETAIL);
                    rejections.push(rejected(RejectReason::NotOnPartnerList, message, o));
                    continue;
                }
            }
            o.offer_id = format!("{id_prefix}-{index}-{i}");
            o.expected_decision_ms = Some(decision_ms);
            offers.push(o);
        }
        let reasons: Vec<String> = rejections.iter().map(ToString::to_string).collect();
        report.rejections = (rejections.iter())
            .map(|r| OfferRejection {
                partner_offer_ref: r.partner_offer_ref.clone(),
                reason: r.reason,
                field: r.field.clone(),
                message: text::clean(&r.message, MAX_DETAIL),
            })
            .collect();
        // Malformed offers are the adapter's, not a `Rejection` of pricing.
        let malformed = outcome.malformed.len();
        let rejections = rejections.split_off(malformed);
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

    /// Who a partner channel's call shared the applicant's data with: its
    /// lender of record and the platform (its own, else `[platform]`).
    fn recipients(&self, described: &[Party]) -> Vec<Party> {
        let mut parties = self.channel_parties(described, true);
        parties.retain(|p| matches!(p.role, PartyRole::Lender | PartyRole::Platform));
        parties
    }

    /// The parties every offer of a channel starts from (its own replace
    /// a role): the channel's description's, and the `[platform]` operator
    /// as the platform; for a built-in channel that names no lender, the
    /// operator as the lender too.
    fn channel_parties(&self, described: &[Party], partner: bool) -> Vec<Party> {
        let mut parties = described.to_vec();
        if let Some(platform) = &self.disclosure.platform {
            if !parties.iter().any(|p| p.role == PartyRole::Platform) {
                parties.push(platform.clone());
            }
            if !partner && lender_of(&parties).is_none() {
                parties.push(Party {
                    role: PartyRole::Lender,
                    ..platform.clone()
                });
            }
        }
        merge_parties(&parties, &[])
    }
}

/// The field a malformed offer's reason starts with (`term_months: ...`),
/// else empty.
fn malformed_field(reason: &str) -> String {
    match reason.split_once(": ") {
        Some((field, _)) if !field.contains(' ') => field.to_owned(),
        _ => String::new(),
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
        CallError::NotConsented => (ChannelStatus::NoConsent, super::NOT_NAMED.to_owned()),
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

//! Entry points for the fuzz targets in `fuzz/` and for replaying their
//! corpus in `cargo test` (`tests/fuzz_corpus.rs`): each takes arbitrary
//! bytes, runs the router's own code on them, and must return without
//! panicking whatever the bytes are. Not an API.

use finroute_adapters::convert as c;
use finroute_core::{ChannelTerms, PricingPolicy, RateCap, Strategy};
use finroute_proto::v1 as pb;
use prost::Message;

use crate::convert::{RequestDefaults, financing_request_from_pb};

/// A RouteFinancingRequest off the wire: decode, validate, convert.
pub fn route_request(data: &[u8]) {
    if let Ok(msg) = pb::RouteFinancingRequest::decode(data) {
        let _ = financing_request_from_pb(
            &msg,
            RequestDefaults {
                strategy: Strategy::Balanced,
                max_offers: 10,
            },
        );
    }
}

/// A partner's QuoteResponse off the wire: decode, convert each offer, and
/// price the ones that convert against the README borrower.
pub fn quote_response(data: &[u8]) {
    let Ok(msg) = pb::QuoteResponse::decode(data) else {
        return;
    };
    let request = financing_request_from_pb(
        &crate::fuzzing::borrower(),
        RequestDefaults {
            strategy: Strategy::Balanced,
            max_offers: 10,
        },
    );
    let Ok(request) = request else {
        return;
    };
    let policy = PricingPolicy {
        rate_caps: vec![RateCap {
            region_prefix: "CN".into(),
            max_apr_bps: 2400,
        }],
        ..PricingPolicy::default()
    };
    let terms = ChannelTerms {
        adapter_id: "fuzz".into(),
        currencies: Vec::new(),
        min_amount: None,
        max_amount: None,
        min_term_months: 0,
        max_term_months: 0,
    };
    let mut offers = Vec::new();
    for o in msg.offers.iter().take(c::MAX_OFFERS_PER_QUOTE) {
        if let Ok(offer) = c::partner_offer_from_pb(o)
            && let Ok(priced) =
                finroute_core::price_offer(&request, &terms, &policy, offer, 1_800_000_000_000)
        {
            offers.push(priced);
        }
    }
    let _ = finroute_core::finalize(&request, &policy, offers, &[], &[]);
}

/// A `grpc-timeout` header value.
pub fn grpc_timeout(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = crate::deadline::parse_grpc_timeout(s);
    }
}

/// A config file.
pub fn config_text(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(config) = crate::Config::parse(s)
    {
        let _ = config.validate();
    }
}

/// Cash flows for the IRR solver: the first 8 bytes the disbursed amount,
/// then one payment per 8 bytes (at most 600).
pub fn irr(data: &[u8]) {
    let mut words = data
        .chunks_exact(8)
        .map(|w| i64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
    let Some(disbursed) = words.next() else {
        return;
    };
    let payments: Vec<i64> = words.take(600).collect();
    let _ = finroute_core::apr_from_cash_flows(disbursed, &payments);
}

/// The README's refused borrower, as the quote target prices against.
fn borrower() -> pb::RouteFinancingRequest {
    let cny = |n: i64| pb::Money {
        currency_code: "CNY".into(),
        amount_minor: n,
    };
    pb::RouteFinancingRequest {
        applicant: Some(pb::Applicant {
            applicant_id: "fuzz".into(),
            region: "CN-31".into(),
            credit_score: Some(688),
            monthly_income: Some(cny(2_150_000)),
            income_volatility: Some(0.15),
            monthly_debt_payments: Some(cny(430_000)),
            employment: pb::EmploymentType::Employed as i32,
            collateral: Vec::new(),
            consent: None,
        }),
        requested_amount: Some(cny(1_000_000)),
        min_term_months: 1,
        max_term_months: 60,
        ..Default::default()
    }
}

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
            lender_types: Vec::new(),
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

/// Untrusted partner text through every place the router keeps it: a
/// partner's error status (message and code from the first byte), its
/// decline reason, and an offer's reference, product name and disclosures,
/// as far as the channel report. The rest of `data` is the text (lossy
/// UTF-8, as tonic reads a grpc-message). Panics if anything kept holds an
/// unsafe character or exceeds its bound, so the fuzzer reports it.
pub fn partner_text(data: &[u8]) {
    use finroute_core::text::is_unsafe;
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let safe = |s: &str, max: usize, what: &str| {
        assert!(s.len() <= max, "{what}: {} bytes > {max}", s.len());
        assert!(!s.chars().any(is_unsafe), "{what}: unsafe character kept");
    };

    let status = tonic::Status::new(tonic::Code::from(i32::from(first % 17)), text.clone());
    let error = finroute_adapters::AdapterError::from(status);
    safe(
        &crate::fanout::error_detail(&error),
        crate::fanout::MAX_DETAIL,
        "error detail",
    );

    let mut offer = pb::PartnerOffer {
        partner_offer_ref: text.clone(),
        product_kind: pb::ProductKind::PartnerLoan as i32,
        product_name: text.clone(),
        principal: Some(pb::Money {
            currency_code: "CNY".into(),
            amount_minor: 1_000_000,
        }),
        term_months: 12,
        repayment_method: pb::RepaymentMethod::EqualInstallment as i32,
        stated_apr_bps: 1200,
        nominal_rate_bps: 1200,
        disclosures: vec![text.clone(); usize::from(first % 4)],
        valid_for: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        ..Default::default()
    };
    if first & 0x80 != 0 {
        offer.partner_offer_ref = "fuzz-1".into();
    }
    let reply = pb::QuoteResponse {
        offers: vec![offer],
        decline_reason: text,
        decline: None,
    };
    let outcome = finroute_adapters::remote::quote_outcome_from_pb(&reply);
    safe(
        &outcome.decline_reason,
        c::MAX_PARTNER_MESSAGE,
        "decline reason",
    );
    let mut reasons = Vec::new();
    for m in &outcome.malformed {
        safe(&m.partner_offer_ref, 64, "malformed reference");
        reasons.push(format!("offer {}: {}", m.partner_offer_ref, m.reason));
    }
    for o in &outcome.offers {
        assert!(
            finroute_core::text::check_id(&o.partner_offer_ref, c::MAX_ID_LEN).is_ok(),
            "an offer kept with an invalid reference"
        );
        safe(&o.product_name, c::MAX_PRODUCT_NAME, "product name");
        for d in &o.disclosures {
            safe(d, c::MAX_DISCLOSURE, "disclosure");
        }
    }
    safe(
        &crate::fanout::quote_detail(&outcome.decline_reason, &reasons),
        crate::fanout::MAX_DETAIL,
        "quote detail",
    );
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

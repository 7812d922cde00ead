//! finroute-adapters: every channel the router can fan out to sits behind
//! one [`Adapter`] trait (describe / quote / accept).
//!
//! Built-in kinds are one file each (`secured`, `installment`,
//! `partner_sim`); `remote` is a tonic client to a partner's
//! `FinancingAdapter` server. [`spec::AdapterSpec`] is the `[[adapters]]`
//! config entry and also the factory: `spec.build()` returns the running
//! adapter. Cross-cutting behaviour (timeouts, limits) is the server's, not
//! the adapters'.

/// The wire <-> domain conversions, shared with the partner SDK: the
/// `finroute-wire` crate, under the name the router has always used.
pub use finroute_wire as convert;

pub mod installment;
pub mod partner_sim;
pub mod remote;
pub mod secured;
pub mod spec;

use std::time::Duration;

/// The channel contract's domain types (`finroute_core::channel`), at the
/// paths the router has always used.
pub use finroute_core::{AcceptOutcome, AcceptRequest, AcceptStatus, Description};
use finroute_core::{Applicant, Currency, LoanPurpose, Locale, Money, PartnerOffer, ProductKind};

/// One quote call.
#[derive(Debug, Clone)]
pub struct QuoteRequest {
    /// Router-issued id of this quote.
    pub quote_id: String,
    /// Already minimised for partners (see [`Applicant::minimised`]).
    pub applicant: Applicant,
    pub requested_amount: Money,
    pub min_term_months: u32,
    pub max_term_months: u32,
    pub purpose: LoanPurpose,
    /// The language the borrower reads: built-in channels name products in
    /// it, remote partners receive it.
    pub locale: Locale,
    /// The time this channel may take (sent to remote partners as `grpc-timeout`).
    pub budget: Duration,
}

/// An offer the adapter sent that could not even be decoded into a
/// [`PartnerOffer`] (unknown currency code, missing money...).
#[derive(Debug, Clone, PartialEq)]
pub struct MalformedOffer {
    pub partner_offer_ref: String,
    /// Names the field and what is wrong; never personal data.
    pub reason: String,
}

/// What a quote returned.
#[derive(Debug, Clone, Default)]
pub struct QuoteOutcome {
    pub offers: Vec<PartnerOffer>,
    pub malformed: Vec<MalformedOffer>,
    /// Why no offer, when none.
    pub decline_reason: String,
    /// Why no offer, typed (a partner's `QuoteResponse.decline`); `None`
    /// when the adapter made offers or gave no typed reason.
    pub decline: Option<finroute_core::PartnerDecline>,
}

/// Why an adapter call failed. Messages never carry personal data.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdapterError {
    /// The partner answered with a gRPC error or the transport failed.
    #[error("partner error: {code:?}: {message}")]
    Rpc { code: tonic::Code, message: String },
    /// The call took longer than its budget.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The adapter's answer is unusable as a whole.
    #[error("malformed reply: {0}")]
    Malformed(String),
    /// The adapter does not implement this call.
    #[error("{0}")]
    Unsupported(String),
}

impl From<tonic::Status> for AdapterError {
    fn from(s: tonic::Status) -> Self {
        if s.code() == tonic::Code::DeadlineExceeded {
            // The partner (or our own grpc-timeout) gave up: a timeout to the router.
            return AdapterError::Timeout(Duration::ZERO);
        }
        // Partner messages are untrusted text: cleaned and kept short.
        AdapterError::Rpc {
            code: s.code(),
            message: finroute_core::text::clean(s.message(), convert::MAX_PARTNER_MESSAGE),
        }
    }
}

/// A channel the router fans out to.
#[async_trait::async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// The product kind this channel reports under (for channel reports of calls that failed).
    fn product_kind(&self) -> ProductKind;

    /// True for partner institutions: consent and data minimisation apply.
    /// Built-in products of the platform itself answer false.
    fn is_partner(&self) -> bool;

    /// What the adapter serves. Remote adapters call the partner.
    async fn describe(&self) -> Result<Description, AdapterError>;

    /// Soft-pull offers for one applicant.
    async fn quote(&self, req: QuoteRequest) -> Result<QuoteOutcome, AdapterError>;

    /// Book an offer; idempotent on `idempotency_key`.
    async fn accept(&self, req: AcceptRequest) -> Result<AcceptOutcome, AdapterError>;
}

/// The booking reference a built-in product gives an acceptance: derived
/// from the idempotency key alone (FNV-1a), so the same key always gets the
/// same answer with no state to lose.
pub(crate) fn builtin_reference(prefix: &str, idempotency_key: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in idempotency_key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{prefix}-{h:016x}")
}

/// Parses config currency codes, naming the bad one.
pub(crate) fn parse_currencies(codes: &[String]) -> Result<Vec<Currency>, String> {
    if codes.is_empty() {
        return Err("`currencies` must list at least one ISO 4217 code".into());
    }
    codes
        .iter()
        .map(|c| {
            Currency::parse(c).map_err(|_| format!("`currencies`: {c:?} is not an ISO 4217 code"))
        })
        .collect()
}

/// The terms of `allowed` that fall within the request, shortest and longest
/// only (two offers per product are plenty for a borrower to compare).
pub(crate) fn terms_within(allowed: &[u32], min: u32, max: u32) -> Vec<u32> {
    let mut t: Vec<u32> = allowed
        .iter()
        .copied()
        .filter(|t| (min..=max).contains(t))
        .collect();
    t.sort_unstable();
    t.dedup();
    if t.len() > 2 {
        t = vec![t[0], t[t.len() - 1]];
    }
    t
}

/// The APR the platform discloses for its own products: the true one,
/// computed from the schedule it will really charge.
pub(crate) fn honest_apr_bps(
    method: finroute_core::RepaymentMethod,
    principal: i64,
    term: u32,
    nominal_rate_bps: i32,
    monthly_fee_rate_bps: i32,
    upfront_fee: i64,
) -> i32 {
    finroute_core::cost(finroute_core::LoanTerms {
        method,
        principal,
        term_months: term,
        nominal_rate_bps,
        stated_apr_bps: nominal_rate_bps,
        monthly_fee_rate_bps,
        upfront_fee,
        schedule: Vec::new(),
        charges: Vec::new(),
        promotion: None,
    })
    .map(|c| c.apr.apr_bps)
    .unwrap_or(nominal_rate_bps)
}

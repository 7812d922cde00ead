//! finroute-partner-sdk: what a partner institution writes to receive
//! finroute's traffic.
//!
//! A partner implements one trait, [`Partner`] (`describe`, `quote`,
//! `accept`), over plain Rust types — the router's own domain types
//! ([`PartnerOffer`], [`Money`], [`Applicant`]...), never generated prost
//! types — and calls [`serve`]. The SDK speaks the
//! `finroute.v1.FinancingAdapter` proto for it, with:
//!
//! - `grpc.health.v1.Health` (SERVING while up, NOT_SERVING from the first
//!   moment of shutdown) and server reflection v1 and v1alpha, as the router;
//! - idempotent `Accept` bookkeeping: the same `idempotency_key` gets the
//!   same answer and reaches [`Partner::accept`] once, concurrent calls with
//!   one key included (see [`serve`] for the exact rules);
//! - a graceful shutdown bounded by [`SHUTDOWN_GRACE`];
//! - request checks with the router's own conversions (`finroute-wire`: a
//!   malformed request is `INVALID_ARGUMENT` with a `google.rpc.BadRequest`
//!   naming each field).
//!
//! The SDK depends on the contract (`finroute-proto`), the domain
//! (`finroute-core`) and the conversions between them (`finroute-wire`),
//! never on the router: everything in its API is either defined here or a
//! domain type re-exported from `finroute-core`. [`true_apr_bps`] prices an
//! offer with the router's own code, so a partner can state the APR the
//! router will compute.
//!
//! After a booking, [`OutcomeReporter`] tells the router what became of
//! the loan (funded, declined after review, withdrawn, repaid, in
//! arrears, defaulted) with the api key of the `partner` role the router's
//! operator gave the partner.
//!
//! The contract checks that `finroute check-adapter` runs are the
//! `finroute-conformance` crate: a partner can run them from its own Rust
//! tests (as a dev-dependency) against the server it built with this SDK.
//!
//! ```no_run
//! use finroute_partner_sdk::{
//!     AcceptOutcome, AcceptRequest, AcceptStatus, ApplicantField, Currency, DeclineReason, Description,
//!     LenderType, Money, Partner, PartnerError, Party, PartyRole, ProductKind, Quote,
//!     QuoteRequest,
//! };
//!
//! struct MyBank;
//!
//! impl Partner for MyBank {
//!     async fn describe(&self) -> Result<Description, PartnerError> {
//!         // What the bank lends: 1 000..=300 000 CNY personal loans over 12..=24 months.
//!         let cny = Currency::parse("CNY").map_err(|e| PartnerError::Unavailable(e.to_string()))?;
//!         Ok(Description {
//!             adapter_id: "my-bank".into(),
//!             display_name: "My Bank".into(),
//!             product_kinds: vec![ProductKind::PartnerLoan],
//!             currencies: vec![cny],
//!             min_amount: Some(Money::new(cny, 100_000)),
//!             max_amount: Some(Money::new(cny, 30_000_000)),
//!             min_term_months: 12,
//!             max_term_months: 24,
//!             required_fields: vec![ApplicantField::CreditScore],
//!             supports_accept: true,
//!             // The lender of record, shown with every offer (check-adapter
//!             // fails a description without one).
//!             parties: vec![Party {
//!                 role: PartyRole::Lender,
//!                 legal_name: "My Bank Co., Ltd.".into(),
//!                 registration_id: "91310000MA1FL9MB0X".into(),
//!                 contact: "+86 21 0000 0000".into(),
//!                 lender_type: Some(LenderType::Bank),
//!             }],
//!             // Quoted "from" to a borrower declined for missing data.
//!             advertised_apr_from_bps: Some(1_120),
//!         })
//!     }
//!     async fn quote(&self, request: QuoteRequest) -> Result<Quote, PartnerError> {
//!         // A typed no: the router turns MISSING_DATA into a suggestion to
//!         // the borrower naming the fields (see `Quote::missing_data`).
//!         Ok(Quote::declined(DeclineReason::OutsidePolicyTerm, "no product for this request"))
//!     }
//!     async fn accept(&self, request: AcceptRequest) -> Result<AcceptOutcome, PartnerError> {
//!         Err(PartnerError::UnknownOffer(request.partner_offer_ref))
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:50061").await?;
//! finroute_partner_sdk::serve(MyBank, listener, finroute_partner_sdk::shutdown_signal()).await?;
//! # Ok(())
//! # }
//! ```

#![warn(unreachable_pub, missing_docs)]

mod ledger;
mod outcomes;
mod serve;
mod service;

use std::future::Future;

pub use finroute_core::{
    AcceptOutcome, AcceptRequest, AcceptStatus, AdjustedTerm, Adjustment, Applicant,
    ApplicantField, Charge, ChargeKind, ChargeTiming, CollateralKind, Condition, ConditionKind,
    Currency, DeclineReason, Description, EmploymentType, Installment, LenderType, LoanPurpose,
    Locale, Money, PartnerDecline, PartnerOffer, Party, PartyRole, ProductKind, Promotion,
    Qualification, RepaymentMethod,
};
pub use outcomes::{Outcome, OutcomeEvent, OutcomeReporter, Reported, report_request};
pub use serve::{SHUTDOWN_GRACE, ServeError, serve, shutdown_signal};

/// One quote call, as the router sent it, checked and converted.
#[derive(Debug, Clone, PartialEq)]
pub struct QuoteRequest {
    /// Router-issued id of this quote (one per application and channel).
    pub quote_id: String,
    /// `applicant_id`, `consent` and exactly the fields the partner listed
    /// in [`Description::required_fields`]; the rest are empty. Its `Debug`
    /// prints only the id and region: log nothing else of it.
    pub applicant: Applicant,
    /// The amount asked for; offers must not exceed it and must be in its currency.
    pub requested_amount: Money,
    /// Shortest term the applicant asked for, in months: offers' terms
    /// must lie within `min_term_months..=max_term_months`.
    pub min_term_months: u32,
    /// Longest term the applicant asked for, in months.
    pub max_term_months: u32,
    /// What the money is for, as the applicant stated it (may be
    /// `Unspecified`).
    pub purpose: LoanPurpose,
}

/// A partner's answer to a quote: offers, or why there are none.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Quote {
    /// The offers, each validated and priced by the router; empty to decline.
    pub offers: Vec<PartnerOffer>,
    /// Why no offer, when none, in words (never personal data).
    pub decline_reason: String,
    /// Why no offer, typed (the router explains it to the borrower: a
    /// `MissingData` decline's fields become a suggestion to provide them).
    pub decline: Option<PartnerDecline>,
}

impl Quote {
    /// An answer with these offers (counter-offers and conditional offers
    /// included: see [`OfferAnswer`]).
    pub fn offers(offers: Vec<PartnerOffer>) -> Self {
        Self {
            offers,
            decline_reason: String::new(),
            decline: None,
        }
    }

    /// No offer, and why in words only (never personal data). Prefer
    /// [`Quote::declined`]: the router reads an untyped no as `OTHER`.
    pub fn decline(reason: impl Into<String>) -> Self {
        Self {
            offers: Vec::new(),
            decline_reason: reason.into(),
            decline: None,
        }
    }

    /// No offer, for a typed `reason` with optional words.
    pub fn declined(reason: DeclineReason, text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            offers: Vec::new(),
            decline_reason: text.clone(),
            decline: Some(PartnerDecline {
                reason,
                missing_fields: Vec::new(),
                text,
                untyped: false,
            }),
        }
    }

    /// No offer until the applicant shares `fields` (`MISSING_DATA`).
    pub fn missing_data(fields: Vec<ApplicantField>, text: impl Into<String>) -> Self {
        let mut q = Self::declined(DeclineReason::MissingData, text);
        if let Some(d) = &mut q.decline {
            d.missing_fields = fields;
        }
        q
    }
}

/// Builders for what an offer can say besides its terms: a counter-offer
/// (what changed from the request, and why) and a conditional approval.
pub trait OfferAnswer: Sized {
    /// Marks the offer as a counter-offer: `changed` from the request, for
    /// `reason`. Its term may then lie outside the request's range (within
    /// the partner's own); its amount must still not exceed the request.
    fn counter_offer(
        self,
        changed: &[AdjustedTerm],
        reason: DeclineReason,
        text: impl Into<String>,
    ) -> Self;

    /// Makes the offer CONDITIONAL on `conditions` (at least one: the
    /// router refuses a conditional offer without any).
    fn on_conditions(self, conditions: Vec<Condition>) -> Self;
}

impl OfferAnswer for PartnerOffer {
    fn counter_offer(
        mut self,
        changed: &[AdjustedTerm],
        reason: DeclineReason,
        text: impl Into<String>,
    ) -> Self {
        self.adjustment = Some(Adjustment {
            changed: changed.to_vec(),
            reason: Some(reason),
            text: text.into(),
        });
        self
    }

    fn on_conditions(mut self, conditions: Vec<Condition>) -> Self {
        self.qualification = Qualification::Conditional;
        self.conditions = conditions;
        self
    }
}

/// Why a partner call failed; each variant is one gRPC status code. Texts
/// reach the router (and its logs): never put personal data in them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartnerError {
    /// The request cannot be served as sent: `INVALID_ARGUMENT`.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `Accept` of an offer reference the partner never issued: `NOT_FOUND`.
    #[error("unknown offer {0:?}")]
    UnknownOffer(String),
    /// `Accept` of an offer that can no longer be booked (expired,
    /// withdrawn): `FAILED_PRECONDITION`.
    #[error("offer can no longer be accepted: {0}")]
    OfferUnavailable(String),
    /// The partner cannot answer now; the call had no effect and may be
    /// retried: `UNAVAILABLE`.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The call is not implemented (e.g. `accept` when
    /// `supports_accept` is false): `UNIMPLEMENTED`.
    #[error("not implemented: {0}")]
    Unimplemented(String),
    /// Anything else: `INTERNAL`.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<PartnerError> for tonic::Status {
    fn from(e: PartnerError) -> Self {
        use tonic::Status;
        match e {
            PartnerError::InvalidArgument(m) => Status::invalid_argument(m),
            PartnerError::UnknownOffer(r) => {
                Status::not_found(format!("unknown partner_offer_ref {r:?}"))
            }
            PartnerError::OfferUnavailable(m) => Status::failed_precondition(m),
            PartnerError::Unavailable(m) => Status::unavailable(m),
            PartnerError::Unimplemented(m) => Status::unimplemented(m),
            PartnerError::Internal(m) => Status::internal(m),
        }
    }
}

/// A partner institution's adapter: the one trait to implement.
///
/// Methods may be written as `async fn`; the futures must be `Send` (they
/// run on tonic's multi-threaded runtime). Calls arrive concurrently.
pub trait Partner: Send + Sync + 'static {
    /// What the partner lends. The router calls it at start-up and uses it
    /// to decide when to call `quote` and to validate the offers (an offer
    /// outside these terms is rejected).
    fn describe(&self) -> impl Future<Output = Result<Description, PartnerError>> + Send;

    /// Soft-pull pre-qualification for one applicant: offers, or a decline
    /// reason. Must not place a hard inquiry. The router drops the call at
    /// its deadline (`grpc-timeout`), so answer fast.
    fn quote(
        &self,
        request: QuoteRequest,
    ) -> impl Future<Output = Result<Quote, PartnerError>> + Send;

    /// Books an offer. The SDK calls it at most once per idempotency key
    /// until it gives a final answer (ACCEPTED or DECLINED), never for two
    /// keys at once on one offer, and lets it run to completion even when
    /// the caller goes away (the retry gets its answer). The key is passed
    /// on so a partner that persists bookings can stay idempotent across
    /// its own restarts.
    /// The default answers `UNIMPLEMENTED` (for `supports_accept: false`).
    fn accept(
        &self,
        request: AcceptRequest,
    ) -> impl Future<Output = Result<AcceptOutcome, PartnerError>> + Send {
        let _ = request;
        async { Err(PartnerError::Unimplemented("Accept".into())) }
    }
}

/// The APR the router will compute for `offer`, in bp: its schedule (the
/// one given, or the one the router builds from the terms, with any
/// promotion) and every mandatory charge, priced against the amount the
/// borrower nets at disbursement by the router's own IRR code: the
/// comprehensive APR. State this as `stated_apr_bps` and the router will not flag
/// the offer as understating its rate.
pub fn true_apr_bps(offer: &PartnerOffer) -> Result<i32, String> {
    let term_months = u32::try_from(offer.term_months)
        .map_err(|_| format!("term_months {} is negative", offer.term_months))?;
    let method = match offer.repayment_method {
        Some(m) => m,
        // A schedule of its own needs no method to be priced.
        None if !offer.schedule.is_empty() => finroute_core::RepaymentMethod::EqualInstallment,
        None => return Err("repayment_method is required".into()),
    };
    finroute_core::cost(finroute_core::LoanTerms {
        method,
        principal: offer.principal.amount_minor,
        term_months,
        nominal_rate_bps: offer.nominal_rate_bps,
        stated_apr_bps: offer.stated_apr_bps,
        monthly_fee_rate_bps: offer.monthly_fee_rate_bps,
        upfront_fee: offer.upfront_fee.map_or(0, |f| f.amount_minor),
        schedule: offer.schedule.clone(),
        charges: offer.charges.clone(),
        promotion: offer.promotion.clone(),
    })
    .map(|c| c.apr.apr_bps)
    .map_err(|e| e.to_string())
}

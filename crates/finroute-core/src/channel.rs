//! The channel contract as domain data: what a channel declares it serves
//! ([`Description`], the answer to `Describe`) and how an acceptance is
//! asked for and answered ([`AcceptRequest`], [`AcceptOutcome`]).
//!
//! These are shared by both sides of the `FinancingAdapter` contract: the
//! router's adapters (`finroute-adapters`) call channels with them, and the
//! partner SDK (`finroute-partner-sdk`) hands them to a partner's code. They
//! live here, in the domain crate both depend on, so neither side depends on
//! the other.

use std::time::Duration;

use crate::disclosure::Party;
use crate::domain::{ApplicantField, ProductKind};
use crate::money::{Currency, Money};
use crate::policy::ChannelTerms;

/// What a channel declares it serves (`Describe`). The router decides from
/// it when to call the channel's `Quote`, which applicant fields to send,
/// and validates the channel's offers against it ([`Description::terms`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    /// The adapter's own id (informational; channels are named by config id).
    pub adapter_id: String,
    /// Name shown to borrowers and operators (e.g. "Example Bank").
    pub display_name: String,
    /// The products the channel offers; offers of other kinds are refused.
    pub product_kinds: Vec<ProductKind>,
    /// Currencies the channel lends in; a request in another is not sent.
    pub currencies: Vec<Currency>,
    /// Smallest principal the channel lends, if it has a floor.
    pub min_amount: Option<Money>,
    /// Largest principal the channel lends, if it has a ceiling.
    pub max_amount: Option<Money>,
    /// Shortest term offered, in months (at least 1).
    pub min_term_months: u32,
    /// Longest term offered, in months (at least `min_term_months`).
    pub max_term_months: u32,
    /// Fields the adapter needs; a remote partner receives exactly these.
    pub required_fields: Vec<ApplicantField>,
    /// Whether the channel books offers through `Accept`; when false the
    /// router never forwards an acceptance to it.
    pub supports_accept: bool,
    /// The parties to the channel's loans (lender of record, platform,
    /// guarantor...); an offer's own parties replace a role given here.
    pub parties: Vec<Party>,
    /// The lowest APR the channel advertises, in bp (quoted to a borrower
    /// it declined for missing data); `None` when it advertises none.
    pub advertised_apr_from_bps: Option<i32>,
}

impl Description {
    /// The terms the router validates this adapter's offers against, for
    /// the channel named `adapter_id` (the fan-out and `check-adapter` both
    /// take them from here).
    pub fn terms(&self, adapter_id: &str) -> ChannelTerms {
        ChannelTerms {
            adapter_id: adapter_id.to_owned(),
            currencies: self.currencies.clone(),
            min_amount: self.min_amount,
            max_amount: self.max_amount,
            min_term_months: self.min_term_months,
            max_term_months: self.max_term_months,
        }
    }
}

/// An acceptance forwarded to a channel: book this offer for this applicant.
#[derive(Debug, Clone)]
pub struct AcceptRequest {
    /// The channel's own reference of the offer, as it sent it in its quote.
    pub partner_offer_ref: String,
    /// Stable per acceptance (derived from the router's claim): a retry
    /// carries the same key and must get the same answer.
    pub idempotency_key: String,
    /// The pseudonymous applicant id the offer was quoted for.
    pub applicant_id: String,
    /// How long the caller will wait for the answer; a remote adapter sends
    /// it as `grpc-timeout` so the partner does not work past it (`None`:
    /// 5 s). The partner SDK passes `None`: the deadline is the gRPC
    /// runtime's, not the partner's.
    pub budget: Option<Duration>,
}

/// A channel's answer to an acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptStatus {
    /// Booked: final.
    Accepted,
    /// Refused: final (the offer is no longer open to this applicant).
    Declined,
    /// Not decided yet: the same idempotency key asks again later.
    Pending,
}

/// What an acceptance returned.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptOutcome {
    /// Accepted, declined or pending.
    pub status: AcceptStatus,
    /// The channel's booking reference (empty until it has one).
    pub partner_reference: String,
    /// A short explanation for the borrower or operator; never personal data.
    pub detail: String,
}

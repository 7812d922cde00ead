//! finroute-core: the domain of a financing router, as pure functions.
//!
//! No I/O, no clock, no tonic/prost/sqlx: money in integer minor units,
//! repayment schedules, APR by IRR, offer validation, approval odds,
//! affordability, ranking, the application plan and refusal explanations
//! (`docs/pricing.md`). The edge crates convert to and from the
//! wire types.
//!
//! The path of one offer: [`price_offer`] (validate, [`build_schedule`] or
//! [`check_schedule`], [`apr_from_cash_flows`], [`debt_to_income`],
//! [`OddsModel`]) gives an [`Offer`] or a [`Rejection`]; after the
//! fan-out, [`finalize()`] ranks ([`rank_offers`]), plans
//! ([`application_plan`]) and explains ([`explain()`]).
//!
//! Every human-readable text is built as a `catalog::Message` and written
//! in the request's locale by that locale's message catalog
//! (`src/catalog/`); the domain code holds no borrower-facing wording.

#![warn(unreachable_pub, missing_docs)]

pub mod affordability;
pub mod answer;
pub mod apr;
pub mod channel;
pub mod charges;
pub mod disclosure;
pub mod domain;
pub mod explain;
pub mod finalize;
pub mod money;
pub mod odds;
pub mod plan;
pub mod policy;
pub mod pricing;
pub mod rank;
pub mod rejection;
pub mod schedule;
pub mod text;

mod catalog;
mod scenario;
mod wording;

#[cfg(test)]
mod fixtures;

pub use affordability::{VOLATILITY_STRESS, debt_to_income};
pub use answer::{
    AdjustedTerm, Adjustment, Condition, ConditionKind, DeclineReason, PartnerDecline,
};
pub use apr::{AprError, AprResult, apr_from_cash_flows};
pub use channel::{AcceptOutcome, AcceptRequest, AcceptStatus, Description};
pub use disclosure::{
    Charge, ChargeKind, ChargeTiming, CostLine, LenderType, PartnerListCheck, Party, PartyRole,
    Promotion, RateLabels,
};
pub use domain::*;
pub use explain::explain;
pub use finalize::{Finalized, finalize};
pub use money::{Currency, InvalidCurrency, Money, format_major};
pub use odds::{
    Calibration, Learning, MAX_ODDS, MIN_ODDS, OddsBook, OddsEstimate, OddsInputs, OddsModel,
    Outcome, risk_band,
};
pub use plan::{PLAN_TARGET_PROBABILITY, application_plan};
pub use policy::{ChannelTerms, PricingPolicy, RateCap};
pub use pricing::{CostError, Costed, LoanTerms, cost, price_offer, price_offer_learned};
pub use rank::{
    AFFORDABILITY_PENALTY_BPS_PER_POINT, STRONG_ODDS, affordability_penalty_bps, balanced_cost_bps,
    rank_offers,
};
pub use rejection::{RejectReason, Rejection};
pub use schedule::{
    MAX_TERM_MONTHS, ScheduleError, build_schedule, check_schedule, total_payments,
};
pub use wording::{Fact, apr_label, cost_line_text, ear_label, fact_text, rate_labels};

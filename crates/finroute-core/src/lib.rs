//! finroute-core: the domain of a financing router, as pure functions.
//!
//! No I/O, no clock, no tonic/prost/sqlx: money in integer minor units,
//! repayment schedules, APR by IRR, offer validation, approval odds,
//! affordability, ranking, the application plan and refusal explanations
//! (`../shared/design/ranking.md`). The edge crates convert to and from the
//! wire types.

pub mod domain;
pub mod money;
pub mod policy;

pub use domain::*;
pub use money::{Currency, InvalidCurrency, Money};
pub use policy::{ChannelTerms, PricingPolicy, RateCap};

//! The router's pricing policy (from config) and each channel's declared terms.

use crate::disclosure::LenderType;
use crate::money::{Currency, Money};
use crate::odds::OddsModel;

/// A maximum APR for applicants whose region starts with `region_prefix`
/// (with the `serde` feature: one `[[compliance.rate_caps]]` entry, both
/// keys required, unknown keys refused).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct RateCap {
    /// ISO 3166 prefix the cap applies to (`CN` for a country, `CN-31` for
    /// one subdivision, `""` for every region); the longest matching prefix
    /// wins.
    pub region_prefix: String,
    /// The highest comprehensive APR allowed, in bp; offers above it are
    /// rejected.
    pub max_apr_bps: i32,
    /// The lender types the cap applies to; empty = every type. A cap
    /// naming the offer's lender type wins over one naming none for the
    /// same region prefix.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub lender_types: Vec<LenderType>,
}

/// Everything pricing and ranking need from config.
#[derive(Debug, Clone, PartialEq)]
pub struct PricingPolicy {
    /// Longest matching prefix wins.
    pub rate_caps: Vec<RateCap>,
    /// `h`: the cost of one application, in bp of APR (default 150).
    pub inquiry_cost_bps: i32,
    /// DTI above this: warning and rank penalty (0.50).
    pub affordability_warning: f64,
    /// DTI above this: not offered (default 0.70).
    pub affordability_hard_limit: f64,
    /// Computed APR above stated by more than this: STATED_APR_UNDERSTATED (10).
    pub understatement_tolerance_bps: i32,
    /// Within this of the cap: NEAR_RATE_CAP (200).
    pub near_cap_margin_bps: i32,
    /// The approval-odds prior and partner blend.
    pub odds: OddsModel,
}

impl Default for PricingPolicy {
    fn default() -> Self {
        Self {
            rate_caps: Vec::new(),
            inquiry_cost_bps: 150,
            affordability_warning: 0.50,
            affordability_hard_limit: 0.70,
            understatement_tolerance_bps: 10,
            near_cap_margin_bps: 200,
            odds: OddsModel::default(),
        }
    }
}

impl PricingPolicy {
    /// The cap applying to `region` and a lender of `lender_type`: among
    /// caps whose prefix matches and whose types are empty or name the
    /// type, the longest prefix; at equal length one naming the type wins.
    pub fn rate_cap_for(&self, region: &str, lender_type: LenderType) -> Option<&RateCap> {
        self.rate_caps
            .iter()
            .filter(|c| region.starts_with(&c.region_prefix))
            .filter(|c| c.lender_types.is_empty() || c.lender_types.contains(&lender_type))
            .max_by_key(|c| (c.region_prefix.len(), !c.lender_types.is_empty()))
    }
}

/// What a channel declared it serves (from `Describe`), used to validate its offers.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelTerms {
    /// The channel's config id.
    pub adapter_id: String,
    /// Currencies the channel lends in.
    pub currencies: Vec<Currency>,
    /// Smallest principal the channel lends, if it has a floor.
    pub min_amount: Option<Money>,
    /// Largest principal the channel lends, if it has a ceiling.
    pub max_amount: Option<Money>,
    /// Shortest term offered, in months.
    pub min_term_months: u32,
    /// Longest term offered, in months.
    pub max_term_months: u32,
}

//! Test fixtures: a refused borrower's request, a channel, partner offers to
//! price and priced offers to rank. Numbers follow ranking.md's examples.

use crate::domain::{
    Applicant, Collateral, CollateralKind, EmploymentType, FinancingRequest, Installment,
    LoanPurpose, Locale, OddsSource, Offer, PartnerOffer, PrimaryDecision, ProductKind,
    Qualification, RefusalReason, RepaymentMethod, Strategy,
};
use crate::money::{Currency, Money};
use crate::policy::{ChannelTerms, PricingPolicy, RateCap};

pub(crate) fn cny(minor: i64) -> Money {
    Money::new(Currency::parse("CNY").expect("valid code"), minor)
}

pub(crate) fn usd(minor: i64) -> Money {
    Money::new(Currency::parse("USD").expect("valid code"), minor)
}

/// Income 20 000, debts 2 000, score 680, employed, in Shanghai.
pub(crate) fn applicant() -> Applicant {
    Applicant {
        applicant_id: "a-1".into(),
        region: "CN-31".into(),
        credit_score: Some(680),
        monthly_income: Some(cny(2_000_000)),
        income_volatility: None,
        monthly_debt_payments: Some(cny(200_000)),
        employment: Some(EmploymentType::Employed),
        collateral: vec![Collateral {
            kind: CollateralKind::Vehicle,
            appraised_value: cny(5_000_000),
            encumbered: false,
        }],
        consent: Default::default(),
    }
}

/// 10 000.00 CNY over 3..=24 months, refused for DTI and a line cut.
pub(crate) fn request() -> FinancingRequest {
    FinancingRequest {
        request_id: "r-1".into(),
        applicant: applicant(),
        requested_amount: cny(1_000_000),
        min_term_months: 3,
        max_term_months: 24,
        purpose: LoanPurpose::Consumption,
        primary_decision: Some(PrimaryDecision {
            refused: true,
            displayed_line: Some(cny(2_000_000)),
            drawable_amount: Some(cny(200_000)),
            reasons: vec![
                RefusalReason::DynamicLineAdjustment,
                RefusalReason::DebtToIncomeTooHigh,
            ],
        }),
        strategy: Strategy::Balanced,
        product_kinds: Vec::new(),
        max_offers: 10,
        locale: Locale::En,
        channels: Default::default(),
    }
}

pub(crate) fn terms(adapter_id: &str) -> ChannelTerms {
    ChannelTerms {
        adapter_id: adapter_id.into(),
        currencies: vec![Currency::parse("CNY").expect("valid code")],
        min_amount: Some(cny(100_000)),
        max_amount: Some(cny(5_000_000)),
        min_term_months: 3,
        max_term_months: 36,
    }
}

/// Mainland caps at 24 % (the default policy otherwise).
pub(crate) fn policy() -> PricingPolicy {
    PricingPolicy {
        rate_caps: vec![RateCap {
            region_prefix: "CN".into(),
            max_apr_bps: 2400,
            lender_types: Vec::new(),
        }],
        ..PricingPolicy::default()
    }
}

/// An annuity of 10 000.00 over 12 months at 12 %, stated honestly.
pub(crate) fn partner_offer(reference: &str) -> PartnerOffer {
    PartnerOffer {
        partner_offer_ref: reference.into(),
        product_kind: Some(ProductKind::PartnerLoan),
        product_name: "Quick Loan".into(),
        principal: cny(1_000_000),
        term_months: 12,
        repayment_method: Some(RepaymentMethod::EqualInstallment),
        qualification: Qualification::PreQualified,
        stated_apr_bps: 1200,
        nominal_rate_bps: 1200,
        monthly_fee_rate_bps: 0,
        upfront_fee: None,
        schedule: Vec::new(),
        approval_probability: Some(0.8),
        valid_for_ms: 600_000,
        requires_collateral: false,
        disclosures: vec!["terms apply".into()],
        charges: Vec::new(),
        parties: Vec::new(),
        promotion: None,
        adjustment: None,
        conditions: Vec::new(),
    }
}

/// A priced offer with just what ranking reads.
pub(crate) fn offer(id: &str, apr_bps: i32, odds: f64) -> Offer {
    Offer {
        offer_id: id.into(),
        adapter_id: format!("ad-{id}"),
        partner_offer_ref: format!("ref-{id}"),
        product_kind: ProductKind::PartnerLoan,
        product_name: format!("Loan {id}"),
        principal: cny(1_000_000),
        disbursed: cny(1_000_000),
        term_months: 12,
        repayment_method: RepaymentMethod::EqualInstallment,
        schedule: vec![Installment {
            period: 1,
            principal: 1_000_000,
            interest: 0,
            fee: 0,
        }],
        apr_bps,
        stated_apr_bps: apr_bps,
        effective_annual_rate_bps: apr_bps,
        total_cost: cny(0),
        first_payment: cny(88_849),
        approval_odds: odds,
        odds_source: OddsSource::Model,
        odds_inputs: Default::default(),
        qualification: Qualification::PreQualified,
        debt_to_income: None,
        rank: 0,
        score: 0.0,
        rank_reasons: Vec::new(),
        warnings: Vec::new(),
        expires_at: 0,
        disclosures: Vec::new(),
        parties: Vec::new(),
        cost_breakdown: Vec::new(),
        promotion: None,
        post_promotion_rate_bps: 0,
        promotion_ends_at: None,
        partner_list: None,
        rate_labels: Default::default(),
        adjustment: None,
        conditions: Vec::new(),
        expected_decision_ms: None,
    }
}

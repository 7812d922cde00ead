//! Pricing one partner offer: validate it against the request and the
//! channel's declared terms, build or check its schedule, compute its true
//! APR from the cash flows, attach warnings, affordability and approval odds.
//! The result is an [`Offer`] or a [`Rejection`] naming the field at fault;
//! nothing a partner sends can make it panic.
//!
//! Checks run cheapest first, and the first failure is reported. Offers
//! rejected after pricing (rate cap, affordability) carry the priced offer.

use crate::affordability::debt_to_income_of;
use crate::answer::{AdjustedTerm, Adjustment};
use crate::apr::{AprError, AprResult};
use crate::charges::{ChargeError, CostShare, LegacyFees, apply_promotion, price_charges};
use crate::disclosure::{Charge, CostLine, Party, PartyRole, Promotion, lender_of};
use crate::domain::{
    FinancingRequest, Installment, Offer, OfferWarning, PartnerOffer, ProductKind, Qualification,
    RepaymentMethod, UnixMillis,
};
use crate::money::Money;
use crate::odds::{OddsBook, collateral_cover, risk_band};
use crate::policy::{ChannelTerms, PricingPolicy};
use crate::rejection::{RejectReason, Rejection};
use crate::schedule::{
    MAX_TERM_MONTHS, ScheduleError, build_schedule, check_schedule, total_payments,
};
use crate::wording;

/// What a loan's cost is computed from: its terms as the router reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanTerms {
    /// How a built schedule computes its payments.
    pub method: RepaymentMethod,
    /// The amount lent, in minor units.
    pub principal: i64,
    /// Term in months: one schedule row per month.
    pub term_months: u32,
    /// The rate a built schedule charges; 0: `stated_apr_bps` (a partner
    /// that quotes one figure means it as the rate).
    pub nominal_rate_bps: i32,
    /// The APR the lender states (the rate when `nominal_rate_bps` is 0).
    pub stated_apr_bps: i32,
    /// Flat-fee installments: fee per month on the original principal.
    pub monthly_fee_rate_bps: i32,
    /// Kept back from the principal at disbursement.
    pub upfront_fee: i64,
    /// The lender's own schedule, checked; empty: built from the terms.
    /// Its fee column is the lender's own fees; typed charges come on top.
    pub schedule: Vec<Installment>,
    /// Every typed charge (mandatory ones are cash flows of the APR).
    pub charges: Vec<Charge>,
    /// A promotion applied to a built schedule (a lender's own schedule is
    /// taken as already including it) and to the charges it waives.
    pub promotion: Option<Promotion>,
}

/// A loan's schedule and its true cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Costed {
    /// The schedule priced: the lender's own, checked, or the one built,
    /// with every mandatory per-period charge in its fee column.
    pub schedule: Vec<Installment>,
    /// Every payment of the schedule, summed.
    pub repaid: i64,
    /// Kept back from the principal at disbursement (upfront fee and
    /// deducted charges): the borrower receives `principal - deducted`.
    pub deducted: i64,
    /// Charges the borrower pays at disbursement, apart from the schedule.
    pub paid_at_disbursement: i64,
    /// From the cash flows: +(principal - deducted - paid at disbursement),
    /// -each payment: the comprehensive APR.
    pub apr: AprResult,
    /// The rate the schedule was built at (the rate after any promotion).
    pub rate_bps: i32,
    /// The cost line by line: interest, each mandatory charge (shares sum
    /// to the APR), then declinable charges.
    pub lines: Vec<CostShare>,
}

/// Why a loan's cost cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    /// The terms or the lender's schedule are not a valid loan.
    #[error("{0}")]
    Schedule(ScheduleError),
    /// The schedule's cash flows have no APR (see [`AprError`]).
    #[error("schedule cannot be priced: {0}")]
    Apr(AprError),
    /// A charge or the promotion is malformed, or the flows with charges
    /// cannot be priced.
    #[error("{0}")]
    Charge(ChargeError),
}

/// The one schedule-plus-APR computation: the schedule (the lender's,
/// checked, or built from the terms) and the APR of its cash flows. Used by
/// [`price_offer`], by the built-in channels to state their own APR, and by
/// the partner SDK's `true_apr_bps`, so all three always agree.
pub fn cost(mut terms: LoanTerms) -> Result<Costed, CostError> {
    let rate = if terms.nominal_rate_bps == 0 {
        terms.stated_apr_bps
    } else {
        terms.nominal_rate_bps
    };
    let built = terms.schedule.is_empty();
    let mut schedule = if built {
        if terms.monthly_fee_rate_bps < 0 {
            return Err(CostError::Schedule(ScheduleError::NegativeRate {
                field: "monthly_fee_rate_bps",
                bps: terms.monthly_fee_rate_bps,
            }));
        }
        // The flat fee is priced as a charge (a line of its own).
        build_schedule(terms.method, terms.principal, terms.term_months, rate, 0)
    } else {
        check_schedule(&terms.schedule, terms.principal, terms.term_months)
            .map(|()| std::mem::take(&mut terms.schedule))
    }
    .map_err(CostError::Schedule)?;
    let promotion = terms.promotion.as_ref().filter(|p| !p.is_empty());
    if built && let Some(p) = promotion {
        apply_promotion(&mut schedule, terms.method, terms.principal, rate, p)
            .map_err(CostError::Charge)?;
    }
    let legacy = LegacyFees {
        upfront: terms.upfront_fee,
        monthly_rate_bps: if built { terms.monthly_fee_rate_bps } else { 0 },
    };
    let charged = price_charges(terms.principal, schedule, legacy, &terms.charges, promotion)
        .map_err(|e| match e {
            ChargeError::Apr(e) => CostError::Apr(e),
            e => CostError::Charge(e),
        })?;
    let repaid = total_payments(&charged.schedule).map_err(CostError::Schedule)?;
    Ok(Costed {
        schedule: charged.schedule,
        repaid,
        deducted: charged.deducted,
        paid_at_disbursement: charged.paid_at_disbursement,
        apr: charged.apr,
        rate_bps: rate,
        lines: charged.lines,
    })
}

/// Validates and prices `offer`, made by the channel `terms.adapter_id` for
/// `req`, at time `now`.
///
/// The schedule is the partner's when it sent one (checked, not trusted for
/// price), else built from the terms: `nominal_rate_bps` (or `stated_apr_bps`
/// when that is 0) and `monthly_fee_rate_bps`. APR and EAR come from the
/// cash flows (+disbursed, -each payment), never from the partner's claim.
///
/// `offer_id` is left empty (the server assigns it) and `rank` 0. The odds
/// are the configured blend with no history ([`price_offer_learned`] uses
/// what outcomes taught).
pub fn price_offer(
    req: &FinancingRequest,
    terms: &ChannelTerms,
    policy: &PricingPolicy,
    offer: PartnerOffer,
    now: UnixMillis,
) -> Result<Offer, Rejection> {
    let book = OddsBook::empty(&policy.odds);
    price_offer_learned(req, terms, policy, &book, offer, now)
}

/// [`price_offer`] with the approval odds from `book` (the channel's learned
/// blend and the applicant's risk band).
pub fn price_offer_learned(
    req: &FinancingRequest,
    terms: &ChannelTerms,
    policy: &PricingPolicy,
    book: &OddsBook,
    mut offer: PartnerOffer,
    now: UnixMillis,
) -> Result<Offer, Rejection> {
    let valid = match check_terms(req, terms, &offer) {
        Ok(valid) => valid,
        Err(problem) => return Err(problem.reject(offer.partner_offer_ref)),
    };
    let currency = req.currency();
    let principal = offer.principal.amount_minor;
    let costed = cost(LoanTerms {
        method: valid.method,
        principal,
        term_months: valid.term,
        nominal_rate_bps: offer.nominal_rate_bps,
        stated_apr_bps: offer.stated_apr_bps,
        monthly_fee_rate_bps: offer.monthly_fee_rate_bps,
        upfront_fee: valid.upfront,
        schedule: std::mem::take(&mut offer.schedule),
        charges: std::mem::take(&mut offer.charges),
        promotion: offer.promotion.clone(),
    });
    let Costed {
        schedule,
        repaid,
        deducted,
        paid_at_disbursement,
        apr,
        rate_bps,
        lines,
    } = match costed {
        Ok(c) => c,
        Err(CostError::Schedule(e)) => {
            return Err(schedule_problem(e).reject(offer.partner_offer_ref));
        }
        Err(CostError::Charge(ChargeError::Invalid { field, message })) => {
            let reason = if field.starts_with("charges") {
                RejectReason::InvalidCharge
            } else {
                RejectReason::InvalidField
            };
            let message = format!("{field} {message}");
            return Err(Problem::new(reason, field, message).reject(offer.partner_offer_ref));
        }
        Err(CostError::Charge(e)) => {
            let problem = Problem::new(RejectReason::Unpriceable, "charges", e.to_string());
            return Err(problem.reject(offer.partner_offer_ref));
        }
        Err(CostError::Apr(e)) => {
            let problem = Problem::new(
                RejectReason::Unpriceable,
                "schedule",
                format!("schedule cannot be priced: {e}"),
            );
            return Err(problem.reject(offer.partner_offer_ref));
        }
    };
    // cost: deducted < principal (the net flow at disbursement is
    // positive), and the principal column alone sums to the principal.
    let disbursed = principal - deducted;
    let first_payment = schedule.first().map_or(0, |r| r.payment());
    let parties = with_payees(offer.parties, &lines);
    let lender_type = lender_of(&parties)
        .and_then(|l| l.lender_type)
        .unwrap_or_default();
    let cost_breakdown = cost_lines(&lines, &parties, currency, req.locale);
    let promotion = offer.promotion.filter(|p| !p.is_empty());
    let (post_promotion_rate_bps, promotion_ends_at) = match &promotion {
        Some(p) => (rate_bps, p.ends_at(now, valid.term)),
        None => (0, None),
    };

    let mut warnings = Vec::new();
    if apr.apr_bps
        > offer
            .stated_apr_bps
            .saturating_add(policy.understatement_tolerance_bps)
    {
        warnings.push(OfferWarning::StatedAprUnderstated);
    }
    let dti = debt_to_income_of(&req.applicant, Money::new(currency, first_payment));
    if dti.is_some_and(|d| d > policy.affordability_warning) {
        warnings.push(OfferWarning::AffordabilityRisk);
    }
    let needs_collateral = offer.requires_collateral || valid.kind == ProductKind::SecuredLoan;
    if needs_collateral {
        warnings.push(OfferWarning::RequiresCollateral);
    }
    let cap = policy.rate_cap_for(&req.applicant.region, lender_type);
    if let Some(cap) = cap
        && apr.apr_bps >= cap.max_apr_bps.saturating_sub(policy.near_cap_margin_bps)
        && apr.apr_bps <= cap.max_apr_bps
    {
        warnings.push(OfferWarning::NearRateCap);
    }
    let cover = if needs_collateral {
        collateral_cover(&req.applicant, offer.principal)
    } else {
        None
    };
    let inputs = policy
        .odds
        .inputs(&req.applicant, dti, offer.approval_probability, cover);
    let odds = book.estimate(
        &terms.adapter_id,
        risk_band(req.applicant.credit_score),
        inputs,
    );

    let priced = Offer {
        offer_id: String::new(),
        adapter_id: terms.adapter_id.clone(),
        partner_offer_ref: offer.partner_offer_ref,
        product_kind: valid.kind,
        product_name: offer.product_name,
        principal: offer.principal,
        disbursed: Money::new(currency, disbursed),
        term_months: valid.term,
        repayment_method: valid.method,
        schedule,
        apr_bps: apr.apr_bps,
        stated_apr_bps: offer.stated_apr_bps,
        effective_annual_rate_bps: apr.effective_annual_rate_bps,
        total_cost: Money::new(
            currency,
            repaid
                .saturating_add(paid_at_disbursement)
                .saturating_sub(disbursed),
        ),
        first_payment: Money::new(currency, first_payment),
        approval_odds: odds.odds,
        odds_source: odds.source,
        odds_inputs: inputs,
        qualification: offer.qualification,
        debt_to_income: dti,
        rank: 0,
        score: 0.0,
        rank_reasons: Vec::new(),
        warnings,
        expires_at: now.saturating_add(offer.valid_for_ms),
        disclosures: offer.disclosures,
        parties,
        cost_breakdown,
        promotion,
        post_promotion_rate_bps,
        promotion_ends_at,
        partner_list: None,
        rate_labels: wording::rate_labels(apr.apr_bps, apr.effective_annual_rate_bps, req.locale),
        adjustment: adjustment_seen(req, offer.adjustment, offer.principal, valid.term),
        conditions: offer.conditions,
        expected_decision_ms: None,
    };

    if let Some(cap) = cap
        && priced.apr_bps > cap.max_apr_bps
    {
        let message = format!(
            "APR {} above the {} cap for {}",
            wording::rate_bps(priced.apr_bps, crate::domain::Locale::En),
            wording::rate_bps(cap.max_apr_bps, crate::domain::Locale::En),
            cap.region_prefix
        );
        return Err(
            Problem::new(RejectReason::AboveRateCap, "schedule", message).reject_priced(priced),
        );
    }
    if dti.is_some_and(|d| d > policy.affordability_hard_limit) {
        let message = format!(
            "debt-to-income after this loan above the {} limit",
            wording::odds(policy.affordability_hard_limit, crate::domain::Locale::En)
        );
        return Err(
            Problem::new(RejectReason::Unaffordable, "schedule", message).reject_priced(priced),
        );
    }
    Ok(priced)
}

/// `parties` with a party for every charge payee it does not name (a
/// guarantor paid by a charge is a party to the loan even when the offer
/// forgot to list it), roles in order.
fn with_payees(mut parties: Vec<Party>, lines: &[CostShare]) -> Vec<Party> {
    for l in lines {
        if l.payee == PartyRole::Lender || l.payee_name.is_empty() {
            continue;
        }
        let named = parties
            .iter()
            .any(|p| p.role == l.payee && p.legal_name == l.payee_name);
        if !named {
            parties.push(Party {
                role: l.payee,
                legal_name: l.payee_name.clone(),
                registration_id: String::new(),
                contact: String::new(),
                lender_type: None,
            });
        }
    }
    parties.sort_by_key(|p| p.role);
    parties
}

/// The shown breakdown: each line in the offer's currency, a lender
/// payee named after the lender of record, its text in `locale`.
fn cost_lines(
    lines: &[CostShare],
    parties: &[Party],
    currency: crate::money::Currency,
    locale: crate::domain::Locale,
) -> Vec<CostLine> {
    let lender = lender_of(parties)
        .map(|p| p.legal_name.as_str())
        .unwrap_or("");
    lines
        .iter()
        .map(|l| CostLine {
            kind: l.kind,
            payee: l.payee,
            payee_name: if l.payee == PartyRole::Lender && l.payee_name.is_empty() {
                lender.to_owned()
            } else {
                l.payee_name.clone()
            },
            timing: l.timing,
            total: Money::new(currency, l.total),
            apr_share_bps: l.apr_share_bps,
            declinable: l.declinable,
            text: String::new(),
        })
        .map(|mut line| {
            line.text = wording::cost_line_text(&line, locale);
            line
        })
        .collect()
}

/// What validation established about an offer.
struct ValidTerms {
    kind: ProductKind,
    method: RepaymentMethod,
    term: u32,
    upfront: i64,
}

/// A validation failure, before it is tied to the offer's reference.
struct Problem {
    reason: RejectReason,
    field: String,
    message: String,
}

impl Problem {
    fn new(reason: RejectReason, field: impl Into<String>, message: String) -> Self {
        Self {
            reason,
            field: field.into(),
            message,
        }
    }

    fn reject(self, partner_offer_ref: String) -> Rejection {
        Rejection {
            partner_offer_ref,
            reason: self.reason,
            field: self.field,
            message: self.message,
            priced: None,
        }
    }

    fn reject_priced(self, offer: Offer) -> Rejection {
        Rejection {
            partner_offer_ref: offer.partner_offer_ref.clone(),
            reason: self.reason,
            field: self.field,
            message: self.message,
            priced: Some(Box::new(offer)),
        }
    }
}

fn schedule_problem(e: ScheduleError) -> Problem {
    let reason = match e {
        ScheduleError::Overflow => RejectReason::Unpriceable,
        ScheduleError::TermOutOfRange { .. } => RejectReason::TermOutOfRange,
        ScheduleError::NonPositivePrincipal { .. } => RejectReason::AmountOutOfRange,
        ScheduleError::NegativeRate { .. } => RejectReason::InvalidField,
        _ => RejectReason::ScheduleInconsistent,
    };
    Problem::new(reason, e.field(), e.to_string())
}

/// `min..=max`, or `min..` when `max` is 0 (no upper bound).
fn range_text(min: u32, max: u32) -> String {
    if max == 0 {
        format!("{min}..")
    } else {
        format!("{min}..={max}")
    }
}

fn within(value: u32, min: u32, max: u32) -> bool {
    value >= min && (max == 0 || value <= max)
}

/// Every check that needs no schedule, in the order they are reported.
///
/// A `max_term_months` of 0 (request or channel) means no upper bound; channel
/// amount bounds in a currency other than the request's are not applied (they
/// cannot be compared without conversion).
/// A counter-offer's adjustment with what pricing sees changed from the
/// request added (a smaller amount, a term outside the requested range);
/// `None` when it is not a counter-offer or nothing is said or seen changed.
fn adjustment_seen(
    req: &FinancingRequest,
    adjustment: Option<Adjustment>,
    principal: Money,
    term: u32,
) -> Option<Adjustment> {
    let mut a = adjustment?;
    if principal.amount_minor < req.requested_amount.amount_minor {
        a.changed.push(AdjustedTerm::Amount);
    }
    if !within(term, req.min_term_months, req.max_term_months) {
        a.changed.push(AdjustedTerm::Term);
    }
    a.changed.sort_unstable();
    a.changed.dedup();
    (!a.changed.is_empty()).then_some(a)
}

fn check_terms(
    req: &FinancingRequest,
    terms: &ChannelTerms,
    o: &PartnerOffer,
) -> Result<ValidTerms, Problem> {
    use RejectReason::*;
    if o.partner_offer_ref.is_empty() {
        return Err(Problem::new(
            InvalidField,
            "partner_offer_ref",
            "partner_offer_ref is empty".into(),
        ));
    }
    let Some(kind) = o.product_kind else {
        return Err(Problem::new(
            InvalidField,
            "product_kind",
            "product_kind missing or unknown".into(),
        ));
    };
    if !req.product_kinds.is_empty() && !req.product_kinds.contains(&kind) {
        return Err(Problem::new(
            InvalidField,
            "product_kind",
            format!("product_kind {kind:?} not among the requested kinds"),
        ));
    }
    let Some(method) = o.repayment_method else {
        return Err(Problem::new(
            InvalidField,
            "repayment_method",
            "repayment_method missing or unknown".into(),
        ));
    };
    if o.valid_for_ms <= 0 {
        return Err(Problem::new(
            Expired,
            "valid_for_ms",
            format!(
                "valid_for_ms {}: the offer has already expired",
                o.valid_for_ms
            ),
        ));
    }

    let currency = req.currency();
    if o.principal.currency != currency {
        return Err(Problem::new(
            CurrencyMismatch,
            "principal",
            format!(
                "principal currency {} is not the requested {currency}",
                o.principal.currency
            ),
        ));
    }
    if !terms.currencies.is_empty() && !terms.currencies.contains(&currency) {
        return Err(Problem::new(
            CurrencyMismatch,
            "principal",
            format!("principal currency {currency} is not one the channel declared"),
        ));
    }
    if let Some(fee) = o.upfront_fee
        && fee.currency != currency
    {
        return Err(Problem::new(
            CurrencyMismatch,
            "upfront_fee",
            format!(
                "upfront_fee currency {} is not the requested {currency}",
                fee.currency
            ),
        ));
    }

    for (i, c) in o.charges.iter().enumerate() {
        if let Some(a) = c.amount
            && a.currency != currency
        {
            return Err(Problem::new(
                CurrencyMismatch,
                format!("charges[{i}].amount"),
                format!(
                    "charges[{i}].amount currency {} is not the requested {currency}",
                    a.currency
                ),
            ));
        }
    }

    let principal = o.principal;
    if principal.amount_minor <= 0 {
        return Err(Problem::new(
            AmountOutOfRange,
            "principal",
            format!("principal {} must be positive", principal.display_major()),
        ));
    }
    if principal.amount_minor > req.requested_amount.amount_minor {
        return Err(Problem::new(
            AmountOutOfRange,
            "principal",
            format!(
                "principal {} above the requested {}",
                principal.display_major(),
                req.requested_amount.display_major()
            ),
        ));
    }
    if let Some(min) = terms.min_amount
        && min.currency == currency
        && principal.amount_minor < min.amount_minor
    {
        return Err(Problem::new(
            AmountOutOfRange,
            "principal",
            format!(
                "principal {} below the channel minimum {}",
                principal.display_major(),
                min.display_major()
            ),
        ));
    }
    if let Some(max) = terms.max_amount
        && max.currency == currency
        && principal.amount_minor > max.amount_minor
    {
        return Err(Problem::new(
            AmountOutOfRange,
            "principal",
            format!(
                "principal {} above the channel maximum {}",
                principal.display_major(),
                max.display_major()
            ),
        ));
    }

    let term = match u32::try_from(o.term_months) {
        Ok(t) if (1..=MAX_TERM_MONTHS).contains(&t) => t,
        _ => {
            return Err(Problem::new(
                TermOutOfRange,
                "term_months",
                format!(
                    "term_months {} outside 1..={MAX_TERM_MONTHS}",
                    o.term_months
                ),
            ));
        }
    };
    // A counter-offer may propose a term the request did not ask for (a
    // longer one instead of a no); the channel's own range still binds.
    if o.adjustment.is_none() && !within(term, req.min_term_months, req.max_term_months) {
        return Err(Problem::new(
            TermOutOfRange,
            "term_months",
            format!(
                "term_months {term} outside {}",
                range_text(req.min_term_months, req.max_term_months)
            ),
        ));
    }
    if !within(term, terms.min_term_months, terms.max_term_months) {
        return Err(Problem::new(
            TermOutOfRange,
            "term_months",
            format!(
                "term_months {term} outside the channel's {}",
                range_text(terms.min_term_months, terms.max_term_months)
            ),
        ));
    }

    if o.qualification == Qualification::Conditional && o.conditions.is_empty() {
        return Err(Problem::new(
            InvalidField,
            "conditions",
            "a CONDITIONAL offer lists at least one condition".into(),
        ));
    }
    if let Some(p) = o.approval_probability
        && !(0.0..=1.0).contains(&p)
    {
        return Err(Problem::new(
            InvalidField,
            "approval_probability",
            format!("approval_probability {p} outside [0, 1]"),
        ));
    }
    for (field, bps) in [
        ("stated_apr_bps", o.stated_apr_bps),
        ("nominal_rate_bps", o.nominal_rate_bps),
        ("monthly_fee_rate_bps", o.monthly_fee_rate_bps),
    ] {
        if bps < 0 {
            return Err(Problem::new(
                InvalidField,
                field,
                format!("{field} {bps} must not be negative"),
            ));
        }
    }
    let upfront = o.upfront_fee.map_or(0, |f| f.amount_minor);
    if upfront < 0 {
        return Err(Problem::new(
            InvalidField,
            "upfront_fee",
            format!(
                "upfront_fee {} must not be negative",
                Money::new(currency, upfront).display_major()
            ),
        ));
    }
    if upfront >= principal.amount_minor {
        return Err(Problem::new(
            InvalidField,
            "upfront_fee",
            format!(
                "upfront_fee {} not below the principal {}",
                Money::new(currency, upfront).display_major(),
                principal.display_major()
            ),
        ));
    }
    Ok(ValidTerms {
        kind,
        method,
        term,
        upfront,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Installment, OddsSource};
    use crate::fixtures::{cny, partner_offer, policy, request, terms, usd};
    use crate::money::Currency;

    const NOW: UnixMillis = 1_700_000_000_000;

    fn price(o: PartnerOffer) -> Result<Offer, Rejection> {
        price_offer(&request(), &terms("bank-a"), &policy(), o, NOW)
    }

    #[test]
    fn honest_annuity_prices_from_its_cash_flows() {
        let offer = price(partner_offer("P-1")).expect("valid offer");
        assert_eq!(offer.offer_id, "");
        assert_eq!(offer.adapter_id, "bank-a");
        assert_eq!(offer.partner_offer_ref, "P-1");
        assert_eq!(offer.rank, 0);
        assert_eq!(offer.apr_bps, 1200);
        assert_eq!(offer.effective_annual_rate_bps, 1268);
        assert_eq!(offer.disbursed, cny(1_000_000));
        assert_eq!(offer.first_payment, cny(88_849));
        assert_eq!(offer.total_cost, cny(88_849 * 11 + 88_847 - 1_000_000));
        assert_eq!(offer.schedule.len(), 12);
        assert_eq!(offer.expires_at, NOW + 600_000);
        assert_eq!(offer.odds_source, OddsSource::Blended);
        assert!((0.01..=0.99).contains(&offer.approval_odds));
        assert!(offer.warnings.is_empty(), "{:?}", offer.warnings);
        // (2 000 + 888.49) / 20 000
        let dti = offer.debt_to_income.expect("income known");
        assert!((dti - 0.1444245).abs() < 1e-6, "{dti}");
        assert_eq!(offer.disclosures, vec!["terms apply".to_string()]);
    }

    /// The example: a 13 % annuity with a guarantee fee of 0.75 %
    /// of the original principal a month, stated as 13 %.
    fn guaranteed(reference: &str) -> PartnerOffer {
        PartnerOffer {
            stated_apr_bps: 1300,
            nominal_rate_bps: 1300,
            charges: vec![Charge {
                kind: Some(crate::disclosure::ChargeKind::GuaranteeFee),
                payee: Some(PartyRole::Guarantor),
                payee_name: "Example Financing Guarantee Co., Ltd.".into(),
                timing: Some(crate::disclosure::ChargeTiming::PerPeriodRateOnPrincipal),
                amount: None,
                period_rate_bps: 75,
                declinable: false,
                description: String::new(),
            }],
            parties: vec![Party {
                role: PartyRole::Lender,
                legal_name: "Example Bank Co., Ltd.".into(),
                registration_id: "91310000000000000A".into(),
                contact: "95500".into(),
                lender_type: Some(crate::disclosure::LenderType::Bank),
            }],
            ..partner_offer(reference)
        }
    }

    #[test]
    fn a_guarantee_fee_is_in_the_apr_the_breakdown_and_the_parties() {
        let req = FinancingRequest {
            applicant: crate::domain::Applicant {
                region: String::new(),
                ..request().applicant
            },
            ..request()
        };
        let offer =
            price_offer(&req, &terms("bank-a"), &policy(), guaranteed("G-1"), NOW).expect("valid");
        // 888.49-ish annuity + 75.00 a month on 10 000.00: by hand.
        let payments: Vec<i64> = offer.schedule.iter().map(|r| r.payment()).collect();
        assert!(offer.schedule.iter().all(|r| r.fee == 7_500));
        let by_hand = crate::apr::apr_from_cash_flows(1_000_000, &payments).expect("apr");
        assert_eq!(offer.apr_bps, by_hand.apr_bps);
        assert!(offer.apr_bps > 2600, "{}", offer.apr_bps);
        assert_eq!(offer.warnings, vec![OfferWarning::StatedAprUnderstated]);
        let lines: Vec<_> = offer
            .cost_breakdown
            .iter()
            .map(|l| (l.kind, l.apr_share_bps))
            .collect();
        assert_eq!(lines[0], (crate::disclosure::ChargeKind::Interest, 1300));
        assert_eq!(lines[1].0, crate::disclosure::ChargeKind::GuaranteeFee);
        assert_eq!(lines[0].1 + lines[1].1, offer.apr_bps);
        assert_eq!(offer.cost_breakdown[1].total, cny(90_000));
        assert_eq!(offer.cost_breakdown[0].payee_name, "Example Bank Co., Ltd.");
        // Every rate says how it is computed.
        assert!(
            offer.rate_labels.apr.starts_with("APR (12 × monthly IRR)"),
            "{:?}",
            offer.rate_labels
        );
        assert!(
            offer
                .rate_labels
                .effective_annual_rate
                .contains("effective annual rate")
        );
        let fee = &offer.cost_breakdown[1].text;
        assert!(
            fee.contains("guarantee fee") && fee.contains("Example Financing Guarantee"),
            "{fee}"
        );
        let roles: Vec<_> = offer
            .parties
            .iter()
            .map(|p| (p.role, p.legal_name.as_str()))
            .collect();
        assert_eq!(
            roles,
            [
                (PartyRole::Lender, "Example Bank Co., Ltd."),
                (
                    PartyRole::Guarantor,
                    "Example Financing Guarantee Co., Ltd."
                ),
            ]
        );
        // In Shanghai the comprehensive figure is above the 24 % cap.
        let capped = price(guaranteed("G-2")).expect_err("above the cap");
        assert_eq!(capped.reason, RejectReason::AboveRateCap);
    }

    #[test]
    fn caps_can_differ_by_lender_type() {
        use crate::disclosure::LenderType;
        let mut policy = policy();
        policy.rate_caps.push(crate::policy::RateCap {
            region_prefix: "CN".into(),
            max_apr_bps: 3600,
            lender_types: vec![LenderType::Microlender],
        });
        let bank = guaranteed("G-3");
        let mut micro = guaranteed("G-4");
        micro.parties[0].lender_type = Some(LenderType::Microlender);
        let req = request();
        assert_eq!(
            price_offer(&req, &terms("a"), &policy, bank, NOW)
                .map(|_| ())
                .map_err(|r| r.reason),
            Err(RejectReason::AboveRateCap)
        );
        let shown = price_offer(&req, &terms("a"), &policy, micro, NOW).expect("under 36 %");
        assert!(shown.apr_bps > 2400);
        assert_eq!(
            policy
                .rate_cap_for("CN-31", LenderType::Bank)
                .map(|c| c.max_apr_bps),
            Some(2400)
        );
        assert_eq!(
            policy
                .rate_cap_for("CN-31", LenderType::Microlender)
                .map(|c| c.max_apr_bps),
            Some(3600)
        );
    }

    #[test]
    fn a_promotion_is_priced_as_paid_and_shows_the_rate_after_it() {
        let o = PartnerOffer {
            promotion: Some(Promotion {
                interest_free_days: 30,
                ..Promotion::default()
            }),
            ..partner_offer("P-30")
        };
        let offer = price(o).expect("valid");
        assert_eq!(offer.schedule[0].interest, 0);
        let payments: Vec<i64> = offer.schedule.iter().map(|r| r.payment()).collect();
        let by_hand = crate::apr::apr_from_cash_flows(1_000_000, &payments).expect("apr");
        assert_eq!(offer.apr_bps, by_hand.apr_bps);
        assert!(offer.apr_bps < 1200);
        assert_eq!(offer.post_promotion_rate_bps, 1200);
        assert_eq!(offer.promotion_ends_at, Some(NOW + 30 * 86_400_000));
        assert!(offer.promotion.is_some());
        // A 12 % stated rate is not understated by a promotion.
        assert!(offer.warnings.is_empty());
    }

    #[test]
    fn a_charge_in_another_currency_is_refused() {
        let mut o = guaranteed("G-5");
        o.charges[0].timing = Some(crate::disclosure::ChargeTiming::AtEnd);
        o.charges[0].amount = Some(usd(100));
        let r = price(o).expect_err("currency");
        assert_eq!(r.reason, RejectReason::CurrencyMismatch);
        assert_eq!(r.field, "charges[0].amount");
        let mut o = guaranteed("G-6");
        o.charges[0].payee_name.clear();
        let r = price(o).expect_err("no payee name");
        assert_eq!(r.reason, RejectReason::InvalidCharge);
        assert_eq!(r.field, "charges[0].payee_name");
    }

    #[test]
    fn upfront_fee_raises_the_apr_and_flags_the_claim() {
        let o = PartnerOffer {
            upfront_fee: Some(cny(20_000)),
            ..partner_offer("P-2")
        };
        let offer = price(o).expect("valid offer");
        assert_eq!(offer.apr_bps, 1585);
        assert_eq!(offer.disbursed, cny(980_000));
        assert_eq!(offer.warnings, vec![OfferWarning::StatedAprUnderstated]);
    }

    #[test]
    fn flat_fee_installment_shows_its_true_apr() {
        let o = PartnerOffer {
            product_kind: Some(ProductKind::Installment),
            repayment_method: Some(RepaymentMethod::FlatFeeInstallment),
            stated_apr_bps: 720,
            nominal_rate_bps: 0,
            monthly_fee_rate_bps: 60,
            ..partner_offer("P-3")
        };
        let offer = price(o).expect("valid offer");
        assert_eq!(offer.apr_bps, 1303);
        assert!(offer.warnings.contains(&OfferWarning::StatedAprUnderstated));
        // Within the 10 bp tolerance: no warning.
        let o = PartnerOffer {
            stated_apr_bps: 1295,
            repayment_method: Some(RepaymentMethod::FlatFeeInstallment),
            nominal_rate_bps: 0,
            monthly_fee_rate_bps: 60,
            ..partner_offer("P-3")
        };
        assert!(price(o).expect("valid").warnings.is_empty());
    }

    #[test]
    fn zero_nominal_rate_builds_from_the_stated_apr() {
        let o = PartnerOffer {
            nominal_rate_bps: 0,
            ..partner_offer("P-4")
        };
        assert_eq!(price(o).expect("valid").apr_bps, 1200);
    }

    #[test]
    fn partner_schedule_is_priced_as_sent() {
        let mut schedule: Vec<Installment> = (1..=12)
            .map(|period| Installment {
                period,
                principal: 83_333,
                interest: 0,
                fee: 6_000,
            })
            .collect();
        schedule[11].principal = 83_337;
        let o = PartnerOffer {
            schedule: schedule.clone(),
            stated_apr_bps: 720,
            ..partner_offer("P-5")
        };
        let offer = price(o).expect("valid offer");
        assert_eq!(offer.schedule, schedule);
        assert_eq!(offer.apr_bps, 1303);
    }

    fn rejected(o: PartnerOffer) -> Rejection {
        price(o).expect_err("must be rejected")
    }

    #[track_caller]
    fn assert_rejected(o: PartnerOffer, reason: RejectReason, field: &str, message: &str) {
        let r = rejected(o);
        assert_eq!((r.reason, r.field.as_str()), (reason, field), "{r}");
        assert_eq!(r.message, message);
        assert!(r.priced.is_none());
    }

    #[test]
    fn each_malformed_field_is_a_distinct_rejection() {
        use RejectReason::*;
        let base = || partner_offer("P-9");
        assert_rejected(
            PartnerOffer {
                partner_offer_ref: String::new(),
                ..base()
            },
            InvalidField,
            "partner_offer_ref",
            "partner_offer_ref is empty",
        );
        assert_rejected(
            PartnerOffer {
                product_kind: None,
                ..base()
            },
            InvalidField,
            "product_kind",
            "product_kind missing or unknown",
        );
        assert_rejected(
            PartnerOffer {
                repayment_method: None,
                ..base()
            },
            InvalidField,
            "repayment_method",
            "repayment_method missing or unknown",
        );
        assert_rejected(
            PartnerOffer {
                valid_for_ms: 0,
                ..base()
            },
            Expired,
            "valid_for_ms",
            "valid_for_ms 0: the offer has already expired",
        );
        assert_rejected(
            PartnerOffer {
                principal: usd(1_000_000),
                ..base()
            },
            CurrencyMismatch,
            "principal",
            "principal currency USD is not the requested CNY",
        );
        assert_rejected(
            PartnerOffer {
                upfront_fee: Some(usd(100)),
                ..base()
            },
            CurrencyMismatch,
            "upfront_fee",
            "upfront_fee currency USD is not the requested CNY",
        );
        assert_rejected(
            PartnerOffer {
                principal: cny(0),
                ..base()
            },
            AmountOutOfRange,
            "principal",
            "principal 0 CNY must be positive",
        );
        assert_rejected(
            PartnerOffer {
                principal: cny(1_000_001),
                ..base()
            },
            AmountOutOfRange,
            "principal",
            "principal 10 000.01 CNY above the requested 10 000 CNY",
        );
        assert_rejected(
            PartnerOffer {
                principal: cny(50_000),
                ..base()
            },
            AmountOutOfRange,
            "principal",
            "principal 500 CNY below the channel minimum 1 000 CNY",
        );
        assert_rejected(
            PartnerOffer {
                term_months: 48,
                ..base()
            },
            TermOutOfRange,
            "term_months",
            "term_months 48 outside 3..=24",
        );
        assert_rejected(
            PartnerOffer {
                term_months: -1,
                ..base()
            },
            TermOutOfRange,
            "term_months",
            "term_months -1 outside 1..=600",
        );
        assert_rejected(
            PartnerOffer {
                approval_probability: Some(1.5),
                ..base()
            },
            InvalidField,
            "approval_probability",
            "approval_probability 1.5 outside [0, 1]",
        );
        assert_rejected(
            PartnerOffer {
                approval_probability: Some(f64::NAN),
                ..base()
            },
            InvalidField,
            "approval_probability",
            "approval_probability NaN outside [0, 1]",
        );
        for field in ["stated_apr_bps", "nominal_rate_bps", "monthly_fee_rate_bps"] {
            let mut o = base();
            match field {
                "stated_apr_bps" => o.stated_apr_bps = -1,
                "nominal_rate_bps" => o.nominal_rate_bps = -1,
                _ => o.monthly_fee_rate_bps = -1,
            }
            assert_rejected(
                o,
                InvalidField,
                field,
                &format!("{field} -1 must not be negative"),
            );
        }
        assert_rejected(
            PartnerOffer {
                upfront_fee: Some(cny(-100)),
                ..base()
            },
            InvalidField,
            "upfront_fee",
            "upfront_fee -1 CNY must not be negative",
        );
        assert_rejected(
            PartnerOffer {
                upfront_fee: Some(cny(1_000_000)),
                ..base()
            },
            InvalidField,
            "upfront_fee",
            "upfront_fee 10 000 CNY not below the principal 10 000 CNY",
        );
    }

    #[test]
    fn channel_and_request_limits_apply() {
        let mut req = request();
        req.product_kinds = vec![ProductKind::Installment];
        let r = price_offer(&req, &terms("bank-a"), &policy(), partner_offer("P"), NOW)
            .expect_err("kind not requested");
        assert_eq!(
            (r.reason, r.field.as_str()),
            (RejectReason::InvalidField, "product_kind")
        );

        let narrow = ChannelTerms {
            max_term_months: 6,
            ..terms("bank-a")
        };
        let r = price_offer(&request(), &narrow, &policy(), partner_offer("P"), NOW)
            .expect_err("term beyond the channel");
        assert_eq!(r.message, "term_months 12 outside the channel's 3..=6");

        let small = ChannelTerms {
            max_amount: Some(cny(500_000)),
            ..terms("bank-a")
        };
        let r = price_offer(&request(), &small, &policy(), partner_offer("P"), NOW)
            .expect_err("amount beyond the channel");
        assert_eq!(r.reason, RejectReason::AmountOutOfRange);

        let dollars = ChannelTerms {
            currencies: vec![Currency::parse("USD").expect("valid")],
            ..terms("bank-a")
        };
        let r = price_offer(&request(), &dollars, &policy(), partner_offer("P"), NOW)
            .expect_err("channel does not lend CNY");
        assert_eq!(r.reason, RejectReason::CurrencyMismatch);

        let open = ChannelTerms {
            max_term_months: 0,
            min_amount: None,
            max_amount: None,
            currencies: Vec::new(),
            ..terms("bank-a")
        };
        assert!(price_offer(&request(), &open, &policy(), partner_offer("P"), NOW).is_ok());
    }

    #[test]
    fn schedules_that_do_not_repay_are_rejected_with_the_row() {
        let rows = |n: u32, principal: i64| -> Vec<Installment> {
            (1..=n)
                .map(|period| Installment {
                    period,
                    principal,
                    interest: 1_000,
                    fee: 0,
                })
                .collect()
        };
        let short = PartnerOffer {
            schedule: rows(12, 75_000),
            ..partner_offer("P-6")
        };
        let r = rejected(short);
        assert_eq!(r.reason, RejectReason::ScheduleInconsistent);
        assert_eq!(r.field, "schedule");
        assert_eq!(
            r.to_string(),
            "offer P-6: schedule repays 9 000.00 of 10 000.00 principal"
        );

        let mut negative = rows(12, 83_333);
        negative[3].principal = -1;
        let r = rejected(PartnerOffer {
            schedule: negative,
            ..partner_offer("P-7")
        });
        assert_eq!(r.field, "schedule[3].principal");

        let r = rejected(PartnerOffer {
            schedule: rows(6, 166_666),
            ..partner_offer("P-8")
        });
        assert_eq!(r.message, "schedule has 6 rows for a 12-month term");

        let mut huge = rows(12, 83_333);
        huge[11].principal = 83_337;
        huge[0].interest = i64::MAX;
        let r = rejected(PartnerOffer {
            schedule: huge,
            ..partner_offer("P-9")
        });
        assert_eq!(r.reason, RejectReason::Unpriceable);
    }

    #[test]
    fn rate_cap_rejects_with_the_priced_offer_and_warns_near_it() {
        let dear = PartnerOffer {
            nominal_rate_bps: 3000,
            stated_apr_bps: 3000,
            ..partner_offer("P-10")
        };
        let r = rejected(dear);
        assert_eq!(r.reason, RejectReason::AboveRateCap);
        assert_eq!(
            r.to_string(),
            "offer P-10: APR 30.00 % above the 24.00 % cap for CN"
        );
        let priced = r.priced.expect("priced before the cap");
        assert_eq!(priced.apr_bps, 3000);

        let near = PartnerOffer {
            nominal_rate_bps: 2300,
            stated_apr_bps: 2300,
            ..partner_offer("P-11")
        };
        let offer = price(near).expect("below the cap");
        assert_eq!(offer.warnings, vec![OfferWarning::NearRateCap]);

        // No cap for the region: priced, not rejected.
        let mut req = request();
        req.applicant.region = "US-CA".into();
        let dear = PartnerOffer {
            nominal_rate_bps: 3000,
            ..partner_offer("P-12")
        };
        assert!(price_offer(&req, &terms("bank-a"), &policy(), dear, NOW).is_ok());
    }

    #[test]
    fn affordability_warns_then_rejects_without_naming_income() {
        let mut req = request();
        // Income 4 000, debts 1 000: 1 000 + 888.49 = 47 %; at CV 0.1 a bad
        // month is 3 600: 52 %.
        req.applicant.monthly_income = Some(cny(400_000));
        req.applicant.monthly_debt_payments = Some(cny(100_000));
        req.applicant.income_volatility = Some(0.1);
        let offer = price_offer(&req, &terms("bank-a"), &policy(), partner_offer("P"), NOW)
            .expect("affordable, just");
        assert_eq!(offer.warnings, vec![OfferWarning::AffordabilityRisk]);

        req.applicant.income_volatility = Some(0.3);
        // A bad month is 2 800: 67 %; a 6-month term doubles the payment.
        let six = PartnerOffer {
            term_months: 6,
            ..partner_offer("P-13")
        };
        let r = price_offer(&req, &terms("bank-a"), &policy(), six, NOW).expect_err("unaffordable");
        assert_eq!(r.reason, RejectReason::Unaffordable);
        assert_eq!(
            r.to_string(),
            "offer P-13: debt-to-income after this loan above the 70 % limit"
        );
        assert!(!r.to_string().contains("4 000") && !r.to_string().contains("2 800"));
        let priced = r.priced.expect("priced before the limit");
        assert!(priced.debt_to_income.is_some_and(|d| d > 0.7));
    }

    #[test]
    fn secured_offers_warn_and_read_collateral_cover() {
        let secured = PartnerOffer {
            product_kind: Some(ProductKind::SecuredLoan),
            approval_probability: None,
            ..partner_offer("P-14")
        };
        let with = price(secured.clone()).expect("valid");
        assert_eq!(with.warnings, vec![OfferWarning::RequiresCollateral]);
        assert_eq!(with.odds_source, OddsSource::Model);
        let mut req = request();
        req.applicant.collateral[0].encumbered = true;
        let without = price_offer(&req, &terms("bank-a"), &policy(), secured, NOW).expect("valid");
        assert!(with.approval_odds > without.approval_odds);
    }

    #[test]
    fn extreme_values_are_rejections_not_panics() {
        let extremes = [
            PartnerOffer {
                principal: cny(i64::MIN),
                ..partner_offer("X")
            },
            PartnerOffer {
                term_months: i32::MAX,
                ..partner_offer("X")
            },
            PartnerOffer {
                nominal_rate_bps: i32::MAX,
                ..partner_offer("X")
            },
            PartnerOffer {
                monthly_fee_rate_bps: i32::MAX,
                ..partner_offer("X")
            },
            PartnerOffer {
                valid_for_ms: i64::MAX,
                ..partner_offer("X")
            },
            PartnerOffer {
                upfront_fee: Some(cny(i64::MIN)),
                ..partner_offer("X")
            },
        ];
        for o in extremes {
            let _ = price(o);
        }
        let forever = price(PartnerOffer {
            valid_for_ms: i64::MAX,
            ..partner_offer("X")
        })
        .expect("valid");
        assert_eq!(forever.expires_at, i64::MAX);
    }

    #[test]
    fn a_counter_offer_may_take_a_term_outside_the_request_and_says_what_changed() {
        use crate::answer::{AdjustedTerm, Adjustment, DeclineReason};
        let mut req = request();
        req.min_term_months = 12;
        req.max_term_months = 12;
        let longer = PartnerOffer {
            principal: cny(800_000),
            term_months: 18,
            ..partner_offer("c")
        };
        // Not marked: refused for its term.
        let r = price_offer(&req, &terms("ad"), &policy(), longer.clone(), NOW).expect_err("term");
        assert_eq!(r.reason, RejectReason::TermOutOfRange);
        // Marked (the partner named only the term): shown, the smaller amount seen too.
        let marked = PartnerOffer {
            adjustment: Some(Adjustment {
                changed: vec![AdjustedTerm::Term],
                reason: Some(DeclineReason::DebtToIncome),
                text: String::new(),
            }),
            ..longer
        };
        let o = price_offer(&req, &terms("ad"), &policy(), marked.clone(), NOW).expect("valid");
        let a = o.adjustment.expect("adjusted");
        assert_eq!(a.changed, [AdjustedTerm::Amount, AdjustedTerm::Term]);
        // The channel's own range still binds a counter-offer.
        let beyond = PartnerOffer {
            term_months: 48,
            ..marked.clone()
        };
        let r = price_offer(&req, &terms("ad"), &policy(), beyond, NOW).expect_err("channel");
        assert_eq!(r.reason, RejectReason::TermOutOfRange);
        // Marked, but nothing said or seen changed: shown unmarked.
        let same = PartnerOffer {
            principal: cny(1_000_000),
            term_months: 12,
            adjustment: Some(Adjustment {
                changed: Vec::new(),
                reason: None,
                text: String::new(),
            }),
            ..partner_offer("s")
        };
        let o = price_offer(&req, &terms("ad"), &policy(), same, NOW).expect("valid");
        assert!(o.adjustment.is_none());
    }

    #[test]
    fn a_conditional_offer_needs_a_condition_and_keeps_them() {
        use crate::answer::{Condition, ConditionKind};
        let bare = PartnerOffer {
            qualification: Qualification::Conditional,
            ..partner_offer("c")
        };
        let r = price_offer(&request(), &terms("ad"), &policy(), bare.clone(), NOW)
            .expect_err("no condition");
        assert_eq!(
            (r.reason, r.field.as_str()),
            (RejectReason::InvalidField, "conditions")
        );
        let with = PartnerOffer {
            conditions: vec![Condition {
                kind: ConditionKind::ProofOfIncome,
                description: "payslips".into(),
            }],
            ..bare
        };
        let o = price_offer(&request(), &terms("ad"), &policy(), with, NOW).expect("valid");
        assert_eq!(o.qualification, Qualification::Conditional);
        assert_eq!(o.conditions[0].kind, ConditionKind::ProofOfIncome);
    }
}

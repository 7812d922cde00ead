//! What-if repricing for suggestions: how an offer of this fan-out would
//! stand at a smaller amount or a longer term. These are estimates, since the
//! lender quoted neither: a smaller amount scales the offer's cash flows
//! (the APR is unchanged), a longer term rebuilds the schedule with the rates
//! its first row implies. Affordability is recomputed from the new first
//! payment, and the odds move by the feature model's change in log-odds
//! (DTI after the loan, collateral cover), applied to the offer's own odds so
//! that a partner's view carries over.

use crate::affordability::debt_to_income_of;
use crate::domain::{Applicant, Offer, OfferWarning, RepaymentMethod};
use crate::money::Money;
use crate::odds::{OddsModel, collateral_cover, shift_odds};
use crate::policy::PricingPolicy;
use crate::schedule::build_schedule;

/// How an offer stands in a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outlook {
    pub odds: f64,
    /// Within the affordability hard limit (or affordability unknown).
    pub affordable: bool,
}

/// The offer as it stands now.
pub(crate) fn current(offer: &Offer, policy: &PricingPolicy) -> Outlook {
    Outlook {
        odds: offer.approval_odds,
        affordable: affordable(offer.debt_to_income, policy),
    }
}

/// The offer at `amount_minor` (unchanged when its principal is already no more).
pub(crate) fn at_amount(
    offer: &Offer,
    amount_minor: i64,
    applicant: &Applicant,
    policy: &PricingPolicy,
    model: &OddsModel,
) -> Outlook {
    let principal = offer.principal.amount_minor;
    if principal <= amount_minor || amount_minor <= 0 {
        return current(offer, policy);
    }
    let scaled = i128::from(offer.first_payment.amount_minor) * i128::from(amount_minor)
        / i128::from(principal);
    let first_payment = i64::try_from(scaled).unwrap_or(i64::MAX);
    let amount = Money::new(offer.principal.currency, amount_minor);
    reprice(offer, amount, first_payment, applicant, policy, model)
}

/// The offer over `term_months` (unchanged when its term is already as long;
/// `None` for interest-only loans, whose payments a longer term does not
/// lower, and when the schedule cannot be rebuilt).
pub(crate) fn at_term(
    offer: &Offer,
    term_months: u32,
    applicant: &Applicant,
    policy: &PricingPolicy,
    model: &OddsModel,
) -> Option<Outlook> {
    if offer.term_months >= term_months {
        return Some(current(offer, policy));
    }
    if offer.repayment_method == RepaymentMethod::InterestOnlyBalloon {
        return None;
    }
    let principal = offer.principal.amount_minor;
    let first = offer.schedule.first()?;
    if principal <= 0 {
        return None;
    }
    let implied = |amount: i64, per: i128| {
        i32::try_from(
            (i128::from(amount) * per + i128::from(principal) / 2) / i128::from(principal),
        )
        .ok()
    };
    let nominal_bps = implied(first.interest, 120_000)?;
    let fee_bps = implied(first.fee, 10_000)?;
    let rows = build_schedule(
        offer.repayment_method,
        principal,
        term_months,
        nominal_bps,
        fee_bps,
    )
    .ok()?;
    let first_payment = rows.first()?.payment();
    Some(reprice(
        offer,
        offer.principal,
        first_payment,
        applicant,
        policy,
        model,
    ))
}

fn reprice(
    offer: &Offer,
    principal: Money,
    first_payment: i64,
    applicant: &Applicant,
    policy: &PricingPolicy,
    model: &OddsModel,
) -> Outlook {
    let dti = debt_to_income_of(applicant, Money::new(principal.currency, first_payment));
    let secured = offer.warnings.contains(&OfferWarning::RequiresCollateral);
    let (cover_now, cover_then) = if secured {
        (
            collateral_cover(applicant, offer.principal),
            collateral_cover(applicant, principal),
        )
    } else {
        (None, None)
    };
    let delta = model.log_odds(applicant, dti, cover_then)
        - model.log_odds(applicant, offer.debt_to_income, cover_now);
    Outlook {
        odds: shift_odds(offer.approval_odds, delta),
        affordable: affordable(dti, policy),
    }
}

fn affordable(dti: Option<f64>, policy: &PricingPolicy) -> bool {
    dti.is_none_or(|d| d <= policy.affordability_hard_limit)
}

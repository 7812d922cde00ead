//! Affordability (responsible lending): debt-to-income after the loan on a
//! *stressed* income, a freelancer's bad month rather than an average one.
//!
//! `DTI = (monthly debt + first payment) / (income x (1 - volatility))`.
//! Above `PricingPolicy::affordability_warning` an offer carries
//! `AFFORDABILITY_RISK` and a rank penalty; above
//! `affordability_hard_limit` it is not offered.

use crate::domain::Applicant;
use crate::money::Money;

/// How strongly income volatility cuts income: stressed income =
/// income x (1 - `VOLATILITY_STRESS` x volatility). One standard deviation.
pub const VOLATILITY_STRESS: f64 = 1.0;

/// Debt-to-income after a loan whose first payment is `first_payment_minor`
/// (minor units of the applicant's income currency), on stressed income.
///
/// `None` when income is unknown. Unknown debts count as 0, a missing or NaN
/// volatility as 0 (neutral), a negative one as 0 (it cannot raise income).
/// When stressed income is not positive the ratio is `Some(f64::INFINITY)`:
/// no payment is affordable from nothing.
pub fn debt_to_income(applicant: &Applicant, first_payment_minor: i64) -> Option<f64> {
    let income = applicant.monthly_income?;
    let volatility = applicant
        .income_volatility
        .filter(|v| v.is_finite())
        .unwrap_or(0.0)
        .max(0.0);
    let stressed = income.amount_minor as f64 * (1.0 - VOLATILITY_STRESS * volatility);
    let debts = applicant
        .monthly_debt_payments
        .map_or(0, |d| d.amount_minor.max(0));
    let owed = debts as f64 + first_payment_minor.max(0) as f64;
    if stressed > 0.0 {
        Some(owed / stressed)
    } else {
        Some(f64::INFINITY)
    }
}

/// [`debt_to_income`] for a payment in a known currency: `None` (unknown)
/// when income or debts are in another currency, since the ratio would be
/// meaningless without a conversion the core does not make.
pub(crate) fn debt_to_income_of(applicant: &Applicant, first_payment: Money) -> Option<f64> {
    let income = applicant.monthly_income?;
    let debts_match = applicant
        .monthly_debt_payments
        .is_none_or(|d| d.currency == income.currency);
    if income.currency != first_payment.currency || !debts_match {
        return None;
    }
    debt_to_income(applicant, first_payment.amount_minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn cny(minor: i64) -> Money {
        Money::new(Currency::parse("CNY").expect("valid code"), minor)
    }

    fn applicant(income: i64, debts: Option<i64>, volatility: Option<f64>) -> Applicant {
        Applicant {
            monthly_income: Some(cny(income)),
            monthly_debt_payments: debts.map(cny),
            income_volatility: volatility,
            ..Applicant::default()
        }
    }

    #[test]
    fn unknown_income_is_none() {
        assert_eq!(debt_to_income(&Applicant::default(), 100), None);
    }

    #[test]
    fn stable_income_is_plain_ratio() {
        let a = applicant(1_000_000, Some(200_000), None);
        let dti = debt_to_income(&a, 100_000).expect("income known");
        assert!((dti - 0.30).abs() < 1e-12);
    }

    #[test]
    fn volatility_stresses_income() {
        // 10 000 income at CV 0.4: a bad month is 6 000; 3 000 / 6 000 = 0.5.
        let a = applicant(1_000_000, Some(200_000), Some(0.4));
        let dti = debt_to_income(&a, 100_000).expect("income known");
        assert!((dti - 0.50).abs() < 1e-12);
    }

    #[test]
    fn odd_inputs_are_neutral_or_infinite() {
        let nan = applicant(1_000_000, None, Some(f64::NAN));
        assert_eq!(debt_to_income(&nan, 100_000), Some(0.1));
        let negative = applicant(1_000_000, None, Some(-3.0));
        assert_eq!(debt_to_income(&negative, 100_000), Some(0.1));
        let wiped = applicant(1_000_000, None, Some(1.5));
        assert_eq!(debt_to_income(&wiped, 100_000), Some(f64::INFINITY));
        let none = applicant(0, None, None);
        assert_eq!(debt_to_income(&none, 1), Some(f64::INFINITY));
    }

    #[test]
    fn other_currency_is_unknown() {
        let a = applicant(1_000_000, None, None);
        let usd = Money::new(Currency::parse("USD").expect("valid code"), 100);
        assert_eq!(debt_to_income_of(&a, usd), None);
        assert_eq!(debt_to_income_of(&a, cny(100_000)), Some(0.1));
    }
}

//! Repayment schedules: built from an offer's terms, or a partner's own
//! schedule checked for shape. Integer minor units throughout; the last row
//! absorbs rounding so the principal column sums exactly to the principal.
//!
//! Rounding: interest and fees are rounded half away from zero to the minor
//! unit each period. The annuity payment is found by integer search (the
//! level payment whose amortisation leaves the smallest residual), so no
//! floating point touches money; it equals the textbook formula rounded to
//! the minor unit up to the accumulated per-period rounding.

use crate::domain::{Installment, RepaymentMethod};
use crate::money::format_major;

/// Longest term a schedule may have (50 years of monthly rows). Bounds the
/// work and memory one offer can cost.
pub const MAX_TERM_MONTHS: u32 = 600;

/// Balances beyond this magnitude are treated as "unpayable" by the annuity
/// search; keeps `balance x rate` inside `i128`.
const BALANCE_LIMIT: i128 = 1 << 90;

/// What is wrong with a schedule or the terms it is built from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The term is 0 or longer than [`MAX_TERM_MONTHS`].
    #[error("term of {term_months} months outside 1..={MAX_TERM_MONTHS}")]
    TermOutOfRange {
        /// The term asked for.
        term_months: u32,
    },
    /// The principal is zero or negative.
    #[error("principal {} must be positive", format_major(*principal))]
    NonPositivePrincipal {
        /// The principal, in minor units.
        principal: i64,
    },
    /// A rate (`nominal_rate_bps`, `monthly_fee_rate_bps`) is negative.
    #[error("{field} {bps} must not be negative")]
    NegativeRate {
        /// Which rate.
        field: &'static str,
        /// Its value, in bp.
        bps: i32,
    },
    /// The schedule does not have one row per month of the term.
    #[error("schedule has {rows} rows for a {term_months}-month term")]
    WrongLength {
        /// Rows in the schedule.
        rows: usize,
        /// The term, in months.
        term_months: u32,
    },
    /// Row `index` (0-based) does not carry period `index + 1`.
    #[error("schedule[{index}] has period {period}, expected {expected}")]
    PeriodOutOfOrder {
        /// 0-based row.
        index: usize,
        /// The period the row carries.
        period: u32,
        /// The period it should carry (`index + 1`).
        expected: u32,
    },
    /// A row has a negative principal, interest or fee.
    #[error("schedule[{index}].{part} is negative ({})", format_major(*amount))]
    NegativeAmount {
        /// 0-based row.
        index: usize,
        /// `principal`, `interest` or `fee`.
        part: &'static str,
        /// The amount, in minor units.
        amount: i64,
    },
    /// The principal column does not sum to the principal.
    #[error(
        "schedule repays {} of {} principal",
        format_major(*repaid),
        format_major(*principal)
    )]
    PrincipalMismatch {
        /// What the principal column sums to, in minor units.
        repaid: i64,
        /// The loan's principal, in minor units.
        principal: i64,
    },
    /// Amounts (a payment, or all payments together) exceed what an `i64` holds.
    #[error("schedule amounts too large to represent")]
    Overflow,
}

impl ScheduleError {
    /// The `PartnerOffer` field at fault, e.g. `schedule[3].principal`.
    pub fn field(&self) -> String {
        match self {
            ScheduleError::TermOutOfRange { .. } => "term_months".into(),
            ScheduleError::NonPositivePrincipal { .. } => "principal".into(),
            ScheduleError::NegativeRate { field, .. } => (*field).into(),
            ScheduleError::PeriodOutOfOrder { index, .. } => format!("schedule[{index}].period"),
            ScheduleError::NegativeAmount { index, part, .. } => {
                format!("schedule[{index}].{part}")
            }
            ScheduleError::WrongLength { .. }
            | ScheduleError::PrincipalMismatch { .. }
            | ScheduleError::Overflow => "schedule".into(),
        }
    }
}

/// Builds the schedule of `principal_minor` over `term_months` monthly periods.
///
/// - `EqualInstallment`: level payments (annuity) at `nominal_rate_bps / 12` a month.
/// - `EqualPrincipal`: principal/n each month plus interest on the balance.
/// - `InterestOnlyBalloon`: interest each month, the whole principal with the last.
/// - `FlatFeeInstallment`: principal/n each month; no interest (the nominal
///   rate is ignored), the cost is the fee.
///
/// Every method also charges `principal x monthly_fee_rate_bps` each month in
/// the `fee` column (0 for most loans; the whole cost of flat-fee installments).
/// Periods are `1..=term_months`; the last row absorbs rounding.
pub fn build_schedule(
    method: RepaymentMethod,
    principal_minor: i64,
    term_months: u32,
    nominal_rate_bps: i32,
    monthly_fee_rate_bps: i32,
) -> Result<Vec<Installment>, ScheduleError> {
    if principal_minor <= 0 {
        return Err(ScheduleError::NonPositivePrincipal {
            principal: principal_minor,
        });
    }
    if term_months == 0 || term_months > MAX_TERM_MONTHS {
        return Err(ScheduleError::TermOutOfRange { term_months });
    }
    if nominal_rate_bps < 0 {
        return Err(ScheduleError::NegativeRate {
            field: "nominal_rate_bps",
            bps: nominal_rate_bps,
        });
    }
    if monthly_fee_rate_bps < 0 {
        return Err(ScheduleError::NegativeRate {
            field: "monthly_fee_rate_bps",
            bps: monthly_fee_rate_bps,
        });
    }
    let principal = i128::from(principal_minor);
    let n = term_months;
    let fee = to_i64(round_div(
        principal * i128::from(monthly_fee_rate_bps),
        10_000,
    ))?;
    let level_principal = principal / i128::from(n);
    let mut rows = Vec::with_capacity(n as usize);
    let mut balance = principal;
    match method {
        RepaymentMethod::EqualInstallment if nominal_rate_bps > 0 => {
            let payment = annuity_payment(principal, n, nominal_rate_bps);
            for period in 1..=n {
                let interest = monthly_interest(balance, nominal_rate_bps);
                let repaid = if period == n {
                    balance
                } else {
                    (payment - interest).clamp(0, balance)
                };
                rows.push(row(period, repaid, interest, fee)?);
                balance -= repaid;
            }
        }
        RepaymentMethod::EqualInstallment
        | RepaymentMethod::EqualPrincipal
        | RepaymentMethod::FlatFeeInstallment => {
            let charges_interest = method != RepaymentMethod::FlatFeeInstallment;
            for period in 1..=n {
                let interest = if charges_interest {
                    monthly_interest(balance, nominal_rate_bps)
                } else {
                    0
                };
                let repaid = if period == n {
                    balance
                } else {
                    level_principal
                };
                rows.push(row(period, repaid, interest, fee)?);
                balance -= repaid;
            }
        }
        RepaymentMethod::InterestOnlyBalloon => {
            let interest = monthly_interest(principal, nominal_rate_bps);
            for period in 1..=n {
                let repaid = if period == n { principal } else { 0 };
                rows.push(row(period, repaid, interest, fee)?);
            }
        }
    }
    total_payments(&rows)?;
    Ok(rows)
}

/// Checks a partner's own schedule: one row per month of the term, periods
/// `1..=term_months` in order, no negative amount, the principal column
/// summing exactly to `principal_minor`, and every payment (and their sum)
/// representable. It does not judge the price: the APR is computed from these
/// cash flows whatever the partner stated.
pub fn check_schedule(
    schedule: &[Installment],
    principal_minor: i64,
    term_months: u32,
) -> Result<(), ScheduleError> {
    if principal_minor <= 0 {
        return Err(ScheduleError::NonPositivePrincipal {
            principal: principal_minor,
        });
    }
    if term_months == 0 || term_months > MAX_TERM_MONTHS {
        return Err(ScheduleError::TermOutOfRange { term_months });
    }
    if schedule.len() != term_months as usize {
        return Err(ScheduleError::WrongLength {
            rows: schedule.len(),
            term_months,
        });
    }
    let mut repaid: i128 = 0;
    for (index, (row, expected)) in schedule.iter().zip(1u32..).enumerate() {
        if row.period != expected {
            return Err(ScheduleError::PeriodOutOfOrder {
                index,
                period: row.period,
                expected,
            });
        }
        for (part, amount) in [
            ("principal", row.principal),
            ("interest", row.interest),
            ("fee", row.fee),
        ] {
            if amount < 0 {
                return Err(ScheduleError::NegativeAmount {
                    index,
                    part,
                    amount,
                });
            }
        }
        repaid += i128::from(row.principal);
    }
    if repaid != i128::from(principal_minor) {
        return Err(ScheduleError::PrincipalMismatch {
            repaid: i64::try_from(repaid).unwrap_or(i64::MAX),
            principal: principal_minor,
        });
    }
    total_payments(schedule)?;
    Ok(())
}

/// The sum of all payments of `schedule`, or `Overflow` when a payment or the
/// sum does not fit an `i64`.
pub fn total_payments(schedule: &[Installment]) -> Result<i64, ScheduleError> {
    schedule.iter().try_fold(0i64, |sum, row| {
        row.checked_payment()
            .and_then(|p| sum.checked_add(p))
            .ok_or(ScheduleError::Overflow)
    })
}

/// One row, refusing amounts beyond `i64`.
fn row(
    period: u32,
    principal: i128,
    interest: i128,
    fee: i64,
) -> Result<Installment, ScheduleError> {
    Ok(Installment {
        period,
        principal: to_i64(principal)?,
        interest: to_i64(interest)?,
        fee,
    })
}

fn to_i64(v: i128) -> Result<i64, ScheduleError> {
    i64::try_from(v).map_err(|_| ScheduleError::Overflow)
}

/// `numerator / denominator` rounded half away from zero (`denominator > 0`).
pub(crate) fn round_div(numerator: i128, denominator: i128) -> i128 {
    let half = denominator / 2;
    if numerator >= 0 {
        (numerator + half) / denominator
    } else {
        -((-numerator + half) / denominator)
    }
}

/// One month of interest on `balance` at `annual_bps / 12`, rounded to the
/// minor unit. `|balance| <= BALANCE_LIMIT`, so the product fits `i128`;
/// ordinary amounts take the `i64` path.
pub(crate) fn monthly_interest(balance: i128, annual_bps: i32) -> i128 {
    if let Ok(b) = i64::try_from(balance)
        && let Some(product) = b.checked_mul(i64::from(annual_bps))
        && product >= 0
    {
        return i128::from((product + 60_000) / 120_000);
    }
    round_div(balance * i128::from(annual_bps), 120_000)
}

/// The balance left after `n` level payments of `payment` (interest rounded
/// each month), saturated at `+-BALANCE_LIMIT`. Strictly decreasing in `payment`.
fn residual(principal: i128, n: u32, annual_bps: i32, payment: i128) -> i128 {
    let mut balance = principal;
    for _ in 0..n {
        balance += monthly_interest(balance, annual_bps) - payment;
        if balance > BALANCE_LIMIT {
            // Interest outruns the payment: the balance only grows from here.
            return BALANCE_LIMIT;
        }
        if balance < -BALANCE_LIMIT {
            return -BALANCE_LIMIT;
        }
    }
    balance
}

/// The level payment (in minor units) that amortises `principal` over `n`
/// months with the smallest residual: the least payment leaving a residual
/// <= 0, or the one below it when that leaves a smaller positive residual.
///
/// Bracket: `principal / n` (floor) leaves a residual >= 0 since interest is
/// never negative; `principal / n + interest(principal) + 1` repays more than
/// `principal / n` every month, so its residual is < 0. The residual is
/// affine in the payment up to the monthly rounding, so each step first
/// interpolates between the bracket's residuals (landing within a unit or
/// two of the answer), then halves the bracket if it is still wide: the
/// same answer as bisection (the bracket invariants are the same and the
/// residual is strictly decreasing) in 3-5 residual evaluations instead of
/// ~15 (it was the hottest function of a routed call).
fn annuity_payment(principal: i128, n: u32, annual_bps: i32) -> i128 {
    let mut low = principal / i128::from(n);
    let mut high = low + monthly_interest(principal, annual_bps) + 1;
    let mut r_low = residual(principal, n, annual_bps, low);
    let mut r_high = residual(principal, n, annual_bps, high);
    // Invariant: r_low = residual(low) >= 0 and r_high = residual(high) <= 0.
    let mut interpolate = true;
    while high - low > 1 {
        let halfway = low + (high - low) / 2;
        let guess = if interpolate {
            // r_low > r_high (strictly decreasing, high > low).
            r_low
                .checked_mul(high - low)
                .and_then(|x| x.checked_div(r_low - r_high))
                .map_or(halfway, |step| low + step)
        } else {
            halfway
        };
        let mid = guess.clamp(low + 1, high - 1);
        let r = residual(principal, n, annual_bps, mid);
        if r > 0 {
            (low, r_low) = (mid, r);
        } else {
            (high, r_high) = (mid, r);
        }
        interpolate = !interpolate;
    }
    if r_low.abs() < r_high.abs() {
        low
    } else {
        high
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain integer bisection `annuity_payment` replaced.
    fn bisected_payment(principal: i128, n: u32, annual_bps: i32) -> i128 {
        let mut low = principal / i128::from(n);
        let mut high = low + monthly_interest(principal, annual_bps) + 1;
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            if residual(principal, n, annual_bps, mid) > 0 {
                low = mid;
            } else {
                high = mid;
            }
        }
        let over = residual(principal, n, annual_bps, high);
        let under = residual(principal, n, annual_bps, low);
        if under.abs() < over.abs() { low } else { high }
    }

    #[test]
    fn interpolated_payment_equals_bisection() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        for _ in 0..20_000 {
            let principal = 1 + next(10_000_000_000) as i128;
            let n = 1 + next(480) as u32;
            let bps = next(20_000) as i32;
            assert_eq!(
                annuity_payment(principal, n, bps),
                bisected_payment(principal, n, bps),
                "{principal} over {n} at {bps}"
            );
        }
        // Extremes: the largest balance, a single month, zero rate.
        for (p, n, bps) in [(BALANCE_LIMIT / 2, 600, 1_000_000), (1, 1, 0), (7, 480, 0)] {
            assert_eq!(annuity_payment(p, n, bps), bisected_payment(p, n, bps));
        }
    }

    const P: i64 = 1_000_000; // 10 000.00

    fn principal_sum(rows: &[Installment]) -> i64 {
        rows.iter().map(|r| r.principal).sum()
    }

    #[test]
    fn annuity_matches_textbook_payment_and_absorbs_rounding() {
        let rows =
            build_schedule(RepaymentMethod::EqualInstallment, P, 12, 1200, 0).expect("valid terms");
        assert_eq!(rows.len(), 12);
        // 10 000 at 1 %/month over 12 months: 888.4879 -> 888.49.
        for r in &rows[..11] {
            assert_eq!(r.payment(), 88_849, "period {}", r.period);
        }
        assert_eq!(rows[0].interest, 10_000);
        assert_eq!(rows[0].principal, 78_849);
        assert_eq!(rows[11].payment(), 88_847);
        assert_eq!(principal_sum(&rows), P);
        assert_eq!(
            rows.iter().map(|r| r.period).collect::<Vec<_>>(),
            (1..=12).collect::<Vec<_>>()
        );
    }

    #[test]
    fn zero_rate_annuity_is_level_principal() {
        let rows =
            build_schedule(RepaymentMethod::EqualInstallment, 100, 3, 0, 0).expect("valid terms");
        let p: Vec<i64> = rows.iter().map(|r| r.principal).collect();
        assert_eq!(p, vec![33, 33, 34]);
        assert!(rows.iter().all(|r| r.interest == 0 && r.fee == 0));
    }

    #[test]
    fn equal_principal_interest_declines() {
        let rows =
            build_schedule(RepaymentMethod::EqualPrincipal, P, 12, 1200, 0).expect("valid terms");
        assert_eq!(rows[0].principal, 83_333);
        assert_eq!(rows[0].interest, 10_000);
        assert_eq!(rows[1].interest, 9_167); // 916 666.67 x 1 %
        assert_eq!(rows[11].principal, 83_337);
        assert_eq!(rows[11].interest, 833); // 83 337 x 1 % = 833.37 -> 833
        assert_eq!(principal_sum(&rows), P);
    }

    #[test]
    fn balloon_pays_interest_then_principal() {
        let rows = build_schedule(RepaymentMethod::InterestOnlyBalloon, P, 6, 600, 0)
            .expect("valid terms");
        assert!(
            rows[..5]
                .iter()
                .all(|r| r.principal == 0 && r.interest == 5_000)
        );
        assert_eq!(rows[5].principal, P);
        assert_eq!(rows[5].interest, 5_000);
    }

    #[test]
    fn flat_fee_has_fee_and_no_interest() {
        let rows = build_schedule(RepaymentMethod::FlatFeeInstallment, P, 12, 999, 60)
            .expect("valid terms");
        assert!(rows.iter().all(|r| r.interest == 0 && r.fee == 6_000));
        assert_eq!(rows[0].principal, 83_333);
        assert_eq!(rows[11].principal, 83_337);
        assert_eq!(principal_sum(&rows), P);
    }

    #[test]
    fn tiny_principal_over_long_term_never_goes_negative() {
        for method in [
            RepaymentMethod::EqualInstallment,
            RepaymentMethod::EqualPrincipal,
            RepaymentMethod::FlatFeeInstallment,
            RepaymentMethod::InterestOnlyBalloon,
        ] {
            let rows = build_schedule(method, 5, 24, 3600, 0).expect("valid terms");
            assert_eq!(rows.len(), 24);
            assert_eq!(principal_sum(&rows), 5);
            assert!(rows.iter().all(|r| r.principal >= 0 && r.interest >= 0));
            check_schedule(&rows, 5, 24).expect("own schedule passes the partner check");
        }
    }

    #[test]
    fn refuses_bad_terms_without_panicking() {
        let m = RepaymentMethod::EqualInstallment;
        assert_eq!(
            build_schedule(m, 0, 12, 1200, 0),
            Err(ScheduleError::NonPositivePrincipal { principal: 0 })
        );
        assert_eq!(
            build_schedule(m, P, 0, 1200, 0),
            Err(ScheduleError::TermOutOfRange { term_months: 0 })
        );
        assert_eq!(
            build_schedule(m, P, 601, 1200, 0),
            Err(ScheduleError::TermOutOfRange { term_months: 601 })
        );
        let err = build_schedule(m, P, 12, -1, 0).expect_err("negative rate");
        assert_eq!(err.field(), "nominal_rate_bps");
        let err = build_schedule(m, P, 12, 0, -1).expect_err("negative fee");
        assert_eq!(err.field(), "monthly_fee_rate_bps");
        assert_eq!(
            build_schedule(m, i64::MAX, 600, i32::MAX, i32::MAX),
            Err(ScheduleError::Overflow)
        );
        assert_eq!(
            build_schedule(RepaymentMethod::FlatFeeInstallment, i64::MAX, 2, 0, 1),
            Err(ScheduleError::Overflow),
            "payments sum beyond i64"
        );
    }

    #[test]
    fn huge_rates_do_not_overflow_the_search() {
        let rows = build_schedule(RepaymentMethod::EqualInstallment, P, 600, i32::MAX, 0)
            .expect("interest of 1.8e10 a month still fits");
        assert_eq!(principal_sum(&rows), P);
        assert_eq!(
            build_schedule(
                RepaymentMethod::EqualInstallment,
                i64::MAX / 2,
                600,
                i32::MAX,
                0
            ),
            Err(ScheduleError::Overflow)
        );
        let rows = build_schedule(RepaymentMethod::EqualInstallment, P, 24, 100_000, 0)
            .expect("1000 % a year still fits");
        assert_eq!(principal_sum(&rows), P);
    }

    fn rows(parts: &[(i64, i64, i64)]) -> Vec<Installment> {
        parts
            .iter()
            .zip(1u32..)
            .map(|(&(principal, interest, fee), period)| Installment {
                period,
                principal,
                interest,
                fee,
            })
            .collect()
    }

    #[test]
    fn check_accepts_a_consistent_schedule() {
        let s = rows(&[(500_000, 100, 0), (500_000, 50, 0)]);
        assert_eq!(check_schedule(&s, P, 2), Ok(()));
    }

    #[test]
    fn check_names_what_is_wrong() {
        let short = rows(&[(400_000, 0, 0), (500_000, 0, 0)]);
        let err = check_schedule(&short, P, 2).expect_err("repays too little");
        assert_eq!(
            err.to_string(),
            "schedule repays 9 000.00 of 10 000.00 principal"
        );
        assert_eq!(err.field(), "schedule");

        let err = check_schedule(&short, P, 3).expect_err("wrong length");
        assert_eq!(err.to_string(), "schedule has 2 rows for a 3-month term");

        let mut swapped = rows(&[(500_000, 0, 0), (500_000, 0, 0)]);
        swapped[0].period = 2;
        let err = check_schedule(&swapped, P, 2).expect_err("out of order");
        assert_eq!(err.field(), "schedule[0].period");

        let negative = rows(&[(500_000, 0, 0), (500_000, 0, 0), (0, 0, -1)]);
        let err = check_schedule(&negative, P, 3).expect_err("negative fee");
        assert_eq!(err.field(), "schedule[2].fee");
        assert_eq!(err.to_string(), "schedule[2].fee is negative (-0.01)");

        let huge = rows(&[(P, i64::MAX, 0)]);
        assert_eq!(check_schedule(&huge, P, 1), Err(ScheduleError::Overflow));

        let overshoot = rows(&[(i64::MAX, 0, 0), (i64::MAX, 0, 0)]);
        let err = check_schedule(&overshoot, P, 2).expect_err("overshoot");
        assert!(matches!(err, ScheduleError::PrincipalMismatch { .. }));
    }
}

//! APR by the IRR (actuarial) method: the monthly rate `r` at which the
//! payments, discounted monthly, are worth exactly what was disbursed;
//! `apr_bps` = 12 x r, `effective_annual_rate_bps` = (1 + r)^12 - 1.
//!
//! The solver works on `x = ln(1 + r)`. With every payment >= 0 and at least
//! one > 0, `npv(x) = sum_k p_k e^(-k x) - disbursed` is continuous and
//! strictly decreasing in `x`, so exactly one root exists; `[-60, 60]` brackets
//! it for any `i64` amounts (at `x = -60` the first payment alone is worth
//! more than `i64::MAX`, at `x = 60` all payments together less than one
//! minor unit). Newton steps are taken while they stay inside the bracket,
//! bisection otherwise: convergence is guaranteed, and typically quadratic.
//!
//! Negative APRs are allowed: payments summing to less than the disbursed
//! amount (a cash-back promotion, say) have a negative IRR, and that is the
//! truth about the offer. Priced offers never get there (their principal
//! column alone repays at least the disbursed amount).

/// The price of a cash-flow schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AprResult {
    /// 12 x the monthly IRR, in basis points, rounded to the nearest.
    pub apr_bps: i32,
    /// (1 + monthly IRR)^12 - 1, in basis points, rounded to the nearest.
    pub effective_annual_rate_bps: i32,
    /// The monthly IRR itself (0.01 = 1 % a month).
    pub monthly_rate: f64,
}

/// Why no APR could be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AprError {
    /// No payment at all.
    #[error("no payments")]
    NoPayments,
    /// Nothing (or less than nothing) was disbursed.
    #[error("disbursed amount {disbursed} must be positive")]
    NonPositiveDisbursed {
        /// The amount disbursed, in minor units.
        disbursed: i64,
    },
    /// A payment flows to the borrower; the IRR would not be unique.
    #[error("payment {index} is negative ({amount})")]
    NegativePayment {
        /// 0-based position of the payment.
        index: usize,
        /// The payment, in minor units.
        amount: i64,
    },
    /// Every payment is zero: the rate is -100 %.
    #[error("nothing is ever repaid")]
    NothingRepaid,
    /// The rate does not fit an `i32` of basis points.
    #[error("rate beyond {} bp", i32::MAX)]
    OutOfRange,
}

/// Lower end of the bracket for `x = ln(1 + r)`.
const X_LOW: f64 = -60.0;
/// Upper end of the bracket for `x = ln(1 + r)`.
const X_HIGH: f64 = 60.0;
/// Stop when a step moves `x` by less than this: far below 0.01 bp of APR
/// (d apr_bps / dx = 120 000 (1 + r)).
const X_TOLERANCE: f64 = 1e-14;
/// Iterations before the solver stops trying Newton and only bisects.
const NEWTON_ITERATIONS: u32 = 60;
/// Hard bound on iterations; bisection alone reaches `X_TOLERANCE` well before.
const MAX_ITERATIONS: u32 = 200;

/// The APR of `disbursed_minor` paid out at t0 against `payments_minor[k]` paid
/// back at the end of month `k + 1`.
pub fn apr_from_cash_flows(
    disbursed_minor: i64,
    payments_minor: &[i64],
) -> Result<AprResult, AprError> {
    apr_from_payments(disbursed_minor, payments_minor.iter().copied())
}

/// [`apr_from_cash_flows`] over any re-iterable sequence of payments, so
/// pricing can read a schedule without collecting its payments first.
pub(crate) fn apr_from_payments<I>(disbursed_minor: i64, payments: I) -> Result<AprResult, AprError>
where
    I: Iterator<Item = i64> + Clone,
{
    if disbursed_minor <= 0 {
        return Err(AprError::NonPositiveDisbursed {
            disbursed: disbursed_minor,
        });
    }
    let mut any = false;
    let mut repaid = false;
    for (index, amount) in payments.clone().enumerate() {
        any = true;
        if amount < 0 {
            return Err(AprError::NegativePayment { index, amount });
        }
        repaid |= amount > 0;
    }
    if !any {
        return Err(AprError::NoPayments);
    }
    if !repaid {
        return Err(AprError::NothingRepaid);
    }
    let disbursed = disbursed_minor as f64;
    let x = solve(disbursed, &payments);
    let monthly_rate = x.exp_m1();
    let apr = 12.0 * monthly_rate * 10_000.0;
    let ear = (12.0 * x).exp_m1() * 10_000.0;
    Ok(AprResult {
        apr_bps: to_bps(apr)?,
        effective_annual_rate_bps: to_bps(ear)?,
        monthly_rate,
    })
}

fn to_bps(v: f64) -> Result<i32, AprError> {
    let r = v.round();
    if r.is_finite() && r >= f64::from(i32::MIN) && r <= f64::from(i32::MAX) {
        Ok(r as i32)
    } else {
        Err(AprError::OutOfRange)
    }
}

/// The root of `npv` in `[X_LOW, X_HIGH]` (see the module docs).
fn solve<I>(disbursed: f64, payments: &I) -> f64
where
    I: Iterator<Item = i64> + Clone,
{
    let (mut low, mut high) = (X_LOW, X_HIGH);
    // Start at 0 %; Newton on a convex decreasing function approaches the
    // root from the left without overshooting.
    let mut x = 0.0;
    for iteration in 0..MAX_ITERATIONS {
        let (value, slope) = npv(disbursed, payments, x);
        if value == 0.0 {
            return x;
        }
        if value > 0.0 {
            low = x;
        } else {
            high = x;
        }
        let newton = x - value / slope;
        let next = if iteration < NEWTON_ITERATIONS && newton > low && newton < high {
            newton
        } else {
            low + (high - low) / 2.0
        };
        if (next - x).abs() < X_TOLERANCE || high - low < X_TOLERANCE {
            return next;
        }
        x = next;
    }
    x
}

/// `npv(x)` and its derivative in `x`. Zero payments are skipped, so an
/// overflowing discount factor never meets a zero (no NaN); the values may
/// be infinite at the ends of the bracket, which only the sign test reads.
fn npv<I>(disbursed: f64, payments: &I, x: f64) -> (f64, f64)
where
    I: Iterator<Item = i64> + Clone,
{
    let v = (-x).exp();
    let mut factor = 1.0;
    let mut value = -disbursed;
    let mut slope = 0.0;
    for (k, amount) in payments.clone().enumerate() {
        factor *= v;
        if amount != 0 {
            let discounted = amount as f64 * factor;
            value += discounted;
            slope -= (k + 1) as f64 * discounted;
        }
    }
    (value, slope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RepaymentMethod;
    use crate::schedule::build_schedule;

    const P: i64 = 1_000_000;

    fn apr_of(method: RepaymentMethod, term: u32, rate: i32, fee: i32, upfront: i64) -> AprResult {
        let rows = build_schedule(method, P, term, rate, fee).expect("valid terms");
        let payments: Vec<i64> = rows.iter().map(|r| r.payment()).collect();
        apr_from_cash_flows(P - upfront, &payments).expect("priceable")
    }

    #[test]
    fn reference_annuity_12_percent() {
        let a = apr_of(RepaymentMethod::EqualInstallment, 12, 1200, 0, 0);
        assert_eq!(a.apr_bps, 1200);
        assert_eq!(a.effective_annual_rate_bps, 1268);
        assert!((a.monthly_rate - 0.01).abs() < 1e-6);
    }

    #[test]
    fn reference_annuity_with_2_percent_upfront_fee() {
        assert_eq!(
            apr_of(RepaymentMethod::EqualInstallment, 12, 1200, 0, 20_000).apr_bps,
            1585
        );
    }

    #[test]
    fn reference_flat_fee_060_for_12_months() {
        // The "7.2 % a year" of the ads.
        assert_eq!(
            apr_of(RepaymentMethod::FlatFeeInstallment, 12, 0, 60, 0).apr_bps,
            1303
        );
    }

    #[test]
    fn reference_flat_fee_075_for_3_periods() {
        assert_eq!(
            apr_of(RepaymentMethod::FlatFeeInstallment, 3, 0, 75, 0).apr_bps,
            1345
        );
    }

    #[test]
    fn reference_flat_fee_065_for_24_periods() {
        // 1432.504 bp before rounding: needs the exact last-row absorption.
        assert_eq!(
            apr_from_cash_flows(P, &{
                let mut p = vec![41_666 + 6_500; 23];
                p.push(41_682 + 6_500);
                p
            })
            .map(|a| a.apr_bps),
            Ok(1433)
        );
        assert_eq!(
            apr_of(RepaymentMethod::FlatFeeInstallment, 24, 0, 65, 0).apr_bps,
            1433
        );
    }

    #[test]
    fn zero_cost_is_zero_apr() {
        let a = apr_from_cash_flows(1_200, &[100; 12]).expect("priceable");
        assert_eq!((a.apr_bps, a.effective_annual_rate_bps), (0, 0));
    }

    #[test]
    fn negative_irr_is_reported_not_refused() {
        let a = apr_from_cash_flows(1_200, &[90; 12]).expect("priceable");
        assert!(a.apr_bps < 0, "{a:?}");
        assert!(a.monthly_rate > -1.0);
    }

    #[test]
    fn errors_not_panics() {
        assert_eq!(apr_from_cash_flows(100, &[]), Err(AprError::NoPayments));
        assert_eq!(
            apr_from_cash_flows(0, &[1]),
            Err(AprError::NonPositiveDisbursed { disbursed: 0 })
        );
        assert_eq!(
            apr_from_cash_flows(100, &[50, -1]),
            Err(AprError::NegativePayment {
                index: 1,
                amount: -1
            })
        );
        assert_eq!(
            apr_from_cash_flows(100, &[0, 0]),
            Err(AprError::NothingRepaid)
        );
        assert_eq!(
            apr_from_cash_flows(1, &[i64::MAX]),
            Err(AprError::OutOfRange)
        );
        // Extremes still converge to a finite monthly rate.
        let a = apr_from_cash_flows(i64::MAX, &[1]).expect("a -100 % ish rate");
        assert!(a.monthly_rate.is_finite() && a.monthly_rate >= -1.0);
        assert_eq!(a.apr_bps, -120_000);
        let a = apr_from_cash_flows(1, &[vec![0; 599], vec![2]].concat()).expect("priceable");
        assert!(a.monthly_rate > 0.0 && a.monthly_rate.is_finite());
    }

    #[test]
    fn result_zeroes_the_npv() {
        let payments = [30_000, 50_000, 0, 40_000];
        let a = apr_from_cash_flows(100_000, &payments).expect("priceable");
        let npv: f64 = payments
            .iter()
            .zip(1..)
            .map(|(&p, k)| p as f64 / (1.0 + a.monthly_rate).powi(k))
            .sum::<f64>()
            - 100_000.0;
        assert!(npv.abs() < 1e-6, "npv {npv}");
    }
}

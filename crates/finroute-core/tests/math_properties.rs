//! Property tests of the money math: schedules always repay the principal
//! exactly, the APR solver always converges to a rate that zeroes the NPV,
//! the IRR of a generated schedule recovers the rate it was built at within
//! 0.01 bp, and the APR never falls when a fee, a mandatory charge or the
//! nominal rate rises.

use finroute_core::{
    AprError, Charge, ChargeKind, ChargeTiming, Currency, Installment, LoanTerms, Money, PartyRole,
    RepaymentMethod, apr_from_cash_flows, build_schedule, check_schedule, cost,
};
use proptest::prelude::*;

fn method() -> impl Strategy<Value = RepaymentMethod> {
    prop_oneof![
        Just(RepaymentMethod::EqualInstallment),
        Just(RepaymentMethod::EqualPrincipal),
        Just(RepaymentMethod::InterestOnlyBalloon),
        Just(RepaymentMethod::FlatFeeInstallment),
    ]
}

/// The methods that charge interest at the nominal rate (flat-fee
/// installments ignore it).
fn interest_method() -> impl Strategy<Value = RepaymentMethod> {
    prop_oneof![
        Just(RepaymentMethod::EqualInstallment),
        Just(RepaymentMethod::EqualPrincipal),
        Just(RepaymentMethod::InterestOnlyBalloon),
    ]
}

/// Highest nominal rate the IRR-recovery properties generate (100 % a year).
const MAX_RATE_BPS: i32 = 10_000;

/// Rigorous bound, in bp of APR, on how far cent rounding can move the IRR of
/// a schedule built at `rate_bps` away from `rate_bps`.
///
/// Every generated row satisfies `B_k = B_{k-1} (1 + r) + e_k - pay_k` exactly,
/// with `r = rate_bps / 120_000` and `e_k` the rounding of that month's
/// interest to the minor unit (`|e_k| <= 1/2`), and `B_n = 0`. So the NPV at
/// `r` is `f(r) = sum_k e_k v^k` (`v = 1 / (1 + r)`), `|f(r)| <= n / 2`. The NPV
/// is convex and decreasing in the rate (all payments >= 0), so the IRR `r*`
/// lies within `|f(r)| / |f'(r)|` of `r` on either side, and
/// `|f'(r)| = sum_k k pay_k v^(k+1) >= v sum_k pay_k v^k = v (P + f(r)) >= v (P - n/2)`.
/// In bp of APR (`12 x 10_000 x r`): `120_000 (1 + r) n / (2 P - n)`, i.e.
/// about `60_000 (1 + r) n / P`. The solver's own error (`|dx| < 1e-14`, about
/// 1e-9 bp) and the f64 evaluation of the NPV (about 1e-8 bp at 600 rows) add
/// far less than 0.001 bp.
fn rounding_bound_bps(principal: i64, term: u32, rate_bps: i32) -> f64 {
    let r = f64::from(rate_bps) / 120_000.0;
    let n = f64::from(term);
    120_000.0 * (1.0 + r) * n / (2.0 * principal as f64 - n)
}

/// Smallest principal (minor units) per month of term for which
/// [`rounding_bound_bps`] is below 0.009 bp at any rate up to
/// [`MAX_RATE_BPS`]: `60_000 x (1 + 1/12) / 0.009 = 7_222_223`. So a
/// 12-month loan needs at least 866 667 major units, a 600-month one 4.3
/// billion: below that, cent rounding alone can move the IRR by more than
/// 0.01 bp (the bound is tight up to the luck of the rounding signs), and
/// 0.01 bp is not a property the schedules can have.
const PRINCIPAL_PER_MONTH: i64 = 7_300_000;

fn payments_of(rows: &[Installment]) -> Vec<i64> {
    rows.iter().map(Installment::payment).collect()
}

/// `sum_k p_k / (1 + r)^k - disbursed`, relative to `disbursed`.
fn relative_npv(disbursed: i64, payments: &[i64], r: f64) -> f64 {
    let mut factor = 1.0;
    let mut npv = -(disbursed as f64);
    for &p in payments {
        factor /= 1.0 + r;
        npv += p as f64 * factor;
    }
    npv / disbursed as f64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn schedules_repay_the_principal_exactly(
        method in method(),
        principal in prop_oneof![1i64..=10_000, 1i64..=1_000_000_000_000],
        term in prop_oneof![1u32..=36, 1u32..=600],
        rate in 0i32..=10_000,
        fee in 0i32..=500,
    ) {
        let rows = build_schedule(method, principal, term, rate, fee)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(rows.len(), term as usize);
        prop_assert!(rows.iter().zip(1u32..).all(|(r, k)| r.period == k));
        prop_assert_eq!(rows.iter().map(|r| i128::from(r.principal)).sum::<i128>(), i128::from(principal));
        prop_assert!(rows.iter().all(|r| r.principal >= 0 && r.interest >= 0 && r.fee >= 0));
        prop_assert_eq!(check_schedule(&rows, principal, term), Ok(()));
    }

    #[test]
    fn schedules_never_panic(
        method in method(),
        principal in any::<i64>(),
        term in any::<u32>(),
        rate in any::<i32>(),
        fee in any::<i32>(),
    ) {
        // Huge terms are refused before any row is allocated.
        if let Ok(rows) = build_schedule(method, principal, term, rate, fee) {
            prop_assert_eq!(rows.iter().map(|r| i128::from(r.principal)).sum::<i128>(), i128::from(principal));
        }
    }

    #[test]
    fn apr_solver_converges_and_zeroes_the_npv(
        payments in prop::collection::vec(0i64..=1_000_000_000, 1..=60),
        share in 0.3f64..1.5,
    ) {
        let total: i64 = payments.iter().sum();
        prop_assume!(total > 0);
        let disbursed = ((total as f64 * share) as i64).max(1);
        let a = match apr_from_cash_flows(disbursed, &payments) {
            Ok(a) => a,
            Err(AprError::OutOfRange) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        prop_assert!(a.monthly_rate.is_finite() && a.monthly_rate > -1.0);
        prop_assert!(relative_npv(disbursed, &payments, a.monthly_rate).abs() < 1e-9);
        prop_assert_eq!(i64::from(a.apr_bps), (12.0 * a.monthly_rate * 10_000.0).round() as i64);
        if disbursed <= total {
            prop_assert!(a.apr_bps >= 0);
        }
    }

    #[test]
    fn apr_solver_never_panics(disbursed in any::<i64>(), payments in prop::collection::vec(any::<i64>(), 0..=24)) {
        if let Ok(a) = apr_from_cash_flows(disbursed, &payments) {
            prop_assert!(!a.monthly_rate.is_nan());
        }
    }

    #[test]
    fn apr_rises_with_the_fee_rate(
        principal in 100_000i64..=100_000_000,
        term in 1u32..=36,
        fee in 0i32..=300,
        more in 0i32..=300,
        upfront_bps in 0i64..=500,
    ) {
        let apr = |fee_bps: i32| {
            let rows = build_schedule(RepaymentMethod::FlatFeeInstallment, principal, term, 0, fee_bps)
                .expect("valid terms");
            let disbursed = principal - principal * upfront_bps / 10_000;
            apr_from_cash_flows(disbursed, &payments_of(&rows)).expect("priceable")
        };
        let (low, high) = (apr(fee), apr(fee + more));
        prop_assert!(low.apr_bps <= high.apr_bps, "{:?} > {:?}", low, high);
        prop_assert!(low.monthly_rate <= high.monthly_rate + 1e-15);
    }

    #[test]
    fn apr_of_an_annuity_is_its_nominal_rate(
        principal in 1_000_000i64..=1_000_000_000,
        term in 2u32..=360,
        rate in 100i32..=3_600,
    ) {
        let rows = build_schedule(RepaymentMethod::EqualInstallment, principal, term, rate, 0)
            .expect("valid terms");
        let a = apr_from_cash_flows(principal, &payments_of(&rows)).expect("priceable");
        // Rounding to the fen moves the IRR by at most a fraction of a bp here.
        prop_assert!((a.apr_bps - rate).abs() <= 1, "{} vs {}", a.apr_bps, rate);
    }

    /// Acceptance: the IRR of a generated schedule (no fees) recovers its
    /// nominal rate within 0.01 bp, for principals large enough that cent
    /// rounding cannot move it that far (see [`PRINCIPAL_PER_MONTH`]).
    #[test]
    fn irr_recovers_the_nominal_rate_within_a_hundredth_of_a_bp(
        method in interest_method(),
        (term, principal) in prop_oneof![1u32..=36, 1u32..=600].prop_flat_map(|term| {
            let floor = PRINCIPAL_PER_MONTH * i64::from(term);
            (Just(term), prop_oneof![floor..=floor * 4, floor..=1_000_000_000_000_000])
        }),
        rate in prop_oneof![0i32..=MAX_RATE_BPS, 1i32..=3_600, Just(MAX_RATE_BPS)],
    ) {
        prop_assert!(rounding_bound_bps(principal, term, rate) < 0.009);
        let rows = build_schedule(method, principal, term, rate, 0).expect("valid terms");
        let a = apr_from_cash_flows(principal, &payments_of(&rows)).expect("priceable");
        let apr = 12.0 * a.monthly_rate * 10_000.0;
        prop_assert!(
            (apr - f64::from(rate)).abs() <= 0.01,
            "{:?} {}x{} at {} bp: IRR {} bp", method, principal, term, rate, apr
        );
        prop_assert_eq!(a.apr_bps, rate);
    }

    /// The honest tolerance at any principal: the IRR is within
    /// [`rounding_bound_bps`] (+ 0.001 bp for the solver) of the nominal rate.
    #[test]
    fn irr_is_within_the_rounding_bound_at_any_principal(
        method in interest_method(),
        principal in prop_oneof![1i64..=10_000, 1i64..=100_000_000, 1i64..=1_000_000_000_000],
        term in prop_oneof![1u32..=36, 1u32..=600],
        rate in 0i32..=MAX_RATE_BPS,
    ) {
        prop_assume!(2 * principal > i64::from(term));
        let rows = build_schedule(method, principal, term, rate, 0).expect("valid terms");
        let a = apr_from_cash_flows(principal, &payments_of(&rows)).expect("priceable");
        let apr = 12.0 * a.monthly_rate * 10_000.0;
        let bound = rounding_bound_bps(principal, term, rate) + 0.001;
        prop_assert!(
            (apr - f64::from(rate)).abs() <= bound,
            "{:?} {}x{} at {} bp: IRR {} bp, bound {}", method, principal, term, rate, apr, bound
        );
    }

    /// Acceptance: the APR is non-decreasing in the monthly fee rate, the
    /// upfront fee and the nominal rate, each alone and all together, for
    /// every repayment method.
    ///
    /// In integer minor units the nominal rate can only be held to this up to
    /// the schedule's rounding: a higher rate may tip the level payment one
    /// unit up, and the last payment, which absorbs the residual, then drops
    /// by more than the others rose (4 896 fen over 13 months: 61.26 % pays
    /// 12 x 524 + 534 for an IRR of 61.28 %, 61.27 % pays 12 x 525 + 514 for
    /// 61.21 %). Each APR is within `rounding_bound_bps` of its own nominal
    /// rate (`irr_is_within_the_rounding_bound_at_any_principal`), so when the rate
    /// rises the APR may fall by at most twice that bound; fees and upfront
    /// fees never lower it at all.
    #[test]
    fn apr_is_monotone_in_fees_and_the_nominal_rate(
        method in method(),
        principal in prop_oneof![1i64..=10_000, 100_000i64..=100_000_000, 1i64..=1_000_000_000_000],
        term in prop_oneof![1u32..=36, 1u32..=600],
        rate in prop_oneof![0i32..=4_000, 0i32..=MAX_RATE_BPS],
        more_rate in prop_oneof![0i32..=3, 0i32..=2_000],
        fee in 0i32..=300,
        more_fee in prop_oneof![0i32..=3, 0i32..=300],
        upfront_bps in 0i64..=1_000,
        more_upfront_bps in prop_oneof![0i64..=3, 0i64..=1_000],
        which in 0u8..4,
    ) {
        let upfront = |bps: i64| (principal * bps / 10_000).min(principal - 1);
        let apr = |rate: i32, fee: i32, upfront: i64| {
            let rows = build_schedule(method, principal, term, rate, fee).expect("valid terms");
            apr_from_cash_flows(principal - upfront, &payments_of(&rows))
        };
        let low = (rate, fee, upfront(upfront_bps));
        // Raise one of the three (or all of them).
        let high = match which {
            0 => (rate + more_rate, fee, low.2),
            1 => (rate, fee + more_fee, low.2),
            2 => (rate, fee, upfront(upfront_bps + more_upfront_bps)),
            _ => (rate + more_rate, fee + more_fee, upfront(upfront_bps + more_upfront_bps)),
        };
        let (l, h) = match (apr(low.0, low.1, low.2), apr(high.0, high.1, high.2)) {
            (Ok(l), Ok(h)) => (l, h),
            // Tiny principals with large upfront fees can be beyond an i32 of bp.
            (_, Err(AprError::OutOfRange)) => return Ok(()),
            (l, h) => return Err(TestCaseError::fail(format!("{l:?} {h:?}"))),
        };
        // Rounding slack, in bp of APR, when the nominal rate rose (0 otherwise).
        // (The bound holds for 2 x principal > term; below that a unit of
        // rounding is most of each payment and no bound applies.)
        let slack = match (high.0 > low.0, 2 * principal > i64::from(term)) {
            (false, _) => 0.0,
            (true, true) => 2.0 * rounding_bound_bps(principal, term, high.0),
            (true, false) => f64::INFINITY,
        };
        let (l_bps, h_bps) = (12.0 * l.monthly_rate * 10_000.0, 12.0 * h.monthly_rate * 10_000.0);
        prop_assert!(
            l_bps <= h_bps * (1.0 + 1e-12) + 1e-11 + slack,
            "{:?} {}x{}: {:?} -> {:?} lowers the APR beyond rounding ({} bp): {:?} > {:?}",
            method, principal, term, low, high, slack, l, h
        );
        let slack_bps = slack.ceil().min(f64::from(i32::MAX)) as i32;
        prop_assert!(l.apr_bps <= h.apr_bps.saturating_add(slack_bps), "{:?} > {:?}", l, h);
        if slack == 0.0 {
            prop_assert!(l.effective_annual_rate_bps <= h.effective_annual_rate_bps, "{:?} > {:?}", l, h);
        }
    }
}

fn charge_timing() -> impl Strategy<Value = ChargeTiming> {
    prop_oneof![
        Just(ChargeTiming::DeductedAtDisbursement),
        Just(ChargeTiming::PaidAtDisbursement),
        Just(ChargeTiming::PerPeriodAmount),
        Just(ChargeTiming::PerPeriodRateOnPrincipal),
        Just(ChargeTiming::PerPeriodRateOnBalance),
        Just(ChargeTiming::AtEnd),
    ]
}

/// A mandatory charge of any timing, small enough to leave a positive net
/// disbursement on a principal of at least 1 000.00.
fn charge() -> impl Strategy<Value = Charge> {
    (charge_timing(), 0i64..50_000, 0i32..=500, any::<bool>()).prop_map(
        |(timing, amount, rate, declinable)| Charge {
            kind: Some(ChargeKind::GuaranteeFee),
            payee: Some(PartyRole::Guarantor),
            payee_name: "G".into(),
            timing: Some(timing),
            amount: timing
                .is_amount()
                .then(|| Money::new(Currency::parse("CNY").expect("code"), amount)),
            period_rate_bps: rate,
            declinable,
            description: String::new(),
        },
    )
}

fn loan(
    method: RepaymentMethod,
    principal: i64,
    term: u32,
    rate: i32,
    charges: Vec<Charge>,
) -> LoanTerms {
    LoanTerms {
        method,
        principal,
        term_months: term,
        nominal_rate_bps: rate,
        stated_apr_bps: rate,
        monthly_fee_rate_bps: 0,
        upfront_fee: 0,
        schedule: Vec::new(),
        charges,
        promotion: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Adding a mandatory charge never lowers the APR; a declinable one
    /// never changes it; the mandatory shares always sum to the APR.
    #[test]
    fn a_mandatory_charge_never_lowers_the_apr(
        method in interest_method(),
        principal in 100_000i64..100_000_000,
        term in 1u32..=60,
        rate in 0i32..=3_600,
        before in proptest::collection::vec(charge(), 0..3),
        added in charge(),
    ) {
        let base = cost(loan(method, principal, term, rate, before.clone()));
        let mut more = before.clone();
        more.push(added.clone());
        let with = cost(loan(method, principal, term, rate, more));
        let (Ok(base), Ok(with)) = (base, with) else {
            // Charges at disbursement reaching the principal are refused
            // (both or only the larger set); nothing to compare.
            return Ok(());
        };
        if added.declinable {
            prop_assert_eq!(with.apr, base.apr);
        } else {
            prop_assert!(with.apr.apr_bps >= base.apr.apr_bps,
                "{} < {}", with.apr.apr_bps, base.apr.apr_bps);
        }
        let shares: i32 = with.lines.iter().filter(|l| !l.declinable).map(|l| l.apr_share_bps).sum();
        prop_assert_eq!(shares, with.apr.apr_bps);
        let fees: i64 = with.schedule.iter().map(|r| r.fee).sum();
        let periodic: i64 = with.lines.iter().filter(|l| !l.declinable && l.kind != ChargeKind::Interest)
            .map(|l| l.total).sum::<i64>() - with.deducted - with.paid_at_disbursement;
        prop_assert_eq!(fees, periodic);
    }
}

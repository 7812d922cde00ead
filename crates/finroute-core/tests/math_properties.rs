//! Property tests of the money math: schedules always repay the principal
//! exactly, and the APR solver always converges to a rate that zeroes the NPV.

use finroute_core::{
    AprError, Installment, RepaymentMethod, apr_from_cash_flows, build_schedule, check_schedule,
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
}

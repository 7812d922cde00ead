//! Charges as cash flows: every charge the borrower must pay is a flow of
//! the IRR, so the APR is the comprehensive figure; a declinable charge is
//! priced apart. Also the promotion applied to a built schedule, and the
//! cost breakdown: each line's total and its share of the APR.
//!
//! Shares are marginal, in the order the lines are listed: the interest
//! line is the APR of the schedule's principal and interest alone; each
//! mandatory charge then adds the APR it raises over the lines above it,
//! so the mandatory shares sum exactly to the APR. A declinable charge's
//! share is what it would add on top of every mandatory one.

use crate::apr::{AprError, AprResult, apr_from_payments};
use crate::disclosure::{Charge, ChargeKind, ChargeTiming, PartyRole, Promotion};
use crate::domain::{Installment, RepaymentMethod};
use crate::money::MAX_AMOUNT_MINOR;
use crate::schedule::{monthly_interest, round_div};

/// Largest per-period charge rate, in bp of the base (100 % a period).
pub const MAX_CHARGE_RATE_BPS: i32 = 10_000;

/// One line of a loan's cost as computed: the interest, or one charge.
#[derive(Debug, Clone, PartialEq)]
pub struct CostShare {
    /// `Interest` for the schedule's interest, else the charge's kind.
    pub kind: ChargeKind,
    /// Who is paid.
    pub payee: PartyRole,
    /// The payee's legal name, as the charge gave it.
    pub payee_name: String,
    /// When and how it is paid (`None` for interest and for the fee column
    /// of a lender's own schedule).
    pub timing: Option<ChargeTiming>,
    /// Everything paid under the line over the loan, in minor units.
    pub total: i64,
    /// What the line adds to the APR, in bp (declinable: if taken).
    pub apr_share_bps: i32,
    /// The borrower may decline it.
    pub declinable: bool,
}

/// Why charges cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChargeError {
    /// A charge or the promotion is malformed; `field` names it
    /// (`charges[1].timing`, `promotion.discounted_rate_bps`).
    #[error("{field} {message}")]
    Invalid {
        /// The `PartnerOffer` field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A sum does not fit an `i64`.
    #[error("charges overflow the representable amounts")]
    Overflow,
    /// The flows have no APR.
    #[error("schedule with charges cannot be priced: {0}")]
    Apr(AprError),
}

fn invalid(field: String, message: impl Into<String>) -> ChargeError {
    ChargeError::Invalid {
        field,
        message: message.into(),
    }
}

/// A charge's cash flows: at disbursement (`t0`, reducing what the
/// borrower nets) and with each period's installment.
struct Flows {
    t0: i64,
    periods: Vec<i64>,
}

impl Flows {
    fn total(&self) -> Option<i64> {
        self.periods
            .iter()
            .try_fold(self.t0, |sum, p| sum.checked_add(*p))
    }
}

/// A line to price: what it is and its flows.
struct Line {
    share: CostShare,
    flows: Flows,
}

/// The checked kind, payee and timing of `charge` (index `i`), or the field at fault.
pub(crate) fn check_charge(
    i: usize,
    c: &Charge,
) -> Result<(ChargeKind, PartyRole, ChargeTiming), ChargeError> {
    let field = |name: &str| format!("charges[{i}].{name}");
    let kind = match c.kind {
        None => return Err(invalid(field("kind"), "missing or unknown")),
        Some(ChargeKind::Interest) => {
            return Err(invalid(
                field("kind"),
                "INTEREST is the schedule's, not a charge",
            ));
        }
        Some(k) => k,
    };
    let Some(payee) = c.payee else {
        return Err(invalid(field("payee"), "missing or unknown"));
    };
    if payee != PartyRole::Lender && c.payee_name.is_empty() {
        return Err(invalid(
            field("payee_name"),
            "required unless the lender of record is paid",
        ));
    }
    let Some(timing) = c.timing else {
        return Err(invalid(field("timing"), "missing or unknown"));
    };
    if timing.is_amount() {
        match c.amount {
            None => return Err(invalid(field("amount"), "required for this timing")),
            Some(a) if !(0..=MAX_AMOUNT_MINOR).contains(&a.amount_minor) => {
                return Err(invalid(
                    field("amount"),
                    format!("{} outside 0..={MAX_AMOUNT_MINOR}", a.amount_minor),
                ));
            }
            Some(_) => {}
        }
    } else if !(0..=MAX_CHARGE_RATE_BPS).contains(&c.period_rate_bps) {
        return Err(invalid(
            field("period_rate_bps"),
            format!("{} outside 0..={MAX_CHARGE_RATE_BPS}", c.period_rate_bps),
        ));
    }
    Ok((kind, payee, timing))
}

/// Whether the promotion waives `kind` in 1-based `period` (0: at disbursement).
fn waived(promotion: Option<&Promotion>, kind: ChargeKind, period: u32) -> bool {
    promotion.is_some_and(|p| {
        p.waived_charges.contains(&kind)
            && (p.waiver_periods == 0 || (period >= 1 && period <= p.waiver_periods))
    })
}

/// The flows of a checked charge over `schedule` (whose principal column
/// gives the balance at the start of each period).
fn flows_of(
    c: &Charge,
    kind: ChargeKind,
    timing: ChargeTiming,
    principal: i64,
    schedule: &[Installment],
    promotion: Option<&Promotion>,
) -> Result<Flows, ChargeError> {
    let n = schedule.len();
    let amount = c.amount.map_or(0, |a| a.amount_minor);
    let rate = i128::from(c.period_rate_bps);
    let mut flows = Flows {
        t0: 0,
        periods: vec![0; n],
    };
    match timing {
        ChargeTiming::DeductedAtDisbursement | ChargeTiming::PaidAtDisbursement => {
            flows.t0 = amount;
        }
        ChargeTiming::PerPeriodAmount => flows.periods.fill(amount),
        ChargeTiming::AtEnd => {
            if let Some(last) = flows.periods.last_mut() {
                *last = amount;
            }
        }
        ChargeTiming::PerPeriodRateOnPrincipal => {
            let each = round_div(i128::from(principal) * rate, 10_000);
            flows
                .periods
                .fill(i64::try_from(each).map_err(|_| ChargeError::Overflow)?);
        }
        ChargeTiming::PerPeriodRateOnBalance => {
            let mut balance = i128::from(principal);
            for (slot, row) in flows.periods.iter_mut().zip(schedule) {
                let each = round_div(balance * rate, 10_000);
                *slot = i64::try_from(each).map_err(|_| ChargeError::Overflow)?;
                balance -= i128::from(row.principal);
            }
        }
    }
    waive(&mut flows, kind, promotion);
    Ok(flows)
}

/// Zeroes the flows of `kind` the promotion waives.
fn waive(flows: &mut Flows, kind: ChargeKind, promotion: Option<&Promotion>) {
    if waived(promotion, kind, 0) {
        flows.t0 = 0;
    }
    for (k, slot) in (1u32..).zip(flows.periods.iter_mut()) {
        if waived(promotion, kind, k) {
            *slot = 0;
        }
    }
}

/// Applies `promotion` to a schedule built at `rate_bps` by `method`:
/// discounted periods recharge interest at the discounted rate on the same
/// balance, and interest-free days (30 a period) cut each covered period's
/// interest pro rata. The principal column is unchanged, so the borrower
/// pays less in promoted periods.
pub(crate) fn apply_promotion(
    schedule: &mut [Installment],
    method: RepaymentMethod,
    principal: i64,
    rate_bps: i32,
    promotion: &Promotion,
) -> Result<(), ChargeError> {
    if promotion.discounted_periods > 0 && !(0..=rate_bps).contains(&promotion.discounted_rate_bps)
    {
        return Err(invalid(
            "promotion.discounted_rate_bps".into(),
            format!(
                "{} outside 0..={rate_bps} (the nominal rate)",
                promotion.discounted_rate_bps
            ),
        ));
    }
    let free_days = u64::from(promotion.interest_free_days)
        .saturating_add(u64::from(promotion.interest_free_periods).saturating_mul(30));
    let mut balance = i128::from(principal);
    for (k, row) in (1u32..).zip(schedule.iter_mut()) {
        if method != RepaymentMethod::FlatFeeInstallment && k <= promotion.discounted_periods {
            let on = if method == RepaymentMethod::InterestOnlyBalloon {
                i128::from(principal)
            } else {
                balance
            };
            row.interest = i64::try_from(monthly_interest(on, promotion.discounted_rate_bps))
                .map_err(|_| ChargeError::Overflow)?;
        }
        let start = u64::from(k - 1) * 30;
        let free = free_days.saturating_sub(start).min(30);
        if free > 0 {
            let kept = i128::from(row.interest) * i128::from(30 - free as i64);
            row.interest = i64::try_from(round_div(kept, 30)).map_err(|_| ChargeError::Overflow)?;
        }
        balance -= i128::from(row.principal);
    }
    Ok(())
}

/// The loan's flows with its charges, priced.
#[derive(Debug, Clone, PartialEq)]
pub struct Charged {
    /// The schedule with every mandatory per-period charge in its fee column.
    pub schedule: Vec<Installment>,
    /// Kept back from the principal at disbursement (mandatory charges).
    pub deducted: i64,
    /// Paid by the borrower at disbursement (mandatory charges).
    pub paid_at_disbursement: i64,
    /// The APR of all mandatory flows.
    pub apr: AprResult,
    /// Interest first, then each charge in order; declinable ones last.
    pub lines: Vec<CostShare>,
}

/// The offer's fees outside `charges`: an `upfront_fee` (deducted at
/// disbursement) and a flat `monthly_fee_rate_bps` on the principal, both
/// service fees paid to the lender.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LegacyFees {
    /// Kept back at disbursement, in minor units.
    pub(crate) upfront: i64,
    /// Per period on the original principal, in bp (built schedules only).
    pub(crate) monthly_rate_bps: i32,
}

/// Prices `base` (principal and interest, plus any fee column of a
/// lender's own schedule) with the legacy fees and `charges` over
/// `principal`, under `promotion`'s waivers.
pub(crate) fn price_charges(
    principal: i64,
    mut base: Vec<Installment>,
    legacy: LegacyFees,
    charges: &[Charge],
    promotion: Option<&Promotion>,
) -> Result<Charged, ChargeError> {
    let n = base.len();
    let mut lines: Vec<Line> = Vec::with_capacity(charges.len() + 3);
    let lender_fee = |timing| {
        share(
            ChargeKind::ServiceFee,
            PartyRole::Lender,
            "",
            Some(timing),
            false,
        )
    };
    if legacy.upfront > 0 {
        let mut flows = Flows {
            t0: legacy.upfront,
            periods: vec![0; n],
        };
        waive(&mut flows, ChargeKind::ServiceFee, promotion);
        lines.push(Line {
            share: lender_fee(ChargeTiming::DeductedAtDisbursement),
            flows,
        });
    }
    if legacy.monthly_rate_bps > 0 {
        let each = round_div(
            i128::from(principal) * i128::from(legacy.monthly_rate_bps),
            10_000,
        );
        let each = i64::try_from(each).map_err(|_| ChargeError::Overflow)?;
        let mut flows = Flows {
            t0: 0,
            periods: vec![each; n],
        };
        waive(&mut flows, ChargeKind::ServiceFee, promotion);
        lines.push(Line {
            share: lender_fee(ChargeTiming::PerPeriodRateOnPrincipal),
            flows,
        });
    }
    // A lender's own schedule may carry fees of its own: one line.
    let own_fees: Vec<i64> = base.iter().map(|r| r.fee).collect();
    if own_fees.iter().any(|f| *f != 0) {
        for r in base.iter_mut() {
            r.fee = 0;
        }
        let flows = Flows {
            t0: 0,
            periods: own_fees,
        };
        lines.push(Line {
            share: share(ChargeKind::Other, PartyRole::Lender, "", None, false),
            flows,
        });
    }
    for (i, c) in charges.iter().enumerate() {
        let (kind, payee, timing) = check_charge(i, c)?;
        let flows = flows_of(c, kind, timing, principal, &base, promotion)?;
        lines.push(Line {
            share: share(kind, payee, &c.payee_name, Some(timing), c.declinable),
            flows,
        });
    }

    let interest: i64 = base
        .iter()
        .try_fold(0i64, |s, r| s.checked_add(r.interest))
        .ok_or(ChargeError::Overflow)?;
    let mut payments: Vec<i64> = base
        .iter()
        .map(|r| r.principal.checked_add(r.interest))
        .collect::<Option<_>>()
        .ok_or(ChargeError::Overflow)?;
    let mut net = principal;
    let irr = |net: i64, payments: &[i64]| -> Result<AprResult, ChargeError> {
        if net <= 0 {
            return Err(invalid(
                "charges".into(),
                "charges at disbursement are not below the principal",
            ));
        }
        apr_from_payments(net, payments.iter().copied()).map_err(ChargeError::Apr)
    };
    let mandatory = lines.iter().filter(|l| !l.share.declinable).count();
    let mut apr = irr(net, &payments)?;
    let mut out = Vec::with_capacity(lines.len() + 1);
    out.push(CostShare {
        total: interest,
        apr_share_bps: apr.apr_bps,
        ..share(ChargeKind::Interest, PartyRole::Lender, "", None, false)
    });
    let (mut deducted, mut paid) = (0i64, 0i64);
    let mut fees = vec![0i64; n];
    for line in lines.iter().filter(|l| !l.share.declinable) {
        let f = &line.flows;
        net = net.checked_sub(f.t0).ok_or(ChargeError::Overflow)?;
        for ((p, fee), add) in payments.iter_mut().zip(fees.iter_mut()).zip(&f.periods) {
            *p = p.checked_add(*add).ok_or(ChargeError::Overflow)?;
            *fee = fee.checked_add(*add).ok_or(ChargeError::Overflow)?;
        }
        match line.share.timing {
            Some(ChargeTiming::PaidAtDisbursement) => paid = checked(paid, f.t0)?,
            _ => deducted = checked(deducted, f.t0)?,
        }
        let next = irr(net, &payments)?;
        out.push(CostShare {
            total: f.total().ok_or(ChargeError::Overflow)?,
            apr_share_bps: next.apr_bps - apr.apr_bps,
            ..line.share.clone()
        });
        apr = next;
    }
    debug_assert_eq!(out.len(), mandatory + 1);
    for line in lines.iter().filter(|l| l.share.declinable) {
        let f = &line.flows;
        let with: Vec<i64> = payments
            .iter()
            .zip(&f.periods)
            .map(|(p, a)| p.checked_add(*a))
            .collect::<Option<_>>()
            .ok_or(ChargeError::Overflow)?;
        let net_with = net.checked_sub(f.t0).ok_or(ChargeError::Overflow)?;
        let taken = irr(net_with, &with)?;
        out.push(CostShare {
            total: f.total().ok_or(ChargeError::Overflow)?,
            apr_share_bps: taken.apr_bps - apr.apr_bps,
            ..line.share.clone()
        });
    }
    for (row, fee) in base.iter_mut().zip(fees) {
        row.fee = fee;
    }
    Ok(Charged {
        schedule: base,
        deducted,
        paid_at_disbursement: paid,
        apr,
        lines: out,
    })
}

fn checked(a: i64, b: i64) -> Result<i64, ChargeError> {
    a.checked_add(b).ok_or(ChargeError::Overflow)
}

fn share(
    kind: ChargeKind,
    payee: PartyRole,
    payee_name: &str,
    timing: Option<ChargeTiming>,
    declinable: bool,
) -> CostShare {
    CostShare {
        kind,
        payee,
        payee_name: payee_name.to_owned(),
        timing,
        total: 0,
        apr_share_bps: 0,
        declinable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apr::apr_from_cash_flows;
    use crate::fixtures::cny;
    use crate::pricing::{CostError, LoanTerms, cost};

    /// 12 000.00 over 12 months at 0 %, equal principal: 1 000.00 a month,
    /// so every charge's flows are easy to write by hand.
    fn terms(charges: Vec<Charge>) -> LoanTerms {
        LoanTerms {
            method: RepaymentMethod::EqualPrincipal,
            principal: 1_200_000,
            term_months: 12,
            nominal_rate_bps: 0,
            stated_apr_bps: 0,
            monthly_fee_rate_bps: 0,
            upfront_fee: 0,
            schedule: Vec::new(),
            charges,
            promotion: None,
        }
    }

    fn charge(kind: ChargeKind, timing: ChargeTiming, amount: i64, rate: i32) -> Charge {
        Charge {
            kind: Some(kind),
            payee: Some(PartyRole::Guarantor),
            payee_name: "Example Guarantee Co., Ltd.".into(),
            timing: Some(timing),
            amount: timing.is_amount().then(|| cny(amount)),
            period_rate_bps: rate,
            declinable: false,
            description: String::new(),
        }
    }

    fn apr(net: i64, payments: &[i64]) -> i32 {
        apr_from_cash_flows(net, payments)
            .expect("priceable")
            .apr_bps
    }

    #[test]
    fn each_timing_prices_exactly_its_hand_written_cash_flows() {
        use ChargeTiming::*;
        let month = 100_000;
        let cases: Vec<(ChargeTiming, i64, i32, i64, Vec<i64>)> = vec![
            // (timing, amount, rate, net at disbursement, payments)
            (
                DeductedAtDisbursement,
                24_000,
                0,
                1_176_000,
                vec![month; 12],
            ),
            (PaidAtDisbursement, 24_000, 0, 1_176_000, vec![month; 12]),
            (
                PerPeriodAmount,
                2_000,
                0,
                1_200_000,
                vec![month + 2_000; 12],
            ),
            // 0.75 % of 12 000.00 = 90.00 a month.
            (
                PerPeriodRateOnPrincipal,
                0,
                75,
                1_200_000,
                vec![month + 9_000; 12],
            ),
            // 1 % of 12 000.00, 11 000.00, ..., 1 000.00.
            (
                PerPeriodRateOnBalance,
                0,
                100,
                1_200_000,
                (0..12).map(|k| month + 12_000 - 1_000 * k).collect(),
            ),
            (
                AtEnd,
                50_000,
                0,
                1_200_000,
                (1..=12)
                    .map(|k| if k == 12 { month + 50_000 } else { month })
                    .collect(),
            ),
        ];
        for (timing, amount, rate, net, payments) in cases {
            let costed = cost(terms(vec![charge(
                ChargeKind::GuaranteeFee,
                timing,
                amount,
                rate,
            )]))
            .expect("priced");
            assert_eq!(costed.apr.apr_bps, apr(net, &payments), "{timing:?}");
            let paid: Vec<i64> = costed.schedule.iter().map(|r| r.payment()).collect();
            assert_eq!(
                paid, payments,
                "{timing:?}: the schedule carries the charge"
            );
            let deducted = if timing == DeductedAtDisbursement {
                24_000
            } else {
                0
            };
            let upfront = if timing == PaidAtDisbursement {
                24_000
            } else {
                0
            };
            assert_eq!(costed.deducted, deducted, "{timing:?}");
            assert_eq!(costed.paid_at_disbursement, upfront, "{timing:?}");
            // Interest at 0 % is 0 bp; the charge is the whole APR.
            assert_eq!(costed.lines[0].kind, ChargeKind::Interest);
            assert_eq!(costed.lines[0].apr_share_bps, 0);
            assert_eq!(costed.lines[1].apr_share_bps, costed.apr.apr_bps);
            let total: i64 = net_total(net, &payments);
            assert_eq!(costed.lines[1].total, total, "{timing:?}");
        }
    }

    /// What the borrower pays beyond the principal, from hand-written flows.
    fn net_total(net: i64, payments: &[i64]) -> i64 {
        payments.iter().sum::<i64>() - 1_200_000 + (1_200_000 - net)
    }

    #[test]
    fn shares_add_up_to_the_apr_in_listed_order() {
        let mut t = terms(vec![
            charge(
                ChargeKind::GuaranteeFee,
                ChargeTiming::PerPeriodRateOnPrincipal,
                0,
                75,
            ),
            charge(
                ChargeKind::ServiceFee,
                ChargeTiming::DeductedAtDisbursement,
                10_000,
                0,
            ),
        ]);
        t.method = RepaymentMethod::EqualInstallment;
        t.nominal_rate_bps = 1300;
        let costed = cost(t).expect("priced");
        let kinds: Vec<_> = costed.lines.iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            [
                ChargeKind::Interest,
                ChargeKind::GuaranteeFee,
                ChargeKind::ServiceFee
            ]
        );
        let sum: i32 = costed.lines.iter().map(|l| l.apr_share_bps).sum();
        assert_eq!(sum, costed.apr.apr_bps);
        // Interest alone is the annuity's 13 %.
        assert!((costed.lines[0].apr_share_bps - 1300).abs() <= 1);
    }

    #[test]
    fn a_declinable_charge_is_out_of_the_apr_and_priced_apart() {
        let mandatory = cost(terms(Vec::new())).expect("priced");
        let mut insurance = charge(
            ChargeKind::InsurancePremium,
            ChargeTiming::PerPeriodAmount,
            2_000,
            0,
        );
        insurance.payee = Some(PartyRole::Insurer);
        insurance.declinable = true;
        let with = cost(terms(vec![insurance])).expect("priced");
        assert_eq!(with.apr, mandatory.apr);
        assert_eq!(with.schedule, mandatory.schedule);
        let line = with.lines.last().expect("a line");
        assert!(line.declinable);
        assert_eq!(line.total, 24_000);
        assert_eq!(
            line.apr_share_bps,
            apr(1_200_000, &[102_000; 12]) - mandatory.apr.apr_bps
        );
    }

    #[test]
    fn malformed_charges_name_their_field() {
        let mut bad = charge(ChargeKind::GuaranteeFee, ChargeTiming::AtEnd, 1, 0);
        bad.amount = None;
        let cases = [
            (
                Charge {
                    kind: Some(ChargeKind::Interest),
                    ..bad.clone()
                },
                "charges[0].kind",
            ),
            (
                Charge {
                    payee: None,
                    ..bad.clone()
                },
                "charges[0].payee",
            ),
            (
                Charge {
                    payee_name: String::new(),
                    ..bad.clone()
                },
                "charges[0].payee_name",
            ),
            (
                Charge {
                    timing: None,
                    ..bad.clone()
                },
                "charges[0].timing",
            ),
            (bad.clone(), "charges[0].amount"),
            (
                charge(
                    ChargeKind::GuaranteeFee,
                    ChargeTiming::PerPeriodRateOnBalance,
                    0,
                    10_001,
                ),
                "charges[0].period_rate_bps",
            ),
            (
                charge(
                    ChargeKind::GuaranteeFee,
                    ChargeTiming::DeductedAtDisbursement,
                    1_200_000,
                    0,
                ),
                "charges",
            ),
        ];
        for (c, field) in cases {
            match cost(terms(vec![c])) {
                Err(CostError::Charge(ChargeError::Invalid { field: f, .. })) => {
                    assert_eq!(f, field)
                }
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn thirty_interest_free_days_cut_the_first_month_interest() {
        let t = LoanTerms {
            method: RepaymentMethod::EqualInstallment,
            nominal_rate_bps: 1200,
            ..terms(Vec::new())
        };
        let plain = cost(t.clone()).expect("priced");
        let promoted = cost(LoanTerms {
            promotion: Some(Promotion {
                interest_free_days: 30,
                ..Promotion::default()
            }),
            ..t
        })
        .expect("priced");
        assert_eq!(promoted.schedule[0].interest, 0);
        assert_eq!(promoted.schedule[0].principal, plain.schedule[0].principal);
        assert_eq!(promoted.schedule[1..], plain.schedule[1..]);
        let payments: Vec<i64> = promoted.schedule.iter().map(|r| r.payment()).collect();
        assert_eq!(promoted.apr.apr_bps, apr(1_200_000, &payments));
        assert!(promoted.apr.apr_bps < plain.apr.apr_bps);
        assert_eq!(promoted.rate_bps, 1200);
    }

    #[test]
    fn fifteen_free_days_halve_the_first_interest_and_discounts_recharge_at_their_rate() {
        let t = LoanTerms {
            method: RepaymentMethod::EqualPrincipal,
            nominal_rate_bps: 1200,
            ..terms(Vec::new())
        };
        let promoted = cost(LoanTerms {
            promotion: Some(Promotion {
                interest_free_days: 15,
                discounted_rate_bps: 600,
                discounted_periods: 2,
                ..Promotion::default()
            }),
            ..t
        })
        .expect("priced");
        // 6 % a year on 12 000.00 is 60.00 for the month, half of it free.
        assert_eq!(promoted.schedule[0].interest, 3_000);
        // Month 2 at 6 % on 11 000.00; month 3 back at 12 % on 10 000.00.
        assert_eq!(promoted.schedule[1].interest, 5_500);
        assert_eq!(promoted.schedule[2].interest, 10_000);
        let bad = cost(LoanTerms {
            promotion: Some(Promotion {
                discounted_rate_bps: 1300,
                discounted_periods: 1,
                ..Promotion::default()
            }),
            ..terms(Vec::new())
        });
        assert!(matches!(
            bad,
            Err(CostError::Charge(ChargeError::Invalid { .. }))
        ));
    }

    #[test]
    fn a_waiver_zeroes_the_waived_kind_in_its_periods() {
        let mut t = terms(vec![charge(
            ChargeKind::ServiceFee,
            ChargeTiming::PerPeriodAmount,
            1_000,
            0,
        )]);
        t.promotion = Some(Promotion {
            waived_charges: vec![ChargeKind::ServiceFee],
            waiver_periods: 3,
            ..Promotion::default()
        });
        let costed = cost(t).expect("priced");
        let fees: Vec<i64> = costed.schedule.iter().map(|r| r.fee).collect();
        assert_eq!(fees[..3], [0, 0, 0]);
        assert!(fees[3..].iter().all(|f| *f == 1_000));
        assert_eq!(costed.lines[1].total, 9_000);
    }

    #[test]
    fn legacy_fees_are_lines_of_their_own() {
        let t = LoanTerms {
            method: RepaymentMethod::FlatFeeInstallment,
            monthly_fee_rate_bps: 60,
            upfront_fee: 12_000,
            ..terms(Vec::new())
        };
        let costed = cost(t).expect("priced");
        assert_eq!(costed.deducted, 12_000);
        assert!(costed.schedule.iter().all(|r| r.fee == 7_200));
        let kinds: Vec<_> = costed.lines.iter().map(|l| (l.kind, l.timing)).collect();
        assert_eq!(
            kinds,
            [
                (ChargeKind::Interest, None),
                (
                    ChargeKind::ServiceFee,
                    Some(ChargeTiming::DeductedAtDisbursement)
                ),
                (
                    ChargeKind::ServiceFee,
                    Some(ChargeTiming::PerPeriodRateOnPrincipal)
                ),
            ]
        );
    }
}

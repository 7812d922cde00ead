//! What one RouteFinancing spends in `finroute-core`: pricing a partner
//! offer (validation, schedule, IRR, odds, affordability) and, after the
//! fan-out, ranking, planning and explaining 50 offers; and rebuilding the
//! approval-odds book from outcomes.
//!
//! `cargo bench -p finroute-core --bench pricing`; figures in BENCHMARKS.md.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use finroute_core::{
    Applicant, ChannelReport, ChannelStatus, ChannelTerms, Currency, EmploymentType,
    FinancingRequest, Learning, LoanPurpose, Locale, Money, OddsBook, OddsInputs, OddsModel,
    Outcome, PartnerOffer, PricingPolicy, PrimaryDecision, ProductKind, Qualification, RateCap,
    RefusalReason, RepaymentMethod, Strategy, finalize, price_offer, rank_offers,
};

const NOW: i64 = 1_800_000_000_000;

fn cny(minor: i64) -> Money {
    Money::new(Currency::parse("CNY").expect("valid code"), minor)
}

fn request(locale: Locale) -> FinancingRequest {
    FinancingRequest {
        request_id: "bench".into(),
        applicant: Applicant {
            applicant_id: "a-bench".into(),
            region: "CN-31".into(),
            credit_score: Some(640),
            monthly_income: Some(cny(1_200_000)),
            income_volatility: Some(0.25),
            monthly_debt_payments: Some(cny(150_000)),
            employment: Some(EmploymentType::Freelance),
            collateral: Vec::new(),
            consent: Default::default(),
        },
        requested_amount: cny(2_000_000),
        min_term_months: 3,
        max_term_months: 36,
        purpose: LoanPurpose::Consumption,
        primary_decision: Some(PrimaryDecision {
            refused: true,
            displayed_line: Some(cny(5_000_000)),
            drawable_amount: Some(cny(1_000_000)),
            reasons: vec![
                RefusalReason::DynamicLineAdjustment,
                RefusalReason::DebtToIncomeTooHigh,
            ],
        }),
        strategy: Strategy::Balanced,
        product_kinds: Vec::new(),
        max_offers: 50,
        locale,
        channels: Default::default(),
    }
}

fn policy() -> PricingPolicy {
    PricingPolicy {
        rate_caps: vec![RateCap {
            region_prefix: "CN".into(),
            max_apr_bps: 2400,
            lender_types: Vec::new(),
        }],
        ..PricingPolicy::default()
    }
}

fn terms(adapter: &str) -> ChannelTerms {
    ChannelTerms {
        adapter_id: adapter.into(),
        currencies: Vec::new(),
        min_amount: None,
        max_amount: None,
        min_term_months: 0,
        max_term_months: 0,
    }
}

/// The i-th of a varied catalogue: four repayment methods, terms 3..36,
/// principals 5 000..20 000 CNY, rates 6..22 %.
fn partner_offer(i: usize) -> PartnerOffer {
    let methods = [
        RepaymentMethod::EqualInstallment,
        RepaymentMethod::EqualPrincipal,
        RepaymentMethod::FlatFeeInstallment,
        RepaymentMethod::InterestOnlyBalloon,
    ];
    let method = methods[i % methods.len()];
    let rate = 600 + (i as i32 * 37) % 1600;
    PartnerOffer {
        partner_offer_ref: format!("ref-{i}"),
        product_kind: Some(ProductKind::PartnerLoan),
        product_name: format!("Loan {i}"),
        principal: cny(500_000 + (i as i64 * 29_000) % 1_500_000),
        term_months: [3, 6, 12, 24, 36][i % 5],
        repayment_method: Some(method),
        qualification: Qualification::PreQualified,
        stated_apr_bps: rate,
        nominal_rate_bps: if method == RepaymentMethod::FlatFeeInstallment {
            0
        } else {
            rate
        },
        monthly_fee_rate_bps: if method == RepaymentMethod::FlatFeeInstallment {
            40 + (i as i32 % 5) * 10
        } else {
            0
        },
        upfront_fee: i.is_multiple_of(3).then(|| cny(10_000)),
        schedule: Vec::new(),
        approval_probability: Some(0.3 + (i % 7) as f64 * 0.1),
        valid_for_ms: 3_600_000,
        requires_collateral: false,
        disclosures: Vec::new(),
        charges: Vec::new(),
        parties: Vec::new(),
        promotion: None,
        adjustment: None,
        conditions: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let policy = policy();
    let req = request(Locale::En);
    let channel = terms("bank-a");

    let one = PartnerOffer {
        term_months: 24,
        repayment_method: Some(RepaymentMethod::EqualInstallment),
        ..partner_offer(1)
    };
    c.bench_function("price_offer/24_periods", |b| {
        b.iter_batched(
            || one.clone(),
            |o| price_offer(black_box(&req), &channel, &policy, o, NOW),
            BatchSize::SmallInput,
        )
    });

    let raw: Vec<PartnerOffer> = (0..50).map(partner_offer).collect();
    let priced: Vec<_> = raw
        .iter()
        .cloned()
        .filter_map(|o| price_offer(&req, &channel, &policy, o, NOW).ok())
        .collect();
    assert!(priced.len() >= 40, "the catalogue prices: {}", priced.len());

    c.bench_function("rank_offers/50", |b| {
        b.iter_batched(
            || priced.clone(),
            |mut offers| {
                rank_offers(&mut offers, Strategy::Balanced, &policy, Locale::En);
                offers
            },
            BatchSize::SmallInput,
        )
    });

    let reports: Vec<ChannelReport> = (0..5)
        .map(|i| ChannelReport {
            adapter_id: format!("adapter-{i}"),
            product_kind: ProductKind::PartnerLoan,
            status: ChannelStatus::Ok,
            latency_ms: 40,
            offers_returned: 10,
            offers_rejected: 0,
            detail: String::new(),
            recipients: Vec::new(),
            rejections: Vec::new(),
            advertised_apr_from_bps: None,
            decline: None,
            late_pending: false,
        })
        .collect();
    for (name, locale) in [("en", Locale::En), ("zh_cn", Locale::ZhCn)] {
        let req = request(locale);
        c.bench_function(&format!("price_and_finalize/50/{name}"), |b| {
            b.iter_batched(
                || raw.clone(),
                |raw| {
                    let mut offers = Vec::with_capacity(raw.len());
                    let mut rejections = Vec::new();
                    for o in raw {
                        match price_offer(&req, &channel, &policy, o, NOW) {
                            Ok(offer) => offers.push(offer),
                            Err(r) => rejections.push(r),
                        }
                    }
                    finalize(&req, &policy, offers, &reports, &rejections)
                },
                BatchSize::SmallInput,
            )
        });
    }
}

/// Rebuilding the approval-odds book (what a replica does every
/// `odds.refresh_ms`): 5 adapters x a full window of 600 outcomes.
fn learn(c: &mut Criterion) {
    let model = OddsModel::default();
    let learning = Learning::default();
    let outcomes: Vec<Outcome> = (0..5 * learning.window)
        .map(|i| Outcome {
            adapter_id: format!("adapter-{}", i % 5),
            risk_band: ["A", "B", "C", "D", "E", "UNSCORED"][i % 6].into(),
            approved: i % 3 != 0,
            inputs: OddsInputs {
                prior: 0.3 + (i % 50) as f64 / 100.0,
                partner: (i % 5 != 4).then_some(0.4 + (i % 40) as f64 / 100.0),
            },
        })
        .collect();
    c.bench_function("odds_learn/5x600", |b| {
        b.iter(|| OddsBook::learn(&model, &learning, black_box(&outcomes)))
    });
}

criterion_group!(benches, bench, learn);
criterion_main!(benches);

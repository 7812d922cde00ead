//! Property tests of the routing logic: pricing never panics whatever a
//! partner sends, ranking is a permutation ranked 1..n, BALANCED order is the
//! cheapest order to apply in, and the plan is the shortest prefix it can be.

use finroute_core::{
    Applicant, ChannelTerms, Currency, EmploymentType, FinancingRequest, Installment, LoanPurpose,
    Locale, Money, OddsSource, Offer, PLAN_TARGET_PROBABILITY, PartnerOffer, PricingPolicy,
    ProductKind, Qualification, RateCap, RepaymentMethod, Strategy as Ranking,
    affordability_penalty_bps, application_plan, price_offer, rank_offers,
};
use proptest::prelude::*;

fn cny(minor: i64) -> Money {
    Money::new(Currency::parse("CNY").expect("valid code"), minor)
}

fn request() -> FinancingRequest {
    FinancingRequest {
        request_id: "r".into(),
        applicant: Applicant {
            applicant_id: "a".into(),
            region: "CN-31".into(),
            credit_score: Some(640),
            monthly_income: Some(cny(800_000)),
            income_volatility: Some(0.2),
            monthly_debt_payments: Some(cny(100_000)),
            employment: Some(EmploymentType::Freelance),
            collateral: Vec::new(),
            consent: Default::default(),
        },
        requested_amount: cny(1_000_000),
        min_term_months: 1,
        max_term_months: 36,
        purpose: LoanPurpose::Consumption,
        primary_decision: None,
        strategy: Ranking::Balanced,
        product_kinds: Vec::new(),
        max_offers: 10,
        locale: Locale::En,
        channels: Default::default(),
    }
}

fn policy() -> PricingPolicy {
    PricingPolicy {
        rate_caps: vec![RateCap {
            region_prefix: "CN".into(),
            max_apr_bps: 3600,
            lender_types: Vec::new(),
        }],
        ..PricingPolicy::default()
    }
}

fn channel() -> ChannelTerms {
    ChannelTerms {
        adapter_id: "p".into(),
        currencies: Vec::new(),
        min_amount: None,
        max_amount: None,
        min_term_months: 0,
        max_term_months: 0,
    }
}

fn money() -> impl Strategy<Value = Money> {
    let currency =
        prop_oneof![Just("CNY"), Just("USD")].prop_map(|c| Currency::parse(c).expect("valid code"));
    let amount = prop_oneof![
        16 => 1i64..=1_200_000,
        1 => any::<i64>(),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
        1 => Just(0i64),
    ];
    (
        prop_oneof![19 => Just(Currency::parse("CNY").expect("valid code")), 1 => currency],
        amount,
    )
        .prop_map(|(c, a)| Money::new(c, a))
}

fn small_or_any_i32(small: std::ops::RangeInclusive<i32>) -> impl Strategy<Value = i32> {
    prop_oneof![19 => small, 1 => any::<i32>()]
}

fn installment() -> impl Strategy<Value = Installment> {
    (
        prop_oneof![9 => 1u32..=24, 1 => any::<u32>()],
        prop_oneof![9 => 0i64..=200_000, 1 => any::<i64>()],
        prop_oneof![9 => 0i64..=20_000, 1 => any::<i64>()],
        prop_oneof![9 => 0i64..=20_000, 1 => any::<i64>()],
    )
        .prop_map(|(period, principal, interest, fee)| Installment {
            period,
            principal,
            interest,
            fee,
        })
}

fn partner_offer() -> impl Strategy<Value = PartnerOffer> {
    let kind = prop::option::weighted(
        0.95,
        prop_oneof![
            Just(ProductKind::PartnerLoan),
            Just(ProductKind::SecuredLoan),
            Just(ProductKind::Installment),
            Just(ProductKind::PrimaryCreditLine),
        ],
    );
    let method = prop::option::weighted(
        0.95,
        prop_oneof![
            Just(RepaymentMethod::EqualInstallment),
            Just(RepaymentMethod::EqualPrincipal),
            Just(RepaymentMethod::InterestOnlyBalloon),
            Just(RepaymentMethod::FlatFeeInstallment),
        ],
    );
    let probability = prop::option::of(prop_oneof![
        8 => 0.0f64..=1.0,
        1 => prop::num::f64::ANY,
        1 => Just(f64::NAN),
    ]);
    let schedule = prop_oneof![
        4 => Just(Vec::new()),
        1 => prop::collection::vec(installment(), 0..=30),
    ];
    (
        (
            prop_oneof![9 => "[A-Z0-9-]{1,4}", 1 => Just(String::new())],
            kind,
            money(),
            small_or_any_i32(-2..=40),
            method,
        ),
        (
            small_or_any_i32(0..=4000),
            small_or_any_i32(0..=4000),
            small_or_any_i32(0..=200),
            prop::option::weighted(0.3, money()),
        ),
        (
            schedule,
            probability,
            prop_oneof![9 => 1i64..=86_400_000, 1 => any::<i64>()],
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (partner_offer_ref, product_kind, principal, term_months, repayment_method),
                (stated_apr_bps, nominal_rate_bps, monthly_fee_rate_bps, upfront_fee),
                (schedule, approval_probability, valid_for_ms, requires_collateral),
            )| PartnerOffer {
                partner_offer_ref,
                product_kind,
                product_name: "x".into(),
                principal,
                term_months,
                repayment_method,
                qualification: Qualification::PreQualified,
                stated_apr_bps,
                nominal_rate_bps,
                monthly_fee_rate_bps,
                upfront_fee,
                schedule,
                approval_probability,
                valid_for_ms,
                requires_collateral,
                disclosures: Vec::new(),
                charges: Vec::new(),
                parties: Vec::new(),
                promotion: None,
                adjustment: None,
                conditions: Vec::new(),
            },
        )
}

fn offer(id: usize, apr_bps: i32, odds: f64, dti: Option<f64>) -> Offer {
    Offer {
        offer_id: format!("o{id}"),
        adapter_id: format!("ad{id}"),
        partner_offer_ref: format!("p{id}"),
        product_kind: ProductKind::PartnerLoan,
        product_name: format!("Loan {id}"),
        principal: cny(1_000_000),
        disbursed: cny(1_000_000),
        term_months: 12,
        repayment_method: RepaymentMethod::EqualInstallment,
        schedule: Vec::new(),
        apr_bps,
        stated_apr_bps: apr_bps,
        effective_annual_rate_bps: apr_bps,
        total_cost: cny(0),
        first_payment: cny(0),
        approval_odds: odds,
        odds_source: OddsSource::Model,
        odds_inputs: Default::default(),
        qualification: Qualification::PreQualified,
        debt_to_income: dti,
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

fn offers(max: usize) -> impl Strategy<Value = Vec<Offer>> {
    prop::collection::vec(
        (0i32..=4000, 0.01f64..=0.99, prop::option::of(0.0f64..=0.9)),
        0..=max,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (apr, p, dti))| offer(i, apr, p, dti))
            .collect()
    })
}

fn ranking() -> impl Strategy<Value = Ranking> {
    prop_oneof![
        Just(Ranking::Balanced),
        Just(Ranking::LowestCost),
        Just(Ranking::HighestApproval),
    ]
}

/// `sum_k prod_{j<k}(1 - p_j)(p_k C_k + h)` for offers applied to in this order.
fn expected_cost(order: &[&Offer], policy: &PricingPolicy) -> f64 {
    let h = f64::from(policy.inquiry_cost_bps);
    let mut none_yet = 1.0;
    let mut cost = 0.0;
    for o in order {
        let c = f64::from(o.apr_bps) + affordability_penalty_bps(policy, o.debt_to_income);
        cost += none_yet * (o.approval_odds * c + h);
        none_yet *= 1.0 - o.approval_odds;
    }
    cost
}

/// The same expected cost over `(p_k, C_k)` pairs, for the brute force.
fn expected_cost_of(order: &[usize], terms: &[(f64, f64)], h: f64) -> f64 {
    let mut none_yet = 1.0;
    let mut cost = 0.0;
    for &i in order {
        let (p, c) = terms[i];
        cost += none_yet * (p * c + h);
        none_yet *= 1.0 - p;
    }
    cost
}

/// Calls `visit` with every permutation of `0..n` (Heap's algorithm, n! calls).
fn for_each_permutation(n: usize, mut visit: impl FnMut(&[usize])) {
    let mut order: Vec<usize> = (0..n).collect();
    let mut c = vec![0usize; n];
    visit(&order);
    let mut i = 1;
    while i < n {
        if c[i] < i {
            order.swap(if i % 2 == 0 { 0 } else { c[i] }, i);
            visit(&order);
            c[i] += 1;
            i = 1;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
}

/// Up to 7 offers, mostly 6 or 7 (5040 orders), with odds and APRs drawn
/// from a few values half the time so that ties and near-ties are common.
fn offers_for_brute_force() -> impl Strategy<Value = Vec<Offer>> {
    let apr = prop_oneof![
        0i32..=4000,
        prop::sample::select(vec![0, 900, 1200, 1500, 3600])
    ];
    let odds = prop_oneof![
        0.01f64..=0.99,
        prop::sample::select(vec![0.01, 0.1, 0.5, 0.9, 0.99])
    ];
    let dti = prop::option::of(prop_oneof![0.0f64..=0.9, Just(0.5), Just(0.6)]);
    let n = prop_oneof![1 => 0usize..=5, 3 => 6usize..=7];
    n.prop_flat_map(move |n| prop::collection::vec((apr.clone(), odds.clone(), dti.clone()), n))
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (apr, p, dti))| offer(i, apr, p, dti))
                .collect()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn pricing_never_panics_and_keeps_its_promises(o in partner_offer()) {
        let req = request();
        let principal = o.principal.amount_minor;
        match price_offer(&req, &channel(), &policy(), o, 1_000) {
            Ok(offer) => {
                prop_assert!(principal > 0 && principal <= req.requested_amount.amount_minor);
                prop_assert_eq!(offer.schedule.len(), offer.term_months as usize);
                prop_assert_eq!(offer.schedule.iter().map(|r| i128::from(r.principal)).sum::<i128>(), i128::from(principal));
                prop_assert!((0.01..=0.99).contains(&offer.approval_odds));
                prop_assert!(offer.apr_bps >= 0 && offer.apr_bps <= 3600);
                prop_assert!(offer.disbursed.amount_minor > 0);
                prop_assert!(offer.total_cost.amount_minor >= 0);
                prop_assert!(offer.expires_at > 1_000);
            }
            Err(r) => {
                prop_assert!(!r.field.is_empty());
                prop_assert!(!r.message.is_empty());
                prop_assert!(r.to_string().starts_with("offer "));
            }
        }
    }

    #[test]
    fn ranking_is_a_permutation_ranked_one_to_n(
        mut offers in offers(50),
        strategy in ranking(),
        zh in any::<bool>(),
        nan_at in prop::option::of(0usize..50),
    ) {
        if let Some(i) = nan_at && let Some(o) = offers.get_mut(i) {
            o.approval_odds = f64::NAN;
        }
        let mut before: Vec<String> = offers.iter().map(|o| o.offer_id.clone()).collect();
        let locale = if zh { Locale::ZhCn } else { Locale::En };
        rank_offers(&mut offers, strategy, &policy(), locale);
        let ranks: Vec<u32> = offers.iter().map(|o| o.rank).collect();
        prop_assert_eq!(ranks, (1..=offers.len() as u32).collect::<Vec<_>>());
        let mut after: Vec<String> = offers.iter().map(|o| o.offer_id.clone()).collect();
        before.sort();
        after.sort();
        prop_assert_eq!(before, after);
        prop_assert!(offers.iter().all(|o| !o.rank_reasons.is_empty() && !o.score.is_nan()));
        let mut again = offers.clone();
        again.reverse();
        rank_offers(&mut again, strategy, &policy(), locale);
        // Compared by id and reasons: NaN odds are not equal to themselves.
        let view = |v: &[Offer]| -> Vec<(String, Vec<String>)> {
            v.iter().map(|o| (o.offer_id.clone(), o.rank_reasons.clone())).collect()
        };
        prop_assert_eq!(view(&again), view(&offers), "deterministic whatever the input order");
    }

    #[test]
    fn plan_is_the_shortest_prefix_reaching_the_target(offers in offers(12)) {
        let policy = policy();
        let plan = application_plan(&offers, &policy, Locale::En);
        let mut ranked = offers.clone();
        rank_offers(&mut ranked, Ranking::Balanced, &policy, Locale::En);
        let ids: Vec<&str> = ranked.iter().map(|o| o.offer_id.as_str()).collect();
        prop_assert_eq!(&plan.offer_ids[..], &ids[..plan.offer_ids.len()]);
        let chance = |k: usize| 1.0 - ranked[..k].iter().map(|o| 1.0 - o.approval_odds).product::<f64>();
        let k = plan.offer_ids.len();
        prop_assert!((plan.approval_probability - chance(k)).abs() < 1e-12);
        prop_assert!(k == offers.len() || plan.approval_probability >= PLAN_TARGET_PROBABILITY);
        if k > 0 {
            prop_assert!(chance(k - 1) < PLAN_TARGET_PROBABILITY);
            let min = ranked[..k].iter().map(|o| o.apr_bps).min().unwrap_or(0);
            let max = ranked[..k].iter().map(|o| o.apr_bps).max().unwrap_or(0);
            prop_assert!(plan.expected_apr_bps >= min && plan.expected_apr_bps <= max);
        }
    }
}

proptest! {
    // Each case tries all n! <= 5040 orders: a modest number of cases keeps
    // this to about a second in a debug build.
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Acceptance: the BALANCED order minimises
    /// `sum_k prod_{j<k}(1 - p_j)(p_k C_k + h)` over ALL orders of up to 7 offers.
    #[test]
    fn balanced_order_minimises_the_expected_cost(
        offers in offers_for_brute_force(),
        inquiry_cost_bps in prop_oneof![Just(150), 0i32..=1_000],
    ) {
        let policy = PricingPolicy { inquiry_cost_bps, ..policy() };
        let h = f64::from(policy.inquiry_cost_bps);
        let mut ranked = offers.clone();
        rank_offers(&mut ranked, Ranking::Balanced, &policy, Locale::En);
        let best = expected_cost(&ranked.iter().collect::<Vec<_>>(), &policy);
        let terms: Vec<(f64, f64)> = offers
            .iter()
            .map(|o| (o.approval_odds, f64::from(o.apr_bps) + affordability_penalty_bps(&policy, o.debt_to_income)))
            .collect();
        let mut cheapest = f64::INFINITY;
        let mut cheapest_order = Vec::new();
        let mut orders = 0usize;
        for_each_permutation(offers.len(), |order| {
            orders += 1;
            let cost = expected_cost_of(order, &terms, h);
            if cost < cheapest {
                cheapest = cost;
                cheapest_order = order.to_vec();
            }
        });
        prop_assert_eq!(orders, (1..=offers.len()).product::<usize>());
        prop_assert!(
            best <= cheapest + 1e-9 * cheapest.abs().max(1.0),
            "balanced {} ({:?}) > brute force {} ({:?})",
            best,
            ranked.iter().map(|o| o.offer_id.as_str()).collect::<Vec<_>>(),
            cheapest,
            cheapest_order
        );
    }
}

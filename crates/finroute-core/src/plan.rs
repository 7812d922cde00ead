//! The application plan: in which order to apply, and when to stop adding
//! offers to the list. BALANCED order is the order that minimises the
//! expected cost of applying until the first approval (see `rank`); the plan
//! is its shortest prefix whose chance of at least one approval,
//! `1 - prod(1 - p_k)`, reaches [`PLAN_TARGET_PROBABILITY`] (or every offer).
//! The summary is a `catalog::Message`, worded per locale in `src/catalog/`.

use crate::catalog::{self, Message};
use crate::domain::{ApplicationPlan, Locale, Offer};
use crate::policy::PricingPolicy;
use crate::rank::{balanced_order, odds_of};
use crate::wording::Percent;

/// The plan stops once at least one approval is this likely.
pub const PLAN_TARGET_PROBABILITY: f64 = 0.95;

/// The plan for `offers` (in any order; they carry their `offer_id`s):
/// the BALANCED-order prefix reaching [`PLAN_TARGET_PROBABILITY`], that
/// probability, the expected APR paid given an approval
/// (`sum_k prod_{j<k}(1 - p_j) p_k apr_k / P(any)`, rounded to the bp) and a
/// one-sentence summary in `locale`.
pub fn application_plan(
    offers: &[Offer],
    policy: &PricingPolicy,
    locale: Locale,
) -> ApplicationPlan {
    let order = balanced_order(offers, policy);
    let mut offer_ids = Vec::new();
    let mut none_yet = 1.0; // prod_{j<k} (1 - p_j)
    let mut weighted_apr = 0.0;
    for &i in &order {
        let offer = &offers[i];
        let p = odds_of(offer);
        weighted_apr += none_yet * p * f64::from(offer.apr_bps);
        none_yet *= 1.0 - p;
        offer_ids.push(offer.offer_id.clone());
        if 1.0 - none_yet >= PLAN_TARGET_PROBABILITY {
            break;
        }
    }
    let approval_probability = 1.0 - none_yet;
    let expected_apr_bps = if approval_probability > 0.0 {
        let apr = (weighted_apr / approval_probability).round();
        apr.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
    } else {
        0
    };
    let summary = summary(
        offers,
        order.first().copied(),
        offer_ids.len(),
        approval_probability,
        expected_apr_bps,
        locale,
    );
    ApplicationPlan {
        offer_ids,
        approval_probability,
        expected_apr_bps,
        summary,
    }
}

fn summary(
    offers: &[Offer],
    first: Option<usize>,
    steps: usize,
    probability: f64,
    expected_apr_bps: i32,
    locale: Locale,
) -> String {
    let msg = match first.map(|i| &offers[i]) {
        None => Message::PlanEmpty,
        Some(first) => {
            let (name, adapter) = (first.product_name.as_str(), first.adapter_id.as_str());
            let chance = Percent::odds(probability);
            let apr = Percent::rate_bps(expected_apr_bps);
            match steps {
                1 => Message::PlanSingle {
                    name,
                    adapter,
                    chance,
                    apr,
                },
                _ => Message::PlanSequence {
                    name,
                    adapter,
                    more: steps.saturating_sub(1),
                    chance,
                    apr,
                },
            }
        }
    };
    catalog::render(&msg, locale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::offer;

    #[test]
    fn shortest_balanced_prefix_reaching_95_percent() {
        // Given worst first: the plan computes BALANCED order itself.
        let offers = vec![
            offer("c", 1500, 0.4),
            offer("b", 1200, 0.95),
            offer("a", 1000, 0.5),
        ];
        let plan = application_plan(&offers, &PricingPolicy::default(), Locale::En);
        assert_eq!(plan.offer_ids, vec!["a", "b"]);
        // 1 - 0.5 x 0.05
        assert!((plan.approval_probability - 0.975).abs() < 1e-12);
        // (0.5 x 1000 + 0.5 x 0.95 x 1200) / 0.975 = 1097.4
        assert_eq!(plan.expected_apr_bps, 1097);
        assert_eq!(
            plan.summary,
            "Apply to Loan a (ad-a) first and, if refused, to the next offer: \
             98 % chance of at least one approval, expected APR (12 × monthly IRR) 10.97 %."
        );
        let more = vec![
            offer("a", 1000, 0.5),
            offer("b", 1100, 0.5),
            offer("c", 1200, 0.5),
        ];
        let plan = application_plan(&more, &PricingPolicy::default(), Locale::En);
        assert!(
            plan.summary.contains("to the next 2 in order: 88 % chance"),
            "{}",
            plan.summary
        );
    }

    #[test]
    fn all_offers_when_95_percent_is_out_of_reach() {
        let offers = vec![offer("a", 1000, 0.5), offer("b", 1100, 0.5)];
        let plan = application_plan(&offers, &PricingPolicy::default(), Locale::ZhCn);
        assert_eq!(plan.offer_ids, vec!["a", "b"]);
        assert!((plan.approval_probability - 0.75).abs() < 1e-12);
        // (0.5 x 1000 + 0.25 x 1100) / 0.75 = 1033.3
        assert_eq!(plan.expected_apr_bps, 1033);
        assert_eq!(
            plan.summary,
            "先申请 Loan a（ad-a），如被拒再依次申请其后 1 个：至少一个获批的概率 75%，预期年化利率（单利）10.33%。"
        );
    }

    #[test]
    fn one_sure_offer_is_enough() {
        let offers = vec![offer("a", 1000, 0.99), offer("b", 900, 0.2)];
        let plan = application_plan(&offers, &PricingPolicy::default(), Locale::En);
        assert_eq!(plan.offer_ids, vec!["a"]);
        assert_eq!(plan.expected_apr_bps, 1000);
        assert_eq!(
            plan.summary,
            "Apply to Loan a (ad-a): 99 % chance of approval at APR (12 × monthly IRR) 10.00 %."
        );
    }

    #[test]
    fn no_offers_no_plan() {
        let plan = application_plan(&[], &PricingPolicy::default(), Locale::En);
        assert!(plan.offer_ids.is_empty());
        assert_eq!(plan.approval_probability, 0.0);
        assert_eq!(plan.expected_apr_bps, 0);
        assert_eq!(plan.summary, "No offer to apply for.");
        let plan = application_plan(&[], &PricingPolicy::default(), Locale::ZhCn);
        assert_eq!(plan.summary, "暂无可申请的报价。");
    }
}

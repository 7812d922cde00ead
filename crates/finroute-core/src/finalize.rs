//! The one entry the server calls after a fan-out: rank the priced offers
//! under the request's strategy and locale, keep the best `max_offers`, plan
//! the applications and explain the refusal, all from the same numbers.

use crate::domain::{ApplicationPlan, ChannelReport, Explanation, FinancingRequest, Offer};
use crate::explain::explain;
use crate::plan::application_plan;
use crate::policy::PricingPolicy;
use crate::rank::rank_offers;
use crate::rejection::Rejection;

/// The answer's domain part: offers best first, the plan and the explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Finalized {
    /// Ranked (1..=n), at most `req.max_offers`.
    pub offers: Vec<Offer>,
    /// The order to apply in, over `offers`.
    pub plan: ApplicationPlan,
    /// Why the primary line refused, and what would change it.
    pub explanation: Explanation,
}

/// Ranks `offers` by `req.strategy` in `req.locale`, truncates to
/// `req.max_offers` (0: no limit), then plans and explains over the offers
/// kept. When offers are dropped, the kept ones are ranked again so that
/// their reasons ("lowest APR of all offers", "dominated by ...") speak only
/// of offers the borrower sees; the order does not change.
///
/// The offers must carry their `offer_id`s (the plan lists them).
pub fn finalize(
    req: &FinancingRequest,
    policy: &PricingPolicy,
    mut offers: Vec<Offer>,
    reports: &[ChannelReport],
    rejections: &[Rejection],
) -> Finalized {
    rank_offers(&mut offers, req.strategy, policy, req.locale);
    let limit = usize::try_from(req.max_offers).unwrap_or(usize::MAX);
    if limit > 0 && offers.len() > limit {
        offers.truncate(limit);
        rank_offers(&mut offers, req.strategy, policy, req.locale);
    }
    let plan = application_plan(&offers, policy, req.locale);
    let explanation = explain(req, &offers, reports, rejections, policy, req.locale);
    Finalized {
        offers,
        plan,
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Locale, Strategy};
    use crate::fixtures::{offer, policy, request};

    #[test]
    fn ranks_truncates_plans_and_explains() {
        let mut req = request();
        req.max_offers = 2;
        req.strategy = Strategy::LowestCost;
        req.locale = Locale::ZhCn;
        let offers = vec![
            offer("c", 1500, 0.4),
            offer("b", 1200, 0.95),
            offer("a", 1000, 0.5),
        ];
        let f = finalize(&req, &policy(), offers, &[], &[]);
        let ids: Vec<&str> = f.offers.iter().map(|o| o.offer_id.as_str()).collect();
        assert_eq!(ids, vec!["a", "b"], "LOWEST_COST, best two");
        assert_eq!(
            f.offers.iter().map(|o| o.rank).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(f.offers[0].rank_reasons[0], "年化利率最低：10.00%");
        // The plan orders the kept offers by BALANCED and stops at 95 %.
        assert_eq!(f.plan.offer_ids, vec!["a", "b"]);
        assert!(f.plan.summary.starts_with("先申请 Loan a"));
        assert_eq!(f.explanation.factors.len(), 2);
    }

    #[test]
    fn reasons_speak_only_of_offers_kept() {
        let mut req = request();
        req.max_offers = 1;
        req.strategy = Strategy::HighestApproval;
        // The cheapest offer is dropped: the kept one must not say it is dominated
        // by, or dearer than, an offer the borrower cannot see.
        let offers = vec![offer("cheap", 900, 0.5), offer("likely", 1200, 0.9)];
        let f = finalize(&req, &policy(), offers, &[], &[]);
        assert_eq!(f.offers.len(), 1);
        assert_eq!(
            f.offers[0].rank_reasons,
            vec!["highest approval odds: 90 %", "the only offer"]
        );
        assert_eq!(f.plan.offer_ids, vec!["likely"]);
    }

    #[test]
    fn zero_max_offers_keeps_everything() {
        let mut req = request();
        req.max_offers = 0;
        let offers = (0..5)
            .map(|i| offer(&format!("o{i}"), 1000 + i * 10, 0.5))
            .collect();
        let f = finalize(&req, &policy(), offers, &[], &[]);
        assert_eq!(f.offers.len(), 5);
    }
}

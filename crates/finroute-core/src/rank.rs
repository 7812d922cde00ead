//! Ranking priced offers best first, with a score and plain-words reasons.
//!
//! Applying costs something even when refused (a hard inquiry, days of
//! waiting): `h = PricingPolicy::inquiry_cost_bps`, in bp of APR. Applying in
//! order and stopping at the first approval costs, in expectation,
//! `sum_k prod_{j<k}(1 - p_j) (p_k C_k + h)`; exchanging two neighbours shows
//! this is least when offers are sorted by `C_k + h / p_k` ascending. BALANCED
//! sorts by exactly that, with `C_k = apr_bps + affordability penalty`, so its
//! order is the optimal application order.
//!
//! The affordability penalty: an offer whose debt-to-income after the loan
//! exceeds `PricingPolicy::affordability_warning` costs
//! [`AFFORDABILITY_PENALTY_BPS_PER_POINT`] bp per percentage point above it
//! (DTI 0.60 against 0.50: +200 bp; at the default 0.70 hard limit: +400 bp).
//! It is large enough to put a comfortable offer ahead of a stretching one of
//! similar price, small enough that a stretching offer still beats one that is
//! far dearer. Only BALANCED applies it; the other strategies sort on what
//! they name.
//!
//! Ties break on `offer_id`, then `adapter_id`, then `partner_offer_ref`:
//! the order is deterministic.
//!
//! Reasons are `catalog::Message`s, worded per locale in `src/catalog/`.

use std::cmp::Ordering;

use crate::catalog::{self, Message};
use crate::domain::{Locale, Offer, OfferWarning, Strategy};
use crate::odds::MIN_ODDS;
use crate::policy::PricingPolicy;
use crate::wording::Percent;

/// Rank penalty, in bp of APR, per percentage point of debt-to-income above
/// the affordability warning threshold.
pub const AFFORDABILITY_PENALTY_BPS_PER_POINT: f64 = 20.0;

/// Odds at or above which an offer counts as likely in reasons and suggestions.
pub const STRONG_ODDS: f64 = 0.8;

/// Highest DTI the penalty reads (an infinite DTI is read as this).
const PENALTY_DTI_CAP: f64 = 2.0;

/// Odds within this of each other are equal for dominance.
const ODDS_EPSILON: f64 = 1e-9;

/// The affordability penalty of an offer with `debt_to_income`, in bp of APR.
pub fn affordability_penalty_bps(policy: &PricingPolicy, debt_to_income: Option<f64>) -> f64 {
    match debt_to_income {
        Some(d) if d > policy.affordability_warning => {
            (d.min(PENALTY_DTI_CAP) - policy.affordability_warning).max(0.0)
                * 100.0
                * AFFORDABILITY_PENALTY_BPS_PER_POINT
        }
        _ => 0.0,
    }
}

/// The BALANCED sort key: `apr_bps + h / odds + penalty`, in bp (lower is
/// better). Odds below `MIN_ODDS` (or NaN) are read as `MIN_ODDS`.
pub fn balanced_cost_bps(offer: &Offer, policy: &PricingPolicy) -> f64 {
    let p = odds_of(offer).max(MIN_ODDS);
    f64::from(offer.apr_bps)
        + f64::from(policy.inquiry_cost_bps) / p
        + affordability_penalty_bps(policy, offer.debt_to_income)
}

/// Sorts `offers` best first under `strategy` and sets `rank` (1..=n),
/// `score` (the strategy's sort key: the BALANCED cost in bp, the APR in bp
/// for LOWEST_COST, both lower-is-better; the odds for HIGHEST_APPROVAL) and
/// `rank_reasons` in `locale`.
// The server is written against `&mut Vec<Offer>`; a slice would do.
#[allow(clippy::ptr_arg)]
pub fn rank_offers(
    offers: &mut Vec<Offer>,
    strategy: Strategy,
    policy: &PricingPolicy,
    locale: Locale,
) {
    for offer in offers.iter_mut() {
        offer.score = match strategy {
            Strategy::Balanced => balanced_cost_bps(offer, policy),
            Strategy::LowestCost => f64::from(offer.apr_bps),
            Strategy::HighestApproval => odds_of(offer),
        };
    }
    offers.sort_by(|a, b| compare(strategy, a, a.score, b, b.score));
    for (i, offer) in offers.iter_mut().enumerate() {
        offer.rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }
    let facts = Facts::of(offers);
    let reasons: Vec<Vec<String>> = offers
        .iter()
        .map(|o| reasons_for(o, offers, &facts, strategy, policy, locale))
        .collect();
    for (offer, reasons) in offers.iter_mut().zip(reasons) {
        offer.rank_reasons = reasons;
    }
}

/// Indices of `offers` in BALANCED order, whatever order they are in.
pub(crate) fn balanced_order(offers: &[Offer], policy: &PricingPolicy) -> Vec<usize> {
    let costs: Vec<f64> = offers
        .iter()
        .map(|o| balanced_cost_bps(o, policy))
        .collect();
    let mut order: Vec<usize> = (0..offers.len()).collect();
    order.sort_by(|&a, &b| {
        compare(
            Strategy::Balanced,
            &offers[a],
            costs[a],
            &offers[b],
            costs[b],
        )
    });
    order
}

/// Odds read for ranking: NaN as 0, clamped to [0, 1].
pub(crate) fn odds_of(offer: &Offer) -> f64 {
    let p = offer.approval_odds;
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}

/// Orders two offers whose strategy keys are `ka`, `kb`.
fn compare(strategy: Strategy, a: &Offer, ka: f64, b: &Offer, kb: f64) -> Ordering {
    let by_apr = || a.apr_bps.cmp(&b.apr_bps);
    let by_odds = || odds_of(b).total_cmp(&odds_of(a));
    let primary = match strategy {
        Strategy::Balanced | Strategy::LowestCost => ka.total_cmp(&kb),
        Strategy::HighestApproval => kb.total_cmp(&ka),
    };
    let secondary = match strategy {
        Strategy::Balanced => by_apr().then_with(by_odds),
        Strategy::LowestCost => by_odds(),
        Strategy::HighestApproval => by_apr(),
    };
    primary
        .then(secondary)
        .then_with(|| a.offer_id.cmp(&b.offer_id))
        .then_with(|| a.adapter_id.cmp(&b.adapter_id))
        .then_with(|| a.partner_offer_ref.cmp(&b.partner_offer_ref))
}

/// Extremes over the whole ranked set, computed once.
struct Facts {
    lowest_apr: i32,
    highest_odds: f64,
    /// Lowest APR among offers with odds >= STRONG_ODDS, if any.
    lowest_strong_apr: Option<i32>,
}

impl Facts {
    fn of(offers: &[Offer]) -> Facts {
        Facts {
            lowest_apr: offers.iter().map(|o| o.apr_bps).min().unwrap_or(0),
            highest_odds: offers.iter().map(odds_of).fold(0.0, f64::max),
            lowest_strong_apr: offers
                .iter()
                .filter(|o| odds_of(o) >= STRONG_ODDS)
                .map(|o| o.apr_bps)
                .min(),
        }
    }
}

/// The first offer (in ranked order) with a lower APR and higher odds than `offer`.
fn dominator<'a>(offer: &Offer, ranked: &'a [Offer]) -> Option<&'a Offer> {
    ranked
        .iter()
        .find(|o| o.apr_bps < offer.apr_bps && odds_of(o) > odds_of(offer) + ODDS_EPSILON)
}

fn reasons_for(
    offer: &Offer,
    ranked: &[Offer],
    facts: &Facts,
    strategy: Strategy,
    policy: &PricingPolicy,
    locale: Locale,
) -> Vec<String> {
    let apr = Percent::rate_bps(offer.apr_bps);
    let odds = Percent::odds(odds_of(offer));
    let first = offer.rank == 1;
    let alone = ranked.len() == 1;
    let mut reasons = Vec::with_capacity(4);
    let mut say = |msg: Message<'_>| reasons.push(catalog::render(&msg, locale));

    say(match (strategy, first) {
        (Strategy::Balanced, true) => Message::RankBalancedFirst {
            apr,
            odds,
            cost: Percent::rate(offer.score),
        },
        (Strategy::Balanced, false) => Message::RankBalanced {
            cost: Percent::rate(offer.score),
            apr,
            refusal_cost: Percent::rate(
                f64::from(policy.inquiry_cost_bps) / odds_of(offer).max(MIN_ODDS),
            ),
            odds,
        },
        (Strategy::LowestCost, true) => Message::RankLowestCostFirst { apr },
        (Strategy::LowestCost, false) => {
            match i64::from(offer.apr_bps) - i64::from(facts.lowest_apr) {
                0 => Message::RankAprEqualsLowest { apr, odds },
                diff => Message::RankAprAboveLowest {
                    apr,
                    above: Percent::rate(diff as f64),
                },
            }
        }
        (Strategy::HighestApproval, true) => Message::RankHighestApprovalFirst { odds },
        (Strategy::HighestApproval, false) => Message::RankHighestApproval { odds, apr },
    });

    if alone {
        say(Message::RankOnlyOffer);
    } else {
        let said_lowest = strategy == Strategy::LowestCost && first;
        let said_likeliest = strategy == Strategy::HighestApproval && first;
        if offer.apr_bps == facts.lowest_apr {
            if !said_lowest {
                say(Message::RankLowestApr);
            }
        } else if odds_of(offer) >= STRONG_ODDS && facts.lowest_strong_apr == Some(offer.apr_bps) {
            say(Message::RankLowestAprAmongLikely {
                threshold: Percent::odds(STRONG_ODDS),
            });
        }
        if odds_of(offer) >= facts.highest_odds - ODDS_EPSILON && !said_likeliest {
            say(Message::RankHighestOdds);
        }
        if let Some(d) = dominator(offer, ranked) {
            say(Message::RankDominatedBy {
                name: &d.product_name,
                adapter: &d.adapter_id,
            });
        }
    }

    if offer
        .debt_to_income
        .is_some_and(|d| d > policy.affordability_warning)
    {
        let penalty = (strategy == Strategy::Balanced)
            .then(|| Percent::rate(affordability_penalty_bps(policy, offer.debt_to_income)));
        say(Message::RankStretching {
            limit: Percent::odds(policy.affordability_warning),
            penalty,
        });
    }
    if offer.warnings.contains(&OfferWarning::StatedAprUnderstated) {
        say(Message::RankAprUnderstated {
            apr,
            stated: Percent::rate_bps(offer.stated_apr_bps),
        });
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::offer;

    fn ids(offers: &[Offer]) -> Vec<&str> {
        offers.iter().map(|o| o.offer_id.as_str()).collect()
    }

    /// a: cheap but uncertain; b: a bit dearer, near-certain; c: dominated by a.
    fn three() -> Vec<Offer> {
        vec![
            offer("c", 1500, 0.4),
            offer("b", 1200, 0.95),
            offer("a", 1000, 0.5),
        ]
    }

    #[test]
    fn balanced_sorts_by_apr_plus_h_over_p() {
        let mut offers = three();
        rank_offers(
            &mut offers,
            Strategy::Balanced,
            &PricingPolicy::default(),
            Locale::En,
        );
        // a: 1000 + 150/0.5 = 1300; b: 1200 + 150/0.95 = 1357.9; c: 1500 + 375 = 1875.
        assert_eq!(ids(&offers), vec!["a", "b", "c"]);
        assert_eq!(
            offers.iter().map(|o| o.rank).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert!((offers[0].score - 1300.0).abs() < 1e-9);
        assert!((offers[1].score - (1200.0 + 150.0 / 0.95)).abs() < 1e-9);
        assert_eq!(
            offers[0].rank_reasons,
            vec![
                "best balance of cost and approval odds: APR (12 × monthly IRR) 10.00 % at 50 % odds, expected cost 13.00 %",
                "lowest APR of all offers",
            ]
        );
        assert_eq!(
            offers[1].rank_reasons,
            vec![
                "expected cost 13.58 %: APR (12 × monthly IRR) 12.00 % plus 1.58 % for the chance of a refusal at 95 % odds",
                "lowest APR among offers with >= 80 % odds",
                "highest approval odds of all offers",
            ]
        );
        assert_eq!(
            offers[2].rank_reasons,
            vec![
                "expected cost 18.75 %: APR (12 × monthly IRR) 15.00 % plus 3.75 % for the chance of a refusal at 40 % odds",
                "dominated by Loan a (ad-a): lower APR and higher odds",
            ]
        );
    }

    #[test]
    fn lowest_cost_and_highest_approval_sort_on_what_they_name() {
        let mut offers = three();
        offers.push(offer("d", 1000, 0.7));
        rank_offers(
            &mut offers,
            Strategy::LowestCost,
            &PricingPolicy::default(),
            Locale::En,
        );
        assert_eq!(
            ids(&offers),
            vec!["d", "a", "b", "c"],
            "APR ties broken by odds"
        );
        assert_eq!(offers[0].score, 1000.0);
        assert_eq!(offers[0].rank_reasons[0], "lowest APR: 10.00 %");
        assert_eq!(
            offers[1].rank_reasons[0],
            "APR (12 × monthly IRR) 10.00 %, equal to the lowest; ranked by approval odds (50 %)"
        );
        assert_eq!(
            offers[2].rank_reasons[0],
            "APR (12 × monthly IRR) 12.00 %, 2.00 % above the lowest"
        );
        let dominated_by_d = "dominated by Loan d (ad-d): lower APR and higher odds".to_string();
        assert!(
            !offers[1].rank_reasons.contains(&dominated_by_d),
            "equal APR is not dominance"
        );

        let mut offers = three();
        offers.push(offer("e", 900, 0.95));
        rank_offers(
            &mut offers,
            Strategy::HighestApproval,
            &PricingPolicy::default(),
            Locale::En,
        );
        assert_eq!(
            ids(&offers),
            vec!["e", "b", "a", "c"],
            "odds ties broken by APR"
        );
        assert_eq!(offers[0].score, 0.95);
        assert_eq!(offers[0].rank_reasons[0], "highest approval odds: 95 %");
        let dominated_by_e = "dominated by Loan e (ad-e): lower APR and higher odds".to_string();
        assert!(
            !offers[1].rank_reasons.contains(&dominated_by_e),
            "equal odds is not dominance"
        );
        assert!(offers[2].rank_reasons.contains(&dominated_by_e));
    }

    #[test]
    fn ties_break_deterministically() {
        let mut offers = vec![offer("y", 1000, 0.5), offer("x", 1000, 0.5)];
        rank_offers(
            &mut offers,
            Strategy::Balanced,
            &PricingPolicy::default(),
            Locale::En,
        );
        assert_eq!(ids(&offers), vec!["x", "y"]);
        let mut again = vec![offer("x", 1000, 0.5), offer("y", 1000, 0.5)];
        rank_offers(
            &mut again,
            Strategy::Balanced,
            &PricingPolicy::default(),
            Locale::En,
        );
        assert_eq!(offers, again);
    }

    #[test]
    fn affordability_penalty_pushes_a_stretching_offer_down() {
        let policy = PricingPolicy::default();
        assert_eq!(affordability_penalty_bps(&policy, Some(0.5)), 0.0);
        assert!((affordability_penalty_bps(&policy, Some(0.6)) - 200.0).abs() < 1e-9);
        assert!((affordability_penalty_bps(&policy, Some(f64::INFINITY)) - 3000.0).abs() < 1e-9);
        assert_eq!(affordability_penalty_bps(&policy, Some(f64::NAN)), 0.0);
        assert_eq!(affordability_penalty_bps(&policy, None), 0.0);

        let mut stretching = offer("s", 1000, 0.9);
        stretching.debt_to_income = Some(0.6);
        let mut offers = vec![stretching, offer("t", 1100, 0.9)];
        rank_offers(&mut offers, Strategy::Balanced, &policy, Locale::En);
        assert_eq!(ids(&offers), vec!["t", "s"]);
        assert!(offers[1].rank_reasons.contains(
            &"repayments would take over 50 % of income in a bad month: 2.00 % added to its cost"
                .to_string()
        ));
    }

    #[test]
    fn reasons_in_chinese() {
        let mut offers = three();
        offers[0].warnings.push(OfferWarning::StatedAprUnderstated);
        offers[0].stated_apr_bps = 720;
        rank_offers(
            &mut offers,
            Strategy::Balanced,
            &PricingPolicy::default(),
            Locale::ZhCn,
        );
        assert_eq!(
            offers[0].rank_reasons[0],
            "成本与获批概率的最佳平衡：年化利率（单利）10.00%，获批概率 50%，预期成本 13.00%"
        );
        assert_eq!(offers[0].rank_reasons[1], "所有报价中年化利率最低");
        assert_eq!(
            offers[1].rank_reasons[1],
            "获批概率不低于 80% 的报价中年化利率最低"
        );
        assert_eq!(
            offers[2].rank_reasons,
            vec![
                "预期成本 18.75%：年化利率（单利）15.00%，加上获批概率 40% 下被拒风险折合 3.75%",
                "劣于 Loan a（ad-a）：对方年化利率更低、获批概率更高",
                "按实际计算的年化利率（单利）15.00% 排名，而非宣称的 7.20%",
            ]
        );
    }

    #[test]
    fn one_offer_and_odd_odds() {
        let mut offers = vec![offer("only", 1000, f64::NAN)];
        rank_offers(
            &mut offers,
            Strategy::Balanced,
            &PricingPolicy::default(),
            Locale::En,
        );
        assert_eq!(offers[0].rank, 1);
        assert!(offers[0].score.is_finite());
        assert_eq!(offers[0].rank_reasons[1], "the only offer");
        let mut none: Vec<Offer> = Vec::new();
        rank_offers(
            &mut none,
            Strategy::LowestCost,
            &PricingPolicy::default(),
            Locale::En,
        );
        assert!(none.is_empty());
    }

    #[test]
    fn balanced_order_ignores_input_order() {
        let offers = three();
        let order = balanced_order(&offers, &PricingPolicy::default());
        let ordered: Vec<&str> = order.iter().map(|&i| offers[i].offer_id.as_str()).collect();
        assert_eq!(ordered, vec!["a", "b", "c"]);
    }
}

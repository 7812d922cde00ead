//! Explaining the refusal: one `Factor` in plain words per refusal reason of
//! the primary line, and `Suggestion`s backed by numbers from this very
//! fan-out (ranking.md section 5).
//!
//! Suggestions and the numbers behind them:
//! - `LowerAmount`: the largest round amount below the request at which more
//!   offers reach the odds threshold (80 %, else 50 %), re-pricing every
//!   shown offer and every offer withheld as unaffordable (see `scenario`).
//! - `LongerTerm`: the shortest term, among those this fan-out offered and
//!   the request's longest, that does the same.
//! - `UseCollateral`: the best secured offer, its APR and odds, and how much
//!   cheaper it is than the best unsecured one.
//! - `Installment`: the shortest installment offer, its payments and APR.
//! - `ShareWithPartners`: how many partners could not be asked (`NO_CONSENT`).
//! - `Wait` (application velocity: the cost of each application; system
//!   error) and `Appeal` (line reduced: the line and the drawable amount).
//! - `ProvideData`: what partners' typed `MissingData` / `IncomeUnverified`
//!   declines asked for, which partners, and the lowest APR they advertise.
//! - `CounterOffer`: each shown counter-offer against the request.
//!
//! Partners' typed declines are factors too, one per reason (with
//! `partner_reason` and the channels; `reason` is `None`).
//!
//! A suggestion with a computable effect is only made when the effect is
//! real (at least one offer gained).
//!
//! Offers withheld as unaffordable are explained too (ranking.md section 3):
//! a sentence under the `DEBT_TO_INCOME_TOO_HIGH` factor, which is added for
//! them when the primary line gave other reasons.
//!
//! Every text is a `catalog::Message`, worded per locale in `src/catalog/`.

use crate::answer::{AdjustedTerm, DeclineReason};
use crate::catalog::{self, Asked, Effect, LineNumbers, Message, Need, Withheld};
use crate::domain::{
    ChannelReport, ChannelStatus, Explanation, Factor, FinancingRequest, Locale, Offer,
    ProductKind, RefusalReason, Suggestion, SuggestionKind,
};
use crate::money::Money;
use crate::odds::OddsModel;
use crate::policy::PricingPolicy;
use crate::rank::STRONG_ODDS;
use crate::rejection::{RejectReason, Rejection};
use crate::scenario::{self, Outlook};
use crate::schedule::MAX_TERM_MONTHS;
use crate::wording::Percent;

/// Odds thresholds tried in turn for amount and term suggestions.
const THRESHOLDS: [f64; 2] = [STRONG_ODDS, 0.5];

/// Fractions of the requested amount tried by `LowerAmount`.
const AMOUNT_FRACTIONS: [i64; 5] = [90, 80, 70, 60, 50];

/// Factors and suggestions for `req`, given the (ranked, shown) `offers`, the
/// channel reports and the rejected offers of the fan-out.
pub fn explain(
    req: &FinancingRequest,
    offers: &[Offer],
    reports: &[ChannelReport],
    rejections: &[Rejection],
    policy: &PricingPolicy,
    locale: Locale,
) -> Explanation {
    let reasons: Vec<RefusalReason> = {
        let mut seen = Vec::new();
        for r in req.primary_decision.iter().flat_map(|d| &d.reasons) {
            if !seen.contains(r) {
                seen.push(*r);
            }
        }
        seen
    };
    let withheld: Vec<&Offer> = rejections
        .iter()
        .filter(|r| r.reason == RejectReason::Unaffordable)
        .filter_map(|r| r.priced.as_deref())
        .collect();
    let unaffordable = rejections
        .iter()
        .filter(|r| r.reason == RejectReason::Unaffordable)
        .count();

    let withheld_note = (unaffordable > 0).then(|| Withheld {
        count: unaffordable,
        limit: Percent::odds(policy.affordability_hard_limit),
    });

    let factor = |reason, msg: Message<'_>| Factor {
        reason: Some(reason),
        text: catalog::render(&msg, locale),
        partner_reason: None,
        adapter_ids: Vec::new(),
    };
    let line = line_numbers(req);
    let mut factors: Vec<Factor> = reasons
        .iter()
        .map(|&reason| factor(reason, factor_message(reason, line, withheld_note)))
        .collect();
    if let Some(w) = withheld_note
        && !reasons.contains(&RefusalReason::DebtToIncomeTooHigh)
    {
        factors.push(factor(
            RefusalReason::DebtToIncomeTooHigh,
            Message::FactorWithheld(w),
        ));
    }

    factors.extend(partner_factors(reports, locale));

    let pool = Pool {
        req,
        policy,
        model: policy.odds,
        shown: offers,
        withheld: &withheld,
    };
    let mut suggestions = Vec::new();
    suggestions.extend(pool.lower_amount(locale));
    suggestions.extend(pool.longer_term(locale));
    suggestions.extend(use_collateral(offers, locale));
    suggestions.extend(installment(offers, locale));
    suggestions.extend(provide_data(reports, locale));
    suggestions.extend(counter_offers(req, offers, locale));
    suggestions.extend(share_with_partners(reports, locale));
    if reasons.contains(&RefusalReason::ApplicationVelocity) {
        let msg = Message::SuggestWait {
            inquiry_cost: Percent::rate_bps(policy.inquiry_cost_bps),
        };
        suggestions.push(plain(SuggestionKind::Wait, &msg, locale));
    } else if reasons.contains(&RefusalReason::SystemError) {
        suggestions.push(plain(
            SuggestionKind::Wait,
            &Message::SuggestRetryLater,
            locale,
        ));
    }
    if reasons.contains(&RefusalReason::DynamicLineAdjustment) {
        let msg = Message::SuggestAppeal { line };
        suggestions.push(plain(SuggestionKind::Appeal, &msg, locale));
    }
    Explanation {
        factors,
        suggestions,
    }
}

/// The offers a scenario re-prices: those shown and those withheld as
/// unaffordable (which a smaller amount or a longer term may bring back).
struct Pool<'a> {
    req: &'a FinancingRequest,
    policy: &'a PricingPolicy,
    model: OddsModel,
    shown: &'a [Offer],
    withheld: &'a [&'a Offer],
}

/// Counts of a scenario against today, at one odds threshold.
#[derive(Debug, Clone, Copy, Default)]
struct Gain {
    /// Offers at or above the threshold in the scenario, less today's.
    offers: i64,
    /// Of the scenario's offers at or above the threshold, how many are withheld today.
    unlocked: i64,
}

impl Gain {
    /// The gain as the catalog words it, at `threshold`.
    fn effect(self, threshold: f64) -> Effect {
        Effect {
            threshold: Percent::odds(threshold),
            offers: self.offers,
            unlocked: (self.unlocked > 0).then_some(self.unlocked),
        }
    }
}

impl Pool<'_> {
    fn all(&self) -> impl Iterator<Item = (&Offer, bool)> {
        self.shown
            .iter()
            .map(|o| (o, true))
            .chain(self.withheld.iter().map(|o| (*o, false)))
    }

    /// Today: shown offers at or above `threshold`.
    fn baseline(&self, threshold: f64) -> i64 {
        self.shown
            .iter()
            .filter(|o| o.approval_odds >= threshold)
            .count() as i64
    }

    /// The gain of `outlooks` (one per offer of `all()`, same order) at `threshold`.
    fn gain(&self, outlooks: &[(Outlook, bool)], threshold: f64) -> Gain {
        let counted = |(o, _): &&(Outlook, bool)| o.affordable && o.odds >= threshold;
        let after = outlooks.iter().filter(counted).count() as i64;
        let unlocked = outlooks
            .iter()
            .filter(counted)
            .filter(|(_, shown)| !shown)
            .count() as i64;
        Gain {
            offers: after - self.baseline(threshold),
            unlocked,
        }
    }

    /// The first candidate (in the order given) with a positive gain at the
    /// first threshold where any candidate has one.
    ///
    /// Each candidate's scenario (every offer repriced at it) is computed
    /// when the search first reaches it and kept for the next threshold, so
    /// a search that ends at an early candidate prices no more.
    fn best<T: Copy>(
        &self,
        candidates: &[T],
        outlook: impl Fn(&Offer, T) -> Outlook,
    ) -> Option<(T, f64, Gain)> {
        let mut scenarios: Vec<Option<Vec<(Outlook, bool)>>> = vec![None; candidates.len()];
        for &t in &THRESHOLDS {
            for (&c, scenario) in candidates.iter().zip(scenarios.iter_mut()) {
                let outlooks = scenario.get_or_insert_with(|| {
                    self.all()
                        .map(|(o, shown)| (outlook(o, c), shown))
                        .collect()
                });
                let gain = self.gain(outlooks, t);
                if gain.offers > 0 {
                    return Some((c, t, gain));
                }
            }
        }
        None
    }

    fn lower_amount(&self, locale: Locale) -> Option<Suggestion> {
        let requested = self.req.requested_amount;
        let step = round_step(requested.amount_minor);
        let mut amounts: Vec<i64> = AMOUNT_FRACTIONS
            .iter()
            .map(|pct| {
                let raw = i128::from(requested.amount_minor) * i128::from(*pct) / 100;
                i64::try_from(raw).unwrap_or(0) / step * step
            })
            .collect();
        if let Some(drawable) = self
            .req
            .primary_decision
            .as_ref()
            .and_then(|d| d.drawable_amount)
            .filter(|d| d.currency == requested.currency)
        {
            amounts.push(drawable.amount_minor);
        }
        amounts.retain(|a| *a > 0 && *a < requested.amount_minor);
        amounts.sort_unstable_by(|a, b| b.cmp(a));
        amounts.dedup();
        let applicant = &self.req.applicant;
        let (amount, threshold, gain) = self.best(&amounts, |o, a| {
            scenario::at_amount(o, a, applicant, self.policy, &self.model)
        })?;
        let amount = Money::new(requested.currency, amount);
        let msg = Message::SuggestLowerAmount {
            amount,
            effect: gain.effect(threshold),
        };
        let text = catalog::render(&msg, locale);
        Some(Suggestion {
            kind: SuggestionKind::LowerAmount,
            text,
            amount: Some(amount),
            term_months: None,
            offers_gained: u32::try_from(gain.offers).unwrap_or(0),
            odds_threshold: threshold,
            offer_id: None,
            missing_fields: Vec::new(),
            adapter_ids: Vec::new(),
            apr_from_bps: None,
        })
    }

    fn longer_term(&self, locale: Locale) -> Option<Suggestion> {
        let shortest = self.all().map(|(o, _)| o.term_months).min()?;
        let mut terms: Vec<u32> = self
            .all()
            .map(|(o, _)| o.term_months)
            .chain(std::iter::once(self.req.max_term_months))
            .filter(|t| *t > shortest && *t <= MAX_TERM_MONTHS)
            .collect();
        terms.sort_unstable();
        terms.dedup();
        let applicant = &self.req.applicant;
        let (term, threshold, gain) = self.best(&terms, |o, t| {
            scenario::at_term(o, t, applicant, self.policy, &self.model)
                .unwrap_or_else(|| scenario::current(o, self.policy))
        })?;
        let msg = Message::SuggestLongerTerm {
            term_months: term,
            effect: gain.effect(threshold),
        };
        let text = catalog::render(&msg, locale);
        Some(Suggestion {
            kind: SuggestionKind::LongerTerm,
            text,
            amount: None,
            term_months: Some(term),
            offers_gained: u32::try_from(gain.offers).unwrap_or(0),
            odds_threshold: threshold,
            offer_id: None,
            missing_fields: Vec::new(),
            adapter_ids: Vec::new(),
            apr_from_bps: None,
        })
    }
}

/// A round step for suggested amounts: two significant digits of the major
/// amount (10 000 -> steps of 1 000), at least one major unit.
fn round_step(requested_minor: i64) -> i64 {
    let major = (requested_minor / 100).max(1);
    let digits = major.ilog10() + 1;
    10i64.pow(digits.saturating_sub(2)) * 100
}

fn use_collateral(offers: &[Offer], locale: Locale) -> Option<Suggestion> {
    let secured = offers
        .iter()
        .find(|o| o.product_kind == ProductKind::SecuredLoan)?;
    let best_unsecured = offers
        .iter()
        .filter(|o| o.product_kind != ProductKind::SecuredLoan)
        .map(|o| o.apr_bps)
        .min();
    let saving = best_unsecured
        .filter(|&unsecured| unsecured > secured.apr_bps)
        .map(|unsecured| Percent::rate(f64::from(unsecured) - f64::from(secured.apr_bps)));
    let msg = Message::SuggestCollateral {
        name: &secured.product_name,
        adapter: &secured.adapter_id,
        apr: Percent::rate_bps(secured.apr_bps),
        odds: Percent::odds(secured.approval_odds),
        saving,
    };
    Some(Suggestion {
        kind: SuggestionKind::UseCollateral,
        text: catalog::render(&msg, locale),
        amount: None,
        term_months: None,
        offers_gained: 0,
        odds_threshold: 0.0,
        offer_id: Some(secured.offer_id.clone()),
        missing_fields: Vec::new(),
        adapter_ids: Vec::new(),
        apr_from_bps: None,
    })
}

fn installment(offers: &[Offer], locale: Locale) -> Option<Suggestion> {
    let offer = offers
        .iter()
        .filter(|o| o.product_kind == ProductKind::Installment)
        .min_by_key(|o| o.term_months)?;
    let msg = Message::SuggestInstallment {
        name: &offer.product_name,
        adapter: &offer.adapter_id,
        payments: offer.term_months,
        first_payment: offer.first_payment,
        apr: Percent::rate_bps(offer.apr_bps),
    };
    Some(Suggestion {
        kind: SuggestionKind::Installment,
        text: catalog::render(&msg, locale),
        amount: None,
        term_months: Some(offer.term_months),
        offers_gained: 0,
        odds_threshold: 0.0,
        offer_id: Some(offer.offer_id.clone()),
        missing_fields: Vec::new(),
        adapter_ids: Vec::new(),
        apr_from_bps: None,
    })
}

fn share_with_partners(reports: &[ChannelReport], locale: Locale) -> Option<Suggestion> {
    let mut ids: Vec<&str> = reports
        .iter()
        .filter(|r| r.status == ChannelStatus::NoConsent)
        .map(|r| r.adapter_id.as_str())
        .collect();
    ids.dedup();
    if ids.is_empty() {
        return None;
    }
    let msg = Message::SuggestSharing { adapters: &ids };
    Some(plain(SuggestionKind::ShareWithPartners, &msg, locale))
}

/// The partners' typed declines, one factor per reason (in the
/// taxonomy's order) naming the channels that gave it.
fn partner_factors(reports: &[ChannelReport], locale: Locale) -> Vec<Factor> {
    let mut by_reason: Vec<(DeclineReason, Vec<&str>)> = Vec::new();
    for r in reports {
        // An untyped no (no reason, or one this router does not know) is
        // in its channel report, not among the factors.
        let Some(d) = r.decline.as_ref().filter(|d| !d.untyped) else {
            continue;
        };
        match by_reason.iter_mut().find(|(reason, _)| *reason == d.reason) {
            Some((_, ids)) => ids.push(&r.adapter_id),
            None => by_reason.push((d.reason, vec![&r.adapter_id])),
        }
    }
    by_reason.sort_by_key(|(reason, _)| *reason);
    by_reason
        .into_iter()
        .map(|(reason, ids)| {
            let msg = Message::FactorPartnerDecline {
                reason,
                adapters: &ids,
            };
            Factor {
                reason: None,
                text: catalog::render(&msg, locale),
                partner_reason: Some(reason),
                adapter_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            }
        })
        .collect()
}

/// `ProvideData`: every partner that declined for missing data or an
/// unverified income, what they asked for, and the lowest APR those
/// partners advertise (omitted when none advertises one: the router knows
/// no other honest figure for a partner that made no offer).
fn provide_data(reports: &[ChannelReport], locale: Locale) -> Option<Suggestion> {
    let asking: Vec<&ChannelReport> = reports
        .iter()
        .filter(|r| r.decline.as_ref().is_some_and(|d| d.reason.asks_for_data()))
        .collect();
    if asking.is_empty() {
        return None;
    }
    let mut needs = Vec::new();
    let mut fields = Vec::new();
    for d in asking.iter().filter_map(|r| r.decline.as_ref()) {
        if d.reason == DeclineReason::IncomeUnverified {
            needs.push(Need::ProofOfIncome);
        }
        fields.extend(d.missing_fields.iter().copied());
    }
    fields.sort_unstable();
    fields.dedup();
    needs.extend(fields.iter().map(|f| Need::Field(*f)));
    needs.sort_unstable();
    needs.dedup();
    if needs.is_empty() {
        // MISSING_DATA without a field list: the data in general.
        needs.push(Need::Data);
    }
    let ids: Vec<&str> = asking.iter().map(|r| r.adapter_id.as_str()).collect();
    let apr_from = asking
        .iter()
        .filter_map(|r| r.advertised_apr_from_bps)
        .filter(|bps| *bps > 0)
        .min();
    let msg = Message::SuggestProvideData {
        needs: &needs,
        adapters: &ids,
        apr_from: apr_from.map(Percent::rate_bps),
    };
    Some(Suggestion {
        missing_fields: fields,
        adapter_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        apr_from_bps: apr_from,
        ..plain(SuggestionKind::ProvideData, &msg, locale)
    })
}

/// `CounterOffer`: each shown counter-offer, best ranked first, against
/// the request's amount and term.
fn counter_offers(req: &FinancingRequest, offers: &[Offer], locale: Locale) -> Vec<Suggestion> {
    let asked = Asked {
        amount: req.requested_amount,
        min_term: req.min_term_months,
        max_term: req.max_term_months,
    };
    offers
        .iter()
        .filter_map(|o| Some((o, o.adjustment.as_ref()?)))
        .map(|(o, a)| {
            let msg = Message::SuggestCounterOffer {
                adapter: &o.adapter_id,
                amount: o.principal,
                term_months: o.term_months,
                asked,
                rate_changed: a.changed.contains(&AdjustedTerm::Rate),
            };
            Suggestion {
                amount: Some(o.principal),
                term_months: Some(o.term_months),
                offer_id: Some(o.offer_id.clone()),
                ..plain(SuggestionKind::CounterOffer, &msg, locale)
            }
        })
        .collect()
}

/// The drawable amount and the line, when the primary line gave both.
fn line_numbers(req: &FinancingRequest) -> Option<LineNumbers> {
    let d = req.primary_decision.as_ref()?;
    Some(LineNumbers {
        drawable: d.drawable_amount?,
        line: d.displayed_line?,
    })
}

/// A suggestion with nothing but its kind and its text.
fn plain(kind: SuggestionKind, msg: &Message<'_>, locale: Locale) -> Suggestion {
    Suggestion {
        kind,
        text: catalog::render(msg, locale),
        amount: None,
        term_months: None,
        offers_gained: 0,
        odds_threshold: 0.0,
        offer_id: None,
        missing_fields: Vec::new(),
        adapter_ids: Vec::new(),
        apr_from_bps: None,
    }
}

/// The factor text of `reason`; `withheld` (offers withheld as unaffordable,
/// ranking.md section 3) is told under `DEBT_TO_INCOME_TOO_HIGH`.
fn factor_message(
    reason: RefusalReason,
    line: Option<LineNumbers>,
    withheld: Option<Withheld>,
) -> Message<'static> {
    use RefusalReason::*;
    match reason {
        DynamicLineAdjustment => Message::FactorLineReduced { line },
        CreditScoreBelowThreshold => Message::FactorCreditScore,
        DebtToIncomeTooHigh => Message::FactorDebtToIncome { withheld },
        ApplicationVelocity => Message::FactorApplicationVelocity,
        InsufficientHistory => Message::FactorInsufficientHistory,
        PolicyRestriction => Message::FactorPolicyRestriction,
        SystemError => Message::FactorSystemError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PartnerOffer, RepaymentMethod};
    use crate::fixtures::{cny, partner_offer, policy, request, terms};
    use crate::pricing::price_offer;
    use crate::rank::rank_offers;

    /// Income 5 000, debts 1 500: a 10 000 loan over 12 months takes 48 %.
    fn stretched_request() -> FinancingRequest {
        let mut req = request();
        req.applicant.monthly_income = Some(cny(500_000));
        req.applicant.monthly_debt_payments = Some(cny(150_000));
        req
    }

    struct FanOut {
        offers: Vec<Offer>,
        rejections: Vec<Rejection>,
        reports: Vec<ChannelReport>,
    }

    fn fan_out(req: &FinancingRequest) -> FanOut {
        let quotes = [
            ("bank-a", partner_offer("P-1")),
            (
                "bank-b",
                PartnerOffer {
                    term_months: 3,
                    product_name: "Short Loan".into(),
                    ..partner_offer("P-2")
                },
            ),
            (
                "bank-s",
                PartnerOffer {
                    product_kind: Some(ProductKind::SecuredLoan),
                    product_name: "Car Loan".into(),
                    term_months: 24,
                    nominal_rate_bps: 800,
                    stated_apr_bps: 800,
                    approval_probability: None,
                    ..partner_offer("P-3")
                },
            ),
            (
                "inst",
                PartnerOffer {
                    product_kind: Some(ProductKind::Installment),
                    product_name: "Phone Plan".into(),
                    principal: cny(300_000),
                    term_months: 6,
                    repayment_method: Some(RepaymentMethod::FlatFeeInstallment),
                    nominal_rate_bps: 0,
                    stated_apr_bps: 1000,
                    monthly_fee_rate_bps: 75,
                    ..partner_offer("P-4")
                },
            ),
        ];
        let mut offers = Vec::new();
        let mut rejections = Vec::new();
        for (i, (adapter, quote)) in quotes.into_iter().enumerate() {
            match price_offer(req, &terms(adapter), &policy(), quote, 0) {
                Ok(mut o) => {
                    o.offer_id = format!("o{}", i + 1);
                    offers.push(o);
                }
                Err(r) => rejections.push(r),
            }
        }
        rank_offers(&mut offers, req.strategy, &policy(), req.locale);
        let reports = vec![ChannelReport {
            adapter_id: "bank-c".into(),
            product_kind: ProductKind::PartnerLoan,
            status: ChannelStatus::NoConsent,
            latency_ms: 0,
            offers_returned: 0,
            offers_rejected: 0,
            detail: String::new(),
            recipients: Vec::new(),
            rejections: Vec::new(),
            advertised_apr_from_bps: None,
            decline: None,
            late_pending: false,
        }];
        FanOut {
            offers,
            rejections,
            reports,
        }
    }

    fn texts(e: &Explanation) -> Vec<(SuggestionKind, &str)> {
        e.suggestions
            .iter()
            .map(|s| (s.kind, s.text.as_str()))
            .collect()
    }

    #[test]
    fn the_fan_out_prices_as_the_scenario_expects() {
        let req = stretched_request();
        let f = fan_out(&req);
        let ids: Vec<&str> = f.offers.iter().map(|o| o.offer_id.as_str()).collect();
        assert_eq!(ids, vec!["o3", "o1", "o4"]);
        assert_eq!(f.rejections.len(), 1);
        assert_eq!(f.rejections[0].reason, RejectReason::Unaffordable);
        assert!(f.rejections[0].priced.is_some());
    }

    #[test]
    fn factors_say_why_in_plain_words() {
        let req = stretched_request();
        let f = fan_out(&req);
        let e = explain(
            &req,
            &f.offers,
            &f.reports,
            &f.rejections,
            &policy(),
            Locale::En,
        );
        let factors: Vec<(RefusalReason, &str)> = e
            .factors
            .iter()
            .filter_map(|f| Some((f.reason?, f.text.as_str())))
            .collect();
        assert_eq!(
            factors,
            vec![
                (
                    RefusalReason::DynamicLineAdjustment,
                    "Your credit line was lowered in a periodic review, so this draw is above \
                     what you can draw now (drawable now: 2 000 CNY of a 20 000 CNY line)."
                ),
                (
                    RefusalReason::DebtToIncomeTooHigh,
                    "Your existing repayments are high compared with your income. 1 offer was \
                     not shown because the repayments, with your existing debts, would take more \
                     than 70 % of your income in a bad month."
                ),
            ]
        );
        let e = explain(
            &req,
            &f.offers,
            &f.reports,
            &f.rejections,
            &policy(),
            Locale::ZhCn,
        );
        assert_eq!(
            e.factors[1].text,
            "您现有的月还款额相对收入偏高。有 1 个报价未予展示：加上现有债务，其月供将超过收入欠佳月份的 70%。"
        );
    }

    #[test]
    fn suggestions_carry_numbers_from_this_fan_out() {
        let req = stretched_request();
        let f = fan_out(&req);
        let e = explain(
            &req,
            &f.offers,
            &f.reports,
            &f.rejections,
            &policy(),
            Locale::En,
        );
        assert_eq!(
            texts(&e),
            vec![
                (
                    SuggestionKind::LowerAmount,
                    "lower the amount to 7 000 CNY: 1 more offer above 80 % odds"
                ),
                (
                    SuggestionKind::LongerTerm,
                    "choose a 6-month term: 1 more offer above 80 % odds, including 1 withheld \
                     today as unaffordable"
                ),
                (
                    SuggestionKind::UseCollateral,
                    "pledge collateral for Car Loan (bank-s): APR (12 × monthly IRR) 8.00 % at 90 % odds, 4.00 % \
                     below the best unsecured offer"
                ),
                (
                    SuggestionKind::Installment,
                    "for a short need, Phone Plan (inst): 6 payments starting at 522.50 CNY, APR (12 × monthly IRR) 15.27 %"
                ),
                (
                    SuggestionKind::ShareWithPartners,
                    "allow sharing with 1 more partner institution (bank-c) to receive their offers"
                ),
                (
                    SuggestionKind::Appeal,
                    "appeal the line reduction if your situation has not changed (drawable now: \
                     2 000 CNY of a 20 000 CNY line)"
                ),
            ]
        );
        let lower = &e.suggestions[0];
        assert_eq!(lower.amount, Some(cny(700_000)));
        assert_eq!((lower.offers_gained, lower.odds_threshold), (1, 0.8));
        let longer = &e.suggestions[1];
        assert_eq!((longer.term_months, longer.offers_gained), (Some(6), 1));
        assert_eq!(e.suggestions[2].offer_id.as_deref(), Some("o3"));
        assert_eq!(e.suggestions[3].offer_id.as_deref(), Some("o4"));
    }

    #[test]
    fn suggestions_in_chinese() {
        let req = stretched_request();
        let f = fan_out(&req);
        let e = explain(
            &req,
            &f.offers,
            &f.reports,
            &f.rejections,
            &policy(),
            Locale::ZhCn,
        );
        let t = texts(&e);
        assert_eq!(
            t[0].1,
            "将金额降至 7 000 CNY：获批概率 80% 以上的报价多 1 个"
        );
        assert_eq!(
            t[1].1,
            "选择 6 个月期限：获批概率 80% 以上的报价多 1 个，其中 1 个目前因超出负担能力未予展示"
        );
        assert_eq!(
            t[2].1,
            "抵押资产申请 Car Loan（bank-s）：年化利率（单利）8.00%，获批概率 90%，比最优无抵押报价低 4.00%"
        );
        assert_eq!(
            t[4].1,
            "同意向另外 1 家合作机构（bank-c）共享信息，即可获得其报价"
        );
        assert_eq!(
            t[5].1,
            "如情况未变，可对额度下调提出申诉（当前可用 2 000 CNY，额度 20 000 CNY）"
        );
    }

    #[test]
    fn no_number_no_suggestion() {
        // Income unknown: no DTI, so neither amount nor term changes the odds.
        let mut req = stretched_request();
        req.applicant.monthly_income = None;
        req.primary_decision = None;
        let f = fan_out(&req);
        let e = explain(&req, &f.offers, &[], &f.rejections, &policy(), Locale::En);
        assert!(e.factors.is_empty());
        let kinds: Vec<SuggestionKind> = e.suggestions.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            vec![SuggestionKind::UseCollateral, SuggestionKind::Installment]
        );
    }

    #[test]
    fn velocity_and_system_errors_suggest_waiting() {
        let mut req = stretched_request();
        if let Some(d) = req.primary_decision.as_mut() {
            d.reasons = vec![
                RefusalReason::ApplicationVelocity,
                RefusalReason::ApplicationVelocity,
            ];
        }
        let e = explain(&req, &[], &[], &[], &policy(), Locale::En);
        assert_eq!(e.factors.len(), 1, "reasons de-duplicated");
        assert_eq!(
            texts(&e),
            vec![(
                SuggestionKind::Wait,
                "wait before applying again: each application costs about 1.50 % of APR in hard \
                 inquiries and waiting"
            )]
        );
        if let Some(d) = req.primary_decision.as_mut() {
            d.reasons = vec![RefusalReason::SystemError];
        }
        let e = explain(&req, &[], &[], &[], &policy(), Locale::ZhCn);
        assert_eq!(
            e.factors[0].text,
            "主额度因系统错误未能作出决定，这与您的资质无关。"
        );
        assert_eq!(
            texts(&e),
            vec![(SuggestionKind::Wait, "稍后重试：主额度暂时未能作出决定")]
        );
    }

    #[test]
    fn round_steps_keep_two_significant_digits() {
        assert_eq!(round_step(1_000_000), 100_000);
        assert_eq!(round_step(800_000), 10_000);
        assert_eq!(round_step(5_000), 100);
        assert_eq!(round_step(1), 100);
        assert_eq!(round_step(i64::MAX), 10i64.pow(15) * 100);
    }

    fn declined(
        id: &str,
        reason: DeclineReason,
        fields: &[crate::ApplicantField],
        apr: Option<i32>,
    ) -> ChannelReport {
        ChannelReport {
            adapter_id: id.into(),
            product_kind: ProductKind::PartnerLoan,
            status: ChannelStatus::NoOffer,
            latency_ms: 1,
            offers_returned: 0,
            offers_rejected: 0,
            detail: String::new(),
            recipients: Vec::new(),
            rejections: Vec::new(),
            decline: Some(crate::PartnerDecline {
                reason,
                missing_fields: fields.to_vec(),
                text: String::new(),
                untyped: false,
            }),
            advertised_apr_from_bps: apr,
            late_pending: false,
        }
    }

    #[test]
    fn typed_declines_become_factors_and_one_provide_data_suggestion() {
        use crate::ApplicantField as F;
        let mut untyped = declined("bank-x", DeclineReason::Other, &[], None);
        if let Some(d) = &mut untyped.decline {
            d.untyped = true;
        }
        let reports = vec![
            declined("bank-a", DeclineReason::MissingData, &[F::Employment], None),
            declined("bank-b", DeclineReason::IncomeUnverified, &[], Some(1_120)),
            declined(
                "bank-c",
                DeclineReason::MissingData,
                &[F::MonthlyIncome, F::Employment],
                Some(1_500),
            ),
            declined("bank-d", DeclineReason::Capacity, &[], Some(700)),
            untyped,
        ];
        let e = explain(&request(), &[], &reports, &[], &policy(), Locale::En);
        let partner: Vec<(Option<DeclineReason>, Vec<String>)> = (e.factors.iter())
            .filter(|f| f.reason.is_none())
            .map(|f| (f.partner_reason, f.adapter_ids.clone()))
            .collect();
        assert_eq!(
            partner,
            [
                (
                    Some(DeclineReason::IncomeUnverified),
                    vec!["bank-b".to_owned()]
                ),
                (
                    Some(DeclineReason::MissingData),
                    vec!["bank-a".to_owned(), "bank-c".to_owned()]
                ),
                (Some(DeclineReason::Capacity), vec!["bank-d".to_owned()]),
            ]
        );
        let s: Vec<&Suggestion> = (e.suggestions.iter())
            .filter(|s| s.kind == SuggestionKind::ProvideData)
            .collect();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].missing_fields, [F::MonthlyIncome, F::Employment]);
        assert_eq!(s[0].adapter_ids, ["bank-a", "bank-b", "bank-c"]);
        // The lowest rate among the partners that asked (not bank-d's).
        assert_eq!(s[0].apr_from_bps, Some(1_120));
        assert!(
            s[0].text
                .starts_with("3 partners (bank-a, bank-b, bank-c) need proof of income"),
            "{}",
            s[0].text
        );

        // Nobody advertises: no figure.
        let quiet = vec![declined("bank-a", DeclineReason::MissingData, &[], None)];
        let e = explain(&request(), &[], &quiet, &[], &policy(), Locale::En);
        let s = e
            .suggestions
            .iter()
            .find(|s| s.kind == SuggestionKind::ProvideData)
            .expect("made");
        assert_eq!(s.apr_from_bps, None);
        assert_eq!(
            s.text,
            "1 partner (bank-a) needs data you have not shared: provide it to receive their offers"
        );
    }

    #[test]
    fn a_counter_offer_is_explained_against_the_request() {
        use crate::answer::{AdjustedTerm, Adjustment};
        let mut o = crate::fixtures::offer("c", 1_000, 0.7);
        o.adapter_id = "bank-a".into();
        o.principal = cny(800_000);
        o.term_months = 18;
        o.adjustment = Some(Adjustment {
            changed: vec![AdjustedTerm::Amount, AdjustedTerm::Term, AdjustedTerm::Rate],
            reason: None,
            text: String::new(),
        });
        let mut req = request();
        req.min_term_months = 12;
        req.max_term_months = 12;
        let e = explain(&req, &[o], &[], &[], &policy(), Locale::En);
        let s = e
            .suggestions
            .iter()
            .find(|s| s.kind == SuggestionKind::CounterOffer)
            .expect("made");
        assert_eq!(s.offer_id.as_deref(), Some("c"));
        assert_eq!(
            s.text,
            "bank-a offers 8 000 CNY over 18 months instead of 10 000 CNY over 12 months, at a higher rate than for the request as asked"
        );
    }
}

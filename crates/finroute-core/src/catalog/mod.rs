//! Message catalogs: every human-readable text of an answer (refusal
//! factors, suggestions, rank reasons, the plan summary), per locale.
//!
//! The code that decides *what* to say ([`mod@crate::explain`], [`crate::rank`],
//! [`crate::plan`]) builds a [`Message`]: one variant per text, carrying its
//! arguments typed (rates and odds as locale-free [`Percent`]s, amounts as
//! [`Money`], counts, terms, product names and adapter ids). It contains no
//! borrower-facing wording. *How* a message reads in a locale is decided in
//! one file per locale, each holding all of that locale's texts in one
//! exhaustive `match` over [`Message`]:
//!
//! - `en.rs`: English (`Locale::En`);
//! - `zh_cn.rs`: Simplified Chinese (`Locale::ZhCn`).
//!
//! So the compiler proves that every message exists in every locale, and a
//! translator edits one file. A locale's file also owns its conventions:
//! the percent sign ([`percent_suffix`]: "13.03 %" against "13.03%"), list
//! separators, plural forms. Word order is free: a catalog writes the
//! arguments where its language wants them.
//!
//! Adding a locale: a `Locale` variant, a file here defining its
//! `CATALOG: Catalog`, and one arm in [`catalog`].
//!
//! Rendering writes straight into the output through `fmt::Formatter`
//! ([`Message::in_locale`] is `Display`; [`render`] makes the one `String`
//! a text field needs), with no intermediate `String` per argument.
//!
//! Not in the catalogs: ids, reason codes and enum names, and the
//! operator-facing diagnostics of a `Rejection` (English, for logs and
//! channel reports).

use std::fmt;

use crate::answer::DeclineReason;
use crate::disclosure::{CostLine, PartyRole, Promotion};
use crate::domain::{ApplicantField, Locale, RepaymentMethod, UnixMillis};
use crate::money::{Money, format_major};
use crate::wording::Percent;

mod en;
mod zh_cn;

/// One locale's catalog: its texts and its conventions.
pub(super) struct Catalog {
    /// Written after every percentage: `" %"` or `"%"`.
    percent_suffix: &'static str,
    /// Writes one message (the locale file's exhaustive `match`).
    write: fn(&Message<'_>, &mut fmt::Formatter<'_>) -> fmt::Result,
    /// Writes one disclosure text (the locale file's exhaustive `match`
    /// over [`Fact`]).
    write_fact: fn(&Fact<'_>, &mut fmt::Formatter<'_>) -> fmt::Result,
}

/// The catalog of `locale`: the one place that lists the locales.
fn catalog(locale: Locale) -> &'static Catalog {
    match locale {
        Locale::En => &en::CATALOG,
        Locale::ZhCn => &zh_cn::CATALOG,
    }
}

/// The percent sign of `locale`, written after the number.
pub(crate) fn percent_suffix(locale: Locale) -> &'static str {
    catalog(locale).percent_suffix
}

/// `msg` as a text in `locale`.
pub(crate) fn render(msg: &Message<'_>, locale: Locale) -> String {
    use fmt::Write as _;
    // One allocation for most texts, as `format!` would estimate it
    // (`to_string` starts empty and reallocates as it grows).
    let mut text = String::with_capacity(RENDER_CAPACITY);
    // Writing into a `String` fails only if a `Display` impl does.
    let _ = write!(text, "{}", msg.in_locale(locale));
    text
}

/// `fact` as a text in `locale`.
pub(crate) fn render_fact(fact: &Fact<'_>, locale: Locale) -> String {
    use fmt::Write as _;
    let mut text = String::with_capacity(RENDER_CAPACITY);
    // Writing into a `String` fails only if a `Display` impl does.
    let _ = write!(text, "{}", FactIn { fact, locale });
    text
}

/// A [`Fact`] in a locale, as `Display`.
struct FactIn<'f, 'a> {
    fact: &'f Fact<'a>,
    locale: Locale,
}

impl fmt::Display for FactIn<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (catalog(self.locale).write_fact)(self.fact, f)
    }
}

/// Every disclosure text: the rate labels, a cost line, and each line of an
/// offer's key facts (`GetKeyFacts`). Numbers are typed (rates in bp,
/// amounts as [`Money`], times in unix milliseconds); names, ids, contacts
/// and partner descriptions are passed through as given (untrusted text
/// the caller has cleaned). Each locale file writes every variant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fact<'a> {
    /// The comprehensive APR with its method: "APR (12 × monthly IRR) 29.41 %".
    AprLabel {
        /// The APR in bp.
        apr_bps: i32,
    },
    /// The effective annual rate with its method: "effective annual rate 33.52 %".
    EarLabel {
        /// The effective annual rate in bp.
        ear_bps: i32,
    },
    /// One cost line: "interest 13.00 %", "guarantee fee (Example
    /// Guarantee Co.) +16.53 %", a declinable one marked optional.
    CostLine(&'a CostLine),
    /// The first line of the key facts: which offer they are of.
    Title {
        /// The router's offer id.
        offer_id: &'a str,
    },
    /// The product's name.
    Product {
        /// As the borrower sees it.
        name: &'a str,
    },
    /// One party with its registration id and contact (each when given).
    Party {
        /// Its part in the loan.
        role: PartyRole,
        /// Registered legal name.
        legal_name: &'a str,
        /// Registration id; may be empty.
        registration_id: &'a str,
        /// Business contact; may be empty.
        contact: &'a str,
    },
    /// The offer names no lender of record.
    NoLender,
    /// The amount lent.
    Principal(Money),
    /// What reaches the borrower.
    Disbursed(Money),
    /// The term in months.
    Term {
        /// Months.
        months: i32,
    },
    /// How the payments are computed.
    Method(RepaymentMethod),
    /// The schedule: how many payments, the first and the last.
    Payments {
        /// Number of payments.
        count: i32,
        /// The first payment, whole.
        first: Money,
        /// The last payment, whole.
        last: Money,
    },
    /// Every payment plus charges paid at disbursement.
    TotalRepaid(Money),
    /// One cost line with its total over the loan.
    Cost {
        /// The line (its text is re-rendered, not read).
        line: &'a CostLine,
    },
    /// Everything paid beyond what is received.
    TotalCost(Money),
    /// The promotion's terms.
    Promotion(&'a Promotion),
    /// When the promotion ends.
    PromotionEnds {
        /// Unix milliseconds.
        at: UnixMillis,
    },
    /// The annual rate once the promotion ends.
    PostPromotionRate {
        /// In bp.
        rate_bps: i32,
    },
    /// Until when the offer can be accepted.
    ValidUntil {
        /// Unix milliseconds.
        at: UnixMillis,
    },
    /// How to complain (the lender's and the platform's contacts, when
    /// known) or appeal.
    Complaints {
        /// The lender's legal name and contact.
        lender: Option<(&'a str, &'a str)>,
        /// The platform's legal name and contact.
        platform: Option<(&'a str, &'a str)>,
    },
    /// A legal text the borrower must see, as the channel wrote it.
    Disclosure {
        /// The text.
        text: &'a str,
    },
}

/// An amount with two decimals and its currency: "10 000.00 CNY".
struct Amount(Money);

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            format_major(self.0.amount_minor),
            self.0.currency
        )
    }
}

/// A UTC calendar time, to the minute, from unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Utc {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
}

impl Utc {
    fn from_millis(ms: UnixMillis) -> Utc {
        let secs = ms.div_euclid(1_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Days to civil date (proleptic Gregorian), after H. Hinnant.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Utc {
            year,
            month,
            day,
            hour: (rem / 3_600) as u32,
            minute: (rem % 3_600 / 60) as u32,
        }
    }
}

/// Bytes reserved per rendered text: most English texts and short Chinese
/// ones (3 bytes a character) fit.
const RENDER_CAPACITY: usize = 128;

/// The drawable amount and the displayed line of a reduced credit line,
/// shown together when both are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineNumbers {
    pub(crate) drawable: Money,
    pub(crate) line: Money,
}

/// What a scenario (a lower amount, a longer term) gains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Effect {
    /// The odds threshold counted against.
    pub(crate) threshold: Percent,
    /// How many more offers reach it.
    pub(crate) offers: i64,
    /// Of those, how many are withheld as unaffordable today (`None`: none).
    pub(crate) unlocked: Option<i64>,
}

/// Offers withheld as unaffordable: how many, and the hard limit on the
/// share of income in a bad month that they exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Withheld {
    pub(crate) count: usize,
    pub(crate) limit: Percent,
}

/// Something partners asked the borrower to provide (a `PROVIDE_DATA`
/// suggestion lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Need {
    /// Proof of income (an `INCOME_UNVERIFIED` decline).
    ProofOfIncome,
    /// An applicant field (a `MISSING_DATA` decline's `missing_fields`).
    Field(ApplicantField),
    /// The data asked for, unnamed (a `MISSING_DATA` decline without a
    /// field list).
    Data,
}

/// The request's amount and term range, as a counter-offer is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Asked {
    pub(crate) amount: Money,
    pub(crate) min_term: u32,
    pub(crate) max_term: u32,
}

/// Every borrower-facing text, with its arguments. Each locale file writes
/// every variant; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Message<'a> {
    // --- Refusal factors (`Explanation::factors`, `explain`) ---
    /// Factor for `DYNAMIC_LINE_ADJUSTMENT`: the line was lowered; with the
    /// drawable amount and the line when both are known.
    FactorLineReduced { line: Option<LineNumbers> },
    /// Factor for `CREDIT_SCORE_BELOW_THRESHOLD`.
    FactorCreditScore,
    /// Factor for `DEBT_TO_INCOME_TOO_HIGH`; followed by the sentence of
    /// [`Message::FactorWithheld`] when offers were withheld as unaffordable.
    FactorDebtToIncome { withheld: Option<Withheld> },
    /// Factor `DEBT_TO_INCOME_TOO_HIGH` added when offers were withheld as
    /// unaffordable but the primary line gave other reasons: that sentence alone.
    FactorWithheld(Withheld),
    /// Factor for `APPLICATION_VELOCITY`.
    FactorApplicationVelocity,
    /// Factor for `INSUFFICIENT_HISTORY`.
    FactorInsufficientHistory,
    /// Factor for `POLICY_RESTRICTION`.
    FactorPolicyRestriction,
    /// Factor for `SYSTEM_ERROR`.
    FactorSystemError,
    /// Partners' typed declines of one reason: how many, which.
    FactorPartnerDecline {
        reason: DeclineReason,
        adapters: &'a [&'a str],
    },

    // --- Suggestions (`Explanation::suggestions`, `explain`) ---
    /// `LowerAmount`: the amount and what it gains.
    SuggestLowerAmount { amount: Money, effect: Effect },
    /// `LongerTerm`: the term and what it gains.
    SuggestLongerTerm { term_months: u32, effect: Effect },
    /// `UseCollateral`: the best secured offer, its APR and odds, and how
    /// much cheaper it is than the best unsecured offer (when it is).
    SuggestCollateral {
        name: &'a str,
        adapter: &'a str,
        apr: Percent,
        odds: Percent,
        saving: Option<Percent>,
    },
    /// `Installment`: the shortest installment offer, its payments and APR.
    SuggestInstallment {
        name: &'a str,
        adapter: &'a str,
        payments: u32,
        first_payment: Money,
        apr: Percent,
    },
    /// `ShareWithPartners`: the adapters that could not be asked (`NO_CONSENT`).
    SuggestSharing { adapters: &'a [&'a str] },
    /// `Wait` after `APPLICATION_VELOCITY`: the cost of each application in APR.
    SuggestWait { inquiry_cost: Percent },
    /// `Wait` after `SYSTEM_ERROR`.
    SuggestRetryLater,
    /// `Appeal` after `DYNAMIC_LINE_ADJUSTMENT`, with the line's numbers
    /// when both are known.
    SuggestAppeal { line: Option<LineNumbers> },
    /// `ProvideData`: what partners asked for, which partners, and the
    /// lowest APR they advertise (when any does).
    SuggestProvideData {
        needs: &'a [Need],
        adapters: &'a [&'a str],
        apr_from: Option<Percent>,
    },
    /// `CounterOffer`: a partner's adjusted offer against the request.
    SuggestCounterOffer {
        adapter: &'a str,
        amount: Money,
        term_months: u32,
        asked: Asked,
        rate_changed: bool,
    },

    // --- Rank reasons (`Offer::rank_reasons`, `rank`) ---
    /// First reason of the first offer under BALANCED.
    RankBalancedFirst {
        apr: Percent,
        odds: Percent,
        cost: Percent,
    },
    /// First reason of the other offers under BALANCED: the expected cost
    /// and the share of it due to the chance of a refusal.
    RankBalanced {
        cost: Percent,
        apr: Percent,
        refusal_cost: Percent,
        odds: Percent,
    },
    /// First reason of the first offer under LOWEST_COST.
    RankLowestCostFirst { apr: Percent },
    /// First reason under LOWEST_COST of a later offer at the lowest APR.
    RankAprEqualsLowest { apr: Percent, odds: Percent },
    /// First reason under LOWEST_COST of a dearer offer.
    RankAprAboveLowest { apr: Percent, above: Percent },
    /// First reason of the first offer under HIGHEST_APPROVAL.
    RankHighestApprovalFirst { odds: Percent },
    /// First reason of the other offers under HIGHEST_APPROVAL.
    RankHighestApproval { odds: Percent, apr: Percent },
    /// The ranked set has this one offer.
    RankOnlyOffer,
    /// The offer has the lowest APR of the set.
    RankLowestApr,
    /// The offer has the lowest APR among those with odds at least `threshold`.
    RankLowestAprAmongLikely { threshold: Percent },
    /// The offer has the highest odds of the set.
    RankHighestOdds,
    /// Another offer has both a lower APR and higher odds.
    RankDominatedBy { name: &'a str, adapter: &'a str },
    /// Repayments exceed the affordability warning (`limit` of income);
    /// under BALANCED, with the penalty added to the offer's cost.
    RankStretching {
        limit: Percent,
        penalty: Option<Percent>,
    },
    /// The partner understated the APR: ranked on the computed one.
    RankAprUnderstated { apr: Percent, stated: Percent },

    // --- Plan summary (`ApplicationPlan::summary`, `plan`) ---
    /// No offer to plan over.
    PlanEmpty,
    /// The plan is one offer: its chance of approval and APR.
    PlanSingle {
        name: &'a str,
        adapter: &'a str,
        chance: Percent,
        apr: Percent,
    },
    /// The plan is the first offer and `more` after it: the chance of at
    /// least one approval and the expected APR.
    PlanSequence {
        name: &'a str,
        adapter: &'a str,
        more: usize,
        chance: Percent,
        apr: Percent,
    },
}

impl<'a> Message<'a> {
    /// This message in `locale`, as `Display` (writes without allocating
    /// per argument).
    pub(crate) fn in_locale(&self, locale: Locale) -> Localized<'_, 'a> {
        Localized { msg: self, locale }
    }
}

/// A [`Message`] in a locale; see [`Message::in_locale`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Localized<'m, 'a> {
    msg: &'m Message<'a>,
    locale: Locale,
}

impl fmt::Display for Localized<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (catalog(self.locale).write)(self.msg, f)
    }
}

/// Writes `items` separated by `separator`.
fn write_list(f: &mut fmt::Formatter<'_>, items: &[&str], separator: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        f.write_str(item)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn cny(minor: i64) -> Money {
        Money::new(Currency::parse("CNY").expect("valid code"), minor)
    }

    /// Each variant's number. Exhaustive: a new variant does not compile
    /// until it is listed here, and then `every_variant_has_a_sample` fails
    /// until [`samples`] renders it.
    fn index(msg: &Message<'_>) -> usize {
        match msg {
            Message::FactorLineReduced { .. } => 0,
            Message::FactorCreditScore => 1,
            Message::FactorDebtToIncome { .. } => 2,
            Message::FactorWithheld(_) => 3,
            Message::FactorApplicationVelocity => 4,
            Message::FactorInsufficientHistory => 5,
            Message::FactorPolicyRestriction => 6,
            Message::FactorSystemError => 7,
            Message::SuggestLowerAmount { .. } => 8,
            Message::SuggestLongerTerm { .. } => 9,
            Message::SuggestCollateral { .. } => 10,
            Message::SuggestInstallment { .. } => 11,
            Message::SuggestSharing { .. } => 12,
            Message::SuggestWait { .. } => 13,
            Message::SuggestRetryLater => 14,
            Message::SuggestAppeal { .. } => 15,
            Message::RankBalancedFirst { .. } => 16,
            Message::RankBalanced { .. } => 17,
            Message::RankLowestCostFirst { .. } => 18,
            Message::RankAprEqualsLowest { .. } => 19,
            Message::RankAprAboveLowest { .. } => 20,
            Message::RankHighestApprovalFirst { .. } => 21,
            Message::RankHighestApproval { .. } => 22,
            Message::RankOnlyOffer => 23,
            Message::RankLowestApr => 24,
            Message::RankLowestAprAmongLikely { .. } => 25,
            Message::RankHighestOdds => 26,
            Message::RankDominatedBy { .. } => 27,
            Message::RankStretching { .. } => 28,
            Message::RankAprUnderstated { .. } => 29,
            Message::PlanEmpty => 30,
            Message::PlanSingle { .. } => 31,
            Message::PlanSequence { .. } => 32,
            Message::FactorPartnerDecline { .. } => 33,
            Message::SuggestProvideData { .. } => 34,
            Message::SuggestCounterOffer { .. } => 35,
        }
    }

    const VARIANTS: usize = 36;

    /// Every variant (optional parts both present and absent), with the
    /// arguments each rendering must show. Numbers are chosen so that none
    /// is part of another.
    fn samples() -> Vec<(Message<'static>, Vec<&'static str>)> {
        let line = LineNumbers {
            drawable: cny(200_000),
            line: cny(2_000_000),
        };
        let withheld = Withheld {
            count: 3,
            limit: Percent::odds(0.7),
        };
        let effect = Effect {
            threshold: Percent::odds(0.8),
            offers: 4,
            unlocked: Some(2),
        };
        let rate = Percent::rate_bps;
        vec![
            (
                Message::FactorLineReduced { line: Some(line) },
                vec!["2 000 CNY", "20 000 CNY"],
            ),
            (Message::FactorLineReduced { line: None }, vec![]),
            (Message::FactorCreditScore, vec![]),
            (
                Message::FactorDebtToIncome {
                    withheld: Some(withheld),
                },
                vec!["3", "70"],
            ),
            (Message::FactorDebtToIncome { withheld: None }, vec![]),
            (Message::FactorWithheld(withheld), vec!["3", "70"]),
            (
                Message::FactorWithheld(Withheld {
                    count: 1,
                    limit: Percent::odds(0.65),
                }),
                vec!["1", "65"],
            ),
            (Message::FactorApplicationVelocity, vec![]),
            (Message::FactorInsufficientHistory, vec![]),
            (Message::FactorPolicyRestriction, vec![]),
            (Message::FactorSystemError, vec![]),
            (
                Message::SuggestLowerAmount {
                    amount: cny(700_000),
                    effect,
                },
                vec!["7 000 CNY", "4", "80", "2"],
            ),
            (
                Message::SuggestLowerAmount {
                    amount: cny(650_050),
                    effect: Effect {
                        threshold: Percent::odds(0.5),
                        offers: 1,
                        unlocked: None,
                    },
                },
                vec!["6 500.50 CNY", "1", "50"],
            ),
            (
                Message::SuggestLongerTerm {
                    term_months: 18,
                    effect,
                },
                vec!["18", "4", "80", "2"],
            ),
            (
                Message::SuggestCollateral {
                    name: "Car Loan",
                    adapter: "bank-s",
                    apr: rate(800),
                    odds: Percent::odds(0.9),
                    saving: Some(rate(425)),
                },
                vec!["Car Loan", "bank-s", "8.00", "90", "4.25"],
            ),
            (
                Message::SuggestCollateral {
                    name: "Car Loan",
                    adapter: "bank-s",
                    apr: rate(800),
                    odds: Percent::odds(0.9),
                    saving: None,
                },
                vec!["Car Loan", "bank-s", "8.00", "90"],
            ),
            (
                Message::SuggestInstallment {
                    name: "Phone Plan",
                    adapter: "inst",
                    payments: 6,
                    first_payment: cny(52_250),
                    apr: rate(1527),
                },
                vec!["Phone Plan", "inst", "6", "522.50 CNY", "15.27"],
            ),
            (
                Message::SuggestSharing {
                    adapters: &["bank-c"],
                },
                vec!["1", "bank-c"],
            ),
            (
                Message::SuggestSharing {
                    adapters: &["bank-c", "bank-d"],
                },
                vec!["2", "bank-c", "bank-d"],
            ),
            (
                Message::SuggestWait {
                    inquiry_cost: rate(150),
                },
                vec!["1.50"],
            ),
            (Message::SuggestRetryLater, vec![]),
            (
                Message::SuggestAppeal { line: Some(line) },
                vec!["2 000 CNY", "20 000 CNY"],
            ),
            (Message::SuggestAppeal { line: None }, vec![]),
            (
                Message::FactorPartnerDecline {
                    reason: DeclineReason::CreditScore,
                    adapters: &["bank-c", "bank-d"],
                },
                vec!["2", "bank-c", "bank-d"],
            ),
            (
                Message::FactorPartnerDecline {
                    reason: DeclineReason::Capacity,
                    adapters: &["bank-c"],
                },
                vec!["1", "bank-c"],
            ),
            (
                Message::SuggestProvideData {
                    needs: &[Need::ProofOfIncome, Need::Field(ApplicantField::Employment)],
                    adapters: &["bank-c", "bank-d"],
                    apr_from: Some(rate(1120)),
                },
                vec!["2", "bank-c", "bank-d", "11.20"],
            ),
            (
                Message::SuggestProvideData {
                    needs: &[Need::Field(ApplicantField::MonthlyIncome)],
                    adapters: &["bank-c"],
                    apr_from: None,
                },
                vec!["1", "bank-c"],
            ),
            (
                Message::SuggestCounterOffer {
                    adapter: "bank-a",
                    amount: cny(800_000),
                    term_months: 18,
                    asked: Asked {
                        amount: cny(1_000_000),
                        min_term: 12,
                        max_term: 12,
                    },
                    rate_changed: false,
                },
                vec!["bank-a", "8 000 CNY", "18", "10 000 CNY", "12"],
            ),
            (
                Message::SuggestCounterOffer {
                    adapter: "bank-a",
                    amount: cny(800_000),
                    term_months: 24,
                    asked: Asked {
                        amount: cny(1_000_000),
                        min_term: 6,
                        max_term: 12,
                    },
                    rate_changed: true,
                },
                vec!["bank-a", "8 000 CNY", "24", "10 000 CNY", "6", "12"],
            ),
            (
                Message::RankBalancedFirst {
                    apr: rate(1000),
                    odds: Percent::odds(0.5),
                    cost: rate(1300),
                },
                vec!["10.00", "50", "13.00"],
            ),
            (
                Message::RankBalanced {
                    cost: Percent::rate(1357.89),
                    apr: rate(1200),
                    refusal_cost: Percent::rate(157.89),
                    odds: Percent::odds(0.95),
                },
                vec!["13.58", "12.00", "1.58", "95"],
            ),
            (
                Message::RankLowestCostFirst { apr: rate(1000) },
                vec!["10.00"],
            ),
            (
                Message::RankAprEqualsLowest {
                    apr: rate(1000),
                    odds: Percent::odds(0.5),
                },
                vec!["10.00", "50"],
            ),
            (
                Message::RankAprAboveLowest {
                    apr: rate(1200),
                    above: rate(200),
                },
                vec!["12.00", "2.00"],
            ),
            (
                Message::RankHighestApprovalFirst {
                    odds: Percent::odds(0.95),
                },
                vec!["95"],
            ),
            (
                Message::RankHighestApproval {
                    odds: Percent::odds(0.5),
                    apr: rate(1000),
                },
                vec!["50", "10.00"],
            ),
            (Message::RankOnlyOffer, vec![]),
            (Message::RankLowestApr, vec![]),
            (
                Message::RankLowestAprAmongLikely {
                    threshold: Percent::odds(0.8),
                },
                vec!["80"],
            ),
            (Message::RankHighestOdds, vec![]),
            (
                Message::RankDominatedBy {
                    name: "Loan a",
                    adapter: "ad-a",
                },
                vec!["Loan a", "ad-a"],
            ),
            (
                Message::RankStretching {
                    limit: Percent::odds(0.5),
                    penalty: Some(rate(200)),
                },
                vec!["50", "2.00"],
            ),
            (
                Message::RankStretching {
                    limit: Percent::odds(0.5),
                    penalty: None,
                },
                vec!["50"],
            ),
            (
                Message::RankAprUnderstated {
                    apr: rate(1500),
                    stated: rate(720),
                },
                vec!["15.00", "7.20"],
            ),
            (Message::PlanEmpty, vec![]),
            (
                Message::PlanSingle {
                    name: "Loan a",
                    adapter: "ad-a",
                    chance: Percent::odds(0.99),
                    apr: rate(1000),
                },
                vec!["Loan a", "ad-a", "99", "10.00"],
            ),
            (
                Message::PlanSequence {
                    name: "Loan a",
                    adapter: "ad-a",
                    more: 1,
                    chance: Percent::odds(0.98),
                    apr: rate(1097),
                },
                vec!["Loan a", "ad-a", "98", "10.97"],
            ),
            (
                Message::PlanSequence {
                    name: "Loan a",
                    adapter: "ad-a",
                    more: 2,
                    chance: Percent::odds(0.88),
                    apr: rate(1033),
                },
                vec!["Loan a", "ad-a", "2", "88", "10.33"],
            ),
        ]
    }

    /// CJK ideographs, CJK punctuation (，。、（）are full-width forms).
    fn is_cjk(c: char) -> bool {
        matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}')
    }

    #[test]
    fn every_variant_has_a_sample() {
        let mut seen = [false; VARIANTS];
        for (msg, _) in samples() {
            seen[index(&msg)] = true;
        }
        let missing: Vec<usize> = (0..VARIANTS).filter(|&i| !seen[i]).collect();
        assert!(missing.is_empty(), "variants without a sample: {missing:?}");
    }

    #[test]
    fn every_message_renders_in_every_locale() {
        for (msg, args) in samples() {
            let en = render(&msg, Locale::En);
            let zh = render(&msg, Locale::ZhCn);
            assert!(!en.is_empty() && !zh.is_empty(), "{msg:?}");
            assert_ne!(en, zh, "{msg:?}");
            assert!(!en.chars().any(is_cjk), "{msg:?} in English: {en}");
            assert!(zh.chars().any(is_cjk), "{msg:?} in Chinese: {zh}");
            for arg in args {
                assert!(en.contains(arg), "{msg:?}: {arg:?} missing in {en}");
                assert!(zh.contains(arg), "{msg:?}: {arg:?} missing in {zh}");
            }
            // Each locale's percent sign: "13.03 %" against "13.03%".
            assert!(!zh.contains(" %"), "{zh}");
            assert_eq!(en.contains('%'), zh.contains('%'), "{en} / {zh}");
            assert_eq!(en.matches('%').count(), en.matches(" %").count(), "{en}");
        }
    }

    #[test]
    fn display_writes_what_render_returns() {
        for (msg, _) in samples() {
            for locale in [Locale::En, Locale::ZhCn] {
                assert_eq!(
                    format!("[{}]", msg.in_locale(locale)),
                    format!("[{}]", render(&msg, locale))
                );
            }
        }
    }

    /// GetKeyFacts tells the locale an answer was routed in by its plan
    /// summary's last character: keep every summary ending so.
    #[test]
    fn plan_summaries_end_with_the_locales_full_stop() {
        for (msg, _) in samples() {
            if (30..=32).contains(&index(&msg)) {
                assert!(render(&msg, Locale::En).ends_with('.'), "{msg:?}");
                assert!(render(&msg, Locale::ZhCn).ends_with('。'), "{msg:?}");
            }
        }
    }

    #[test]
    fn percent_signs_per_locale() {
        assert_eq!(percent_suffix(Locale::En), " %");
        assert_eq!(percent_suffix(Locale::ZhCn), "%");
    }
}

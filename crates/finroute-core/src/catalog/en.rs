//! English texts (`Locale::En`): every [`Message`] in one exhaustive `match`.
//!
//! Conventions: a space before the percent sign ("13.03 %"); factors are
//! sentences (capital, full stop), suggestions and rank reasons are clauses
//! (lower case, no full stop); plurals by count.

use std::fmt::{self, Formatter};

use super::{
    Amount, Asked, Catalog, Effect, Fact, LineNumbers, Message, Need, Utc, Withheld, write_list,
};
use crate::answer::DeclineReason;
use crate::disclosure::{ChargeKind, CostLine, PartyRole, Promotion};
use crate::domain::ApplicantField;
use crate::domain::RepaymentMethod;
use crate::wording::{Percent, ShownPercent};

pub(super) static CATALOG: Catalog = Catalog {
    percent_suffix: PERCENT,
    write,
    write_fact,
};

const PERCENT: &str = " %";

fn p(x: Percent) -> ShownPercent {
    x.with_suffix(PERCENT)
}

fn write(msg: &Message<'_>, f: &mut Formatter<'_>) -> fmt::Result {
    match *msg {
        // --- Refusal factors ---
        Message::FactorLineReduced { line } => {
            f.write_str(
                "Your credit line was lowered in a periodic review, so this draw is above what you can draw now",
            )?;
            line_numbers(f, line)?;
            f.write_str(".")
        }
        Message::FactorCreditScore => f.write_str(
            "Your credit score is below what the primary line requires for this amount.",
        ),
        Message::FactorDebtToIncome { withheld } => {
            f.write_str("Your existing repayments are high compared with your income.")?;
            match withheld {
                Some(w) => {
                    f.write_str(" ")?;
                    withheld_sentence(f, w)
                }
                None => Ok(()),
            }
        }
        Message::FactorWithheld(w) => withheld_sentence(f, w),
        Message::FactorApplicationVelocity => {
            f.write_str("You applied for credit several times in a short period.")
        }
        Message::FactorInsufficientHistory => {
            f.write_str("There is not yet enough repayment history on your account.")
        }
        Message::FactorPolicyRestriction => f.write_str(
            "A lending policy restricts this draw (for example its purpose or your region).",
        ),
        Message::FactorSystemError => f.write_str(
            "The primary line could not decide because of a system error; this says nothing about you.",
        ),
        Message::FactorPartnerDecline { reason, adapters } => {
            partners(f, adapters)?;
            f.write_str(" declined: ")?;
            f.write_str(match reason {
                DeclineReason::CreditScore => "the credit score is below their threshold.",
                DeclineReason::DebtToIncome => {
                    "your existing repayments are too high for them compared with your income."
                }
                DeclineReason::IncomeUnverified => "they could not verify your income.",
                DeclineReason::MissingData => "they need data you have not shared.",
                DeclineReason::OutsidePolicyAmount => "the amount is outside their lending policy.",
                DeclineReason::OutsidePolicyTerm => "the term is outside their lending policy.",
                DeclineReason::OutsidePolicyRegion => "your region is outside where they lend.",
                DeclineReason::OutsidePolicyPurpose => {
                    "the loan's purpose is outside their lending policy."
                }
                DeclineReason::Capacity => {
                    "they cannot lend at the moment; this says nothing about you."
                }
                DeclineReason::Other => "for another reason.",
            })
        }

        // --- Suggestions ---
        Message::SuggestLowerAmount { amount, effect } => {
            write!(f, "lower the amount to {}", amount.display_major())?;
            effect_clause(f, effect)
        }
        Message::SuggestLongerTerm {
            term_months,
            effect,
        } => {
            write!(f, "choose a {term_months}-month term")?;
            effect_clause(f, effect)
        }
        Message::SuggestCollateral {
            name,
            adapter,
            apr,
            odds,
            saving,
        } => {
            let (apr, odds) = (p(apr), p(odds));
            write!(
                f,
                "pledge collateral for {name} ({adapter}): APR (12 × monthly IRR) {apr} at {odds} odds"
            )?;
            match saving {
                Some(diff) => write!(f, ", {} below the best unsecured offer", p(diff)),
                None => Ok(()),
            }
        }
        Message::SuggestInstallment {
            name,
            adapter,
            payments,
            first_payment,
            apr,
        } => write!(
            f,
            "for a short need, {name} ({adapter}): {payments} payments starting at {}, APR (12 × monthly IRR) {}",
            first_payment.display_major(),
            p(apr)
        ),
        Message::SuggestSharing { adapters } => {
            let k = adapters.len();
            let noun = if k == 1 {
                "institution"
            } else {
                "institutions"
            };
            write!(f, "allow sharing with {k} more partner {noun} (")?;
            write_list(f, adapters, ", ")?;
            f.write_str(") to receive their offers")
        }
        Message::SuggestWait { inquiry_cost } => write!(
            f,
            "wait before applying again: each application costs about {} of APR in hard inquiries and waiting",
            p(inquiry_cost)
        ),
        Message::SuggestRetryLater => {
            f.write_str("try again later: the primary line could not decide")
        }
        Message::SuggestAppeal { line } => {
            f.write_str("appeal the line reduction if your situation has not changed")?;
            line_numbers(f, line)
        }
        Message::SuggestProvideData {
            needs,
            adapters,
            apr_from,
        } => {
            partners(f, adapters)?;
            f.write_str(if adapters.len() == 1 { " needs " } else { " need " })?;
            for (i, need) in needs.iter().enumerate() {
                if i > 0 {
                    f.write_str(if i + 1 == needs.len() { " and " } else { ", " })?;
                }
                f.write_str(need_name(*need))?;
            }
            let it = if needs.len() == 1 { "it" } else { "them" };
            match apr_from {
                Some(apr) => write!(
                    f,
                    ": provide {it} to unlock offers from APR (12 × monthly IRR) {}",
                    p(apr)
                ),
                None => write!(f, ": provide {it} to receive their offers"),
            }
        }
        Message::SuggestCounterOffer {
            adapter,
            amount,
            term_months,
            asked,
            rate_changed,
        } => {
            write!(
                f,
                "{adapter} offers {} over {term_months} months instead of ",
                amount.display_major()
            )?;
            asked_terms(f, asked)?;
            if rate_changed {
                f.write_str(", at a higher rate than for the request as asked")?;
            }
            Ok(())
        }

        // --- Rank reasons ---
        Message::RankBalancedFirst { apr, odds, cost } => {
            let (apr, odds, cost) = (p(apr), p(odds), p(cost));
            write!(
                f,
                "best balance of cost and approval odds: APR (12 × monthly IRR) {apr} at {odds} odds, expected cost {cost}"
            )
        }
        Message::RankBalanced {
            cost,
            apr,
            refusal_cost,
            odds,
        } => {
            let (cost, apr, extra, odds) = (p(cost), p(apr), p(refusal_cost), p(odds));
            write!(
                f,
                "expected cost {cost}: APR (12 × monthly IRR) {apr} plus {extra} for the chance of a refusal at {odds} odds"
            )
        }
        Message::RankLowestCostFirst { apr } => write!(f, "lowest APR: {}", p(apr)),
        Message::RankAprEqualsLowest { apr, odds } => write!(
            f,
            "APR (12 × monthly IRR) {}, equal to the lowest; ranked by approval odds ({})",
            p(apr),
            p(odds)
        ),
        Message::RankAprAboveLowest { apr, above } => {
            write!(f, "APR (12 × monthly IRR) {}, {} above the lowest", p(apr), p(above))
        }
        Message::RankHighestApprovalFirst { odds } => {
            write!(f, "highest approval odds: {}", p(odds))
        }
        Message::RankHighestApproval { odds, apr } => {
            write!(f, "approval odds {}, APR (12 × monthly IRR) {}", p(odds), p(apr))
        }
        Message::RankOnlyOffer => f.write_str("the only offer"),
        Message::RankLowestApr => f.write_str("lowest APR of all offers"),
        Message::RankLowestAprAmongLikely { threshold } => {
            write!(f, "lowest APR among offers with >= {} odds", p(threshold))
        }
        Message::RankHighestOdds => f.write_str("highest approval odds of all offers"),
        Message::RankDominatedBy { name, adapter } => write!(
            f,
            "dominated by {name} ({adapter}): lower APR and higher odds"
        ),
        Message::RankStretching { limit, penalty } => {
            write!(
                f,
                "repayments would take over {} of income in a bad month",
                p(limit)
            )?;
            match penalty {
                Some(penalty) => write!(f, ": {} added to its cost", p(penalty)),
                None => Ok(()),
            }
        }
        Message::RankAprUnderstated { apr, stated } => write!(
            f,
            "ranked on the computed APR (12 × monthly IRR) {}, not the stated {}",
            p(apr),
            p(stated)
        ),

        // --- Plan summary ---
        Message::PlanEmpty => f.write_str("No offer to apply for."),
        Message::PlanSingle {
            name,
            adapter,
            chance,
            apr,
        } => write!(
            f,
            "Apply to {name} ({adapter}): {} chance of approval at APR (12 × monthly IRR) {}.",
            p(chance),
            p(apr)
        ),
        Message::PlanSequence {
            name,
            adapter,
            more,
            chance,
            apr,
        } => {
            write!(f, "Apply to {name} ({adapter}) first and, if refused, to the next ")?;
            if more == 1 {
                f.write_str("offer")?;
            } else {
                write!(f, "{more} in order")?;
            }
            write!(
                f,
                ": {} chance of at least one approval, expected APR (12 × monthly IRR) {}.",
                p(chance),
                p(apr)
            )
        }
    }
}

/// " (drawable now: 2 000 CNY of a 10 000 CNY line)", or nothing.
fn line_numbers(f: &mut Formatter<'_>, line: Option<LineNumbers>) -> fmt::Result {
    match line {
        Some(LineNumbers { drawable, line }) => write!(
            f,
            " (drawable now: {} of a {} line)",
            drawable.display_major(),
            line.display_major()
        ),
        None => Ok(()),
    }
}

/// ": 3 more offers above 80 % odds, including 1 withheld today as unaffordable".
fn effect_clause(f: &mut Formatter<'_>, effect: Effect) -> fmt::Result {
    let Effect {
        threshold,
        offers: n,
        unlocked,
    } = effect;
    let noun = if n == 1 { "offer" } else { "offers" };
    write!(f, ": {n} more {noun} above {} odds", p(threshold))?;
    match unlocked {
        Some(k) => write!(f, ", including {k} withheld today as unaffordable"),
        None => Ok(()),
    }
}

/// "1 offer was not shown because ...".
fn withheld_sentence(f: &mut Formatter<'_>, w: Withheld) -> fmt::Result {
    let Withheld { count, limit } = w;
    let subject = if count == 1 {
        "offer was"
    } else {
        "offers were"
    };
    write!(
        f,
        "{count} {subject} not shown because the repayments, with your existing debts, would take more than {} of your income in a bad month.",
        p(limit)
    )
}

// --- Disclosure texts (rate labels, cost lines, key facts) ---

fn write_fact(fact: &Fact<'_>, f: &mut Formatter<'_>) -> fmt::Result {
    match *fact {
        Fact::AprLabel { apr_bps } => write!(f, "APR (12 × monthly IRR) {}", bp(apr_bps)),
        Fact::EarLabel { ear_bps } => write!(f, "effective annual rate {}", bp(ear_bps)),
        Fact::CostLine(line) => cost_line(f, line),
        Fact::Title { offer_id } => write!(f, "Key facts of offer {offer_id}"),
        Fact::Product { name } => write!(f, "Product: {name}"),
        Fact::Party {
            role,
            legal_name,
            registration_id,
            contact,
        } => {
            write!(f, "{}: {legal_name}", capitalised_role(role))?;
            match (registration_id.is_empty(), contact.is_empty()) {
                (true, true) => Ok(()),
                (false, true) => write!(f, " (registration {registration_id})"),
                (true, false) => write!(f, " (contact {contact})"),
                (false, false) => {
                    write!(f, " (registration {registration_id}; contact {contact})")
                }
            }
        }
        Fact::NoLender => f.write_str("Lender: not named by the channel"),
        Fact::Principal(m) => write!(f, "Amount lent: {}", Amount(m)),
        Fact::Disbursed(m) => write!(f, "You receive: {}", Amount(m)),
        Fact::Term { months } => {
            let unit = if months == 1 { "month" } else { "months" };
            write!(f, "Term: {months} {unit}")
        }
        Fact::Method(m) => write!(f, "Repayment: {}", method(m)),
        Fact::Payments { count, first, last } => {
            let noun = if count == 1 { "payment" } else { "payments" };
            write!(
                f,
                "Payments: {count} {noun}, the first {}, the last {}",
                Amount(first),
                Amount(last)
            )
        }
        Fact::TotalRepaid(m) => write!(f, "Total repaid: {}", Amount(m)),
        Fact::Cost { line } => {
            f.write_str("Cost: ")?;
            cost_line(f, line)?;
            write!(f, ", {} in all", Amount(line.total))
        }
        Fact::TotalCost(m) => write!(f, "Total cost: {}", Amount(m)),
        Fact::Promotion(p) => promotion(f, p),
        Fact::PromotionEnds { at } => write!(f, "Promotion ends: {}", time(at)),
        Fact::PostPromotionRate { rate_bps } => {
            write!(f, "Annual rate after the promotion: {}", bp(rate_bps))
        }
        Fact::ValidUntil { at } => write!(f, "Valid until: {}", time(at)),
        Fact::Complaints { lender, platform } => {
            f.write_str("To complain, contact ")?;
            match (lender, platform) {
                (None, None) => f.write_str("the lender or the platform where you applied")?,
                (Some(l), None) => named(f, "the lender", l)?,
                (None, Some(p)) => named(f, "the platform", p)?,
                (Some(l), Some(p)) => {
                    named(f, "the lender", l)?;
                    f.write_str(" or ")?;
                    named(f, "the platform", p)?;
                }
            }
            f.write_str(". To contest a refusal, you can appeal with FileAppeal.")
        }
        Fact::Disclosure { text } => write!(f, "Disclosure: {text}"),
    }
}

fn bp(bps: i32) -> ShownPercent {
    p(Percent::rate_bps(bps))
}

/// "the lender Example Bank (95555)".
fn named(f: &mut Formatter<'_>, who: &str, (name, contact): (&str, &str)) -> fmt::Result {
    write!(f, "{who} {name}")?;
    if !contact.is_empty() {
        write!(f, " ({contact})")?;
    }
    Ok(())
}

/// "2026-12-13 09:00 UTC".
fn time(at: i64) -> impl fmt::Display {
    let t = Utc::from_millis(at);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

fn capitalised_role(role: PartyRole) -> &'static str {
    match role {
        PartyRole::Lender => "Lender",
        PartyRole::Platform => "Platform",
        PartyRole::Guarantor => "Guarantor",
        PartyRole::Insurer => "Insurer",
        PartyRole::Other => "Also paid",
    }
}

fn method(m: RepaymentMethod) -> &'static str {
    match m {
        RepaymentMethod::EqualInstallment => "equal monthly payments (annuity)",
        RepaymentMethod::EqualPrincipal => {
            "equal principal each month plus interest on the balance"
        }
        RepaymentMethod::InterestOnlyBalloon => {
            "interest each month, the principal with the last payment"
        }
        RepaymentMethod::FlatFeeInstallment => {
            "installments with a flat monthly fee on the amount financed"
        }
    }
}

fn charge(kind: ChargeKind) -> &'static str {
    match kind {
        ChargeKind::Interest => "interest",
        ChargeKind::ServiceFee => "service fee",
        ChargeKind::GuaranteeFee => "guarantee fee",
        ChargeKind::InsurancePremium => "insurance premium",
        ChargeKind::Membership => "membership package",
        ChargeKind::ArrangementFee => "arrangement fee",
        ChargeKind::Other => "other charge",
    }
}

/// "interest 13.00 %", "guarantee fee (Example Guarantee Co.) +16.53 %",
/// "membership package (X) +2.00 % if taken (optional)".
fn cost_line(f: &mut Formatter<'_>, line: &CostLine) -> fmt::Result {
    f.write_str(charge(line.kind))?;
    if line.kind == ChargeKind::Interest {
        return write!(f, " {}", bp(line.apr_share_bps));
    }
    if !line.payee_name.is_empty() {
        write!(f, " ({})", line.payee_name)?;
    }
    write!(f, " +{}", bp(line.apr_share_bps))?;
    if line.declinable {
        f.write_str(" if taken (optional)")?;
    }
    Ok(())
}

/// "Promotion: no interest for 30 days; 9.00 % for the first 3 periods;
/// service fee waived for the first 3 periods; <description>".
fn promotion(f: &mut Formatter<'_>, pr: &Promotion) -> fmt::Result {
    f.write_str("Promotion: ")?;
    let mut sep = "";
    if pr.interest_free_days > 0 {
        write!(f, "no interest for {} days", pr.interest_free_days)?;
        sep = "; ";
    }
    if pr.interest_free_periods > 0 {
        write!(
            f,
            "{sep}no interest for the first {} periods",
            pr.interest_free_periods
        )?;
        sep = "; ";
    }
    if pr.discounted_periods > 0 {
        write!(
            f,
            "{sep}{} a year for the first {} periods",
            bp(pr.discounted_rate_bps),
            pr.discounted_periods
        )?;
        sep = "; ";
    }
    if !pr.waived_charges.is_empty() {
        f.write_str(sep)?;
        let names: Vec<&str> = pr.waived_charges.iter().map(|k| charge(*k)).collect();
        write_list(f, &names, ", ")?;
        if pr.waiver_periods == 0 {
            f.write_str(" waived for the whole loan")?;
        } else {
            write!(f, " waived for the first {} periods", pr.waiver_periods)?;
        }
        sep = "; ";
    }
    if !pr.description.is_empty() {
        write!(f, "{sep}{}", pr.description)?;
    }
    Ok(())
}

/// "2 partners (bank-a, bank-b)" / "1 partner (bank-a)".
fn partners(f: &mut Formatter<'_>, adapters: &[&str]) -> fmt::Result {
    let k = adapters.len();
    let noun = if k == 1 { "partner" } else { "partners" };
    write!(f, "{k} {noun} (")?;
    write_list(f, adapters, ", ")?;
    f.write_str(")")
}

/// What a partner asked for, in words.
fn need_name(need: Need) -> &'static str {
    match need {
        Need::ProofOfIncome => "proof of income",
        Need::Data => "data you have not shared",
        Need::Field(field) => match field {
            ApplicantField::Region => "your region",
            ApplicantField::CreditScore => "your credit score",
            ApplicantField::MonthlyIncome => "your monthly income",
            ApplicantField::IncomeVolatility => "how regular your income is",
            ApplicantField::MonthlyDebtPayments => "your monthly debt payments",
            ApplicantField::Employment => "your employment",
            ApplicantField::Collateral => "your collateral",
        },
    }
}

/// "10 000 CNY over 12 months" / "10 000 CNY over 6–12 months".
fn asked_terms(f: &mut Formatter<'_>, asked: Asked) -> fmt::Result {
    write!(f, "{} over ", asked.amount.display_major())?;
    if asked.min_term == asked.max_term {
        write!(f, "{} months", asked.max_term)
    } else {
        write!(f, "{}–{} months", asked.min_term, asked.max_term)
    }
}

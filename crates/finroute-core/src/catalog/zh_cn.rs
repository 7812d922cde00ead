//! 简体中文文案（`Locale::ZhCn`）: every [`Message`] in one exhaustive `match`.
//!
//! Conventions: no space before the percent sign ("13.03%"), a space
//! between Chinese and Latin text or numbers ("年化利率 13.03%"), full-width
//! punctuation (，：（）。), `、` between list items; no plural forms.

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

const PERCENT: &str = "%";

fn p(x: Percent) -> ShownPercent {
    x.with_suffix(PERCENT)
}

fn write(msg: &Message<'_>, f: &mut Formatter<'_>) -> fmt::Result {
    match *msg {
        // --- 拒绝原因 ---
        Message::FactorLineReduced { line } => {
            f.write_str("您的额度在定期评估中被下调，本次支用超出了当前可用额度")?;
            line_numbers(f, line)?;
            f.write_str("。")
        }
        Message::FactorCreditScore => f.write_str("您的信用评分低于主额度对该金额的要求。"),
        Message::FactorDebtToIncome { withheld } => {
            f.write_str("您现有的月还款额相对收入偏高。")?;
            match withheld {
                Some(w) => withheld_sentence(f, w),
                None => Ok(()),
            }
        }
        Message::FactorWithheld(w) => withheld_sentence(f, w),
        Message::FactorApplicationVelocity => f.write_str("您近期在短时间内多次申请信贷。"),
        Message::FactorInsufficientHistory => f.write_str("您的账户还款记录尚不足。"),
        Message::FactorPolicyRestriction => {
            f.write_str("贷款政策限制了本次支用（例如用途或地区）。")
        }
        Message::FactorSystemError => {
            f.write_str("主额度因系统错误未能作出决定，这与您的资质无关。")
        }
        Message::FactorPartnerDecline { reason, adapters } => {
            partners(f, adapters)?;
            f.write_str("未提供报价：")?;
            f.write_str(match reason {
                DeclineReason::CreditScore => "信用评分低于其要求。",
                DeclineReason::DebtToIncome => "您现有的月还款额相对收入超出其标准。",
                DeclineReason::IncomeUnverified => "其无法核实您的收入。",
                DeclineReason::MissingData => "其需要您尚未共享的信息。",
                DeclineReason::OutsidePolicyAmount => "申请金额超出其贷款政策。",
                DeclineReason::OutsidePolicyTerm => "申请期限超出其贷款政策。",
                DeclineReason::OutsidePolicyRegion => "您所在地区不在其放贷范围内。",
                DeclineReason::OutsidePolicyPurpose => "贷款用途超出其贷款政策。",
                DeclineReason::Capacity => "其暂时无法放款，这与您的资质无关。",
                DeclineReason::Other => "其他原因。",
            })
        }

        // --- 建议 ---
        Message::SuggestLowerAmount { amount, effect } => {
            write!(f, "将金额降至 {}", amount.display_major())?;
            effect_clause(f, effect)
        }
        Message::SuggestLongerTerm {
            term_months,
            effect,
        } => {
            write!(f, "选择 {term_months} 个月期限")?;
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
                "抵押资产申请 {name}（{adapter}）：年化利率（单利）{apr}，获批概率 {odds}"
            )?;
            match saving {
                Some(diff) => write!(f, "，比最优无抵押报价低 {}", p(diff)),
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
            "短期资金需求可选 {name}（{adapter}）：分 {payments} 期，首期 {}，年化利率（单利）{}",
            first_payment.display_major(),
            p(apr)
        ),
        Message::SuggestSharing { adapters } => {
            write!(f, "同意向另外 {} 家合作机构（", adapters.len())?;
            write_list(f, adapters, "、")?;
            f.write_str("）共享信息，即可获得其报价")
        }
        Message::SuggestWait { inquiry_cost } => write!(
            f,
            "暂缓再次申请：每次申请（征信查询与等待）约折合 {} 的年化利率成本",
            p(inquiry_cost)
        ),
        Message::SuggestRetryLater => f.write_str("稍后重试：主额度暂时未能作出决定"),
        Message::SuggestAppeal { line } => {
            f.write_str("如情况未变，可对额度下调提出申诉")?;
            line_numbers(f, line)
        }
        Message::SuggestProvideData {
            needs,
            adapters,
            apr_from,
        } => {
            partners(f, adapters)?;
            f.write_str("需要您提供")?;
            for (i, need) in needs.iter().enumerate() {
                if i > 0 {
                    f.write_str("、")?;
                }
                f.write_str(need_name(*need))?;
            }
            match apr_from {
                Some(apr) => write!(f, "：补充后可获得其报价，年化利率（单利）{} 起", p(apr)),
                None => f.write_str("：补充后可获得其报价"),
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
                "{adapter} 可提供 {}、期限 {term_months} 个月（原申请 {}、",
                amount.display_major(),
                asked.amount.display_major()
            )?;
            asked_terms(f, asked)?;
            f.write_str("）")?;
            if rate_changed {
                f.write_str("，利率高于按原申请条件的利率")?;
            }
            Ok(())
        }

        // --- 排名理由 ---
        Message::RankBalancedFirst { apr, odds, cost } => {
            let (apr, odds, cost) = (p(apr), p(odds), p(cost));
            write!(
                f,
                "成本与获批概率的最佳平衡：年化利率（单利）{apr}，获批概率 {odds}，预期成本 {cost}"
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
                "预期成本 {cost}：年化利率（单利）{apr}，加上获批概率 {odds} 下被拒风险折合 {extra}"
            )
        }
        Message::RankLowestCostFirst { apr } => write!(f, "年化利率最低：{}", p(apr)),
        Message::RankAprEqualsLowest { apr, odds } => write!(
            f,
            "年化利率（单利）{}，与最低持平；按获批概率（{}）排序",
            p(apr),
            p(odds)
        ),
        Message::RankAprAboveLowest { apr, above } => {
            write!(f, "年化利率（单利）{}，比最低高 {}", p(apr), p(above))
        }
        Message::RankHighestApprovalFirst { odds } => write!(f, "获批概率最高：{}", p(odds)),
        Message::RankHighestApproval { odds, apr } => {
            write!(f, "获批概率 {}，年化利率（单利）{}", p(odds), p(apr))
        }
        Message::RankOnlyOffer => f.write_str("唯一的报价"),
        Message::RankLowestApr => f.write_str("所有报价中年化利率最低"),
        Message::RankLowestAprAmongLikely { threshold } => {
            write!(f, "获批概率不低于 {} 的报价中年化利率最低", p(threshold))
        }
        Message::RankHighestOdds => f.write_str("所有报价中获批概率最高"),
        Message::RankDominatedBy { name, adapter } => write!(
            f,
            "劣于 {name}（{adapter}）：对方年化利率更低、获批概率更高"
        ),
        Message::RankStretching { limit, penalty } => {
            write!(f, "月供将超过收入欠佳月份的 {}", p(limit))?;
            match penalty {
                Some(penalty) => write!(f, "：成本加计 {}", p(penalty)),
                None => Ok(()),
            }
        }
        Message::RankAprUnderstated { apr, stated } => write!(
            f,
            "按实际计算的年化利率（单利）{} 排名，而非宣称的 {}",
            p(apr),
            p(stated)
        ),

        // --- 申请计划 ---
        Message::PlanEmpty => f.write_str("暂无可申请的报价。"),
        Message::PlanSingle {
            name,
            adapter,
            chance,
            apr,
        } => write!(
            f,
            "申请 {name}（{adapter}）：获批概率 {}，年化利率（单利）{}。",
            p(chance),
            p(apr)
        ),
        Message::PlanSequence {
            name,
            adapter,
            more,
            chance,
            apr,
        } => write!(
            f,
            "先申请 {name}（{adapter}），如被拒再依次申请其后 {more} 个：\
             至少一个获批的概率 {}，预期年化利率（单利）{}。",
            p(chance),
            p(apr)
        ),
    }
}

/// "（当前可用 2 000 CNY，额度 10 000 CNY）", or nothing.
fn line_numbers(f: &mut Formatter<'_>, line: Option<LineNumbers>) -> fmt::Result {
    match line {
        Some(LineNumbers { drawable, line }) => write!(
            f,
            "（当前可用 {}，额度 {}）",
            drawable.display_major(),
            line.display_major()
        ),
        None => Ok(()),
    }
}

/// "：获批概率 80% 以上的报价多 3 个，其中 1 个目前因超出负担能力未予展示".
fn effect_clause(f: &mut Formatter<'_>, effect: Effect) -> fmt::Result {
    let Effect {
        threshold,
        offers,
        unlocked,
    } = effect;
    write!(f, "：获批概率 {} 以上的报价多 {offers} 个", p(threshold))?;
    match unlocked {
        Some(k) => write!(f, "，其中 {k} 个目前因超出负担能力未予展示"),
        None => Ok(()),
    }
}

/// "有 1 个报价未予展示：……".
fn withheld_sentence(f: &mut Formatter<'_>, w: Withheld) -> fmt::Result {
    let Withheld { count, limit } = w;
    write!(
        f,
        "有 {count} 个报价未予展示：加上现有债务，其月供将超过收入欠佳月份的 {}。",
        p(limit)
    )
}

// --- 信息披露（利率标注、费用明细、关键信息） ---

fn write_fact(fact: &Fact<'_>, f: &mut Formatter<'_>) -> fmt::Result {
    match *fact {
        Fact::AprLabel { apr_bps } => write!(f, "年化利率（单利）{}", bp(apr_bps)),
        Fact::EarLabel { ear_bps } => write!(f, "年化利率（复利，IRR）{}", bp(ear_bps)),
        Fact::CostLine(line) => cost_line(f, line),
        Fact::Title { offer_id } => write!(f, "报价 {offer_id} 关键信息"),
        Fact::Product { name } => write!(f, "产品：{name}"),
        Fact::Party {
            role,
            legal_name,
            registration_id,
            contact,
        } => {
            write!(f, "{}：{legal_name}", role_name(role))?;
            match (registration_id.is_empty(), contact.is_empty()) {
                (true, true) => Ok(()),
                (false, true) => write!(f, "（登记编号 {registration_id}）"),
                (true, false) => write!(f, "（联系方式 {contact}）"),
                (false, false) => {
                    write!(f, "（登记编号 {registration_id}；联系方式 {contact}）")
                }
            }
        }
        Fact::NoLender => f.write_str("贷款机构：渠道未披露"),
        Fact::Principal(m) => write!(f, "借款金额：{}", Amount(m)),
        Fact::Disbursed(m) => write!(f, "实际到账：{}", Amount(m)),
        Fact::Term { months } => write!(f, "期限：{months} 个月"),
        Fact::Method(m) => write!(f, "还款方式：{}", method(m)),
        Fact::Payments { count, first, last } => write!(
            f,
            "还款期数：{count} 期，首期 {}，末期 {}",
            Amount(first),
            Amount(last)
        ),
        Fact::TotalRepaid(m) => write!(f, "还款总额：{}", Amount(m)),
        Fact::Cost { line } => {
            f.write_str("费用：")?;
            cost_line(f, line)?;
            write!(f, "，合计 {}", Amount(line.total))
        }
        Fact::TotalCost(m) => write!(f, "借款总成本：{}", Amount(m)),
        Fact::Promotion(p) => promotion(f, p),
        Fact::PromotionEnds { at } => write!(f, "优惠截止：{}", time(at)),
        Fact::PostPromotionRate { rate_bps } => {
            write!(f, "优惠结束后年化利率：{}", bp(rate_bps))
        }
        Fact::ValidUntil { at } => write!(f, "有效期至：{}", time(at)),
        Fact::Complaints { lender, platform } => {
            f.write_str("如需投诉，请联系")?;
            match (lender, platform) {
                (None, None) => f.write_str("贷款机构或您申请所在的平台")?,
                (Some(l), None) => named(f, "贷款机构", l)?,
                (None, Some(p)) => named(f, "平台", p)?,
                (Some(l), Some(p)) => {
                    named(f, "贷款机构", l)?;
                    f.write_str("或")?;
                    named(f, "平台", p)?;
                }
            }
            f.write_str("。对拒绝结果有异议的，可通过申诉渠道提出申诉。")
        }
        Fact::Disclosure { text } => write!(f, "提示：{text}"),
    }
}

fn bp(bps: i32) -> ShownPercent {
    p(Percent::rate_bps(bps))
}

/// "贷款机构 Example Bank（95555）".
fn named(f: &mut Formatter<'_>, who: &str, (name, contact): (&str, &str)) -> fmt::Result {
    write!(f, "{who} {name}")?;
    if !contact.is_empty() {
        write!(f, "（{contact}）")?;
    }
    Ok(())
}

/// "2026年12月13日 09:00（协调世界时）".
fn time(at: i64) -> impl fmt::Display {
    let t = Utc::from_millis(at);
    format!(
        "{}年{}月{}日 {:02}:{:02}（协调世界时）",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

fn role_name(role: PartyRole) -> &'static str {
    match role {
        PartyRole::Lender => "贷款机构",
        PartyRole::Platform => "平台运营方",
        PartyRole::Guarantor => "担保机构",
        PartyRole::Insurer => "保险机构",
        PartyRole::Other => "其他收费方",
    }
}

fn method(m: RepaymentMethod) -> &'static str {
    match m {
        RepaymentMethod::EqualInstallment => "等额本息",
        RepaymentMethod::EqualPrincipal => "等额本金",
        RepaymentMethod::InterestOnlyBalloon => "按月付息、到期还本",
        RepaymentMethod::FlatFeeInstallment => "分期（每期按借款金额收取固定手续费）",
    }
}

fn charge(kind: ChargeKind) -> &'static str {
    match kind {
        ChargeKind::Interest => "利息",
        ChargeKind::ServiceFee => "服务费",
        ChargeKind::GuaranteeFee => "担保费",
        ChargeKind::InsurancePremium => "保险费",
        ChargeKind::Membership => "会员权益费",
        ChargeKind::ArrangementFee => "手续费",
        ChargeKind::Other => "其他费用",
    }
}

/// "利息 13.00%"、"担保费（Example Guarantee Co.）+16.53%"、
/// "会员权益费（X）+2.00%（可选）".
fn cost_line(f: &mut Formatter<'_>, line: &CostLine) -> fmt::Result {
    f.write_str(charge(line.kind))?;
    if line.kind == ChargeKind::Interest {
        return write!(f, " {}", bp(line.apr_share_bps));
    }
    if !line.payee_name.is_empty() {
        write!(f, "（{}）", line.payee_name)?;
    }
    write!(f, "+{}", bp(line.apr_share_bps))?;
    if line.declinable {
        f.write_str("（可选）")?;
    }
    Ok(())
}

/// "优惠：免息 30 天；前 3 期年化利率 9.00%；前 3 期免收服务费；<说明>".
fn promotion(f: &mut Formatter<'_>, pr: &Promotion) -> fmt::Result {
    f.write_str("优惠：")?;
    let mut sep = "";
    if pr.interest_free_days > 0 {
        write!(f, "免息 {} 天", pr.interest_free_days)?;
        sep = "；";
    }
    if pr.interest_free_periods > 0 {
        write!(f, "{sep}前 {} 期免息", pr.interest_free_periods)?;
        sep = "；";
    }
    if pr.discounted_periods > 0 {
        write!(
            f,
            "{sep}前 {} 期年化利率 {}",
            pr.discounted_periods,
            bp(pr.discounted_rate_bps)
        )?;
        sep = "；";
    }
    if !pr.waived_charges.is_empty() {
        f.write_str(sep)?;
        if pr.waiver_periods == 0 {
            f.write_str("全程免收")?;
        } else {
            write!(f, "前 {} 期免收", pr.waiver_periods)?;
        }
        let names: Vec<&str> = pr.waived_charges.iter().map(|k| charge(*k)).collect();
        write_list(f, &names, "、")?;
        sep = "；";
    }
    if !pr.description.is_empty() {
        write!(f, "{sep}{}", pr.description)?;
    }
    Ok(())
}

/// "2 家合作机构（bank-a、bank-b）".
fn partners(f: &mut Formatter<'_>, adapters: &[&str]) -> fmt::Result {
    write!(f, "{} 家合作机构（", adapters.len())?;
    write_list(f, adapters, "、")?;
    f.write_str("）")
}

/// What a partner asked for, in words.
fn need_name(need: Need) -> &'static str {
    match need {
        Need::ProofOfIncome => "收入证明",
        Need::Data => "其所需的信息",
        Need::Field(field) => match field {
            ApplicantField::Region => "所在地区",
            ApplicantField::CreditScore => "信用评分",
            ApplicantField::MonthlyIncome => "月收入",
            ApplicantField::IncomeVolatility => "收入稳定情况",
            ApplicantField::MonthlyDebtPayments => "月还款额",
            ApplicantField::Employment => "就业情况",
            ApplicantField::Collateral => "抵押物信息",
        },
    }
}

/// "12 个月" / "6–12 个月".
fn asked_terms(f: &mut Formatter<'_>, asked: Asked) -> fmt::Result {
    if asked.min_term == asked.max_term {
        write!(f, "{} 个月", asked.max_term)
    } else {
        write!(f, "{}–{} 个月", asked.min_term, asked.max_term)
    }
}

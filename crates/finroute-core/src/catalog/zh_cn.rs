//! 简体中文文案（`Locale::ZhCn`）: every [`Message`] in one exhaustive `match`.
//!
//! Conventions: no space before the percent sign ("13.03%"), a space
//! between Chinese and Latin text or numbers ("年化利率 13.03%"), full-width
//! punctuation (，：（）。), `、` between list items; no plural forms.

use std::fmt::{self, Formatter};

use super::{Catalog, Effect, LineNumbers, Message, Withheld, write_list};
use crate::wording::{Percent, ShownPercent};

pub(super) static CATALOG: Catalog = Catalog {
    percent_suffix: PERCENT,
    write,
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
                "抵押资产申请 {name}（{adapter}）：年化利率 {apr}，获批概率 {odds}"
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
            "短期资金需求可选 {name}（{adapter}）：分 {payments} 期，首期 {}，年化利率 {}",
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

        // --- 排名理由 ---
        Message::RankBalancedFirst { apr, odds, cost } => {
            let (apr, odds, cost) = (p(apr), p(odds), p(cost));
            write!(
                f,
                "成本与获批概率的最佳平衡：年化利率 {apr}，获批概率 {odds}，预期成本 {cost}"
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
                "预期成本 {cost}：年化利率 {apr}，加上获批概率 {odds} 下被拒风险折合 {extra}"
            )
        }
        Message::RankLowestCostFirst { apr } => write!(f, "年化利率最低：{}", p(apr)),
        Message::RankAprEqualsLowest { apr, odds } => write!(
            f,
            "年化利率 {}，与最低持平；按获批概率（{}）排序",
            p(apr),
            p(odds)
        ),
        Message::RankAprAboveLowest { apr, above } => {
            write!(f, "年化利率 {}，比最低高 {}", p(apr), p(above))
        }
        Message::RankHighestApprovalFirst { odds } => write!(f, "获批概率最高：{}", p(odds)),
        Message::RankHighestApproval { odds, apr } => {
            write!(f, "获批概率 {}，年化利率 {}", p(odds), p(apr))
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
            "按实际计算的年化利率 {} 排名，而非宣称的 {}",
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
            "申请 {name}（{adapter}）：获批概率 {}，年化利率 {}。",
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
             至少一个获批的概率 {}，预期年化利率 {}。",
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

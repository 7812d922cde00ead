//! GetKeyFacts: one stored offer's key facts, structured and as plain text
//! in a locale (`docs/disclosure.md`, "Key facts").
//!
//! Pure: [`key_facts`] builds the answer from the offer as it was shown
//! (the stored `RouteFinancingResponse`), re-rendering every text from the
//! numbers in the requested locale through finroute-core's catalogs
//! ([`finroute_core::fact_text`], the same texts pricing writes), so an
//! offer routed in English has Chinese key facts and the other way round.
//! The handler (`router.rs`) finds the offer for the caller's tenant.

use finroute_adapters::convert as c;
use finroute_core::{
    ChargeKind, CostLine, Currency, Fact, Locale, Money, PartyRole, apr_label, cost_line_text,
    ear_label, fact_text,
};
use finroute_proto::v1 as pb;

/// The locale GetKeyFacts answers in: `tag` when given ("zh-CN", "zh",
/// "zh-Hans*" are Chinese, any other tag English, never an error), else
/// the locale the offer was routed in.
pub(crate) fn resolve_locale(tag: &str, routed: Locale) -> Locale {
    if tag.trim().is_empty() {
        routed
    } else {
        Locale::negotiate(tag.trim())
    }
}

/// The locale a stored answer was written in: its `locale` field. An
/// answer stored before that field existed is read by its plan summary,
/// always written in the request's locale: a Chinese one ends with the
/// full-width full stop "。" (an English one with "."; finroute-core's
/// catalog tests hold both to it). Product names inside it, in whatever
/// script a partner chose, do not change its last character.
pub(crate) fn routed_locale(routed: &pb::RouteFinancingResponse) -> Locale {
    if let Some(locale) = Locale::parse(&routed.locale).filter(|_| !routed.locale.is_empty()) {
        return locale;
    }
    match routed.plan.as_ref().map(|p| p.summary.trim_end()) {
        Some(summary) if summary.ends_with('。') => Locale::ZhCn,
        _ => Locale::En,
    }
}

/// An offer's key facts in `locale`. `Err` names what in the stored offer
/// is unusable (the router wrote it, so that is an internal error).
pub(crate) fn key_facts(
    application_id: &str,
    offer: &pb::Offer,
    locale: Locale,
) -> Result<pb::KeyFacts, String> {
    let principal = money(offer.principal.as_ref(), "principal")?;
    let currency = principal.currency;
    let disbursed = money(offer.disbursed.as_ref(), "disbursed")?;
    let payments: Vec<i64> = offer.schedule.iter().map(payment).collect();
    let first = match &offer.first_payment {
        Some(m) => money(Some(m), "first_payment")?,
        None => Money::new(currency, payments.first().copied().unwrap_or(0)),
    };
    let last = Money::new(currency, payments.last().copied().unwrap_or(0));
    let cost_lines: Vec<(pb::CostLine, CostLine)> = offer
        .cost_breakdown
        .iter()
        .map(|l| {
            let core = cost_line(l, currency)?;
            let shown = pb::CostLine {
                text: cost_line_text(&core, locale),
                ..l.clone()
            };
            Ok((shown, core))
        })
        .collect::<Result<_, String>>()?;
    let paid_at_disbursement: i64 = cost_lines
        .iter()
        .filter(|(l, _)| l.timing == pb::ChargeTiming::PaidAtDisbursement as i32 && !l.declinable)
        .map(|(_, core)| core.total.amount_minor)
        .sum();
    let total_repaid = Money::new(
        currency,
        payments
            .iter()
            .sum::<i64>()
            .saturating_add(paid_at_disbursement),
    );
    let total_cost = money(offer.total_cost.as_ref(), "total_cost")?;
    let mut parties = offer.parties.clone();
    // Lender of record first, then platform, guarantor, insurer, other.
    parties.sort_by_key(|p| match c::party_role_from_pb(p.role) {
        Some(role) => role as u8,
        None => u8::MAX,
    });
    let contact_of = |role: pb::PartyRole| {
        parties
            .iter()
            .find(|p| p.role == role as i32)
            .map(|p| (p.legal_name.as_str(), p.contact.as_str()))
    };
    let complaints = fact_text(
        &Fact::Complaints {
            lender: contact_of(pb::PartyRole::Lender),
            platform: contact_of(pb::PartyRole::Platform),
        },
        locale,
    );
    let promotion = offer
        .promotion
        .as_ref()
        .map(c::promotion_from_pb)
        .filter(|p| !p.is_empty() || !p.description.is_empty());

    // The plain text, one fact per line.
    let mut lines = vec![
        fact_text(
            &Fact::Title {
                offer_id: &offer.offer_id,
            },
            locale,
        ),
        fact_text(
            &Fact::Product {
                name: &offer.product_name,
            },
            locale,
        ),
    ];
    if !parties
        .iter()
        .any(|p| p.role == pb::PartyRole::Lender as i32)
    {
        lines.push(fact_text(&Fact::NoLender, locale));
    }
    for p in &parties {
        let Some(role) = c::party_role_from_pb(p.role) else {
            continue;
        };
        lines.push(fact_text(
            &Fact::Party {
                role,
                legal_name: &p.legal_name,
                registration_id: &p.registration_id,
                contact: &p.contact,
            },
            locale,
        ));
    }
    lines.push(fact_text(&Fact::Principal(principal), locale));
    lines.push(fact_text(&Fact::Disbursed(disbursed), locale));
    lines.push(fact_text(
        &Fact::Term {
            months: offer.term_months,
        },
        locale,
    ));
    if let Some(method) = c::repayment_from_pb(offer.repayment_method) {
        lines.push(fact_text(&Fact::Method(method), locale));
    }
    if !payments.is_empty() {
        lines.push(fact_text(
            &Fact::Payments {
                count: i32::try_from(payments.len()).unwrap_or(i32::MAX),
                first,
                last,
            },
            locale,
        ));
    }
    lines.push(fact_text(&Fact::TotalRepaid(total_repaid), locale));
    let rate_labels = pb::RateLabels {
        apr: apr_label(offer.apr_bps, locale),
        effective_annual_rate: ear_label(offer.effective_annual_rate_bps, locale),
    };
    lines.push(rate_labels.apr.clone());
    lines.push(rate_labels.effective_annual_rate.clone());
    for (_, core) in &cost_lines {
        lines.push(fact_text(&Fact::Cost { line: core }, locale));
    }
    lines.push(fact_text(&Fact::TotalCost(total_cost), locale));
    if let Some(p) = &promotion {
        lines.push(fact_text(&Fact::Promotion(p), locale));
        if let Some(at) = &offer.promotion_ends_at {
            lines.push(fact_text(
                &Fact::PromotionEnds {
                    at: c::millis_from_timestamp(at),
                },
                locale,
            ));
        }
        if offer.post_promotion_rate_bps > 0 {
            lines.push(fact_text(
                &Fact::PostPromotionRate {
                    rate_bps: offer.post_promotion_rate_bps,
                },
                locale,
            ));
        }
    }
    if let Some(at) = &offer.expires_at {
        lines.push(fact_text(
            &Fact::ValidUntil {
                at: c::millis_from_timestamp(at),
            },
            locale,
        ));
    }
    lines.push(complaints.clone());
    for d in &offer.disclosures {
        lines.push(fact_text(&Fact::Disclosure { text: d }, locale));
    }
    // One fact per line, whatever a name or disclosure holds.
    let text = lines
        .iter()
        .map(|l| l.replace(['\n', '\r'], " "))
        .collect::<Vec<_>>()
        .join("\n");

    Ok(pb::KeyFacts {
        offer_id: offer.offer_id.clone(),
        application_id: application_id.into(),
        locale: locale.tag().into(),
        product_name: offer.product_name.clone(),
        parties,
        principal: offer.principal.clone(),
        disbursed: offer.disbursed.clone(),
        term_months: offer.term_months,
        repayment_method: offer.repayment_method,
        payments: i32::try_from(payments.len()).unwrap_or(i32::MAX),
        first_payment: Some(c::money_to_pb(first)),
        last_payment: Some(c::money_to_pb(last)),
        total_repaid: Some(c::money_to_pb(total_repaid)),
        apr_bps: offer.apr_bps,
        effective_annual_rate_bps: offer.effective_annual_rate_bps,
        rate_labels: Some(rate_labels),
        cost_breakdown: cost_lines.into_iter().map(|(l, _)| l).collect(),
        total_cost: offer.total_cost.clone(),
        promotion: offer.promotion.clone(),
        post_promotion_rate_bps: offer.post_promotion_rate_bps,
        promotion_ends_at: offer.promotion_ends_at,
        expires_at: offer.expires_at,
        complaints,
        disclosures: offer.disclosures.clone(),
        text,
    })
}

/// A whole payment of the schedule (principal, interest and fee).
fn payment(row: &pb::Installment) -> i64 {
    [&row.principal, &row.interest, &row.fee]
        .into_iter()
        .flatten()
        .map(|m| m.amount_minor)
        .fold(0i64, i64::saturating_add)
}

fn money(m: Option<&pb::Money>, field: &str) -> Result<Money, String> {
    let m = m.ok_or_else(|| format!("stored offer has no {field}"))?;
    let currency = Currency::parse(&m.currency_code)
        .map_err(|_| format!("stored offer's {field} has no valid currency"))?;
    Ok(Money::new(currency, m.amount_minor))
}

/// The domain line of a shown cost line, to re-render its text.
fn cost_line(l: &pb::CostLine, currency: Currency) -> Result<CostLine, String> {
    let total = match &l.total {
        Some(m) => money(Some(m), "cost_breakdown.total")?,
        None => Money::zero(currency),
    };
    Ok(CostLine {
        kind: c::charge_kind_from_pb(l.kind).unwrap_or(ChargeKind::Other),
        payee: c::party_role_from_pb(l.payee).unwrap_or(PartyRole::Lender),
        payee_name: l.payee_name.clone(),
        timing: c::charge_timing_from_pb(l.timing),
        total,
        apr_share_bps: l.apr_share_bps,
        declinable: l.declinable,
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_cjk(c: char) -> bool {
        matches!(c, '\u{4E00}'..='\u{9FFF}')
    }

    fn cny(minor: i64) -> Option<pb::Money> {
        Some(pb::Money {
            currency_code: "CNY".into(),
            amount_minor: minor,
        })
    }

    fn row(period: i32, principal: i64, interest: i64, fee: i64) -> pb::Installment {
        pb::Installment {
            period,
            principal: cny(principal),
            interest: cny(interest),
            fee: cny(fee),
        }
    }

    fn party(role: pb::PartyRole, name: &str, id: &str, contact: &str) -> pb::Party {
        pb::Party {
            role: role as i32,
            legal_name: name.into(),
            registration_id: id.into(),
            contact: contact.into(),
            lender_type: 0,
        }
    }

    /// An offer with every fact: parties out of order, a guarantee fee, a
    /// fee paid at disbursement, a declinable membership, a promotion.
    fn offer() -> pb::Offer {
        pb::Offer {
            offer_id: "off_1".into(),
            product_name: "Example loan".into(),
            principal: cny(1_000_000),
            disbursed: cny(990_000),
            term_months: 3,
            repayment_method: pb::RepaymentMethod::EqualInstallment as i32,
            schedule: vec![
                row(1, 330_000, 10_000, 1_000),
                row(2, 333_000, 6_000, 1_000),
                row(3, 337_000, 3_000, 1_000),
            ],
            apr_bps: 2941,
            effective_annual_rate_bps: 3352,
            total_cost: cny(32_000),
            first_payment: cny(341_000),
            expires_at: Some(c::timestamp_from_millis(1_797_152_700_000)),
            disclosures: vec!["Read the contract.\nTwice.".into()],
            parties: vec![
                party(
                    pb::PartyRole::Guarantor,
                    "Example Guarantee Co.",
                    "",
                    "400-1",
                ),
                party(
                    pb::PartyRole::Lender,
                    "Example Bank Co., Ltd.",
                    "91310000MA1",
                    "95555",
                ),
                party(pb::PartyRole::Platform, "Example Platform", "", "400-2"),
            ],
            cost_breakdown: vec![
                pb::CostLine {
                    kind: pb::ChargeKind::Interest as i32,
                    payee: pb::PartyRole::Lender as i32,
                    total: cny(19_000),
                    apr_share_bps: 1300,
                    text: "stale".into(),
                    ..Default::default()
                },
                pb::CostLine {
                    kind: pb::ChargeKind::GuaranteeFee as i32,
                    payee: pb::PartyRole::Guarantor as i32,
                    payee_name: "Example Guarantee Co.".into(),
                    timing: pb::ChargeTiming::PerPeriodAmount as i32,
                    total: cny(3_000),
                    apr_share_bps: 1653,
                    ..Default::default()
                },
                pb::CostLine {
                    kind: pb::ChargeKind::ServiceFee as i32,
                    payee: pb::PartyRole::Platform as i32,
                    payee_name: "Example Platform".into(),
                    timing: pb::ChargeTiming::PaidAtDisbursement as i32,
                    total: cny(5_000),
                    apr_share_bps: 50,
                    ..Default::default()
                },
                pb::CostLine {
                    kind: pb::ChargeKind::Membership as i32,
                    payee: pb::PartyRole::Other as i32,
                    timing: pb::ChargeTiming::PaidAtDisbursement as i32,
                    total: cny(9_900),
                    apr_share_bps: 400,
                    declinable: true,
                    ..Default::default()
                },
            ],
            promotion: Some(pb::Promotion {
                interest_free_days: 30,
                ..Default::default()
            }),
            post_promotion_rate_bps: 1800,
            promotion_ends_at: Some(c::timestamp_from_millis(1_797_152_700_000)),
            ..Default::default()
        }
    }

    #[test]
    fn the_structured_facts_match_the_offer() {
        let k = key_facts("app_1", &offer(), Locale::En).expect("facts");
        assert_eq!(k.offer_id, "off_1");
        assert_eq!(k.application_id, "app_1");
        assert_eq!(k.locale, "en");
        let roles: Vec<i32> = k.parties.iter().map(|p| p.role).collect();
        assert_eq!(
            roles,
            [
                pb::PartyRole::Lender as i32,
                pb::PartyRole::Platform as i32,
                pb::PartyRole::Guarantor as i32
            ],
            "lender first"
        );
        assert_eq!(k.payments, 3);
        assert_eq!(k.first_payment, cny(341_000));
        assert_eq!(k.last_payment, cny(341_000));
        // 1 022 000 of payments and the 5 000 service fee paid at
        // disbursement; not the declinable membership.
        assert_eq!(k.total_repaid, cny(1_027_000));
        assert_eq!(k.total_cost, cny(32_000));
        assert_eq!(k.apr_bps, 2941);
        let labels = k.rate_labels.expect("labels");
        assert_eq!(labels.apr, "APR (12 × monthly IRR) 29.41 %");
        assert_eq!(
            labels.effective_annual_rate,
            "effective annual rate 33.52 %"
        );
        let texts: Vec<&str> = k.cost_breakdown.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "interest 13.00 %",
                "guarantee fee (Example Guarantee Co.) +16.53 %",
                "service fee (Example Platform) +0.50 %",
                "membership package +4.00 % if taken (optional)",
            ]
        );
        assert!(k.complaints.contains("Example Bank Co., Ltd. (95555)"));
        assert!(k.complaints.contains("Example Platform (400-2)"));
        assert!(k.complaints.contains("FileAppeal"));
        assert_eq!(k.expires_at, offer().expires_at);
        assert_eq!(k.promotion, offer().promotion);
        assert_eq!(k.post_promotion_rate_bps, 1800);
    }

    #[test]
    fn the_text_has_every_fact_one_per_line_in_english() {
        let k = key_facts("app_1", &offer(), Locale::En).expect("facts");
        let lines: Vec<&str> = k.text.lines().collect();
        for expected in [
            "Key facts of offer off_1",
            "Product: Example loan",
            "Lender: Example Bank Co., Ltd. (registration 91310000MA1; contact 95555)",
            "Platform: Example Platform (contact 400-2)",
            "Guarantor: Example Guarantee Co. (contact 400-1)",
            "Amount lent: 10 000.00 CNY",
            "You receive: 9 900.00 CNY",
            "Term: 3 months",
            "Repayment: equal monthly payments (annuity)",
            "Payments: 3 payments, the first 3 410.00 CNY, the last 3 410.00 CNY",
            "Total repaid: 10 270.00 CNY",
            "APR (12 × monthly IRR) 29.41 %",
            "effective annual rate 33.52 %",
            "Cost: interest 13.00 %, 190.00 CNY in all",
            "Cost: guarantee fee (Example Guarantee Co.) +16.53 %, 30.00 CNY in all",
            "Total cost: 320.00 CNY",
            "Promotion: no interest for 30 days",
            "Promotion ends: 2026-12-13 09:05 UTC",
            "Annual rate after the promotion: 18.00 %",
            "Valid until: 2026-12-13 09:05 UTC",
            "Disclosure: Read the contract. Twice.",
        ] {
            assert!(
                lines.contains(&expected),
                "{expected:?} not a line of:\n{}",
                k.text
            );
        }
        assert!(lines.iter().any(|l| l.starts_with("To complain")));
        assert!(!k.text.chars().any(is_cjk));
    }

    #[test]
    fn the_text_is_chinese_in_zh_cn() {
        let k = key_facts("app_1", &offer(), Locale::ZhCn).expect("facts");
        assert_eq!(k.locale, "zh-CN");
        let lines: Vec<&str> = k.text.lines().collect();
        for expected in [
            "报价 off_1 关键信息",
            "贷款机构：Example Bank Co., Ltd.（登记编号 91310000MA1；联系方式 95555）",
            "借款金额：10 000.00 CNY",
            "实际到账：9 900.00 CNY",
            "期限：3 个月",
            "还款方式：等额本息",
            "还款期数：3 期，首期 3 410.00 CNY，末期 3 410.00 CNY",
            "还款总额：10 270.00 CNY",
            "年化利率（单利）29.41%",
            "年化利率（复利，IRR）33.52%",
            "费用：利息 13.00%，合计 190.00 CNY",
            "借款总成本：320.00 CNY",
            "优惠：免息 30 天",
            "优惠结束后年化利率：18.00%",
            "有效期至：2026年12月13日 09:05（协调世界时）",
        ] {
            assert!(
                lines.contains(&expected),
                "{expected:?} not a line of:\n{}",
                k.text
            );
        }
        assert!(k.complaints.contains("可通过申诉渠道提出申诉"));
        assert_eq!(k.cost_breakdown[3].text, "会员权益费+4.00%（可选）");
        // Only names, ids, the currency and "IRR" are Latin.
        let mut rest = k.text.clone();
        for allowed in [
            "Example Bank Co., Ltd.",
            "Example Guarantee Co.",
            "Example Platform",
            "Example loan",
            "Read the contract. Twice.",
            "off_1",
            "91310000MA1",
            "CNY",
            "IRR",
        ] {
            rest = rest.replace(allowed, "");
        }
        assert!(!rest.chars().any(|c| c.is_ascii_alphabetic()), "{rest}");
    }

    #[test]
    fn an_offer_without_parties_says_no_lender_is_named() {
        let mut o = offer();
        o.parties.clear();
        o.cost_breakdown.clear();
        o.promotion = None;
        let k = key_facts("app_1", &o, Locale::En).expect("facts");
        assert!(
            k.text
                .lines()
                .any(|l| l == "Lender: not named by the channel")
        );
        assert!(!k.text.contains("Promotion"));
        assert_eq!(k.total_repaid, cny(1_022_000));
        let mut o = offer();
        o.principal = None;
        assert!(key_facts("app_1", &o, Locale::En).is_err());
    }

    #[test]
    fn locales_resolve_and_fall_back_to_english() {
        assert_eq!(resolve_locale("zh-CN", Locale::En), Locale::ZhCn);
        assert_eq!(resolve_locale("zh", Locale::En), Locale::ZhCn);
        assert_eq!(resolve_locale("zh-Hans-CN", Locale::En), Locale::ZhCn);
        assert_eq!(resolve_locale("fr", Locale::ZhCn), Locale::En);
        assert_eq!(resolve_locale("", Locale::ZhCn), Locale::ZhCn);
        assert_eq!(resolve_locale("", Locale::En), Locale::En);
        let mut routed = pb::RouteFinancingResponse {
            plan: Some(pb::ApplicationPlan {
                summary: "No offer to apply to.".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(routed_locale(&routed), Locale::En);
        // A partner's Chinese product name in an English answer.
        routed.plan = Some(pb::ApplicationPlan {
            summary: "Apply to 闪电贷 (bank-a): 90 % chance of approval at APR 9.40 %.".into(),
            ..Default::default()
        });
        assert_eq!(routed_locale(&routed), Locale::En);
        routed.plan = Some(pb::ApplicationPlan {
            summary: "申请 Car loan（bank-a）：获批概率 90%，年化利率 9.40%。".into(),
            ..Default::default()
        });
        assert_eq!(routed_locale(&routed), Locale::ZhCn);
        assert_eq!(
            routed_locale(&pb::RouteFinancingResponse::default()),
            Locale::En
        );
    }
}

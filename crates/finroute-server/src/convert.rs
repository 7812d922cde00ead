//! Wire <-> domain conversions of the router's own messages. Shared pieces
//! (money, applicant, enums) come from `finroute_adapters::convert`.

use finroute_adapters::convert::{self as c, Violations};
use finroute_core as core;
use finroute_proto::v1 as pb;
use finroute_store::{AppealRecord, AppealState};

use crate::error::RouterError;

/// Longest term accepted, in months.
pub const MAX_TERM_MONTHS: i32 = 360;
/// Most product kinds a request may list.
const MAX_PRODUCT_KINDS: usize = 8;
/// Most ids `exclude_adapter_ids` or `only_adapter_ids` may list.
pub const MAX_ADAPTER_IDS: usize = 64;

/// Router defaults a request may leave unset.
#[derive(Debug, Clone, Copy)]
pub struct RequestDefaults {
    pub strategy: core::Strategy,
    pub max_offers: u32,
}

/// Checks a RouteFinancingRequest and converts it, naming every bad field.
pub fn financing_request_from_pb(
    r: &pb::RouteFinancingRequest,
    defaults: RequestDefaults,
) -> Result<core::FinancingRequest, RouterError> {
    let mut v = Violations::default();
    v.optional_id("request_id", &r.request_id);
    let applicant = match &r.applicant {
        Some(a) => Some(c::applicant_from_pb(a, "applicant", &mut v)),
        None => {
            v.add("applicant", "required");
            None
        }
    };
    let requested_amount = requested_amount_from_pb(r, &mut v);
    if let (Some(a), Some(amount)) = (&applicant, requested_amount) {
        check_income_currencies(a, amount, &mut v);
    }
    let (min_t, max_t) = terms_from_pb(r, &mut v);
    let purpose = c::purpose_from_pb(r.purpose).unwrap_or_else(|| {
        v.add("purpose", format!("unknown LoanPurpose {}", r.purpose));
        core::LoanPurpose::Unspecified
    });
    let options = options_from_pb(r, defaults, &mut v);
    let channels = channel_filter_from_pb(r, &mut v);
    let primary_decision = r
        .primary_decision
        .as_ref()
        .map(|p| primary_decision_from_pb(p, &mut v));
    match (applicant, requested_amount, v.is_empty()) {
        (Some(applicant), Some(requested_amount), true) => Ok(core::FinancingRequest {
            request_id: r.request_id.clone(),
            applicant,
            requested_amount,
            min_term_months: min_t,
            max_term_months: max_t,
            purpose,
            primary_decision,
            strategy: options.strategy,
            product_kinds: options.product_kinds,
            max_offers: options.max_offers,
            locale: options.locale,
            channels,
        }),
        _ => Err(RouterError::Invalid(v.0)),
    }
}

/// `exclude_adapter_ids` / `only_adapter_ids`: at most one of them, each
/// id well formed, at most [`MAX_ADAPTER_IDS`] each. Ids the router does
/// not know are kept (and match nothing): channels come and go with the
/// config, and a caller's list must not break when one is removed.
fn channel_filter_from_pb(
    r: &pb::RouteFinancingRequest,
    v: &mut Violations,
) -> core::ChannelFilter {
    let mut ids = |field: &str, list: &[String]| -> Vec<String> {
        if list.len() > MAX_ADAPTER_IDS {
            v.add(field, format!("at most {MAX_ADAPTER_IDS} ids"));
        }
        for (i, id) in list.iter().take(MAX_ADAPTER_IDS).enumerate() {
            v.id(format!("{field}[{i}]"), id);
        }
        list.iter().take(MAX_ADAPTER_IDS).cloned().collect()
    };
    match (
        r.exclude_adapter_ids.is_empty(),
        r.only_adapter_ids.is_empty(),
    ) {
        (true, true) => core::ChannelFilter::All,
        (false, true) => {
            core::ChannelFilter::Exclude(ids("exclude_adapter_ids", &r.exclude_adapter_ids))
        }
        (true, false) => core::ChannelFilter::Only(ids("only_adapter_ids", &r.only_adapter_ids)),
        (false, false) => {
            v.add(
                "only_adapter_ids",
                "not together with exclude_adapter_ids: give one of the two",
            );
            core::ChannelFilter::All
        }
    }
}

/// `requested_amount`: required, positive.
fn requested_amount_from_pb(
    r: &pb::RouteFinancingRequest,
    v: &mut Violations,
) -> Option<core::Money> {
    let Some(m) = &r.requested_amount else {
        v.add("requested_amount", "required");
        return None;
    };
    let money = c::money_from_pb(m, "requested_amount", v);
    if let Some(m) = money
        && m.amount_minor <= 0
    {
        v.add("requested_amount.amount_minor", "must be positive");
    }
    money
}

/// The applicant's income and debt payments are in the requested amount's
/// currency.
fn check_income_currencies(a: &core::Applicant, amount: core::Money, v: &mut Violations) {
    for (field, m) in [
        ("monthly_income", a.monthly_income),
        ("monthly_debt_payments", a.monthly_debt_payments),
    ] {
        if let Some(m) = m
            && m.currency != amount.currency
        {
            v.add(
                format!("applicant.{field}.currency_code"),
                "must be the requested amount's currency",
            );
        }
    }
}

/// `min_term_months` and `max_term_months`: each within 1..=MAX_TERM_MONTHS,
/// the maximum not below the minimum.
fn terms_from_pb(r: &pb::RouteFinancingRequest, v: &mut Violations) -> (u32, u32) {
    let (min_t, max_t) = (r.min_term_months, r.max_term_months);
    if !(1..=MAX_TERM_MONTHS).contains(&min_t) {
        v.add(
            "min_term_months",
            format!("must be within 1..={MAX_TERM_MONTHS}"),
        );
    }
    if !(1..=MAX_TERM_MONTHS).contains(&max_t) {
        v.add(
            "max_term_months",
            format!("must be within 1..={MAX_TERM_MONTHS}"),
        );
    } else if max_t < min_t {
        v.add("max_term_months", "must not be below min_term_months");
    }
    (min_t as u32, max_t as u32)
}

/// How the caller wants the answer: strategy, product kinds, how many
/// offers, locale (the router's defaults for what is unset).
struct AnswerOptions {
    strategy: core::Strategy,
    product_kinds: Vec<core::ProductKind>,
    max_offers: u32,
    locale: core::Locale,
}

/// `strategy`, `product_kinds`, `max_offers` and `locale`.
fn options_from_pb(
    r: &pb::RouteFinancingRequest,
    defaults: RequestDefaults,
    v: &mut Violations,
) -> AnswerOptions {
    let strategy = match r.strategy {
        0 => defaults.strategy,
        n => c::strategy_from_pb(n).unwrap_or_else(|| {
            v.add("strategy", format!("unknown RankingStrategy {n}"));
            defaults.strategy
        }),
    };
    if r.product_kinds.len() > MAX_PRODUCT_KINDS {
        v.add(
            "product_kinds",
            format!("at most {MAX_PRODUCT_KINDS} items"),
        );
    }
    let mut product_kinds = Vec::new();
    for (i, k) in r.product_kinds.iter().take(MAX_PRODUCT_KINDS).enumerate() {
        match c::product_kind_from_pb(*k) {
            Some(k) => product_kinds.push(k),
            None => v.add(
                format!("product_kinds[{i}]"),
                format!("unknown ProductKind {k}"),
            ),
        }
    }
    let max_offers = match r.max_offers {
        0 => defaults.max_offers,
        n if (1..=100).contains(&n) => n as u32,
        _ => {
            v.add("max_offers", "must be within 0..=100 (0 = router default)");
            defaults.max_offers
        }
    };
    // An unsupported language is no reason to refuse a borrower: the
    // answer falls back to en and says so in its `locale` (docs/api.md).
    let locale = core::Locale::negotiate(&r.locale);
    AnswerOptions {
        strategy,
        product_kinds,
        max_offers,
        locale,
    }
}

fn primary_decision_from_pb(p: &pb::PrimaryDecision, v: &mut Violations) -> core::PrimaryDecision {
    let mut reasons = Vec::new();
    for (i, r) in p.reasons.iter().enumerate().take(16) {
        match c::refusal_from_pb(*r) {
            Some(r) => reasons.push(r),
            None => v.add(
                format!("primary_decision.reasons[{i}]"),
                format!("unknown RefusalReason {r}"),
            ),
        }
    }
    let mut amount = |m: &Option<pb::Money>, field: &str| {
        let field = format!("primary_decision.{field}");
        let m = c::money_from_pb(m.as_ref()?, &field, v)?;
        if m.amount_minor < 0 {
            v.add(format!("{field}.amount_minor"), "must not be negative");
            return None;
        }
        Some(m)
    };
    core::PrimaryDecision {
        refused: p.refused,
        displayed_line: amount(&p.displayed_line, "displayed_line"),
        drawable_amount: amount(&p.drawable_amount, "drawable_amount"),
        reasons,
    }
}

/// Wire primary decision from the domain.
pub fn primary_decision_to_pb(p: &core::PrimaryDecision) -> pb::PrimaryDecision {
    pb::PrimaryDecision {
        refused: p.refused,
        displayed_line: p.displayed_line.map(c::money_to_pb),
        drawable_amount: p.drawable_amount.map(c::money_to_pb),
        reasons: p.reasons.iter().map(|r| c::refusal_to_pb(*r)).collect(),
    }
}

/// Wire offer from a priced domain offer.
pub fn offer_to_pb(o: &core::Offer) -> pb::Offer {
    offer_into_pb(o.clone())
}

/// Wire offer taking the domain offer's texts over (no copies: the
/// routing answer's offers are not needed after).
pub fn offer_into_pb(o: core::Offer) -> pb::Offer {
    let cur = o.principal.currency;
    pb::Offer {
        offer_id: o.offer_id,
        adapter_id: o.adapter_id,
        partner_offer_ref: o.partner_offer_ref,
        product_kind: c::product_kind_to_pb(o.product_kind),
        product_name: o.product_name,
        principal: Some(c::money_to_pb(o.principal)),
        disbursed: Some(c::money_to_pb(o.disbursed)),
        term_months: o.term_months as i32,
        repayment_method: c::repayment_to_pb(o.repayment_method),
        schedule: o
            .schedule
            .iter()
            .map(|r| pb::Installment {
                period: r.period as i32,
                principal: Some(c::minor_to_pb(cur, r.principal)),
                interest: Some(c::minor_to_pb(cur, r.interest)),
                fee: Some(c::minor_to_pb(cur, r.fee)),
            })
            .collect(),
        apr_bps: o.apr_bps,
        stated_apr_bps: o.stated_apr_bps,
        effective_annual_rate_bps: o.effective_annual_rate_bps,
        total_cost: Some(c::money_to_pb(o.total_cost)),
        first_payment: Some(c::money_to_pb(o.first_payment)),
        approval_odds: o.approval_odds,
        odds_source: c::odds_source_to_pb(o.odds_source),
        qualification: c::qualification_to_pb(o.qualification),
        rank: o.rank as i32,
        score: o.score,
        rank_reasons: o.rank_reasons,
        warnings: o.warnings.iter().map(|w| c::warning_to_pb(*w)).collect(),
        expires_at: Some(c::timestamp_from_millis(o.expires_at)),
        disclosures: o.disclosures,
        parties: o.parties.iter().map(c::party_to_pb).collect(),
        cost_breakdown: (o.cost_breakdown.into_iter())
            .map(c::cost_line_to_pb)
            .collect(),
        promotion: o.promotion.as_ref().map(c::promotion_to_pb),
        post_promotion_rate_bps: o.post_promotion_rate_bps,
        promotion_ends_at: o.promotion_ends_at.map(c::timestamp_from_millis),
        partner_list: o.partner_list.as_ref().map(c::partner_list_check_to_pb),
        rate_labels: Some(c::rate_labels_to_pb(o.rate_labels)),
        adjustment: o.adjustment.as_ref().map(c::adjustment_to_pb),
        conditions: o.conditions.iter().map(c::condition_to_pb).collect(),
        expected_decision_time: o.expected_decision_ms.map(c::duration_from_millis),
    }
}

/// Wire channel report from the domain.
pub fn report_to_pb(r: &core::ChannelReport) -> pb::ChannelReport {
    pb::ChannelReport {
        adapter_id: r.adapter_id.clone(),
        product_kind: c::product_kind_to_pb(r.product_kind),
        status: c::channel_status_to_pb(r.status),
        latency: Some(c::duration_from_millis(r.latency_ms)),
        offers_returned: r.offers_returned as i32,
        offers_rejected: r.offers_rejected as i32,
        detail: r.detail.clone(),
        recipients: r.recipients.iter().map(c::party_to_pb).collect(),
        rejections: r
            .rejections
            .iter()
            .map(|x| pb::OfferRejection {
                partner_offer_ref: x.partner_offer_ref.clone(),
                reason: x.reason.code(),
                field: x.field.clone(),
                message: x.message.clone(),
            })
            .collect(),
        decline: r.decline.as_ref().map(c::decline_to_pb),
        late_pending: r.late_pending,
    }
}

/// Wire explanation from the domain.
pub fn explanation_to_pb(e: &core::Explanation) -> pb::Explanation {
    pb::Explanation {
        factors: e
            .factors
            .iter()
            .map(|f| pb::Factor {
                reason: f.reason.map(c::refusal_to_pb).unwrap_or(0),
                text: f.text.clone(),
                partner_reason: f.partner_reason.map(c::decline_reason_to_pb).unwrap_or(0),
                adapter_ids: f.adapter_ids.clone(),
            })
            .collect(),
        suggestions: e
            .suggestions
            .iter()
            .map(|s| pb::Suggestion {
                kind: c::suggestion_kind_to_pb(s.kind),
                text: s.text.clone(),
                amount: s.amount.map(c::money_to_pb),
                term_months: s.term_months.unwrap_or(0) as i32,
                offers_gained: s.offers_gained as i32,
                odds_threshold: s.odds_threshold,
                offer_id: s.offer_id.clone().unwrap_or_default(),
                missing_fields: s
                    .missing_fields
                    .iter()
                    .map(|f| c::field_to_pb(*f))
                    .collect(),
                adapter_ids: s.adapter_ids.clone(),
                apr_from_bps: s.apr_from_bps.unwrap_or(0),
            })
            .collect(),
    }
}

/// Wire plan from the domain.
pub fn plan_to_pb(p: &core::ApplicationPlan) -> pb::ApplicationPlan {
    pb::ApplicationPlan {
        offer_ids: p.offer_ids.clone(),
        approval_probability: p.approval_probability,
        expected_apr_bps: p.expected_apr_bps,
        summary: p.summary.clone(),
    }
}

/// Lower-case config-style name of a product kind (store columns, logs).
pub fn product_kind_name(k: core::ProductKind) -> &'static str {
    match k {
        core::ProductKind::PrimaryCreditLine => "primary_credit_line",
        core::ProductKind::SecuredLoan => "secured_loan",
        core::ProductKind::Installment => "installment",
        core::ProductKind::PartnerLoan => "partner_loan",
    }
}

/// Lower-case name of a channel status (store columns, logs).
pub fn channel_status_name(s: core::ChannelStatus) -> &'static str {
    match s {
        core::ChannelStatus::Ok => "ok",
        core::ChannelStatus::NoOffer => "no_offer",
        core::ChannelStatus::Timeout => "timeout",
        core::ChannelStatus::Error => "error",
        core::ChannelStatus::CircuitOpen => "circuit_open",
        core::ChannelStatus::Ineligible => "ineligible",
        core::ChannelStatus::NoConsent => "no_consent",
        core::ChannelStatus::Excluded => "excluded",
        core::ChannelStatus::QuotaExhausted => "quota_exhausted",
        core::ChannelStatus::SkippedByRule => "skipped_by_rule",
        core::ChannelStatus::NotNeeded => "not_needed",
    }
}

/// Wire status of a stored appeal state.
pub fn appeal_state_pb(s: AppealState) -> pb::AppealStatus {
    match s {
        AppealState::Open => pb::AppealStatus::Open,
        AppealState::InReview => pb::AppealStatus::InReview,
        AppealState::Upheld => pb::AppealStatus::Upheld,
        AppealState::Overturned => pb::AppealStatus::Overturned,
    }
}

pub fn appeal_reason_name(r: pb::AppealReason) -> Option<&'static str> {
    match r {
        pb::AppealReason::Unspecified => None,
        pb::AppealReason::IncomeChanged => Some("INCOME_CHANGED"),
        pb::AppealReason::DataError => Some("DATA_ERROR"),
        pb::AppealReason::LineReducedUnfairly => Some("LINE_REDUCED_UNFAIRLY"),
        pb::AppealReason::Other => Some("OTHER"),
    }
}

pub fn appeal_reason_pb(name: &str) -> pb::AppealReason {
    match name {
        "INCOME_CHANGED" => pb::AppealReason::IncomeChanged,
        "DATA_ERROR" => pb::AppealReason::DataError,
        "LINE_REDUCED_UNFAIRLY" => pb::AppealReason::LineReducedUnfairly,
        "OTHER" => pb::AppealReason::Other,
        _ => pb::AppealReason::Unspecified,
    }
}

pub fn appeal_pb(a: &AppealRecord) -> pb::Appeal {
    pb::Appeal {
        appeal_id: a.appeal_id.clone(),
        application_id: a.application_id.clone(),
        adapter_id: a.adapter_id.clone(),
        reason: appeal_reason_pb(&a.reason) as i32,
        details: a.details.clone(),
        status: appeal_state_pb(a.status) as i32,
        filed_at: Some(c::timestamp_from_millis(a.filed_at_ms)),
        resolved_at: a.resolved_at_ms.map(c::timestamp_from_millis),
        resolution_note: a.resolution_note.clone(),
        // The review workflow's fields are filled on ReviewService answers
        // only (`review::appeal_view`): applicants' callers do not see
        // operators' key ids.
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: RequestDefaults = RequestDefaults {
        strategy: core::Strategy::Balanced,
        max_offers: 10,
    };

    fn cny(n: i64) -> pb::Money {
        pb::Money {
            currency_code: "CNY".into(),
            amount_minor: n,
        }
    }

    fn valid() -> pb::RouteFinancingRequest {
        pb::RouteFinancingRequest {
            applicant: Some(pb::Applicant {
                applicant_id: "a1".into(),
                region: "CN-31".into(),
                ..Default::default()
            }),
            requested_amount: Some(cny(1_000_000)),
            min_term_months: 6,
            max_term_months: 24,
            ..Default::default()
        }
    }

    fn fields(r: pb::RouteFinancingRequest) -> Vec<String> {
        match financing_request_from_pb(&r, DEFAULTS) {
            Err(RouterError::Invalid(v)) => v.into_iter().map(|v| v.field).collect(),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn valid_request_converts_with_defaults() {
        let r = financing_request_from_pb(&valid(), DEFAULTS).expect("valid");
        assert_eq!(r.max_offers, 10);
        assert_eq!(r.strategy, core::Strategy::Balanced);
        assert_eq!(r.locale, core::Locale::En);
    }

    #[test]
    fn unsupported_locales_fall_back_instead_of_failing() {
        for (tag, want) in [
            ("fr", core::Locale::En),
            ("xx-YY", core::Locale::En),
            ("zh-TW", core::Locale::En),
            ("zh-Hant-HK", core::Locale::En),
            ("zh-CN", core::Locale::ZhCn),
        ] {
            let mut r = valid();
            r.locale = tag.into();
            let converted = financing_request_from_pb(&r, DEFAULTS).expect("valid");
            assert_eq!(converted.locale, want, "{tag}");
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut r = valid();
        r.requested_amount = Some(cny(-5));
        r.min_term_months = 30;
        r.max_term_months = 12;
        r.strategy = 42;
        r.product_kinds = vec![9];
        let f = fields(r);
        for want in [
            "requested_amount.amount_minor",
            "max_term_months",
            "strategy",
            "product_kinds[0]",
        ] {
            assert!(f.iter().any(|x| x == want), "{want} missing from {f:?}");
        }
    }

    #[test]
    fn missing_applicant_and_amount_are_named() {
        let f = fields(pb::RouteFinancingRequest {
            min_term_months: 1,
            max_term_months: 1,
            ..Default::default()
        });
        assert!(
            f.contains(&"applicant".to_string()) && f.contains(&"requested_amount".to_string()),
            "{f:?}"
        );
    }

    #[test]
    fn income_in_another_currency_is_refused() {
        let mut r = valid();
        if let Some(a) = r.applicant.as_mut() {
            a.monthly_income = Some(pb::Money {
                currency_code: "USD".into(),
                amount_minor: 100,
            });
        }
        assert!(fields(r).contains(&"applicant.monthly_income.currency_code".to_string()));
    }
}

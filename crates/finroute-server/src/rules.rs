//! Routing rules: the primary line's refusal reasons and the applicant's
//! data pick the channels worth calling, before the fan-out
//! (docs/routing-rules.md).
//!
//! A rule has conditions on the request (`reasons`, `has`, `lacks`), a
//! selection of channels (`kinds`, `adapters`, `requiring`) and an action:
//!
//! - `skip`: the channel is not called; reported `SKIPPED_BY_RULE`.
//! - `prefer` / `defer`: the channel is put in an earlier / later tier.
//!   Tiers are called one after the other, each concurrently; a later tier
//!   is called only while the earlier ones together produced fewer than
//!   `routing.tier_min_offers` valid offers (its channels are otherwise
//!   reported `NOT_NEEDED`). Without any prefer/defer rule matching, every
//!   channel is in one tier: today's concurrent fan-out.
//!
//! For each channel the first rule that matches decides: the operator's
//! `[[routing.rules]]` in file order, then the default rules
//! ([`default_rules`], off with `routing.default_rules = false`).

use std::collections::HashSet;

use finroute_core::{ApplicantField, FinancingRequest, ProductKind, RefusalReason};
use serde::{Deserialize, Serialize};

/// A primary-line refusal reason, as config names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    DynamicLineAdjustment,
    CreditScoreBelowThreshold,
    DebtToIncomeTooHigh,
    ApplicationVelocity,
    InsufficientHistory,
    PolicyRestriction,
    SystemError,
}

impl Reason {
    fn core(self) -> RefusalReason {
        match self {
            Reason::DynamicLineAdjustment => RefusalReason::DynamicLineAdjustment,
            Reason::CreditScoreBelowThreshold => RefusalReason::CreditScoreBelowThreshold,
            Reason::DebtToIncomeTooHigh => RefusalReason::DebtToIncomeTooHigh,
            Reason::ApplicationVelocity => RefusalReason::ApplicationVelocity,
            Reason::InsufficientHistory => RefusalReason::InsufficientHistory,
            Reason::PolicyRestriction => RefusalReason::PolicyRestriction,
            Reason::SystemError => RefusalReason::SystemError,
        }
    }
}

/// An applicant field, as config names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Region,
    CreditScore,
    MonthlyIncome,
    IncomeVolatility,
    MonthlyDebtPayments,
    Employment,
    /// At least one collateral item that is not encumbered (an encumbered
    /// asset unlocks no secured offer).
    Collateral,
}

impl Field {
    fn core(self) -> ApplicantField {
        match self {
            Field::Region => ApplicantField::Region,
            Field::CreditScore => ApplicantField::CreditScore,
            Field::MonthlyIncome => ApplicantField::MonthlyIncome,
            Field::IncomeVolatility => ApplicantField::IncomeVolatility,
            Field::MonthlyDebtPayments => ApplicantField::MonthlyDebtPayments,
            Field::Employment => ApplicantField::Employment,
            Field::Collateral => ApplicantField::Collateral,
        }
    }

    /// Whether the request's applicant has this field.
    fn present(self, req: &FinancingRequest) -> bool {
        let a = &req.applicant;
        match self {
            Field::Region => !a.region.is_empty(),
            Field::CreditScore => a.credit_score.is_some(),
            Field::MonthlyIncome => a.monthly_income.is_some(),
            Field::IncomeVolatility => a.income_volatility.is_some(),
            Field::MonthlyDebtPayments => a.monthly_debt_payments.is_some(),
            Field::Employment => a.employment.is_some(),
            Field::Collateral => a.collateral.iter().any(|c| !c.encumbered),
        }
    }
}

/// A channel's product kind, as config names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    SecuredLoan,
    Installment,
    PartnerLoan,
}

impl Kind {
    fn core(self) -> ProductKind {
        match self {
            Kind::SecuredLoan => ProductKind::SecuredLoan,
            Kind::Installment => ProductKind::Installment,
            Kind::PartnerLoan => ProductKind::PartnerLoan,
        }
    }
}

/// What a rule does to the channels it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Not called (`SKIPPED_BY_RULE`).
    Skip,
    /// Called in the first tier.
    Prefer,
    /// Called in the last tier, only when the earlier tiers fell short.
    Defer,
}

/// One `[[routing.rules]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    /// Names the rule in channel reports, logs and `config show`.
    pub id: String,
    /// The rule applies when the primary line refused for any of these
    /// reasons; empty = whatever the reasons (and also without a refusal).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    /// ... and the applicant has every one of these fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub has: Vec<Field>,
    /// ... and the applicant has none of these fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lacks: Vec<Field>,
    /// The channels: of these product kinds (empty = any kind) ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<Kind>,
    /// ... with these `[[adapters]]` ids (empty = any channel) ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adapters: Vec<String>,
    /// ... whose `Describe` requires any of these fields (empty = whatever
    /// they require; a channel not yet described does not match).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requiring: Vec<Field>,
    /// What happens to the selected channels.
    pub action: Action,
}

/// The rules built in, applied after the operator's unless
/// `routing.default_rules = false` (docs/routing-rules.md has the table).
pub fn default_rules() -> Vec<RoutingRule> {
    let rule = |id: &str, action| RoutingRule {
        id: id.into(),
        reasons: Vec::new(),
        has: Vec::new(),
        lacks: Vec::new(),
        kinds: Vec::new(),
        adapters: Vec::new(),
        requiring: Vec::new(),
        action,
    };
    vec![
        // A thin file: a partner that decides on a bureau score has
        // nothing to decide on; calling it only costs an inquiry.
        RoutingRule {
            reasons: vec![Reason::InsufficientHistory],
            kinds: vec![Kind::PartnerLoan],
            requiring: vec![Field::CreditScore],
            ..rule("thin-file-skips-score-partners", Action::Skip)
        },
        // A low score with an unencumbered asset: a secured loan rests on
        // the asset, not the score. Secured channels first; the others
        // only when they make no offer.
        RoutingRule {
            reasons: vec![Reason::CreditScoreBelowThreshold],
            has: vec![Field::Collateral],
            kinds: vec![Kind::SecuredLoan],
            ..rule("low-score-with-collateral-prefers-secured", Action::Prefer)
        },
        // Too many recent applications: every partner quote can add an
        // inquiry to the file. In-house products first; partners only when
        // those make no offer.
        RoutingRule {
            reasons: vec![Reason::ApplicationVelocity],
            kinds: vec![Kind::PartnerLoan],
            ..rule("velocity-defers-partners", Action::Defer)
        },
    ]
}

/// What the rules decided for one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No rule matched: called in the middle tier.
    Call,
    /// Not called, by the rule with this id.
    Skip(String),
    /// Called in the tier of `action` (prefer or defer), by the rule `id`.
    Tier { action: Action, rule: String },
}

impl Verdict {
    /// The channel's tier: 0 first (prefer), 1 (no rule), 2 last (defer);
    /// `None` when skipped.
    pub fn tier(&self) -> Option<usize> {
        match self {
            Verdict::Skip(_) => None,
            Verdict::Call => Some(1),
            Verdict::Tier { action, .. } => Some(match action {
                Action::Prefer => 0,
                Action::Defer => 2,
                Action::Skip => 1,
            }),
        }
    }

    /// The rule that placed the channel, if any.
    pub fn rule(&self) -> Option<&str> {
        match self {
            Verdict::Call => None,
            Verdict::Skip(r) | Verdict::Tier { rule: r, .. } => Some(r),
        }
    }
}

/// What a rule needs to know of a channel.
#[derive(Debug, Clone, Copy)]
pub struct ChannelFacts<'a> {
    pub id: &'a str,
    pub kind: ProductKind,
    /// `None` when the channel has not described itself yet.
    pub required_fields: Option<&'a [ApplicantField]>,
}

/// The rules in force: the operator's, then the defaults if on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    rules: Vec<RoutingRule>,
    /// A later tier is called while the earlier ones have fewer offers.
    pub tier_min_offers: u32,
}

impl Default for RuleSet {
    fn default() -> Self {
        RuleSet::new(&[], true, 1)
    }
}

impl RuleSet {
    pub fn new(operator: &[RoutingRule], defaults: bool, tier_min_offers: u32) -> RuleSet {
        let mut rules = operator.to_vec();
        if defaults {
            rules.extend(default_rules());
        }
        RuleSet {
            rules,
            tier_min_offers,
        }
    }

    /// No rule at all (every channel in one tier).
    pub fn none() -> RuleSet {
        RuleSet::new(&[], false, 1)
    }

    /// The rules in the order they are tried.
    pub fn rules(&self) -> &[RoutingRule] {
        &self.rules
    }

    /// The verdict for `channel` on `req`: the first matching rule's.
    pub fn verdict(&self, req: &FinancingRequest, channel: ChannelFacts<'_>) -> Verdict {
        let reasons: HashSet<RefusalReason> = req
            .primary_decision
            .as_ref()
            .filter(|d| d.refused)
            .map(|d| d.reasons.iter().copied().collect())
            .unwrap_or_default();
        self.rules
            .iter()
            .find(|r| r.applies_to(req, &reasons) && r.selects(channel))
            .map_or(Verdict::Call, |r| match r.action {
                Action::Skip => Verdict::Skip(r.id.clone()),
                action => Verdict::Tier {
                    action,
                    rule: r.id.clone(),
                },
            })
    }
}

impl RoutingRule {
    fn applies_to(&self, req: &FinancingRequest, reasons: &HashSet<RefusalReason>) -> bool {
        (self.reasons.is_empty() || self.reasons.iter().any(|r| reasons.contains(&r.core())))
            && self.has.iter().all(|f| f.present(req))
            && !self.lacks.iter().any(|f| f.present(req))
    }

    fn selects(&self, c: ChannelFacts<'_>) -> bool {
        (self.kinds.is_empty() || self.kinds.iter().any(|k| k.core() == c.kind))
            && (self.adapters.is_empty() || self.adapters.iter().any(|a| a == c.id))
            && (self.requiring.is_empty()
                || c.required_fields.is_some_and(|fields| {
                    self.requiring.iter().any(|f| fields.contains(&f.core()))
                }))
    }

    /// Why the rule cannot be used, as (key suffix, message), if it cannot.
    pub fn problem(&self, adapter_ids: &[&str]) -> Option<(&'static str, String)> {
        let id_ok = (1..=64).contains(&self.id.len())
            && (self.id.bytes()).all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !id_ok {
            return Some((
                "id",
                "must be 1 to 64 characters of letters, digits, '-', '_' or '.'".into(),
            ));
        }
        if self.kinds.is_empty() && self.adapters.is_empty() && self.requiring.is_empty() {
            return Some((
                "action",
                "name the channels it applies to: kinds, adapters or requiring".into(),
            ));
        }
        if let Some(a) = self
            .adapters
            .iter()
            .find(|a| !adapter_ids.contains(&a.as_str()))
        {
            return Some((
                "adapters",
                format!("no [[adapters]] entry has the id {a:?}"),
            ));
        }
        if let Some(f) = self.has.iter().find(|f| self.lacks.contains(f)) {
            return Some((
                "lacks",
                format!("{f:?} is also in `has`: the rule could never apply"),
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use finroute_core::{
        Applicant, Collateral, CollateralKind, Currency, LoanPurpose, Locale, Money,
        PrimaryDecision, Strategy,
    };

    fn cny(minor: i64) -> Money {
        Money::new(Currency::parse("CNY").expect("a valid code"), minor)
    }

    /// A scored, employed applicant in Shanghai without collateral,
    /// refused for `reasons`.
    fn refused(reasons: &[RefusalReason]) -> FinancingRequest {
        FinancingRequest {
            request_id: String::new(),
            applicant: Applicant {
                applicant_id: "a-1".into(),
                region: "CN-31".into(),
                credit_score: Some(680),
                monthly_income: Some(cny(2_000_000)),
                income_volatility: None,
                monthly_debt_payments: Some(cny(200_000)),
                employment: None,
                collateral: Vec::new(),
                consent: Default::default(),
            },
            requested_amount: cny(1_000_000),
            min_term_months: 3,
            max_term_months: 24,
            purpose: LoanPurpose::Consumption,
            primary_decision: Some(PrimaryDecision {
                refused: true,
                reasons: reasons.to_vec(),
                ..Default::default()
            }),
            strategy: Strategy::Balanced,
            product_kinds: Vec::new(),
            max_offers: 10,
            locale: Locale::En,
            channels: Default::default(),
        }
    }

    fn facts<'a>(
        id: &'a str,
        kind: ProductKind,
        required: Option<&'a [ApplicantField]>,
    ) -> ChannelFacts<'a> {
        ChannelFacts {
            id,
            kind,
            required_fields: required,
        }
    }

    const SCORE: &[ApplicantField] = &[ApplicantField::CreditScore, ApplicantField::Region];
    const INCOME: &[ApplicantField] = &[ApplicantField::MonthlyIncome];

    #[test]
    fn thin_file_skips_partners_that_require_a_score_only() {
        let rules = RuleSet::default();
        let req = refused(&[RefusalReason::InsufficientHistory]);
        let v = rules.verdict(&req, facts("bank-a", ProductKind::PartnerLoan, Some(SCORE)));
        assert_eq!(v, Verdict::Skip("thin-file-skips-score-partners".into()));
        assert_eq!(v.tier(), None);
        // A partner that needs no score, or has not described itself; an
        // in-house channel that reads the score.
        for required in [Some(INCOME), None] {
            let v = rules.verdict(&req, facts("bank-b", ProductKind::PartnerLoan, required));
            assert_eq!(v, Verdict::Call);
        }
        let v = rules.verdict(
            &req,
            facts("secured", ProductKind::SecuredLoan, Some(SCORE)),
        );
        assert_eq!(v, Verdict::Call);
        // Another refusal reason: the score partner is called.
        let req = refused(&[RefusalReason::DebtToIncomeTooHigh]);
        let v = rules.verdict(&req, facts("bank-a", ProductKind::PartnerLoan, Some(SCORE)));
        assert_eq!(v, Verdict::Call);
    }

    #[test]
    fn low_score_prefers_secured_only_with_unencumbered_collateral() {
        let rules = RuleSet::default();
        let mut req = refused(&[
            RefusalReason::DynamicLineAdjustment,
            RefusalReason::CreditScoreBelowThreshold,
        ]);
        let asset = |encumbered| Collateral {
            kind: CollateralKind::Vehicle,
            appraised_value: cny(5_000_000),
            encumbered,
        };
        req.applicant.collateral = vec![asset(true)];
        let secured = facts("secured", ProductKind::SecuredLoan, None);
        assert_eq!(
            rules.verdict(&req, secured),
            Verdict::Call,
            "encumbered only"
        );
        req.applicant.collateral.push(asset(false));
        let v = rules.verdict(&req, secured);
        assert_eq!(v.tier(), Some(0));
        assert_eq!(v.rule(), Some("low-score-with-collateral-prefers-secured"));
        let other = facts("installment", ProductKind::Installment, None);
        assert_eq!(rules.verdict(&req, other), Verdict::Call);
        // Not refused: the reasons do not count.
        if let Some(d) = req.primary_decision.as_mut() {
            d.refused = false;
        }
        assert_eq!(rules.verdict(&req, secured), Verdict::Call);
    }

    #[test]
    fn velocity_defers_partners() {
        let rules = RuleSet::default();
        let req = refused(&[RefusalReason::ApplicationVelocity]);
        let v = rules.verdict(&req, facts("bank-a", ProductKind::PartnerLoan, None));
        assert_eq!(v.tier(), Some(2));
        let v = rules.verdict(&req, facts("secured", ProductKind::SecuredLoan, None));
        assert_eq!(v.tier(), Some(1));
    }

    #[test]
    fn operator_rules_come_first_and_defaults_can_be_turned_off() {
        let mine = RoutingRule {
            id: "call-bank-a-anyway".into(),
            reasons: vec![Reason::InsufficientHistory],
            has: Vec::new(),
            lacks: vec![Field::MonthlyIncome],
            kinds: Vec::new(),
            adapters: vec!["bank-a".into()],
            requiring: Vec::new(),
            action: Action::Prefer,
        };
        let mut req = refused(&[RefusalReason::InsufficientHistory]);
        req.applicant.monthly_income = None;
        let bank_a = facts("bank-a", ProductKind::PartnerLoan, Some(SCORE));
        let v = RuleSet::new(std::slice::from_ref(&mine), true, 1).verdict(&req, bank_a);
        assert_eq!(v.rule(), Some("call-bank-a-anyway"));
        // `lacks` unmet: the default rule decides.
        req.applicant.monthly_income = Some(cny(100));
        let v = RuleSet::new(std::slice::from_ref(&mine), true, 1).verdict(&req, bank_a);
        assert_eq!(v.rule(), Some("thin-file-skips-score-partners"));
        // Defaults off: nothing matches.
        let v = RuleSet::new(std::slice::from_ref(&mine), false, 1).verdict(&req, bank_a);
        assert_eq!(v, Verdict::Call);
        assert_eq!(RuleSet::none().verdict(&req, bank_a), Verdict::Call);
    }

    #[test]
    fn problems_name_the_key() {
        let ok = default_rules().remove(0);
        assert_eq!(ok.problem(&[]), None);
        let unnamed = RoutingRule {
            kinds: Vec::new(),
            requiring: Vec::new(),
            ..ok.clone()
        };
        assert_eq!(unnamed.problem(&[]).map(|p| p.0), Some("action"));
        let unknown = RoutingRule {
            adapters: vec!["nobody".into()],
            ..ok.clone()
        };
        assert_eq!(unknown.problem(&["bank-a"]).map(|p| p.0), Some("adapters"));
        let never = RoutingRule {
            has: vec![Field::Region],
            lacks: vec![Field::Region],
            ..ok.clone()
        };
        assert_eq!(never.problem(&[]).map(|p| p.0), Some("lacks"));
        let bad_id = RoutingRule {
            id: "a b".into(),
            ..ok
        };
        assert_eq!(bad_id.problem(&[]).map(|p| p.0), Some("id"));
    }
}

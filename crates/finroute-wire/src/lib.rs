//! finroute-wire: conversions between the wire types of the finroute v1
//! contract (`finroute_proto::v1`) and the domain (`finroute_core`), shared
//! by every edge: the router's remote adapter and services
//! (`finroute-adapters` re-exports this crate as `finroute_adapters::convert`)
//! and the partner side (`finroute-partner-sdk`), so both check a message the
//! same way.
//!
//! Wire-to-domain conversions collect [`Violation`]s that name the field by
//! its path (`applicant.collateral[1].appraised_value`); messages never quote
//! personal values. Domain-to-wire conversions cannot fail.

#![warn(unreachable_pub, missing_docs)]

use finroute_core as core;
use finroute_core::money::MAX_AMOUNT_MINOR;
use finroute_core::text;
use finroute_proto::v1 as pb;

/// One bad field: its path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field's path in the message, e.g. `applicant.credit_score`.
    pub field: String,
    /// What is wrong with it, in words that never quote the value.
    pub description: String,
}

/// Collects violations while converting; empty when the input was good.
#[derive(Debug, Default)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    /// Records that `field` is bad.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(Violation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// True when no field was bad.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks a required identifier (see [`finroute_core::text::check_id`]).
    pub fn id(&mut self, field: impl Into<String>, value: &str) {
        if let Err(e) = text::check_id(value, MAX_ID_LEN) {
            self.add(field, e.to_string());
        }
    }

    /// Checks an optional identifier: empty, or as [`Violations::id`].
    pub fn optional_id(&mut self, field: impl Into<String>, value: &str) {
        if let Err(e) = text::check_optional_id(value, MAX_ID_LEN) {
            self.add(field, e.to_string());
        }
    }
}

/// Milliseconds since the epoch of a wire timestamp (saturating).
pub fn millis_from_timestamp(t: &prost_types::Timestamp) -> i64 {
    t.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(t.nanos / 1_000_000))
}

/// A wire timestamp from milliseconds since the epoch.
pub fn timestamp_from_millis(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A wire duration from milliseconds.
pub fn duration_from_millis(ms: u64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: (ms / 1000) as i64,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    }
}

/// Milliseconds of a wire duration (saturating; negative stays negative).
pub fn millis_from_duration(d: &prost_types::Duration) -> i64 {
    d.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(d.nanos / 1_000_000))
}

/// Domain money from wire money; `field` names it in violations. Amounts
/// beyond [`MAX_AMOUNT_MINOR`] either way are refused here, for every money
/// field of every message (signs are the caller's to check).
pub fn money_from_pb(m: &pb::Money, field: &str, v: &mut Violations) -> Option<core::Money> {
    if m.amount_minor.unsigned_abs() > MAX_AMOUNT_MINOR.unsigned_abs() {
        v.add(
            format!("{field}.amount_minor"),
            format!("at most {MAX_AMOUNT_MINOR} minor units in magnitude"),
        );
        return None;
    }
    match core::Currency::parse(&m.currency_code) {
        Ok(c) => Some(core::Money::new(c, m.amount_minor)),
        Err(_) => {
            v.add(
                format!("{field}.currency_code"),
                "must be a three-letter ISO 4217 code",
            );
            None
        }
    }
}

/// Wire money from domain money.
pub fn money_to_pb(m: core::Money) -> pb::Money {
    pb::Money {
        currency_code: m.currency.as_str().to_owned(),
        amount_minor: m.amount_minor,
    }
}

/// Wire money of `amount` minor units in `currency`.
pub fn minor_to_pb(currency: core::Currency, amount: i64) -> pb::Money {
    money_to_pb(core::Money::new(currency, amount))
}

macro_rules! enum_map {
    ($from:ident, $to:ident, $pb:ty, $core:ty, { $($p:ident => $c:ident),+ $(,)? }) => {
        /// Domain value of a wire enum number; `None` for UNSPECIFIED and unknown numbers.
        pub fn $from(n: i32) -> Option<$core> {
            match <$pb>::try_from(n).ok()? {
                $(<$pb>::$p => Some(<$core>::$c),)+
                #[allow(unreachable_patterns)]
                _ => None,
            }
        }
        /// Wire enum number of a domain value.
        pub fn $to(c: $core) -> i32 {
            match c { $(<$core>::$c => <$pb>::$p as i32,)+ }
        }
    };
}

enum_map!(product_kind_from_pb, product_kind_to_pb, pb::ProductKind, core::ProductKind, {
    PrimaryCreditLine => PrimaryCreditLine, SecuredLoan => SecuredLoan,
    Installment => Installment, PartnerLoan => PartnerLoan,
});
enum_map!(employment_from_pb, employment_to_pb, pb::EmploymentType, core::EmploymentType, {
    Employed => Employed, SelfEmployed => SelfEmployed, Freelance => Freelance,
    Student => Student, Retired => Retired, Unemployed => Unemployed,
});
enum_map!(collateral_kind_from_pb, collateral_kind_to_pb, pb::CollateralKind, core::CollateralKind, {
    Vehicle => Vehicle, Property => Property, Deposit => Deposit, Securities => Securities,
});
enum_map!(purpose_from_pb, purpose_to_pb, pb::LoanPurpose, core::LoanPurpose, {
    Unspecified => Unspecified, Consumption => Consumption, Education => Education, Medical => Medical,
    HomeImprovement => HomeImprovement, Business => Business,
    DebtConsolidation => DebtConsolidation, Other => Other,
});
enum_map!(refusal_from_pb, refusal_to_pb, pb::RefusalReason, core::RefusalReason, {
    DynamicLineAdjustment => DynamicLineAdjustment,
    CreditScoreBelowThreshold => CreditScoreBelowThreshold,
    DebtToIncomeTooHigh => DebtToIncomeTooHigh, ApplicationVelocity => ApplicationVelocity,
    InsufficientHistory => InsufficientHistory, PolicyRestriction => PolicyRestriction,
    SystemError => SystemError,
});
enum_map!(repayment_from_pb, repayment_to_pb, pb::RepaymentMethod, core::RepaymentMethod, {
    EqualInstallment => EqualInstallment, EqualPrincipal => EqualPrincipal,
    InterestOnlyBalloon => InterestOnlyBalloon, FlatFeeInstallment => FlatFeeInstallment,
});
enum_map!(qualification_from_pb, qualification_to_pb, pb::Qualification, core::Qualification, {
    PreQualified => PreQualified, PreApproved => PreApproved, Conditional => Conditional,
});
enum_map!(decline_reason_from_pb, decline_reason_to_pb, pb::DeclineReason, core::DeclineReason, {
    CreditScore => CreditScore, DebtToIncome => DebtToIncome, IncomeUnverified => IncomeUnverified,
    MissingData => MissingData, OutsidePolicyAmount => OutsidePolicyAmount,
    OutsidePolicyTerm => OutsidePolicyTerm, OutsidePolicyRegion => OutsidePolicyRegion,
    OutsidePolicyPurpose => OutsidePolicyPurpose, Capacity => Capacity, Other => Other,
});
enum_map!(adjusted_term_from_pb, adjusted_term_to_pb, pb::AdjustedTerm, core::AdjustedTerm, {
    Amount => Amount, Term => Term, Rate => Rate,
});
enum_map!(condition_kind_from_pb, condition_kind_to_pb, pb::ConditionKind, core::ConditionKind, {
    ProofOfIncome => ProofOfIncome, ProofOfIdentity => ProofOfIdentity,
    ProofOfAddress => ProofOfAddress, BankStatements => BankStatements,
    EmploymentVerification => EmploymentVerification,
    CollateralAppraisal => CollateralAppraisal, Guarantor => Guarantor, Other => Other,
});
enum_map!(field_from_pb, field_to_pb, pb::ApplicantField, core::ApplicantField, {
    Region => Region, CreditScore => CreditScore, MonthlyIncome => MonthlyIncome,
    IncomeVolatility => IncomeVolatility, MonthlyDebtPayments => MonthlyDebtPayments,
    Employment => Employment, Collateral => Collateral,
});
enum_map!(strategy_from_pb, strategy_to_pb, pb::RankingStrategy, core::Strategy, {
    Balanced => Balanced, LowestCost => LowestCost, HighestApproval => HighestApproval,
});
enum_map!(channel_status_from_pb, channel_status_to_pb, pb::ChannelStatus, core::ChannelStatus, {
    Ok => Ok, NoOffer => NoOffer, Timeout => Timeout, Error => Error,
    CircuitOpen => CircuitOpen, Ineligible => Ineligible, NoConsent => NoConsent,
    Excluded => Excluded,
    QuotaExhausted => QuotaExhausted,
    SkippedByRule => SkippedByRule, NotNeeded => NotNeeded,
});
enum_map!(odds_source_from_pb, odds_source_to_pb, pb::OddsSource, core::OddsSource, {
    Partner => Partner, Model => Model, Blended => Blended,
});
enum_map!(warning_from_pb, warning_to_pb, pb::OfferWarning, core::OfferWarning, {
    StatedAprUnderstated => StatedAprUnderstated, AffordabilityRisk => AffordabilityRisk,
    RequiresCollateral => RequiresCollateral, NearRateCap => NearRateCap,
});
enum_map!(suggestion_kind_from_pb, suggestion_kind_to_pb, pb::SuggestionKind, core::SuggestionKind, {
    LowerAmount => LowerAmount, LongerTerm => LongerTerm, UseCollateral => UseCollateral,
    Installment => Installment, ShareWithPartners => ShareWithPartners, Wait => Wait,
    Appeal => Appeal, ProvideData => ProvideData, CounterOffer => CounterOffer,
});

enum_map!(party_role_from_pb, party_role_to_pb, pb::PartyRole, core::PartyRole, {
    Lender => Lender, Platform => Platform, Guarantor => Guarantor, Insurer => Insurer,
    Other => Other,
});
enum_map!(lender_type_from_pb, lender_type_to_pb, pb::LenderType, core::LenderType, {
    Bank => Bank, ConsumerFinance => ConsumerFinance, Microlender => Microlender, Other => Other,
});
enum_map!(charge_kind_from_pb, charge_kind_to_pb, pb::ChargeKind, core::ChargeKind, {
    Interest => Interest, ServiceFee => ServiceFee, GuaranteeFee => GuaranteeFee,
    InsurancePremium => InsurancePremium, Membership => Membership,
    ArrangementFee => ArrangementFee, Other => Other,
});
enum_map!(charge_timing_from_pb, charge_timing_to_pb, pb::ChargeTiming, core::ChargeTiming, {
    DeductedAtDisbursement => DeductedAtDisbursement, PaidAtDisbursement => PaidAtDisbursement,
    PerPeriodAmount => PerPeriodAmount, PerPeriodRateOnPrincipal => PerPeriodRateOnPrincipal,
    PerPeriodRateOnBalance => PerPeriodRateOnBalance, AtEnd => AtEnd,
});

/// Longest legal name, registration id or contact kept, in bytes.
pub const MAX_PARTY_TEXT: usize = 200;
/// Most parties an offer or a description may name.
pub const MAX_PARTIES: usize = 8;
/// Most charges an offer may carry.
pub const MAX_CHARGES: usize = 16;
/// Longest charge or promotion description kept, in bytes.
pub const MAX_CHARGE_TEXT: usize = 400;

/// Domain party from the wire: texts cleaned and cut; `None` when the role
/// is unspecified or unknown, or the legal name is empty (the caller names
/// the field).
pub fn party_from_pb(p: &pb::Party) -> Option<core::Party> {
    let role = party_role_from_pb(p.role)?;
    let legal_name = text::clean(&p.legal_name, MAX_PARTY_TEXT);
    if legal_name.is_empty() {
        return None;
    }
    Some(core::Party {
        role,
        legal_name,
        registration_id: text::clean(&p.registration_id, MAX_PARTY_TEXT),
        contact: text::clean(&p.contact, MAX_PARTY_TEXT),
        lender_type: lender_type_from_pb(p.lender_type),
    })
}

/// Wire party from the domain.
pub fn party_to_pb(p: &core::Party) -> pb::Party {
    pb::Party {
        role: party_role_to_pb(p.role),
        legal_name: p.legal_name.clone(),
        registration_id: p.registration_id.clone(),
        contact: p.contact.clone(),
        lender_type: p.lender_type.map(lender_type_to_pb).unwrap_or(0),
    }
}

/// Domain parties from the wire; the first unusable one is an `Err`
/// naming its index under `field`.
pub fn parties_from_pb(ps: &[pb::Party], field: &str) -> Result<Vec<core::Party>, String> {
    if ps.len() > MAX_PARTIES {
        return Err(format!("{field} at most {MAX_PARTIES} parties"));
    }
    ps.iter()
        .enumerate()
        .map(|(i, p)| {
            party_from_pb(p)
                .ok_or_else(|| format!("{field}[{i}] needs a known role and a legal_name"))
        })
        .collect()
}

/// Domain charge from the wire. Unknown enum values become `None` (pricing
/// refuses the offer naming the field); the amount's currency is checked
/// by pricing against the principal's.
pub fn charge_from_pb(c: &pb::Charge, field: &str, v: &mut Violations) -> core::Charge {
    core::Charge {
        kind: charge_kind_from_pb(c.kind),
        payee: party_role_from_pb(c.payee),
        payee_name: text::clean(&c.payee_name, MAX_PARTY_TEXT),
        timing: charge_timing_from_pb(c.timing),
        amount: c
            .amount
            .as_ref()
            .and_then(|m| money_from_pb(m, &format!("{field}.amount"), v)),
        period_rate_bps: c.period_rate_bps,
        declinable: c.declinable,
        description: text::clean(&c.description, MAX_CHARGE_TEXT),
    }
}

/// Wire charge from the domain.
pub fn charge_to_pb(c: &core::Charge) -> pb::Charge {
    pb::Charge {
        kind: c.kind.map(charge_kind_to_pb).unwrap_or(0),
        payee: c.payee.map(party_role_to_pb).unwrap_or(0),
        payee_name: c.payee_name.clone(),
        timing: c.timing.map(charge_timing_to_pb).unwrap_or(0),
        amount: c.amount.map(money_to_pb),
        period_rate_bps: c.period_rate_bps,
        declinable: c.declinable,
        description: c.description.clone(),
    }
}

/// Domain promotion from the wire: negative counts read as 0, unknown
/// charge kinds are dropped from the waiver.
pub fn promotion_from_pb(p: &pb::Promotion) -> core::Promotion {
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    core::Promotion {
        interest_free_days: count(p.interest_free_days),
        interest_free_periods: count(p.interest_free_periods),
        discounted_rate_bps: p.discounted_rate_bps,
        discounted_periods: count(p.discounted_periods),
        waived_charges: p
            .waived_charges
            .iter()
            .filter_map(|k| charge_kind_from_pb(*k))
            .collect(),
        waiver_periods: count(p.waiver_periods),
        description: text::clean(&p.description, MAX_CHARGE_TEXT),
    }
}

/// Wire promotion from the domain.
pub fn promotion_to_pb(p: &core::Promotion) -> pb::Promotion {
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    pb::Promotion {
        interest_free_days: count(p.interest_free_days),
        interest_free_periods: count(p.interest_free_periods),
        discounted_rate_bps: p.discounted_rate_bps,
        discounted_periods: count(p.discounted_periods),
        waived_charges: p
            .waived_charges
            .iter()
            .map(|k| charge_kind_to_pb(*k))
            .collect(),
        waiver_periods: count(p.waiver_periods),
        description: p.description.clone(),
    }
}

/// Domain decline from a partner's wire one: an unknown or unspecified
/// reason reads as OTHER (marked `untyped`), never an error; unknown or
/// unspecified fields are dropped, the rest deduplicated and bounded; the
/// text cleaned and cut (untrusted).
pub fn decline_from_pb(d: &pb::PartnerDecline) -> core::PartnerDecline {
    let reason = decline_reason_from_pb(d.reason);
    let mut missing_fields: Vec<core::ApplicantField> = d
        .missing_fields
        .iter()
        .take(core::answer::MAX_ANSWER_ITEMS)
        .filter_map(|f| field_from_pb(*f))
        .collect();
    missing_fields.sort_unstable();
    missing_fields.dedup();
    core::PartnerDecline {
        reason: reason.unwrap_or(core::DeclineReason::Other),
        missing_fields,
        text: text::clean(&d.text, core::answer::MAX_ANSWER_TEXT),
        untyped: reason.is_none(),
    }
}

/// Wire decline from the domain.
pub fn decline_to_pb(d: &core::PartnerDecline) -> pb::PartnerDecline {
    pb::PartnerDecline {
        reason: decline_reason_to_pb(d.reason),
        missing_fields: d.missing_fields.iter().map(|f| field_to_pb(*f)).collect(),
        text: d.text.clone(),
    }
}

/// The typed decline of a QuoteResponse that made no offer: the partner's
/// own (see [`decline_from_pb`]), or, when it sent none, OTHER with its
/// `decline_reason` text and `untyped` set. `None` when it made offers.
pub fn quote_decline_from_pb(reply: &pb::QuoteResponse) -> Option<core::PartnerDecline> {
    if !reply.offers.is_empty() {
        return None;
    }
    let mut d = match &reply.decline {
        Some(d) => decline_from_pb(d),
        None => core::PartnerDecline {
            reason: core::DeclineReason::Other,
            missing_fields: Vec::new(),
            text: String::new(),
            untyped: true,
        },
    };
    if d.text.is_empty() {
        d.text = text::clean(&reply.decline_reason, MAX_PARTNER_MESSAGE);
    }
    Some(d)
}

/// Domain adjustment from the wire: unknown changes dropped, an unknown
/// reason read as OTHER, the text cleaned and cut.
pub fn adjustment_from_pb(a: &pb::OfferAdjustment) -> core::Adjustment {
    let mut changed: Vec<core::AdjustedTerm> = a
        .changed
        .iter()
        .take(core::answer::MAX_ANSWER_ITEMS)
        .filter_map(|c| adjusted_term_from_pb(*c))
        .collect();
    changed.sort_unstable();
    changed.dedup();
    core::Adjustment {
        changed,
        reason: match a.reason {
            0 => None,
            n => Some(decline_reason_from_pb(n).unwrap_or(core::DeclineReason::Other)),
        },
        text: text::clean(&a.text, core::answer::MAX_ANSWER_TEXT),
    }
}

/// Wire adjustment from the domain.
pub fn adjustment_to_pb(a: &core::Adjustment) -> pb::OfferAdjustment {
    pb::OfferAdjustment {
        changed: a.changed.iter().map(|c| adjusted_term_to_pb(*c)).collect(),
        reason: a.reason.map(decline_reason_to_pb).unwrap_or(0),
        text: a.text.clone(),
    }
}

/// Domain conditions from the wire: unknown kinds read as OTHER, texts
/// cleaned and cut, at most [`core::answer::MAX_ANSWER_ITEMS`] kept.
pub fn conditions_from_pb(cs: &[pb::OfferCondition]) -> Vec<core::Condition> {
    cs.iter()
        .take(core::answer::MAX_ANSWER_ITEMS)
        .map(|c| core::Condition {
            kind: condition_kind_from_pb(c.kind).unwrap_or(core::ConditionKind::Other),
            description: text::clean(&c.description, core::answer::MAX_ANSWER_TEXT),
        })
        .collect()
}

/// Wire condition from the domain.
pub fn condition_to_pb(c: &core::Condition) -> pb::OfferCondition {
    pb::OfferCondition {
        kind: condition_kind_to_pb(c.kind),
        description: c.description.clone(),
    }
}

/// Wire cost line from the domain.
pub fn cost_line_to_pb(l: core::CostLine) -> pb::CostLine {
    pb::CostLine {
        kind: charge_kind_to_pb(l.kind),
        payee: party_role_to_pb(l.payee),
        payee_name: l.payee_name,
        timing: l.timing.map(charge_timing_to_pb).unwrap_or(0),
        total: Some(money_to_pb(l.total)),
        apr_share_bps: l.apr_share_bps,
        declinable: l.declinable,
        text: l.text,
    }
}

/// Wire partner-list check from the domain.
pub fn partner_list_check_to_pb(c: &core::PartnerListCheck) -> pb::PartnerListCheck {
    pb::PartnerListCheck {
        lender: c.lender.clone(),
        version: c.version.clone(),
        effective_from: Some(timestamp_from_millis(c.effective_from)),
    }
}

/// Wire rate labels from the domain.
pub fn rate_labels_to_pb(l: core::RateLabels) -> pb::RateLabels {
    pb::RateLabels {
        apr: l.apr,
        effective_annual_rate: l.effective_annual_rate,
    }
}

/// Domain consent from the wire. A named recipient without a known role
/// or a legal name is left out here; [`applicant_from_pb`] refuses it,
/// naming it.
pub fn consent_from_pb(c: &pb::Consent) -> core::Consent {
    core::Consent {
        share_with_partners: c.share_with_partners,
        consent_version: c.consent_version.clone(),
        given_at: c.given_at.as_ref().map(millis_from_timestamp),
        recipients: c.recipients.clone(),
        named_recipients: c
            .named_recipients
            .iter()
            .filter_map(party_from_pb)
            .collect(),
    }
}

/// Wire consent from the domain.
pub fn consent_to_pb(c: &core::Consent) -> pb::Consent {
    pb::Consent {
        share_with_partners: c.share_with_partners,
        consent_version: c.consent_version.clone(),
        given_at: c.given_at.map(timestamp_from_millis),
        recipients: c.recipients.clone(),
        named_recipients: c.named_recipients.iter().map(party_to_pb).collect(),
    }
}

/// Most collateral items an applicant may list.
pub const MAX_COLLATERAL: usize = 16;
/// Most consent recipients.
pub const MAX_RECIPIENTS: usize = 64;
/// Longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = text::MAX_ID_LEN;
/// Longest region code: ISO 3166-2 is at most `XX-XXX`.
pub const MAX_REGION_LEN: usize = 6;
/// Clock skew allowed on `consent.given_at` ahead of the router's clock.
pub const CONSENT_CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// Whether `region` is an ISO 3166 country code with an optional
/// subdivision: two capital letters, then optionally `-` and one to three
/// capital letters or digits (`CN`, `CN-31`, `CN-BJ`, `US-CA`).
pub fn is_region_code(region: &str) -> bool {
    let b = region.as_bytes();
    let country = b.len() >= 2 && b[..2].iter().all(u8::is_ascii_uppercase);
    let subdivision = match b.get(2..) {
        Some([]) => true,
        Some([b'-', rest @ ..]) => {
            (1..=3).contains(&rest.len())
                && rest
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        }
        _ => false,
    };
    country && subdivision
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Domain applicant from the wire, checking shapes and ranges. `prefix` is
/// the path of the applicant in the enclosing message (e.g. `applicant`).
pub fn applicant_from_pb(a: &pb::Applicant, prefix: &str, v: &mut Violations) -> core::Applicant {
    if a.applicant_id.is_empty() {
        v.add(
            format!("{prefix}.applicant_id"),
            "required (a pseudonymous id)",
        );
    } else {
        v.id(format!("{prefix}.applicant_id"), &a.applicant_id);
    }
    if !a.region.is_empty() && !is_region_code(&a.region) {
        v.add(
            format!("{prefix}.region"),
            "an ISO 3166 code: CN, or with a subdivision as in CN-31 or CN-BJ",
        );
    }
    if let Some(s) = a.credit_score
        && !(300..=950).contains(&s)
    {
        v.add(format!("{prefix}.credit_score"), "must be within 300..=950");
    }
    let monthly_income = a.monthly_income.as_ref().and_then(|m| {
        let field = format!("{prefix}.monthly_income");
        let r = money_from_pb(m, &field, v)?;
        if r.amount_minor < 0 {
            v.add(format!("{field}.amount_minor"), "must not be negative");
        }
        Some(r)
    });
    if let Some(x) = a.income_volatility
        && !(x.is_finite() && (0.0..=5.0).contains(&x))
    {
        v.add(
            format!("{prefix}.income_volatility"),
            "must be a coefficient of variation within 0..=5",
        );
    }
    let monthly_debt_payments = a.monthly_debt_payments.as_ref().and_then(|m| {
        let field = format!("{prefix}.monthly_debt_payments");
        let r = money_from_pb(m, &field, v)?;
        if r.amount_minor < 0 {
            v.add(format!("{field}.amount_minor"), "must not be negative");
        }
        Some(r)
    });
    let employment = match a.employment {
        0 => None,
        n => {
            let e = employment_from_pb(n);
            if e.is_none() {
                v.add(
                    format!("{prefix}.employment"),
                    format!("unknown EmploymentType {n}"),
                );
            }
            e
        }
    };
    if a.collateral.len() > MAX_COLLATERAL {
        v.add(
            format!("{prefix}.collateral"),
            format!("at most {MAX_COLLATERAL} items"),
        );
    }
    let mut collateral = Vec::with_capacity(a.collateral.len().min(MAX_COLLATERAL));
    for (i, c) in a.collateral.iter().take(MAX_COLLATERAL).enumerate() {
        let field = format!("{prefix}.collateral[{i}]");
        let kind = collateral_kind_from_pb(c.kind);
        if kind.is_none() {
            v.add(
                format!("{field}.kind"),
                "required: VEHICLE, PROPERTY, DEPOSIT or SECURITIES",
            );
        }
        let value = match &c.appraised_value {
            Some(m) => money_from_pb(m, &format!("{field}.appraised_value"), v),
            None => {
                v.add(format!("{field}.appraised_value"), "required");
                None
            }
        };
        if let Some(m) = value
            && m.amount_minor <= 0
        {
            v.add(
                format!("{field}.appraised_value.amount_minor"),
                "must be positive",
            );
        }
        if let (Some(kind), Some(appraised_value)) = (kind, value) {
            collateral.push(core::Collateral {
                kind,
                appraised_value,
                encumbered: c.encumbered,
            });
        }
    }
    let consent = a.consent.as_ref().map(consent_from_pb).unwrap_or_default();
    if consent.recipients.len() > MAX_RECIPIENTS {
        v.add(
            format!("{prefix}.consent.recipients"),
            format!("at most {MAX_RECIPIENTS} items"),
        );
    }
    for (i, r) in consent.recipients.iter().take(MAX_RECIPIENTS).enumerate() {
        v.id(format!("{prefix}.consent.recipients[{i}]"), r);
    }
    // Consent to share is consent to a named recipient: one that names no
    // one is refused, never silently dropped.
    let named = a
        .consent
        .as_ref()
        .map_or(&[][..], |c| &c.named_recipients[..]);
    if named.len() > MAX_RECIPIENTS {
        v.add(
            format!("{prefix}.consent.named_recipients"),
            format!("at most {MAX_RECIPIENTS} items"),
        );
    }
    for (i, p) in named.iter().take(MAX_RECIPIENTS).enumerate() {
        if party_from_pb(p).is_none() {
            v.add(
                format!("{prefix}.consent.named_recipients[{i}]"),
                "needs a known role and a legal_name",
            );
        }
    }
    v.optional_id(
        format!("{prefix}.consent.consent_version"),
        &consent.consent_version,
    );
    if let Some(at) = consent.given_at
        && (at < 0 || at > now_ms().saturating_add(CONSENT_CLOCK_SKEW_MS))
    {
        v.add(
            format!("{prefix}.consent.given_at"),
            "must not be in the future (5 minutes of clock skew allowed) or before 1970",
        );
    }
    core::Applicant {
        applicant_id: a.applicant_id.clone(),
        region: a.region.clone(),
        credit_score: a.credit_score,
        monthly_income,
        income_volatility: a.income_volatility,
        monthly_debt_payments,
        employment,
        collateral,
        consent,
    }
}

/// Wire applicant from the domain (fields that are `None` stay unset).
pub fn applicant_to_pb(a: &core::Applicant) -> pb::Applicant {
    pb::Applicant {
        applicant_id: a.applicant_id.clone(),
        region: a.region.clone(),
        credit_score: a.credit_score,
        monthly_income: a.monthly_income.map(money_to_pb),
        income_volatility: a.income_volatility,
        monthly_debt_payments: a.monthly_debt_payments.map(money_to_pb),
        employment: a.employment.map(employment_to_pb).unwrap_or(0),
        collateral: a
            .collateral
            .iter()
            .map(|c| pb::Collateral {
                kind: collateral_kind_to_pb(c.kind),
                appraised_value: Some(money_to_pb(c.appraised_value)),
                encumbered: c.encumbered,
            })
            .collect(),
        consent: Some(consent_to_pb(&a.consent)),
    }
}

/// Most offers one quote may carry; the rest are counted as malformed.
pub const MAX_OFFERS_PER_QUOTE: usize = 64;
/// Most schedule rows one offer may carry.
pub const MAX_SCHEDULE_ROWS: usize = 600;
/// Longest product name kept, in bytes (longer ones are cut).
pub const MAX_PRODUCT_NAME: usize = 200;
/// Most disclosure texts one offer may carry.
pub const MAX_DISCLOSURES: usize = 32;
/// Longest disclosure text kept, in bytes (longer ones are cut).
pub const MAX_DISCLOSURE: usize = 4096;
/// Longest partner decline reason or error message kept, in bytes.
pub const MAX_PARTNER_MESSAGE: usize = 200;

/// Domain partner offer from the wire. Shape problems that make the offer
/// unrepresentable are an `Err` naming the field; range and consistency
/// checks are `finroute_core::price_offer`'s.
pub fn partner_offer_from_pb(o: &pb::PartnerOffer) -> Result<core::PartnerOffer, String> {
    let mut v = Violations::default();
    let principal = match &o.principal {
        Some(m) => money_from_pb(m, "principal", &mut v),
        None => {
            v.add("principal", "required");
            None
        }
    };
    let upfront_fee = o
        .upfront_fee
        .as_ref()
        .and_then(|m| money_from_pb(m, "upfront_fee", &mut v));
    if o.schedule.len() > MAX_SCHEDULE_ROWS {
        v.add("schedule", format!("more than {MAX_SCHEDULE_ROWS} rows"));
    }
    let mut schedule = Vec::with_capacity(o.schedule.len().min(MAX_SCHEDULE_ROWS));
    let currency = principal.map(|p| p.currency);
    for (i, row) in o.schedule.iter().take(MAX_SCHEDULE_ROWS).enumerate() {
        let mut part = |m: &Option<pb::Money>, name: &str| -> i64 {
            let field = format!("schedule[{i}].{name}");
            match m.as_ref().and_then(|m| money_from_pb(m, &field, &mut v)) {
                Some(m) if Some(m.currency) == currency || currency.is_none() => m.amount_minor,
                Some(_) => {
                    v.add(field, "currency differs from the principal's");
                    0
                }
                None => 0,
            }
        };
        let principal = part(&row.principal, "principal");
        let interest = part(&row.interest, "interest");
        let fee = part(&row.fee, "fee");
        let period = u32::try_from(row.period).unwrap_or(0);
        schedule.push(core::Installment {
            period,
            principal,
            interest,
            fee,
        });
    }
    v.id("partner_offer_ref", &o.partner_offer_ref);
    if o.disclosures.len() > MAX_DISCLOSURES {
        v.add("disclosures", format!("at most {MAX_DISCLOSURES} texts"));
    }
    if o.charges.len() > MAX_CHARGES {
        v.add("charges", format!("at most {MAX_CHARGES} charges"));
    }
    let charges: Vec<_> = o
        .charges
        .iter()
        .take(MAX_CHARGES)
        .enumerate()
        .map(|(i, c)| charge_from_pb(c, &format!("charges[{i}]"), &mut v))
        .collect();
    let parties = parties_from_pb(&o.parties, "parties")?;
    if let Some(first) = v.0.first() {
        return Err(format!("{} {}", first.field, first.description));
    }
    let Some(principal) = principal else {
        return Err("principal required".into());
    };
    Ok(core::PartnerOffer {
        partner_offer_ref: o.partner_offer_ref.clone(),
        product_kind: product_kind_from_pb(o.product_kind),
        product_name: text::clean(&o.product_name, MAX_PRODUCT_NAME),
        principal,
        term_months: o.term_months,
        repayment_method: repayment_from_pb(o.repayment_method),
        // A qualification from a newer partner reads as the least firm.
        qualification: qualification_from_pb(o.qualification).unwrap_or_default(),
        stated_apr_bps: o.stated_apr_bps,
        nominal_rate_bps: o.nominal_rate_bps,
        monthly_fee_rate_bps: o.monthly_fee_rate_bps,
        upfront_fee,
        schedule,
        approval_probability: (o.approval_probability != 0.0).then_some(o.approval_probability),
        valid_for_ms: o.valid_for.as_ref().map(millis_from_duration).unwrap_or(0),
        requires_collateral: o.requires_collateral,
        disclosures: o
            .disclosures
            .iter()
            .map(|d| text::clean(d, MAX_DISCLOSURE))
            .filter(|d| !d.is_empty())
            .collect(),
        charges,
        parties,
        promotion: o
            .promotion
            .as_ref()
            .map(promotion_from_pb)
            .filter(|p| !p.is_empty()),
        adjustment: o.adjustment.as_ref().map(adjustment_from_pb),
        conditions: conditions_from_pb(&o.conditions),
    })
}

/// Wire partner offer from the domain (used by partners written in Rust and tests).
pub fn partner_offer_to_pb(o: &core::PartnerOffer) -> pb::PartnerOffer {
    let c = o.principal.currency;
    pb::PartnerOffer {
        partner_offer_ref: o.partner_offer_ref.clone(),
        product_kind: o.product_kind.map(product_kind_to_pb).unwrap_or(0),
        product_name: o.product_name.clone(),
        principal: Some(money_to_pb(o.principal)),
        term_months: o.term_months,
        repayment_method: o.repayment_method.map(repayment_to_pb).unwrap_or(0),
        qualification: qualification_to_pb(o.qualification),
        stated_apr_bps: o.stated_apr_bps,
        monthly_fee_rate_bps: o.monthly_fee_rate_bps,
        upfront_fee: o.upfront_fee.map(money_to_pb),
        schedule: o
            .schedule
            .iter()
            .map(|r| pb::Installment {
                period: r.period as i32,
                principal: Some(minor_to_pb(c, r.principal)),
                interest: Some(minor_to_pb(c, r.interest)),
                fee: Some(minor_to_pb(c, r.fee)),
            })
            .collect(),
        approval_probability: o.approval_probability.unwrap_or(0.0),
        valid_for: Some(duration_from_millis(o.valid_for_ms.max(0) as u64)),
        requires_collateral: o.requires_collateral,
        disclosures: o.disclosures.clone(),
        nominal_rate_bps: o.nominal_rate_bps,
        charges: o.charges.iter().map(charge_to_pb).collect(),
        parties: o.parties.iter().map(party_to_pb).collect(),
        promotion: o.promotion.as_ref().map(promotion_to_pb),
        adjustment: o.adjustment.as_ref().map(adjustment_to_pb),
        conditions: o.conditions.iter().map(condition_to_pb).collect(),
    }
}

/// Domain description from a partner's `Describe` answer.
pub fn description_from_pb(d: &pb::AdapterDescription) -> Result<core::Description, String> {
    let mut v = Violations::default();
    let mut currencies = Vec::new();
    for (i, c) in d.currencies.iter().enumerate() {
        match core::Currency::parse(c) {
            Ok(c) => currencies.push(c),
            Err(_) => v.add(format!("currencies[{i}]"), "not an ISO 4217 code"),
        }
    }
    let min_amount = d
        .min_amount
        .as_ref()
        .and_then(|m| money_from_pb(m, "min_amount", &mut v));
    let max_amount = d
        .max_amount
        .as_ref()
        .and_then(|m| money_from_pb(m, "max_amount", &mut v));
    let product_kinds: Vec<_> = d
        .product_kinds
        .iter()
        .filter_map(|k| product_kind_from_pb(*k))
        .collect();
    if product_kinds.is_empty() {
        v.add("product_kinds", "at least one known ProductKind");
    }
    if currencies.is_empty() && d.currencies.is_empty() {
        v.add("currencies", "at least one currency");
    }
    let (min_t, max_t) = (d.min_term_months, d.max_term_months);
    if min_t < 1 || max_t < min_t || max_t > 600 {
        v.add(
            "min_term_months",
            "need 1 <= min_term_months <= max_term_months <= 600",
        );
    }
    let mut required_fields = Vec::new();
    for (i, f) in d.required_fields.iter().enumerate() {
        match field_from_pb(*f) {
            Some(f) => required_fields.push(f),
            None => v.add(
                format!("required_fields[{i}]"),
                format!("unknown ApplicantField {f}"),
            ),
        }
    }
    v.optional_id("adapter_id", &d.adapter_id);
    let parties = parties_from_pb(&d.parties, "parties");
    if let Err(e) = &parties {
        v.add("parties", e.clone());
    }
    if let Some(first) = v.0.first() {
        return Err(format!("{} {}", first.field, first.description));
    }
    Ok(core::Description {
        adapter_id: d.adapter_id.clone(),
        display_name: text::clean(&d.display_name, MAX_PRODUCT_NAME),
        product_kinds,
        currencies,
        min_amount,
        max_amount,
        min_term_months: min_t as u32,
        max_term_months: max_t as u32,
        required_fields,
        supports_accept: d.supports_accept,
        parties: parties.unwrap_or_default(),
        advertised_apr_from_bps: (d.advertised_apr_from_bps > 0)
            .then_some(d.advertised_apr_from_bps),
    })
}

/// Wire description from the domain.
pub fn description_to_pb(d: &core::Description) -> pb::AdapterDescription {
    pb::AdapterDescription {
        adapter_id: d.adapter_id.clone(),
        display_name: d.display_name.clone(),
        product_kinds: d
            .product_kinds
            .iter()
            .map(|k| product_kind_to_pb(*k))
            .collect(),
        currencies: d.currencies.iter().map(|c| c.as_str().to_owned()).collect(),
        min_amount: d.min_amount.map(money_to_pb),
        max_amount: d.max_amount.map(money_to_pb),
        min_term_months: d.min_term_months as i32,
        max_term_months: d.max_term_months as i32,
        required_fields: d.required_fields.iter().map(|f| field_to_pb(*f)).collect(),
        supports_accept: d.supports_accept,
        parties: d.parties.iter().map(party_to_pb).collect(),
        advertised_apr_from_bps: d.advertised_apr_from_bps.unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(n: i64) -> pb::Money {
        pb::Money {
            currency_code: "CNY".into(),
            amount_minor: n,
        }
    }

    #[test]
    fn applicant_violations_name_the_field_and_not_the_value() {
        let a = pb::Applicant {
            applicant_id: String::new(),
            credit_score: Some(1200),
            monthly_income: Some(pb::Money {
                currency_code: "yuan".into(),
                amount_minor: 987_654,
            }),
            collateral: vec![pb::Collateral {
                kind: 0,
                appraised_value: Some(cny(-5)),
                encumbered: false,
            }],
            ..Default::default()
        };
        let mut v = Violations::default();
        applicant_from_pb(&a, "applicant", &mut v);
        let fields: Vec<_> = v.0.iter().map(|x| x.field.as_str()).collect();
        assert!(fields.contains(&"applicant.applicant_id"));
        assert!(fields.contains(&"applicant.credit_score"));
        assert!(fields.contains(&"applicant.monthly_income.currency_code"));
        assert!(fields.contains(&"applicant.collateral[0].kind"));
        assert!(fields.contains(&"applicant.collateral[0].appraised_value.amount_minor"));
        let all = format!("{:?}", v.0);
        assert!(!all.contains("1200") && !all.contains("987654"), "{all}");
    }

    #[test]
    fn a_named_recipient_without_role_or_name_is_refused_and_named() {
        let named = |role: i32, name: &str| pb::Party {
            role,
            legal_name: name.into(),
            ..Default::default()
        };
        let lender = pb::PartyRole::Lender as i32;
        let a = pb::Applicant {
            applicant_id: "a-1".into(),
            consent: Some(pb::Consent {
                share_with_partners: true,
                named_recipients: vec![
                    named(lender, "Bank A"),
                    named(0, "Bank B"),
                    named(lender, " "),
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut v = Violations::default();
        let applicant = applicant_from_pb(&a, "applicant", &mut v);
        let fields: Vec<_> = v.0.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "applicant.consent.named_recipients[1]",
                "applicant.consent.named_recipients[2]"
            ]
        );
        assert_eq!(applicant.consent.named_recipients.len(), 1);
    }

    #[test]
    fn partner_offer_round_trips() {
        let o = core::PartnerOffer {
            partner_offer_ref: "r1".into(),
            product_kind: Some(core::ProductKind::PartnerLoan),
            product_name: "Loan".into(),
            principal: core::Money::new(core::Currency::parse("CNY").expect("valid"), 1_000_000),
            term_months: 12,
            repayment_method: Some(core::RepaymentMethod::EqualInstallment),
            qualification: core::Qualification::PreApproved,
            stated_apr_bps: 1200,
            nominal_rate_bps: 0,
            monthly_fee_rate_bps: 0,
            upfront_fee: None,
            schedule: vec![],
            approval_probability: Some(0.7),
            valid_for_ms: 86_400_000,
            requires_collateral: false,
            disclosures: vec!["d".into()],
            charges: Vec::new(),
            parties: Vec::new(),
            promotion: None,
            adjustment: None,
            conditions: Vec::new(),
        };
        assert_eq!(partner_offer_from_pb(&partner_offer_to_pb(&o)), Ok(o));
    }

    #[test]
    fn partner_offer_with_bad_currency_is_malformed() {
        let o = pb::PartnerOffer {
            principal: Some(pb::Money {
                currency_code: "??".into(),
                amount_minor: 1,
            }),
            ..Default::default()
        };
        let e = partner_offer_from_pb(&o).expect_err("bad currency");
        assert!(e.contains("principal.currency_code"), "{e}");
    }

    #[test]
    fn unknown_enum_numbers_map_to_none() {
        assert_eq!(product_kind_from_pb(99), None);
        assert_eq!(product_kind_from_pb(0), None);
        assert_eq!(
            product_kind_from_pb(2),
            Some(core::ProductKind::SecuredLoan)
        );
    }

    #[test]
    fn unknown_answer_enums_from_a_newer_partner_read_as_other() {
        let d = decline_from_pb(&pb::PartnerDecline {
            reason: 99,
            missing_fields: vec![pb::ApplicantField::Employment as i32, 77, 0],
            text: "\u{1b}[31mnope".into(),
        });
        assert_eq!(d.reason, core::DeclineReason::Other);
        assert!(d.untyped);
        assert_eq!(d.missing_fields, [core::ApplicantField::Employment]);
        assert!(!d.text.contains('\u{1b}'), "{:?}", d.text);
        let a = adjustment_from_pb(&pb::OfferAdjustment {
            changed: vec![42, pb::AdjustedTerm::Term as i32],
            reason: 42,
            text: String::new(),
        });
        assert_eq!(a.changed, [core::AdjustedTerm::Term]);
        assert_eq!(a.reason, Some(core::DeclineReason::Other));
        let c = conditions_from_pb(&[pb::OfferCondition {
            kind: 42,
            description: "x".repeat(1000),
        }]);
        assert_eq!(c[0].kind, core::ConditionKind::Other);
        assert!(c[0].description.len() <= core::answer::MAX_ANSWER_TEXT);
    }

    #[test]
    fn a_decline_without_a_type_is_other_with_its_text() {
        let reply = pb::QuoteResponse {
            offers: vec![],
            decline_reason: "no".into(),
            decline: None,
        };
        let d = quote_decline_from_pb(&reply).expect("declined");
        assert_eq!(
            (d.reason, d.untyped, d.text.as_str()),
            (core::DeclineReason::Other, true, "no")
        );
        let typed = pb::QuoteResponse {
            decline: Some(pb::PartnerDecline {
                reason: pb::DeclineReason::MissingData as i32,
                missing_fields: vec![pb::ApplicantField::MonthlyIncome as i32],
                text: String::new(),
            }),
            ..reply
        };
        let d = quote_decline_from_pb(&typed).expect("declined");
        assert_eq!(d.reason, core::DeclineReason::MissingData);
        assert!(!d.untyped);
        assert_eq!(d.missing_fields, [core::ApplicantField::MonthlyIncome]);
    }

    #[test]
    fn timestamps_round_trip_including_negative() {
        for ms in [0, 1, 999, 1_700_000_000_123, -1, -1001] {
            assert_eq!(millis_from_timestamp(&timestamp_from_millis(ms)), ms);
        }
    }
}

//! The domain vocabulary shared by every finroute crate: applicants, requests,
//! partner offers, priced offers, channel reports, plans and explanations.
//! These mirror the v1 contract but carry no generated types: the edges
//! (`finroute-server`, `finroute-adapters`) convert.

use std::fmt;

use crate::money::{Currency, Money};

/// Milliseconds since the Unix epoch. The core never reads a clock: callers pass `now`.
pub type UnixMillis = i64;

/// Why the borrower wants the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LoanPurpose {
    #[default]
    Unspecified,
    Consumption,
    Education,
    Medical,
    HomeImprovement,
    Business,
    DebtConsolidation,
    Other,
}

/// How offers are ordered (see ranking.md section 4). With the `serde`
/// feature it is spelt `balanced`, `lowest_cost` or `highest_approval`
/// (config `routing.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Strategy {
    /// By `apr_bps + h / approval_odds` (+ affordability penalty): the optimal application order.
    #[default]
    Balanced,
    /// By computed APR, ties by odds.
    LowestCost,
    /// By odds, ties by computed APR.
    HighestApproval,
}

/// The kind of financing product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProductKind {
    PrimaryCreditLine,
    SecuredLoan,
    Installment,
    PartnerLoan,
}

/// The applicant's employment situation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmploymentType {
    Employed,
    SelfEmployed,
    Freelance,
    Student,
    Retired,
    Unemployed,
}

/// What an asset offered as collateral is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CollateralKind {
    Vehicle,
    Property,
    Deposit,
    Securities,
}

/// An asset the applicant could pledge. Its value is personal data.
#[derive(Clone, PartialEq)]
pub struct Collateral {
    pub kind: CollateralKind,
    pub appraised_value: Money,
    pub encumbered: bool,
}

impl fmt::Debug for Collateral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collateral")
            .field("kind", &self.kind)
            .field("encumbered", &self.encumbered)
            .finish_non_exhaustive()
    }
}

/// What the applicant agreed to share, and with whom (PIPL art. 23).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Consent {
    pub share_with_partners: bool,
    pub consent_version: String,
    pub given_at: Option<UnixMillis>,
    /// Adapter ids (config ids) named in the consent; empty = every disclosed partner.
    pub recipients: Vec<String>,
}

impl Consent {
    /// Whether data may be sent to the remote adapter `adapter_id`.
    pub fn covers(&self, adapter_id: &str) -> bool {
        self.share_with_partners
            && (self.recipients.is_empty() || self.recipients.iter().any(|r| r == adapter_id))
    }
}

/// A field of the applicant an adapter may ask for (`required_fields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApplicantField {
    Region,
    CreditScore,
    MonthlyIncome,
    IncomeVolatility,
    MonthlyDebtPayments,
    Employment,
    Collateral,
}

/// The applicant. Everything but `applicant_id` and `region` is personal
/// data; `Debug` prints only those two.
#[derive(Clone, PartialEq, Default)]
pub struct Applicant {
    /// Pseudonymous id.
    pub applicant_id: String,
    /// ISO 3166-2, e.g. `CN-31`.
    pub region: String,
    pub credit_score: Option<i32>,
    pub monthly_income: Option<Money>,
    /// Coefficient of variation of monthly income.
    pub income_volatility: Option<f64>,
    pub monthly_debt_payments: Option<Money>,
    pub employment: Option<EmploymentType>,
    pub collateral: Vec<Collateral>,
    pub consent: Consent,
}

impl fmt::Debug for Applicant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Applicant")
            .field("applicant_id", &self.applicant_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Applicant {
    /// A copy holding `applicant_id`, `consent` and exactly `fields` (data minimisation).
    pub fn minimised(&self, fields: &[ApplicantField]) -> Applicant {
        let has = |f: ApplicantField| fields.contains(&f);
        Applicant {
            applicant_id: self.applicant_id.clone(),
            consent: self.consent.clone(),
            region: if has(ApplicantField::Region) {
                self.region.clone()
            } else {
                String::new()
            },
            credit_score: self
                .credit_score
                .filter(|_| has(ApplicantField::CreditScore)),
            monthly_income: self
                .monthly_income
                .filter(|_| has(ApplicantField::MonthlyIncome)),
            income_volatility: self
                .income_volatility
                .filter(|_| has(ApplicantField::IncomeVolatility)),
            monthly_debt_payments: self
                .monthly_debt_payments
                .filter(|_| has(ApplicantField::MonthlyDebtPayments)),
            employment: self.employment.filter(|_| has(ApplicantField::Employment)),
            collateral: if has(ApplicantField::Collateral) {
                self.collateral.clone()
            } else {
                Vec::new()
            },
        }
    }
}

/// Why the primary line refused the draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    DynamicLineAdjustment,
    CreditScoreBelowThreshold,
    DebtToIncomeTooHigh,
    ApplicationVelocity,
    InsufficientHistory,
    PolicyRestriction,
    SystemError,
}

/// The primary line's decision.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrimaryDecision {
    pub refused: bool,
    pub displayed_line: Option<Money>,
    pub drawable_amount: Option<Money>,
    pub reasons: Vec<RefusalReason>,
}

/// Language of every human-readable text in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Locale {
    #[default]
    En,
    ZhCn,
}

impl Locale {
    /// Parses a BCP 47 tag: `zh`, `zh-CN`, `zh-Hans*` are Chinese; `en*` and empty are English.
    /// Anything else is `None` (the caller decides whether that is an error).
    pub fn parse(tag: &str) -> Option<Locale> {
        let t = tag.to_ascii_lowercase();
        if t.is_empty() || t == "en" || t.starts_with("en-") {
            Some(Locale::En)
        } else if t == "zh" || t == "zh-cn" || t.starts_with("zh-hans") {
            Some(Locale::ZhCn)
        } else {
            None
        }
    }
}

/// A validated routing request (the edge has checked shapes and ranges).
#[derive(Debug, Clone, PartialEq)]
pub struct FinancingRequest {
    pub request_id: String,
    pub applicant: Applicant,
    pub requested_amount: Money,
    pub min_term_months: u32,
    pub max_term_months: u32,
    pub purpose: LoanPurpose,
    pub primary_decision: Option<PrimaryDecision>,
    pub strategy: Strategy,
    /// Empty = all kinds.
    pub product_kinds: Vec<ProductKind>,
    /// Already resolved against the router default (always >= 1).
    pub max_offers: u32,
    pub locale: Locale,
}

impl FinancingRequest {
    /// The request's currency.
    pub fn currency(&self) -> Currency {
        self.requested_amount.currency
    }
}

/// How periodic payments are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepaymentMethod {
    /// Annuity (等额本息).
    EqualInstallment,
    /// Equal principal (等额本金).
    EqualPrincipal,
    /// Interest only, principal with the last payment.
    InterestOnlyBalloon,
    /// 分期: principal/n + principal x monthly fee rate each period.
    FlatFeeInstallment,
}

/// How firm an offer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Qualification {
    #[default]
    PreQualified,
    PreApproved,
}

/// One period of a schedule, in minor units of the offer's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Installment {
    /// 1-based.
    pub period: u32,
    pub principal: i64,
    pub interest: i64,
    pub fee: i64,
}

impl Installment {
    /// The whole payment of the period.
    pub fn payment(&self) -> i64 {
        self.principal + self.interest + self.fee
    }

    /// The whole payment of the period, `None` when it does not fit an `i64`
    /// (partner schedules are checked with this before anything sums them).
    pub fn checked_payment(&self) -> Option<i64> {
        self.principal
            .checked_add(self.interest)?
            .checked_add(self.fee)
    }
}

/// An offer as an adapter makes it: unvalidated, unpriced.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerOffer {
    pub partner_offer_ref: String,
    /// `None` when the adapter sent an unknown or unspecified kind (rejected by validation).
    pub product_kind: Option<ProductKind>,
    pub product_name: String,
    pub principal: Money,
    pub term_months: i32,
    /// `None` when unknown/unspecified (rejected by validation).
    pub repayment_method: Option<RepaymentMethod>,
    pub qualification: Qualification,
    pub stated_apr_bps: i32,
    /// Nominal annual interest rate to build a schedule from; 0 = use `stated_apr_bps`.
    pub nominal_rate_bps: i32,
    /// Flat-fee installments: fee per month on the original principal.
    pub monthly_fee_rate_bps: i32,
    /// Deducted at disbursement (same currency as principal, or rejected).
    pub upfront_fee: Option<Money>,
    /// The partner's own schedule; empty = build from the terms.
    pub schedule: Vec<Installment>,
    /// The partner's estimate; `None` = unknown (0 on the wire).
    pub approval_probability: Option<f64>,
    /// How long the offer stands, in milliseconds (<= 0: already expired).
    pub valid_for_ms: i64,
    pub requires_collateral: bool,
    pub disclosures: Vec<String>,
}

/// Where `approval_odds` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OddsSource {
    Partner,
    Model,
    Blended,
}

/// Something the borrower should know about an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OfferWarning {
    StatedAprUnderstated,
    AffordabilityRisk,
    RequiresCollateral,
    NearRateCap,
}

/// A validated, priced offer (ranked once `rank` is set).
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// Router-issued; empty until the server assigns it.
    pub offer_id: String,
    pub adapter_id: String,
    pub partner_offer_ref: String,
    pub product_kind: ProductKind,
    pub product_name: String,
    pub principal: Money,
    pub disbursed: Money,
    pub term_months: u32,
    pub repayment_method: RepaymentMethod,
    pub schedule: Vec<Installment>,
    pub apr_bps: i32,
    pub stated_apr_bps: i32,
    pub effective_annual_rate_bps: i32,
    pub total_cost: Money,
    pub first_payment: Money,
    /// In [0, 1].
    pub approval_odds: f64,
    pub odds_source: OddsSource,
    /// What the odds were made from (kept with the offer for learning).
    pub odds_inputs: crate::odds::OddsInputs,
    pub qualification: Qualification,
    /// Debt-to-income after this loan on stressed income, when computable.
    pub debt_to_income: Option<f64>,
    /// 1 = best; 0 until ranked.
    pub rank: u32,
    pub score: f64,
    pub rank_reasons: Vec<String>,
    pub warnings: Vec<OfferWarning>,
    pub expires_at: UnixMillis,
    pub disclosures: Vec<String>,
}

/// Outcome of one channel in a fan-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelStatus {
    Ok,
    NoOffer,
    Timeout,
    Error,
    CircuitOpen,
    Ineligible,
    NoConsent,
}

/// What happened on one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelReport {
    pub adapter_id: String,
    pub product_kind: ProductKind,
    pub status: ChannelStatus,
    pub latency_ms: u64,
    pub offers_returned: u32,
    pub offers_rejected: u32,
    /// Why offers were rejected or what failed; never personal data.
    pub detail: String,
}

/// One factor behind the refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    pub reason: RefusalReason,
    pub text: String,
}

/// What a suggestion proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuggestionKind {
    LowerAmount,
    LongerTerm,
    UseCollateral,
    Installment,
    ShareWithPartners,
    Wait,
    Appeal,
}

/// An action and its effect, backed by numbers where computable.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub kind: SuggestionKind,
    pub text: String,
    pub amount: Option<Money>,
    pub term_months: Option<u32>,
    pub offers_gained: u32,
    pub odds_threshold: f64,
    pub offer_id: Option<String>,
}

/// Why the line was refused and what would change it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explanation {
    pub factors: Vec<Factor>,
    pub suggestions: Vec<Suggestion>,
}

/// The order in which to apply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplicationPlan {
    pub offer_ids: Vec<String>,
    /// 1 - prod(1 - p) over the plan.
    pub approval_probability: f64,
    /// Expected APR paid given one approval.
    pub expected_apr_bps: i32,
    pub summary: String,
}

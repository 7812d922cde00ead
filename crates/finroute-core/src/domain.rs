//! The domain vocabulary shared by every finroute crate: applicants, requests,
//! partner offers, priced offers, channel reports, plans and explanations.
//! These mirror the v1 contract but carry no generated types: the edges
//! (`finroute-wire`, shared by the router and the partner SDK, and
//! `finroute-server` for the router's own messages) convert.

use std::fmt;

use crate::answer::{Adjustment, Condition, DeclineReason, PartnerDecline};
use crate::disclosure::{Charge, CostLine, PartnerListCheck, Party, Promotion, RateLabels};
use crate::money::{Currency, Money};
use crate::rejection::RejectReason;

/// Milliseconds since the Unix epoch. The core never reads a clock: callers pass `now`.
pub type UnixMillis = i64;

/// Why the borrower wants the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LoanPurpose {
    /// Not stated (the default).
    #[default]
    Unspecified,
    /// Everyday purchases.
    Consumption,
    /// Tuition and study costs.
    Education,
    /// Medical bills.
    Medical,
    /// Repairs or renovation of a home.
    HomeImprovement,
    /// The applicant's own business.
    Business,
    /// Paying off other debts.
    DebtConsolidation,
    /// Anything else.
    Other,
}

/// How offers are ordered (`docs/pricing.md`, "Ranking"). With the `serde`
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
    /// The platform's own (refused) credit line.
    PrimaryCreditLine,
    /// A loan secured by the applicant's collateral.
    SecuredLoan,
    /// An installment (分期) product with a flat monthly fee.
    Installment,
    /// A loan from a partner institution.
    PartnerLoan,
}

/// The applicant's employment situation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmploymentType {
    /// Salaried by an employer.
    Employed,
    /// Runs their own business.
    SelfEmployed,
    /// Paid per engagement, often with volatile income.
    Freelance,
    /// In education.
    Student,
    /// Living on a pension.
    Retired,
    /// Without work income.
    Unemployed,
}

/// What an asset offered as collateral is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CollateralKind {
    /// A car or other vehicle.
    Vehicle,
    /// Real estate.
    Property,
    /// A bank deposit.
    Deposit,
    /// Shares, bonds or fund units.
    Securities,
}

/// An asset the applicant could pledge. Its value is personal data.
#[derive(Clone, PartialEq)]
pub struct Collateral {
    /// What the asset is.
    pub kind: CollateralKind,
    /// Appraised market value.
    pub appraised_value: Money,
    /// True when the asset is already pledged elsewhere: it unlocks no secured offer.
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
    /// Nothing at all is sent to a remote partner unless this is true.
    pub share_with_partners: bool,
    /// Version of the consent text the applicant agreed to.
    pub consent_version: String,
    /// When the consent was given, if the caller said.
    pub given_at: Option<UnixMillis>,
    /// Adapter ids (config ids) named in the consent; empty = every disclosed partner.
    pub recipients: Vec<String>,
    /// The recipients as the consent text names them; when any is given, a
    /// partner's lender of record must be among them (matched by
    /// [`Party::same_as`]).
    pub named_recipients: Vec<Party>,
}

impl Consent {
    /// Whether data may be sent to the remote adapter `adapter_id`.
    pub fn covers(&self, adapter_id: &str) -> bool {
        self.share_with_partners
            && (self.recipients.is_empty() || self.recipients.iter().any(|r| r == adapter_id))
    }

    /// Whether the consent names `lender` as a recipient: true when it
    /// names none (consent by adapter id only), else when one of its named
    /// recipients is the same institution.
    pub fn names(&self, lender: Option<&Party>) -> bool {
        if self.named_recipients.is_empty() {
            return true;
        }
        lender.is_some_and(|l| self.named_recipients.iter().any(|r| r.same_as(l)))
    }
}

/// A field of the applicant an adapter may ask for (`required_fields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApplicantField {
    /// [`Applicant::region`].
    Region,
    /// [`Applicant::credit_score`].
    CreditScore,
    /// [`Applicant::monthly_income`].
    MonthlyIncome,
    /// [`Applicant::income_volatility`].
    IncomeVolatility,
    /// [`Applicant::monthly_debt_payments`].
    MonthlyDebtPayments,
    /// [`Applicant::employment`].
    Employment,
    /// [`Applicant::collateral`].
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
    /// Credit score, 300..=950 when present.
    pub credit_score: Option<i32>,
    /// Monthly income, in the requested currency.
    pub monthly_income: Option<Money>,
    /// Coefficient of variation of monthly income.
    pub income_volatility: Option<f64>,
    /// Current monthly debt service.
    pub monthly_debt_payments: Option<Money>,
    /// Employment situation, when given.
    pub employment: Option<EmploymentType>,
    /// Assets that could secure a loan.
    pub collateral: Vec<Collateral>,
    /// What the applicant agreed to share, and with whom.
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
    /// The risk model lowered the line below the displayed amount.
    DynamicLineAdjustment,
    /// The score is below the line's threshold.
    CreditScoreBelowThreshold,
    /// Existing debt service takes too much of the income.
    DebtToIncomeTooHigh,
    /// Too many recent applications.
    ApplicationVelocity,
    /// Too little credit history to decide on.
    InsufficientHistory,
    /// A policy rule (region, product, age of account...) forbids the draw.
    PolicyRestriction,
    /// The primary line failed technically; not a credit decision.
    SystemError,
}

/// The primary line's decision.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrimaryDecision {
    /// Whether the draw was refused.
    pub refused: bool,
    /// The credit line the borrower was shown.
    pub displayed_line: Option<Money>,
    /// What could actually be drawn.
    pub drawable_amount: Option<Money>,
    /// Why, as the primary line reported it.
    pub reasons: Vec<RefusalReason>,
}

/// Language of every human-readable text in an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Locale {
    /// English (the default).
    #[default]
    En,
    /// Simplified Chinese as used in mainland China.
    ZhCn,
}

impl Locale {
    /// The locale an answer is written in for the tag `tag`, never failing:
    /// a supported tag as [`Locale::parse`] reads it, anything else
    /// (`fr`, `zh-TW`) English; the answer names the locale it used.
    pub fn negotiate(tag: &str) -> Locale {
        Locale::parse(tag).unwrap_or(Locale::En)
    }

    /// The BCP 47 tag of the locale: `en` or `zh-CN`.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::ZhCn => "zh-CN",
        }
    }

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
    /// The caller's id for this request; empty when the caller sent none.
    pub request_id: String,
    /// Who is asking.
    pub applicant: Applicant,
    /// How much the borrower wants (positive); its currency is the request's.
    pub requested_amount: Money,
    /// Shortest acceptable term, in months.
    pub min_term_months: u32,
    /// Longest acceptable term, in months (at least `min_term_months`).
    pub max_term_months: u32,
    /// What the money is for.
    pub purpose: LoanPurpose,
    /// The primary line's decision, when the caller sent it.
    pub primary_decision: Option<PrimaryDecision>,
    /// How the answer orders its offers.
    pub strategy: Strategy,
    /// Empty = all kinds.
    pub product_kinds: Vec<ProductKind>,
    /// Already resolved against the router default (always >= 1).
    pub max_offers: u32,
    /// Language of every text in the answer.
    pub locale: Locale,
    /// Which channels the caller lets the router call.
    pub channels: ChannelFilter,
}

/// The request's `exclude_adapter_ids` / `only_adapter_ids`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ChannelFilter {
    /// Every channel (neither list given).
    #[default]
    All,
    /// Every channel but these config ids.
    Exclude(Vec<String>),
    /// Only these config ids.
    Only(Vec<String>),
}

impl ChannelFilter {
    /// Whether the channel with config id `id` may be called.
    pub fn allows(&self, id: &str) -> bool {
        match self {
            ChannelFilter::All => true,
            ChannelFilter::Exclude(ids) => !ids.iter().any(|x| x == id),
            ChannelFilter::Only(ids) => ids.iter().any(|x| x == id),
        }
    }
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
    /// Soft check only: the lender may still refuse.
    #[default]
    PreQualified,
    /// Firm offer subject to verification.
    PreApproved,
    /// Approved once the borrower meets the offer's conditions.
    Conditional,
}

/// One period of a schedule, in minor units of the offer's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Installment {
    /// 1-based.
    pub period: u32,
    /// Principal repaid in the period.
    pub principal: i64,
    /// Interest paid in the period.
    pub interest: i64,
    /// Fees paid in the period (the flat monthly fee of installment products).
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
    /// The adapter's own reference for the offer (used to accept it).
    pub partner_offer_ref: String,
    /// `None` when the adapter sent an unknown or unspecified kind (rejected by validation).
    pub product_kind: Option<ProductKind>,
    /// Name of the product as the borrower sees it (cleaned and cut by the edge).
    pub product_name: String,
    /// The amount lent.
    pub principal: Money,
    /// Term in months, as sent (signed: validation refuses a non-positive one).
    pub term_months: i32,
    /// `None` when unknown/unspecified (rejected by validation).
    pub repayment_method: Option<RepaymentMethod>,
    /// How firm the offer is.
    pub qualification: Qualification,
    /// The APR the adapter claims; checked against the router's own.
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
    /// The borrower must pledge collateral.
    pub requires_collateral: bool,
    /// Legal texts the borrower must see.
    pub disclosures: Vec<String>,
    /// Every charge besides interest, typed (validated by pricing).
    pub charges: Vec<Charge>,
    /// Parties of this offer; each role given replaces the channel's.
    pub parties: Vec<Party>,
    /// A promotion the borrower gets; pricing builds the schedule with it.
    pub promotion: Option<Promotion>,
    /// Set on a counter-offer: what changed from the request, and why.
    pub adjustment: Option<Adjustment>,
    /// With [`Qualification::Conditional`]: what the borrower must provide.
    pub conditions: Vec<Condition>,
}

/// Where `approval_odds` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OddsSource {
    /// The partner's own estimate.
    Partner,
    /// The router's model (feature prior and outcome history).
    Model,
    /// A blend of both.
    Blended,
}

/// Something the borrower should know about an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OfferWarning {
    /// The stated APR is below the APR of the cash flows by more than the tolerance.
    StatedAprUnderstated,
    /// Debt-to-income after this loan exceeds the warning level on stressed income.
    AffordabilityRisk,
    /// The borrower must pledge collateral.
    RequiresCollateral,
    /// Within the policy's margin of the region's rate cap.
    NearRateCap,
}

/// A validated, priced offer (ranked once `rank` is set).
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// Router-issued; empty until the server assigns it.
    pub offer_id: String,
    /// The channel's id in the router's config.
    pub adapter_id: String,
    /// The adapter's own reference for the offer.
    pub partner_offer_ref: String,
    /// What kind of product this is.
    pub product_kind: ProductKind,
    /// Name of the product as the borrower sees it.
    pub product_name: String,
    /// The amount lent.
    pub principal: Money,
    /// Principal less upfront fees: what reaches the borrower.
    pub disbursed: Money,
    /// Term in months.
    pub term_months: u32,
    /// How the payments are computed.
    pub repayment_method: RepaymentMethod,
    /// One row per month: the partner's own, checked, or one built from the terms.
    pub schedule: Vec<Installment>,
    /// Router-computed nominal APR: 12 x the monthly IRR of the cash flows, fees included.
    pub apr_bps: i32,
    /// What the adapter claimed.
    pub stated_apr_bps: i32,
    /// (1 + monthly IRR)^12 - 1 (EU APRC style).
    pub effective_annual_rate_bps: i32,
    /// All payments less the disbursed amount.
    pub total_cost: Money,
    /// The first period's whole payment.
    pub first_payment: Money,
    /// In [0, 1].
    pub approval_odds: f64,
    /// Where `approval_odds` came from.
    pub odds_source: OddsSource,
    /// What the odds were made from (kept with the offer for learning).
    pub odds_inputs: crate::odds::OddsInputs,
    /// How firm the offer is.
    pub qualification: Qualification,
    /// Debt-to-income after this loan on stressed income, when computable.
    pub debt_to_income: Option<f64>,
    /// 1 = best; 0 until ranked.
    pub rank: u32,
    /// The strategy's sort key: the BALANCED cost or the APR in bp (lower is
    /// better), or the odds for HIGHEST_APPROVAL; 0 until ranked.
    pub score: f64,
    /// Why the offer stands where it does, in the request's locale.
    pub rank_reasons: Vec<String>,
    /// What the borrower should know about the offer.
    pub warnings: Vec<OfferWarning>,
    /// When the offer lapses (saturating at `i64::MAX`).
    pub expires_at: UnixMillis,
    /// Legal texts the borrower must see.
    pub disclosures: Vec<String>,
    /// Every party to the loan, lender of record first.
    pub parties: Vec<Party>,
    /// The cost line by line: interest, then each charge; declinable last.
    pub cost_breakdown: Vec<CostLine>,
    /// The promotion the schedule and APR include, when any.
    pub promotion: Option<Promotion>,
    /// With a promotion: the annual rate once it ends, in bp (0 without one).
    pub post_promotion_rate_bps: i32,
    /// With a promotion: when it ends (`None` without one, or when it lasts the whole loan).
    pub promotion_ends_at: Option<UnixMillis>,
    /// The lender's partner name-list the offer was checked against.
    pub partner_list: Option<PartnerListCheck>,
    /// The rate figures in words with their methods, in the request's locale.
    pub rate_labels: RateLabels,
    /// Set on a counter-offer: what changed from the request, and why.
    pub adjustment: Option<Adjustment>,
    /// With [`Qualification::Conditional`]: what the borrower must provide.
    pub conditions: Vec<Condition>,
    /// How long the lender is expected to take from acceptance to its
    /// final answer, in ms (`None` until the server sets it).
    pub expected_decision_ms: Option<u64>,
}

/// Outcome of one channel in a fan-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelStatus {
    /// Answered with at least one valid offer.
    Ok,
    /// Answered, but no offer survived (declined, or every offer rejected).
    NoOffer,
    /// Did not answer within its budget.
    Timeout,
    /// Failed (transport error, bad reply).
    Error,
    /// Skipped: the channel is ejected after repeated failures.
    CircuitOpen,
    /// Skipped: the request is outside what the channel serves.
    Ineligible,
    /// Skipped: the applicant did not consent to share with this partner.
    NoConsent,
    /// Skipped: the request's channel filter left it out.
    Excluded,
    /// Skipped: the channel's volume agreement is used up for the period.
    QuotaExhausted,
    /// Skipped: a routing rule leaves the channel out for this refusal.
    SkippedByRule,
    /// Skipped: a routing rule put the channel in a later tier, and the
    /// earlier tiers already answered with enough offers.
    NotNeeded,
}

/// What happened on one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelReport {
    /// The channel's id in the router's config.
    pub adapter_id: String,
    /// The kind the channel reports under.
    pub product_kind: ProductKind,
    /// What happened.
    pub status: ChannelStatus,
    /// Time the channel took, in ms (0 when it was not called).
    pub latency_ms: u64,
    /// Offers the channel returned, valid or not.
    pub offers_returned: u32,
    /// Offers rejected by validation, rate caps or affordability.
    pub offers_rejected: u32,
    /// Why offers were rejected or what failed; never personal data.
    pub detail: String,
    /// Who received the applicant's data through this channel.
    pub recipients: Vec<Party>,
    /// Each offer of the channel that was not shown, and why.
    pub rejections: Vec<OfferRejection>,
    /// The partner's typed decline, when it answered with no offer.
    pub decline: Option<PartnerDecline>,
    /// The lowest APR the channel advertises (its description's), in bp;
    /// the explanation quotes it to a borrower the channel asked for data.
    /// Not on the wire.
    pub advertised_apr_from_bps: Option<i32>,
    /// Still working at the reply: its late offers, if any, are stored
    /// with the application afterwards.
    pub late_pending: bool,
}

/// One factor behind the refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// The refusal reason this factor explains; `None` on a factor of
    /// partners' typed declines.
    pub reason: Option<RefusalReason>,
    /// Plain-words explanation in the request's locale.
    pub text: String,
    /// Set on a factor aggregating partners' typed declines: their reason.
    pub partner_reason: Option<DeclineReason>,
    /// The channels that declined for `partner_reason`.
    pub adapter_ids: Vec<String>,
}

/// What a suggestion proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SuggestionKind {
    /// Ask for a smaller amount.
    LowerAmount,
    /// Choose a longer term (lower monthly payment).
    LongerTerm,
    /// Pledge collateral for a secured offer.
    UseCollateral,
    /// Use an installment product for a short need.
    Installment,
    /// Share data with partner institutions.
    ShareWithPartners,
    /// Wait before applying again.
    Wait,
    /// Contest the refusal.
    Appeal,
    /// Provide data or documents partners asked for.
    ProvideData,
    /// Take a partner's counter-offer.
    CounterOffer,
}

/// An action and its effect, backed by numbers where computable.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// What the suggestion proposes.
    pub kind: SuggestionKind,
    /// The whole suggestion in plain words, in the request's locale.
    pub text: String,
    /// The amount the suggestion proposes, when it proposes one.
    pub amount: Option<Money>,
    /// The term the suggestion proposes, when it proposes one.
    pub term_months: Option<u32>,
    /// How many more offers the action would bring above `odds_threshold`.
    pub offers_gained: u32,
    /// The odds an offer must reach to count in `offers_gained` (0 when
    /// the suggestion counts none).
    pub odds_threshold: f64,
    /// The offer the suggestion points at, when one.
    pub offer_id: Option<String>,
    /// `ProvideData`: the applicant fields partners declined for lack of.
    pub missing_fields: Vec<ApplicantField>,
    /// `ProvideData`: the channels that asked.
    pub adapter_ids: Vec<String>,
    /// `ProvideData`: the lowest APR those channels advertise, in bp.
    pub apr_from_bps: Option<i32>,
}

/// Why the line was refused and what would change it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explanation {
    /// The factors behind the primary line's refusal.
    pub factors: Vec<Factor>,
    /// What the borrower could do to get more or better offers.
    pub suggestions: Vec<Suggestion>,
}

/// The order in which to apply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplicationPlan {
    /// Apply to these offers in this order, stopping at the first approval.
    pub offer_ids: Vec<String>,
    /// 1 - prod(1 - p) over the plan.
    pub approval_probability: f64,
    /// Expected APR paid given one approval.
    pub expected_apr_bps: i32,
    /// The plan in plain words, in the request's locale.
    pub summary: String,
}

/// An offer of a channel that was not shown, as its channel report lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferRejection {
    /// The partner's reference for the offer.
    pub partner_offer_ref: String,
    /// Why.
    pub reason: RejectReason,
    /// The `PartnerOffer` field at fault.
    pub field: String,
    /// What is wrong; never personal data.
    pub message: String,
}

//! A built-in simulated partner institution, so that the embedded default
//! shows all three kinds of channel. It behaves like a partner: consent and
//! data minimisation apply to it, it declines thin files and low scores, and
//! like many real partners it discloses its nominal rate as "APR" while
//! charging an upfront fee (the router flags that).

use std::time::Duration;

use finroute_core::{
    ApplicantField, Locale, Money, PartnerOffer, ProductKind, Qualification, RepaymentMethod,
};
use serde::{Deserialize, Serialize};

use crate::{
    AcceptOutcome, AcceptRequest, AcceptStatus, Adapter, AdapterError, Description, QuoteOutcome,
    QuoteRequest,
};

/// `kind = "partner_sim"` settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Shown as the product name.
    #[serde(default = "default_name")]
    pub name: String,
    /// Shown as the product name in Chinese (`zh-CN`). When absent: the
    /// built-in Chinese name if `name` is the default, else `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
    #[serde(default = "default_currencies")]
    pub currencies: Vec<String>,
    /// Declines applicants below this score.
    #[serde(default = "default_min_score")]
    pub min_credit_score: i32,
    /// Nominal rate for a 750+ score; +4 bp per point below.
    #[serde(default = "default_base_rate")]
    pub base_rate_bps: i32,
    /// Arrangement fee in bp of principal.
    #[serde(default = "default_upfront_fee")]
    pub upfront_fee_bps: i32,
    /// Largest principal, in minor units.
    #[serde(default = "default_max_amount")]
    pub max_amount_minor: i64,
    /// Terms offered.
    #[serde(default = "default_terms")]
    pub terms: Vec<u32>,
    /// Simulated processing time per quote.
    #[serde(default)]
    pub latency_ms: u64,
}

fn default_name() -> String {
    "Partner Bank personal loan".into()
}
/// The default product's Chinese name.
const DEFAULT_NAME_ZH: &str = "合作银行个人贷款";
fn default_currencies() -> Vec<String> {
    vec!["CNY".into()]
}
fn default_min_score() -> i32 {
    550
}
fn default_base_rate() -> i32 {
    880
}
fn default_upfront_fee() -> i32 {
    150
}
fn default_max_amount() -> i64 {
    20_000_000
}
fn default_terms() -> Vec<u32> {
    vec![12, 24, 36]
}

impl Default for Config {
    fn default() -> Self {
        Self {
            name: default_name(),
            name_zh: None,
            currencies: default_currencies(),
            min_credit_score: default_min_score(),
            base_rate_bps: default_base_rate(),
            upfront_fee_bps: default_upfront_fee(),
            max_amount_minor: default_max_amount(),
            terms: default_terms(),
            latency_ms: 0,
        }
    }
}

impl Config {
    /// The product's name in `locale`.
    pub fn name_in(&self, locale: Locale) -> String {
        match (locale, &self.name_zh) {
            (Locale::En, _) => self.name.clone(),
            (Locale::ZhCn, Some(zh)) => zh.clone(),
            (Locale::ZhCn, None) if self.name == default_name() => DEFAULT_NAME_ZH.into(),
            (Locale::ZhCn, None) => self.name.clone(),
        }
    }
}

/// The partner's disclosure, in `locale`.
fn disclosure(locale: Locale) -> String {
    match locale {
        Locale::En => "Subject to verification of income and identity.".into(),
        Locale::ZhCn => "需核实收入与身份后方可放款。".into(),
    }
}

/// The running simulated partner.
#[derive(Debug)]
pub struct PartnerSim {
    description: Description,
    config: Config,
}

impl PartnerSim {
    /// Checks the settings and builds the channel.
    pub fn build(id: &str, config: &Config) -> Result<Self, String> {
        let currencies = crate::parse_currencies(&config.currencies)?;
        if config.terms.is_empty() || config.terms.iter().any(|t| !(1..=360).contains(t)) {
            return Err("`terms` must list months within 1..=360".into());
        }
        if !(300..=950).contains(&config.min_credit_score) {
            return Err("`min_credit_score` must be within 300..=950".into());
        }
        let description = Description {
            adapter_id: format!("sim-{id}"),
            display_name: config.name.clone(),
            product_kinds: vec![ProductKind::PartnerLoan],
            min_amount: Some(Money::new(currencies[0], 100_000)),
            max_amount: Some(Money::new(currencies[0], config.max_amount_minor)),
            currencies,
            min_term_months: config.terms.iter().copied().min().unwrap_or(12),
            max_term_months: config.terms.iter().copied().max().unwrap_or(12),
            required_fields: vec![
                ApplicantField::CreditScore,
                ApplicantField::MonthlyIncome,
                ApplicantField::MonthlyDebtPayments,
                ApplicantField::Employment,
            ],
            supports_accept: true,
            // A simulated institution still names its lender of record
            // (partner offers without one are refused by the router).
            parties: vec![finroute_core::Party {
                role: finroute_core::PartyRole::Lender,
                legal_name: format!("{} (simulated lender)", config.name),
                registration_id: String::new(),
                contact: String::new(),
                lender_type: None,
            }],
            advertised_apr_from_bps: None,
        };
        Ok(Self {
            description,
            config: config.clone(),
        })
    }
}

#[async_trait::async_trait]
impl Adapter for PartnerSim {
    fn product_kind(&self) -> ProductKind {
        ProductKind::PartnerLoan
    }

    fn is_partner(&self) -> bool {
        true
    }

    async fn describe(&self) -> Result<Description, AdapterError> {
        Ok(self.description.clone())
    }

    async fn quote(&self, req: QuoteRequest) -> Result<QuoteOutcome, AdapterError> {
        if self.config.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.config.latency_ms)).await;
        }
        let mut out = QuoteOutcome::default();
        let Some(score) = req.applicant.credit_score else {
            out.decline_reason = "a credit score is required".into();
            return Ok(out);
        };
        if score < self.config.min_credit_score {
            out.decline_reason = "below the partner's score threshold".into();
            return Ok(out);
        }
        let currency = req.requested_amount.currency;
        let principal = req
            .requested_amount
            .amount_minor
            .min(self.config.max_amount_minor);
        let rate = self.config.base_rate_bps + 4 * (750 - score).max(0);
        // The partner's own odds: logistic in the score, centred at 620.
        let probability = 1.0 / (1.0 + (-(f64::from(score) - 620.0) / 45.0).exp());
        let upfront =
            (i128::from(principal) * i128::from(self.config.upfront_fee_bps) / 10_000) as i64;
        for term in
            crate::terms_within(&self.config.terms, req.min_term_months, req.max_term_months)
        {
            out.offers.push(PartnerOffer {
                partner_offer_ref: format!("sim-{}-{term}", req.quote_id),
                product_kind: Some(ProductKind::PartnerLoan),
                product_name: self.config.name_in(req.locale),
                principal: Money::new(currency, principal),
                term_months: term as i32,
                repayment_method: Some(RepaymentMethod::EqualInstallment),
                qualification: Qualification::PreQualified,
                // Discloses the nominal rate and leaves the fee out: the router catches it.
                stated_apr_bps: rate,
                nominal_rate_bps: rate,
                monthly_fee_rate_bps: 0,
                upfront_fee: (upfront > 0).then(|| Money::new(currency, upfront)),
                schedule: Vec::new(),
                approval_probability: Some(probability.clamp(0.02, 0.97)),
                valid_for_ms: 3 * 24 * 3_600_000,
                requires_collateral: false,
                charges: Vec::new(),
                parties: Vec::new(),
                promotion: None,
                disclosures: vec![disclosure(req.locale)],
                adjustment: None,
                conditions: Vec::new(),
            });
        }
        if out.offers.is_empty() {
            out.decline_reason = "no product within the requested terms".into();
        }
        Ok(out)
    }

    async fn accept(&self, req: AcceptRequest) -> Result<AcceptOutcome, AdapterError> {
        Ok(AcceptOutcome {
            status: AcceptStatus::Accepted,
            partner_reference: crate::builtin_reference("SIM", &req.idempotency_key),
            detail: "application received".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use finroute_core::{Applicant, Currency, LoanPurpose};

    use super::*;

    fn request(score: Option<i32>) -> QuoteRequest {
        QuoteRequest {
            quote_id: "q".into(),
            applicant: Applicant {
                applicant_id: "a".into(),
                credit_score: score,
                ..Default::default()
            },
            requested_amount: Money::new(Currency::parse("CNY").expect("valid"), 1_000_000),
            min_term_months: 12,
            max_term_months: 24,
            purpose: LoanPurpose::Consumption,
            budget: Duration::from_millis(100),
            locale: Default::default(),
        }
    }

    #[tokio::test]
    async fn declines_without_score_or_below_threshold() {
        let a = PartnerSim::build("p", &Config::default()).expect("default");
        assert!(a.quote(request(None)).await.expect("q").offers.is_empty());
        assert!(
            a.quote(request(Some(500)))
                .await
                .expect("q")
                .offers
                .is_empty()
        );
    }

    #[tokio::test]
    async fn prices_by_score_and_leaves_the_fee_out_of_its_stated_apr() {
        let a = PartnerSim::build("p", &Config::default()).expect("default");
        let good = a.quote(request(Some(780))).await.expect("q");
        let fair = a.quote(request(Some(650))).await.expect("q");
        assert_eq!(good.offers.len(), 2);
        assert_eq!(good.offers[0].stated_apr_bps, 880);
        assert_eq!(fair.offers[0].stated_apr_bps, 880 + 400);
        assert!(good.offers[0].upfront_fee.is_some());
        assert!(good.offers[0].approval_probability > fair.offers[0].approval_probability);
    }

    #[tokio::test]
    async fn names_and_disclosures_follow_the_locale() {
        let a = PartnerSim::build("p", &Config::default()).expect("default");
        let mut r = request(Some(780));
        r.locale = Locale::ZhCn;
        let out = a.quote(r.clone()).await.expect("q");
        assert_eq!(out.offers[0].product_name, "合作银行个人贷款");
        assert_eq!(out.offers[0].disclosures, vec![disclosure(Locale::ZhCn)]);
        r.locale = Locale::En;
        let out = a.quote(r.clone()).await.expect("q");
        assert_eq!(out.offers[0].product_name, "Partner Bank personal loan");
        let mut c = Config {
            name: "Other loan".into(),
            ..Config::default()
        };
        r.locale = Locale::ZhCn;
        let a = PartnerSim::build("p", &c).expect("config");
        assert_eq!(
            a.quote(r.clone()).await.expect("q").offers[0].product_name,
            "Other loan"
        );
        c.name_zh = Some("其他贷款".into());
        let a = PartnerSim::build("p", &c).expect("config");
        assert_eq!(
            a.quote(r).await.expect("q").offers[0].product_name,
            "其他贷款"
        );
    }
}

//! Built-in installment products (分期): 3/6/12/24 periods with a flat
//! monthly fee on the original principal. The platform discloses the true
//! APR of each (a 0.60 %/month fee is 13.03 %, not the 7.2 % ads show).

use finroute_core::{
    ApplicantField, Locale, Money, PartnerOffer, ProductKind, Qualification, RepaymentMethod,
};
use serde::{Deserialize, Serialize};

use crate::{
    AcceptOutcome, AcceptRequest, AcceptStatus, Adapter, AdapterError, Description, QuoteOutcome,
    QuoteRequest,
};

/// `kind = "installment"` settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Currencies lent in.
    #[serde(default = "default_currencies")]
    pub currencies: Vec<String>,
    /// Smallest amount financed, in minor units.
    #[serde(default = "default_min_amount")]
    pub min_amount_minor: i64,
    /// Largest amount financed, in minor units.
    #[serde(default = "default_max_amount")]
    pub max_amount_minor: i64,
    /// The catalog, one entry per period count.
    #[serde(default = "default_products")]
    pub products: Vec<Product>,
    /// `[adapters.lender]`: the lender of record; none = the router names
    /// its `[platform]` operator, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lender: Option<crate::spec::LenderConfig>,
}

/// One installment product.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Number of monthly periods.
    pub periods: u32,
    /// Fee per month on the original principal (60 = 0.60 %).
    pub monthly_fee_rate_bps: i32,
    /// Shown to the borrower; defaults to "<n>-period installment".
    #[serde(default)]
    pub name: Option<String>,
    /// Shown to the borrower in Chinese (`zh-CN`); defaults to `name` when
    /// that is set, else "<n> 期分期".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
}

impl Product {
    /// The product's name in `locale`.
    pub fn name_in(&self, locale: Locale) -> String {
        let own = match locale {
            Locale::En => self.name.as_ref(),
            Locale::ZhCn => self.name_zh.as_ref().or(self.name.as_ref()),
        };
        match (own, locale) {
            (Some(name), _) => name.clone(),
            (None, Locale::En) => format!("{}-period installment", self.periods),
            (None, Locale::ZhCn) => format!("{} 期分期", self.periods),
        }
    }

    /// The fee disclosure, in `locale`.
    pub fn disclosure_in(&self, locale: Locale) -> String {
        let (whole, cents, n) = (
            self.monthly_fee_rate_bps / 100,
            self.monthly_fee_rate_bps % 100,
            self.periods,
        );
        match locale {
            Locale::En => format!(
                "A monthly fee of {whole}.{cents:02} % of the amount financed is charged in each of the {n} periods."
            ),
            Locale::ZhCn => {
                format!("每期按分期金额的 {whole}.{cents:02}% 收取手续费，共 {n} 期。")
            }
        }
    }
}

fn default_currencies() -> Vec<String> {
    vec!["CNY".into()]
}

fn default_min_amount() -> i64 {
    10_000
}

fn default_max_amount() -> i64 {
    5_000_000
}

fn default_products() -> Vec<Product> {
    [(3, 75), (6, 70), (12, 60), (24, 65)]
        .into_iter()
        .map(|(periods, monthly_fee_rate_bps)| Product {
            periods,
            monthly_fee_rate_bps,
            name: None,
            name_zh: None,
        })
        .collect()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            currencies: default_currencies(),
            min_amount_minor: default_min_amount(),
            max_amount_minor: default_max_amount(),
            products: default_products(),
            lender: None,
        }
    }
}

/// The running installment channel.
#[derive(Debug)]
pub struct Installment {
    description: Description,
    config: Config,
}

impl Installment {
    /// Checks the catalog and builds the channel.
    pub fn build(config: &Config) -> Result<Self, String> {
        let currencies = crate::parse_currencies(&config.currencies)?;
        if config.products.is_empty() {
            return Err("`products` must not be empty".into());
        }
        if config.min_amount_minor <= 0 || config.max_amount_minor < config.min_amount_minor {
            return Err("need 0 < min_amount_minor <= max_amount_minor".into());
        }
        for (i, p) in config.products.iter().enumerate() {
            if !(1..=60).contains(&p.periods) {
                return Err(format!("products[{i}].periods must be within 1..=60"));
            }
            if !(0..=500).contains(&p.monthly_fee_rate_bps) {
                return Err(format!(
                    "products[{i}].monthly_fee_rate_bps must be within 0..=500"
                ));
            }
        }
        let min_t = config.products.iter().map(|p| p.periods).min().unwrap_or(1);
        let max_t = config.products.iter().map(|p| p.periods).max().unwrap_or(1);
        let description = Description {
            adapter_id: "finroute-installment".into(),
            display_name: "Installment plans".into(),
            product_kinds: vec![ProductKind::Installment],
            min_amount: Some(Money::new(currencies[0], config.min_amount_minor)),
            max_amount: Some(Money::new(currencies[0], config.max_amount_minor)),
            currencies,
            min_term_months: min_t,
            max_term_months: max_t,
            required_fields: vec![ApplicantField::CreditScore, ApplicantField::MonthlyIncome],
            supports_accept: true,
            parties: crate::spec::LenderConfig::parties(config.lender.as_ref())?,
            advertised_apr_from_bps: None,
        };
        Ok(Self {
            description,
            config: config.clone(),
        })
    }
}

#[async_trait::async_trait]
impl Adapter for Installment {
    fn product_kind(&self) -> ProductKind {
        ProductKind::Installment
    }

    fn is_partner(&self) -> bool {
        false
    }

    async fn describe(&self) -> Result<Description, AdapterError> {
        Ok(self.description.clone())
    }

    async fn quote(&self, req: QuoteRequest) -> Result<QuoteOutcome, AdapterError> {
        let currency = req.requested_amount.currency;
        let mut out = QuoteOutcome::default();
        if !self.description.currencies.contains(&currency) {
            out.decline_reason = format!("currency {currency} not offered");
            return Ok(out);
        }
        let principal = req
            .requested_amount
            .amount_minor
            .min(self.config.max_amount_minor);
        if principal < self.config.min_amount_minor {
            out.decline_reason = "amount below the smallest installment plan".into();
            return Ok(out);
        }
        let method = RepaymentMethod::FlatFeeInstallment;
        for p in &self.config.products {
            if !(req.min_term_months..=req.max_term_months).contains(&p.periods) {
                continue;
            }
            out.offers.push(PartnerOffer {
                partner_offer_ref: format!("inst-{}-{}", req.quote_id, p.periods),
                product_kind: Some(ProductKind::Installment),
                product_name: p.name_in(req.locale),
                principal: Money::new(currency, principal),
                term_months: p.periods as i32,
                repayment_method: Some(method),
                qualification: Qualification::PreQualified,
                stated_apr_bps: crate::honest_apr_bps(
                    method,
                    principal,
                    p.periods,
                    0,
                    p.monthly_fee_rate_bps,
                    0,
                ),
                nominal_rate_bps: 0,
                monthly_fee_rate_bps: p.monthly_fee_rate_bps,
                upfront_fee: None,
                schedule: Vec::new(),
                approval_probability: None,
                valid_for_ms: 24 * 3_600_000,
                requires_collateral: false,
                charges: Vec::new(),
                parties: Vec::new(),
                promotion: None,
                disclosures: vec![p.disclosure_in(req.locale)],
                adjustment: None,
                conditions: Vec::new(),
            });
        }
        if out.offers.is_empty() {
            out.decline_reason = "no installment plan within the requested terms".into();
        }
        Ok(out)
    }

    async fn accept(&self, req: AcceptRequest) -> Result<AcceptOutcome, AdapterError> {
        Ok(AcceptOutcome {
            status: AcceptStatus::Accepted,
            partner_reference: crate::builtin_reference("INST", &req.idempotency_key),
            detail: "installment plan booked".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use finroute_core::{Applicant, Currency, LoanPurpose};

    use super::*;

    fn request(amount: i64, min: u32, max: u32) -> QuoteRequest {
        QuoteRequest {
            quote_id: "q".into(),
            applicant: Applicant::default(),
            requested_amount: Money::new(Currency::parse("CNY").expect("valid"), amount),
            min_term_months: min,
            max_term_months: max,
            purpose: LoanPurpose::Consumption,
            budget: Duration::from_millis(100),
            locale: Default::default(),
        }
    }

    #[tokio::test]
    async fn offers_each_period_count_within_the_request() {
        let a = Installment::build(&Config::default()).expect("default");
        let out = a.quote(request(1_000_000, 3, 12)).await.expect("quote");
        let periods: Vec<_> = out.offers.iter().map(|o| o.term_months).collect();
        assert_eq!(periods, vec![3, 6, 12]);
        let twelve = &out.offers[2];
        assert_eq!(twelve.monthly_fee_rate_bps, 60);
        assert_eq!(
            twelve.stated_apr_bps, 1303,
            "the true APR of 0.60 %/month, ranking.md"
        );
    }

    #[tokio::test]
    async fn names_and_disclosures_follow_the_locale() {
        let mut c = Config::default();
        let a = Installment::build(&c).expect("default");
        let mut r = request(1_000_000, 12, 12);
        r.locale = Locale::ZhCn;
        let out = a.quote(r.clone()).await.expect("quote");
        assert_eq!(out.offers[0].product_name, "12 期分期");
        assert_eq!(
            out.offers[0].disclosures,
            vec!["每期按分期金额的 0.60% 收取手续费，共 12 期。".to_string()]
        );
        r.locale = Locale::En;
        let out = a.quote(r.clone()).await.expect("quote");
        assert_eq!(out.offers[0].product_name, "12-period installment");
        assert!(out.offers[0].disclosures[0].contains("0.60 %"));
        c.products[2].name = Some("12-month plan".into());
        let a = Installment::build(&c).expect("catalog");
        r.locale = Locale::ZhCn;
        assert_eq!(
            a.quote(r.clone()).await.expect("quote").offers[0].product_name,
            "12-month plan"
        );
        c.products[2].name_zh = Some("12 个月分期".into());
        let a = Installment::build(&c).expect("catalog");
        assert_eq!(
            a.quote(r).await.expect("quote").offers[0].product_name,
            "12 个月分期"
        );
    }

    #[tokio::test]
    async fn amount_is_capped_and_small_amounts_declined() {
        let a = Installment::build(&Config::default()).expect("default");
        let out = a.quote(request(99_000_000, 1, 36)).await.expect("quote");
        assert!(
            out.offers
                .iter()
                .all(|o| o.principal.amount_minor == 5_000_000)
        );
        let out = a.quote(request(500, 1, 36)).await.expect("quote");
        assert!(out.offers.is_empty() && !out.decline_reason.is_empty());
    }
}

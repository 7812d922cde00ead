//! Built-in secured loans: offered only when the applicant has unencumbered
//! collateral of a kind in the catalog, with the principal limited by that
//! kind's loan-to-value ratio.

use finroute_core::{
    ApplicantField, CollateralKind, Locale, Money, PartnerOffer, ProductKind, Qualification,
    RepaymentMethod,
};
use serde::{Deserialize, Serialize};

use crate::{
    AcceptOutcome, AcceptRequest, AcceptStatus, Adapter, AdapterError, Description, QuoteOutcome,
    QuoteRequest,
};

/// `kind = "secured"` settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Currencies lent in.
    #[serde(default = "default_currencies")]
    pub currencies: Vec<String>,
    /// Smallest principal offered, in minor units.
    #[serde(default = "default_min_amount")]
    pub min_amount_minor: i64,
    /// One product per collateral kind.
    #[serde(default = "default_products")]
    pub products: Vec<Product>,
    /// `[adapters.lender]`: the lender of record; none = the router names
    /// its `[platform]` operator, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lender: Option<crate::spec::LenderConfig>,
}

/// A secured product for one collateral kind.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// `vehicle`, `property`, `deposit` or `securities`.
    pub collateral: CollateralName,
    /// Shown to the borrower in English (and in any locale without its own name).
    pub name: String,
    /// Shown to the borrower in Chinese (`zh-CN`). When absent: the
    /// built-in Chinese name if `name` is the built-in English one, else `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
    /// Principal at most this share of the appraised value (7000 = 70 %).
    pub max_ltv_bps: u32,
    /// Nominal annual rate of the annuity.
    pub nominal_rate_bps: i32,
    /// Arrangement fee deducted at disbursement, in bp of principal.
    #[serde(default)]
    pub upfront_fee_bps: i32,
    /// Terms offered, in months.
    pub terms: Vec<u32>,
}

/// Collateral kinds as config names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CollateralName {
    Vehicle,
    Property,
    Deposit,
    Securities,
}

impl CollateralName {
    /// The built-in product's English and Chinese names.
    fn builtin_names(self) -> (&'static str, &'static str) {
        match self {
            CollateralName::Vehicle => ("Vehicle-secured loan", "车辆抵押贷款"),
            CollateralName::Property => ("Property-secured loan", "房产抵押贷款"),
            CollateralName::Deposit => ("Deposit-secured loan", "存单质押贷款"),
            CollateralName::Securities => ("Securities-secured loan", "证券质押贷款"),
        }
    }

    /// The collateral in words, in `locale`: "vehicle", "车辆".
    fn in_words(self, locale: Locale) -> &'static str {
        match (self, locale) {
            (CollateralName::Vehicle, Locale::En) => "vehicle",
            (CollateralName::Property, Locale::En) => "property",
            (CollateralName::Deposit, Locale::En) => "deposit",
            (CollateralName::Securities, Locale::En) => "securities",
            (CollateralName::Vehicle, Locale::ZhCn) => "车辆",
            (CollateralName::Property, Locale::ZhCn) => "房产",
            (CollateralName::Deposit, Locale::ZhCn) => "存单",
            (CollateralName::Securities, Locale::ZhCn) => "证券",
        }
    }
}

impl Product {
    /// The product's name in `locale`.
    pub fn name_in(&self, locale: Locale) -> String {
        match locale {
            Locale::En => self.name.clone(),
            Locale::ZhCn => match &self.name_zh {
                Some(zh) => zh.clone(),
                None => {
                    let (en, zh) = self.collateral.builtin_names();
                    if self.name == en {
                        zh.into()
                    } else {
                        self.name.clone()
                    }
                }
            },
        }
    }

    /// The disclosure of an offer secured by this product's collateral, in `locale`.
    pub fn disclosure_in(&self, locale: Locale) -> String {
        let what = self.collateral.in_words(locale);
        let ltv = self.max_ltv_bps / 100;
        match locale {
            Locale::En => {
                format!("Secured by your {what}; principal at most {ltv} % of its appraised value.")
            }
            Locale::ZhCn => {
                format!("以您的{what}作担保，借款本金不超过其评估价值的 {ltv}%。")
            }
        }
    }
}

impl From<CollateralName> for CollateralKind {
    fn from(c: CollateralName) -> Self {
        match c {
            CollateralName::Vehicle => CollateralKind::Vehicle,
            CollateralName::Property => CollateralKind::Property,
            CollateralName::Deposit => CollateralKind::Deposit,
            CollateralName::Securities => CollateralKind::Securities,
        }
    }
}

fn default_currencies() -> Vec<String> {
    vec!["CNY".into()]
}

fn default_min_amount() -> i64 {
    100_000
}

fn default_products() -> Vec<Product> {
    let p = |collateral: CollateralName,
             max_ltv_bps,
             nominal_rate_bps,
             upfront_fee_bps,
             terms: &[u32]| {
        Product {
            collateral,
            name: collateral.builtin_names().0.into(),
            name_zh: None,
            max_ltv_bps,
            nominal_rate_bps,
            upfront_fee_bps,
            terms: terms.to_vec(),
        }
    };
    vec![
        p(CollateralName::Vehicle, 6000, 890, 50, &[12, 24, 36]),
        p(CollateralName::Property, 7000, 490, 30, &[12, 36, 60, 120]),
        p(CollateralName::Deposit, 9000, 390, 0, &[3, 6, 12, 24]),
        p(CollateralName::Securities, 5000, 650, 0, &[6, 12, 24]),
    ]
}

impl Default for Config {
    fn default() -> Self {
        Self {
            currencies: default_currencies(),
            min_amount_minor: default_min_amount(),
            products: default_products(),
            lender: None,
        }
    }
}

/// The running secured-loan channel.
#[derive(Debug)]
pub struct Secured {
    description: Description,
    config: Config,
}

impl Secured {
    /// Checks the catalog and builds the channel.
    pub fn build(config: &Config) -> Result<Self, String> {
        let currencies = crate::parse_currencies(&config.currencies)?;
        if config.products.is_empty() {
            return Err("`products` must not be empty".into());
        }
        for (i, p) in config.products.iter().enumerate() {
            if !(1..=10_000).contains(&p.max_ltv_bps) {
                return Err(format!(
                    "products[{i}].max_ltv_bps must be within 1..=10000"
                ));
            }
            if !(0..=10_000).contains(&p.nominal_rate_bps)
                || !(0..5_000).contains(&p.upfront_fee_bps)
            {
                return Err(format!(
                    "products[{i}]: rates must be within 0..=10000 bp, fee below 5000 bp"
                ));
            }
            if p.terms.is_empty() || p.terms.iter().any(|t| !(1..=360).contains(t)) {
                return Err(format!(
                    "products[{i}].terms must list months within 1..=360"
                ));
            }
        }
        let all_terms = config.products.iter().flat_map(|p| p.terms.iter().copied());
        let (min_t, max_t) = all_terms.fold((u32::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
        let description = Description {
            adapter_id: "finroute-secured".into(),
            display_name: "Secured loans".into(),
            product_kinds: vec![ProductKind::SecuredLoan],
            min_amount: Some(Money::new(currencies[0], config.min_amount_minor)),
            max_amount: None,
            currencies,
            min_term_months: min_t,
            max_term_months: max_t,
            required_fields: vec![ApplicantField::Collateral, ApplicantField::CreditScore],
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
impl Adapter for Secured {
    fn product_kind(&self) -> ProductKind {
        ProductKind::SecuredLoan
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
        for (ci, c) in req.applicant.collateral.iter().enumerate() {
            if c.encumbered || c.appraised_value.currency != currency {
                continue;
            }
            let Some(product) = self
                .config
                .products
                .iter()
                .find(|p| CollateralKind::from(p.collateral) == c.kind)
            else {
                continue;
            };
            let ltv_cap = i128::from(c.appraised_value.amount_minor)
                * i128::from(product.max_ltv_bps)
                / 10_000;
            let principal = i128::from(req.requested_amount.amount_minor).min(ltv_cap) as i64;
            if principal < self.config.min_amount_minor {
                continue;
            }
            // Cover of 2x or more makes approval near certain; just above 1/LTV it is still likely.
            let cover = c.appraised_value.amount_minor as f64 / principal as f64;
            let probability = (0.80 + 0.08 * (cover - 1.0)).clamp(0.80, 0.96);
            let upfront = i128::from(principal) * i128::from(product.upfront_fee_bps) / 10_000;
            let upfront = upfront as i64;
            for term in
                crate::terms_within(&product.terms, req.min_term_months, req.max_term_months)
            {
                let method = RepaymentMethod::EqualInstallment;
                out.offers.push(PartnerOffer {
                    partner_offer_ref: format!("sec-{}-{ci}-{term}", req.quote_id),
                    product_kind: Some(ProductKind::SecuredLoan),
                    product_name: product.name_in(req.locale),
                    principal: Money::new(currency, principal),
                    term_months: term as i32,
                    repayment_method: Some(method),
                    qualification: Qualification::PreApproved,
                    stated_apr_bps: crate::honest_apr_bps(
                        method,
                        principal,
                        term,
                        product.nominal_rate_bps,
                        0,
                        upfront,
                    ),
                    nominal_rate_bps: product.nominal_rate_bps,
                    monthly_fee_rate_bps: 0,
                    upfront_fee: (upfront > 0).then(|| Money::new(currency, upfront)),
                    schedule: Vec::new(),
                    approval_probability: Some(probability),
                    valid_for_ms: 7 * 24 * 3_600_000,
                    requires_collateral: true,
                    charges: Vec::new(),
                    parties: Vec::new(),
                    promotion: None,
                    disclosures: vec![product.disclosure_in(req.locale)],
                    adjustment: None,
                    conditions: Vec::new(),
                });
            }
        }
        if out.offers.is_empty() {
            out.decline_reason =
                "no unencumbered collateral covers a loan in the requested terms".into();
        }
        Ok(out)
    }

    async fn accept(&self, req: AcceptRequest) -> Result<AcceptOutcome, AdapterError> {
        Ok(AcceptOutcome {
            status: AcceptStatus::Accepted,
            partner_reference: crate::builtin_reference("SEC", &req.idempotency_key),
            detail: "booked; collateral registration follows".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use finroute_core::{Applicant, Collateral, Currency, LoanPurpose};

    use super::*;

    fn cny(n: i64) -> Money {
        Money::new(Currency::parse("CNY").expect("valid"), n)
    }

    fn request(collateral: Vec<Collateral>, amount: i64) -> QuoteRequest {
        QuoteRequest {
            quote_id: "q1".into(),
            applicant: Applicant {
                applicant_id: "a".into(),
                collateral,
                ..Default::default()
            },
            requested_amount: cny(amount),
            min_term_months: 6,
            max_term_months: 36,
            purpose: LoanPurpose::Consumption,
            budget: Duration::from_millis(100),
            locale: Default::default(),
        }
    }

    fn vehicle(value: i64, encumbered: bool) -> Collateral {
        Collateral {
            kind: CollateralKind::Vehicle,
            appraised_value: cny(value),
            encumbered,
        }
    }

    #[tokio::test]
    async fn principal_is_limited_by_loan_to_value() {
        let a = Secured::build(&Config::default()).expect("default catalog");
        let out = a
            .quote(request(vec![vehicle(5_000_000, false)], 8_000_000))
            .await
            .expect("quote");
        assert_eq!(
            out.offers.len(),
            2,
            "shortest and longest term within 6..=36"
        );
        for o in &out.offers {
            assert_eq!(o.principal.amount_minor, 3_000_000, "60 % of 50 000.00");
            assert!(o.requires_collateral);
        }
        let terms: Vec<_> = out.offers.iter().map(|o| o.term_months).collect();
        assert_eq!(terms, vec![12, 36]);
    }

    #[tokio::test]
    async fn encumbered_or_missing_collateral_gets_no_offer() {
        let a = Secured::build(&Config::default()).expect("default catalog");
        let out = a
            .quote(request(vec![vehicle(5_000_000, true)], 1_000_000))
            .await
            .expect("quote");
        assert!(out.offers.is_empty());
        assert!(!out.decline_reason.is_empty());
        let out = a.quote(request(vec![], 1_000_000)).await.expect("quote");
        assert!(out.offers.is_empty());
    }

    #[tokio::test]
    async fn accept_is_idempotent_on_the_key() {
        let a = Secured::build(&Config::default()).expect("default catalog");
        let r = |k: &str| AcceptRequest {
            partner_offer_ref: "x".into(),
            idempotency_key: k.into(),
            applicant_id: "a".into(),
            budget: None,
        };
        let one = a.accept(r("k1")).await.expect("accept");
        assert_eq!(one, a.accept(r("k1")).await.expect("accept"));
        assert_ne!(
            one.partner_reference,
            a.accept(r("k2")).await.expect("accept").partner_reference
        );
    }

    #[tokio::test]
    async fn names_and_disclosures_follow_the_locale() {
        let mut c = Config::default();
        let a = Secured::build(&c).expect("default catalog");
        let mut r = request(vec![vehicle(5_000_000, false)], 1_000_000);
        r.locale = Locale::ZhCn;
        let out = a.quote(r.clone()).await.expect("quote");
        assert!(!out.offers.is_empty());
        for o in &out.offers {
            assert_eq!(o.product_name, "车辆抵押贷款");
            assert_eq!(
                o.disclosures,
                vec!["以您的车辆作担保，借款本金不超过其评估价值的 60%。".to_string()]
            );
        }
        r.locale = Locale::En;
        let out = a.quote(r.clone()).await.expect("quote");
        assert_eq!(out.offers[0].product_name, "Vehicle-secured loan");
        assert!(out.offers[0].disclosures[0].contains("vehicle; principal at most 60 %"));
        // A configured name: its own Chinese name, else the configured name.
        c.products[0].name = "Auto loan".into();
        let a = Secured::build(&c).expect("catalog");
        r.locale = Locale::ZhCn;
        let out = a.quote(r.clone()).await.expect("quote");
        assert_eq!(out.offers[0].product_name, "Auto loan");
        c.products[0].name_zh = Some("汽车贷".into());
        let a = Secured::build(&c).expect("catalog");
        let out = a.quote(r).await.expect("quote");
        assert_eq!(out.offers[0].product_name, "汽车贷");
    }

    #[test]
    fn bad_catalog_is_refused() {
        let mut c = Config::default();
        c.products[0].max_ltv_bps = 20_000;
        assert!(Secured::build(&c).expect_err("ltv").contains("max_ltv_bps"));
    }
}

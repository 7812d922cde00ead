//! An example partner institution, written with `finroute-partner-sdk`:
//! what a bank's engineers build to receive finroute's traffic. It prices
//! an annuity loan by credit score, charges an arrangement fee that it
//! honestly includes in its stated APR (computed by the router's own IRR
//! code, so the router never flags it), and declines thin files.
//!
//! The SDK serves the proto, health and reflection, shuts down gracefully
//! and keeps Accept idempotent on the key: `accept` below is called once
//! per key, and only has to book.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use finroute_partner_sdk::{
    AcceptOutcome, AcceptRequest, AcceptStatus, ApplicantField, Charge, ChargeKind, ChargeTiming,
    Currency, DeclineReason, Description, LenderType, Money, Partner, PartnerError, PartnerOffer,
    Party, PartyRole, ProductKind, Qualification, Quote, QuoteRequest, RepaymentMethod,
};
use tokio::net::TcpListener;

pub use finroute_partner_sdk::ServeError;

/// Smallest and largest loan, in fen.
const MIN_AMOUNT: i64 = 100_000;
const MAX_AMOUNT: i64 = 30_000_000;

/// How the bank prices and behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Its own id (informational; finroute names the channel by config id).
    pub bank_id: String,
    pub display_name: String,
    /// The bank's registration id (unified social credit code), named in
    /// Describe as the lender of record's.
    pub registration_id: String,
    /// How borrowers reach the bank (service line or address).
    pub contact: String,
    /// Nominal rate for a 750+ score; +5 bp per point below.
    pub base_rate_bps: i32,
    /// Arrangement fee in bp of principal.
    pub upfront_fee_bps: i32,
    /// Declines below this score.
    pub min_credit_score: i32,
    /// Simulated processing time.
    pub latency: Duration,
    /// Terms offered.
    pub terms: Vec<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bank_id: "partner-bank".into(),
            display_name: "Example Partner Bank".into(),
            registration_id: "91310000MA1FL2XB7K".into(),
            contact: "+86 21 0000 0000".into(),
            base_rate_bps: 720,
            upfront_fee_bps: 100,
            min_credit_score: 600,
            latency: Duration::ZERO,
            terms: vec![12, 24],
        }
    }
}

/// The bank's adapter.
#[derive(Debug)]
pub struct PartnerBank {
    settings: Settings,
    cny: Currency,
    /// Loans booked so far (the SDK calls `accept` once per key).
    booked: AtomicU64,
}

impl PartnerBank {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            cny: Currency::parse("CNY").expect("CNY is an ISO 4217 code"),
            booked: AtomicU64::new(0),
        }
    }

    fn offer(&self, quote_id: &str, principal: Money, term: u32, score: i32) -> PartnerOffer {
        let s = &self.settings;
        let rate = s.base_rate_bps + 5 * (750 - score).max(0);
        let fee = principal.amount_minor * i64::from(s.upfront_fee_bps) / 10_000;
        let mut offer = PartnerOffer {
            partner_offer_ref: format!("{}-{quote_id}-{term}", s.bank_id),
            product_kind: Some(ProductKind::PartnerLoan),
            product_name: format!("{} personal loan", s.display_name),
            principal,
            term_months: term as i32,
            repayment_method: Some(RepaymentMethod::EqualInstallment),
            qualification: Qualification::PreQualified,
            stated_apr_bps: rate,
            nominal_rate_bps: rate,
            monthly_fee_rate_bps: 0,
            upfront_fee: None,
            schedule: Vec::new(),
            approval_probability: Some(
                (1.0 / (1.0 + (-(f64::from(score) - 640.0) / 40.0).exp())).clamp(0.05, 0.95),
            ),
            valid_for_ms: 2 * 24 * 3600 * 1000,
            requires_collateral: false,
            disclosures: vec!["Offer subject to identity and income verification.".into()],
            // The arrangement fee, typed: kept back at disbursement, paid
            // to the bank (the lender of record Describe names).
            charges: vec![Charge {
                kind: Some(ChargeKind::ArrangementFee),
                payee: Some(PartyRole::Lender),
                payee_name: String::new(),
                timing: Some(ChargeTiming::DeductedAtDisbursement),
                amount: Some(Money::new(principal.currency, fee)),
                period_rate_bps: 0,
                declinable: false,
                description: String::new(),
            }],
            parties: Vec::new(),
            promotion: None,
            adjustment: None,
            conditions: Vec::new(),
        };
        // The fee raises the true APR above the nominal rate: state the
        // rate the router will compute from the cash flows.
        if let Ok(apr) = finroute_partner_sdk::true_apr_bps(&offer) {
            offer.stated_apr_bps = apr;
        }
        offer
    }
}

impl Partner for PartnerBank {
    async fn describe(&self) -> Result<Description, PartnerError> {
        let s = &self.settings;
        Ok(Description {
            adapter_id: s.bank_id.clone(),
            display_name: s.display_name.clone(),
            product_kinds: vec![ProductKind::PartnerLoan],
            currencies: vec![self.cny],
            min_amount: Some(Money::new(self.cny, MIN_AMOUNT)),
            max_amount: Some(Money::new(self.cny, MAX_AMOUNT)),
            min_term_months: s.terms.iter().copied().min().unwrap_or(12),
            max_term_months: s.terms.iter().copied().max().unwrap_or(12),
            required_fields: vec![ApplicantField::CreditScore, ApplicantField::Employment],
            supports_accept: true,
            parties: vec![Party {
                role: PartyRole::Lender,
                legal_name: format!("{} Co., Ltd.", s.display_name),
                registration_id: s.registration_id.clone(),
                contact: s.contact.clone(),
                lender_type: Some(LenderType::Bank),
            }],
            advertised_apr_from_bps: None,
        })
    }

    async fn quote(&self, q: QuoteRequest) -> Result<Quote, PartnerError> {
        let s = &self.settings;
        if !s.latency.is_zero() {
            tokio::time::sleep(s.latency).await;
        }
        let Some(score) = q.applicant.credit_score else {
            return Ok(Quote::missing_data(
                vec![ApplicantField::CreditScore],
                "credit score required",
            ));
        };
        if score < s.min_credit_score {
            return Ok(Quote::declined(
                DeclineReason::CreditScore,
                "below our score threshold",
            ));
        }
        if q.requested_amount.currency != self.cny {
            return Ok(Quote::declined(DeclineReason::Other, "we lend in CNY only"));
        }
        if q.requested_amount.amount_minor < MIN_AMOUNT {
            return Ok(Quote::declined(
                DeclineReason::OutsidePolicyAmount,
                "below our minimum amount",
            ));
        }
        let principal = Money::new(self.cny, q.requested_amount.amount_minor.min(MAX_AMOUNT));
        let offers: Vec<_> = s
            .terms
            .iter()
            .filter(|t| (q.min_term_months..=q.max_term_months).contains(t))
            .map(|t| self.offer(&q.quote_id, principal, *t, score))
            .collect();
        if offers.is_empty() {
            return Ok(Quote::declined(
                DeclineReason::OutsidePolicyTerm,
                "no product in the requested terms",
            ));
        }
        Ok(Quote::offers(offers))
    }

    async fn accept(&self, r: AcceptRequest) -> Result<AcceptOutcome, PartnerError> {
        if !r
            .partner_offer_ref
            .starts_with(&format!("{}-", self.settings.bank_id))
        {
            return Err(PartnerError::UnknownOffer(r.partner_offer_ref));
        }
        let n = self.booked.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(AcceptOutcome {
            status: AcceptStatus::Accepted,
            partner_reference: format!("PB-{n:08}"),
            detail: "loan booked".into(),
        })
    }
}

/// Serves the bank (with health and reflection) on `listener` until
/// `shutdown` completes.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    finroute_partner_sdk::serve(PartnerBank::new(settings), listener, shutdown).await
}

/// Binds `addr` and serves in the background; returns the bound address (tests, benchmarks).
pub async fn spawn(settings: Settings, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = serve(settings, listener, std::future::pending()).await {
            tracing::error!(error = %e, "partner bank stopped");
        }
    });
    Ok(bound)
}

//! An example partner institution, written directly against the adapter
//! proto (`finroute.v1.FinancingAdapter`): what a bank's engineers build to
//! receive finroute's traffic. It prices an annuity loan by credit score,
//! charges an arrangement fee that it (honestly) includes in its stated
//! APR, declines thin files, and keeps Accept idempotent on the key.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use finroute_proto::v1 as pb;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

/// How the bank prices and behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Its own id (informational; finroute names the channel by config id).
    pub bank_id: String,
    pub display_name: String,
    /// Nominal rate for a 750+ score; +5 bp per point below.
    pub base_rate_bps: i32,
    /// Arrangement fee in bp of principal.
    pub upfront_fee_bps: i32,
    /// Declines below this score.
    pub min_credit_score: i32,
    /// Simulated processing time.
    pub latency: Duration,
    /// Terms offered.
    pub terms: Vec<i32>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bank_id: "partner-bank".into(),
            display_name: "Example Partner Bank".into(),
            base_rate_bps: 720,
            upfront_fee_bps: 100,
            min_credit_score: 600,
            latency: Duration::ZERO,
            terms: vec![12, 24],
        }
    }
}

/// The FinancingAdapter implementation.
#[derive(Debug, Clone)]
pub struct PartnerBank {
    settings: Arc<Settings>,
    /// idempotency_key -> the answer given; a std Mutex: no await while held.
    accepted: Arc<Mutex<HashMap<String, pb::AcceptResponse>>>,
}

impl PartnerBank {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings: Arc::new(settings),
            accepted: Arc::default(),
        }
    }

    fn offer(
        &self,
        quote_id: &str,
        currency: &str,
        principal: i64,
        term: i32,
        score: i32,
    ) -> pb::PartnerOffer {
        let s = &self.settings;
        let rate = s.base_rate_bps + 5 * (750 - score).max(0);
        let fee = principal * i64::from(s.upfront_fee_bps) / 10_000;
        let money = |n| {
            Some(pb::Money {
                currency_code: currency.to_owned(),
                amount_minor: n,
            })
        };
        pb::PartnerOffer {
            partner_offer_ref: format!("{}-{quote_id}-{term}", s.bank_id),
            product_kind: pb::ProductKind::PartnerLoan as i32,
            product_name: format!("{} personal loan", s.display_name),
            principal: money(principal),
            term_months: term,
            repayment_method: pb::RepaymentMethod::EqualInstallment as i32,
            qualification: pb::Qualification::PreQualified as i32,
            // The fee spread over the term, added to the nominal rate: close to
            // the true APR (finroute recomputes it exactly from the cash flows).
            stated_apr_bps: rate + s.upfront_fee_bps * 12 * 2 / (term + 1),
            monthly_fee_rate_bps: 0,
            upfront_fee: money(fee),
            schedule: Vec::new(),
            approval_probability: (1.0 / (1.0 + (-(f64::from(score) - 640.0) / 40.0).exp()))
                .clamp(0.05, 0.95),
            valid_for: Some(prost_types::Duration {
                seconds: 2 * 24 * 3600,
                nanos: 0,
            }),
            requires_collateral: false,
            disclosures: vec!["Offer subject to identity and income verification.".into()],
            nominal_rate_bps: rate,
        }
    }
}

#[tonic::async_trait]
impl pb::financing_adapter_server::FinancingAdapter for PartnerBank {
    async fn describe(
        &self,
        _r: Request<pb::DescribeRequest>,
    ) -> Result<Response<pb::AdapterDescription>, Status> {
        let s = &self.settings;
        let cny = |n| {
            Some(pb::Money {
                currency_code: "CNY".into(),
                amount_minor: n,
            })
        };
        Ok(Response::new(pb::AdapterDescription {
            adapter_id: s.bank_id.clone(),
            display_name: s.display_name.clone(),
            product_kinds: vec![pb::ProductKind::PartnerLoan as i32],
            currencies: vec!["CNY".into()],
            min_amount: cny(100_000),
            max_amount: cny(30_000_000),
            min_term_months: s.terms.iter().copied().min().unwrap_or(12),
            max_term_months: s.terms.iter().copied().max().unwrap_or(12),
            required_fields: vec![
                pb::ApplicantField::CreditScore as i32,
                pb::ApplicantField::Employment as i32,
            ],
            supports_accept: true,
        }))
    }

    async fn quote(
        &self,
        request: Request<pb::QuoteRequest>,
    ) -> Result<Response<pb::QuoteResponse>, Status> {
        let s = &self.settings;
        if !s.latency.is_zero() {
            tokio::time::sleep(s.latency).await;
        }
        let q = request.into_inner();
        let Some(amount) = q.requested_amount else {
            return Err(Status::invalid_argument("requested_amount is required"));
        };
        let score = q.applicant.as_ref().and_then(|a| a.credit_score);
        let decline = |why: &str| {
            Ok(Response::new(pb::QuoteResponse {
                offers: vec![],
                decline_reason: why.into(),
            }))
        };
        let Some(score) = score else {
            return decline("credit score required");
        };
        if score < s.min_credit_score {
            return decline("below our score threshold");
        }
        if amount.currency_code != "CNY" {
            return decline("we lend in CNY only");
        }
        let principal = amount.amount_minor.min(30_000_000);
        let offers = s
            .terms
            .iter()
            .filter(|t| (q.min_term_months..=q.max_term_months).contains(t))
            .map(|t| self.offer(&q.quote_id, &amount.currency_code, principal, *t, score))
            .collect::<Vec<_>>();
        let decline_reason = if offers.is_empty() {
            "no product in the requested terms".into()
        } else {
            String::new()
        };
        Ok(Response::new(pb::QuoteResponse {
            offers,
            decline_reason,
        }))
    }

    async fn accept(
        &self,
        request: Request<pb::AcceptRequest>,
    ) -> Result<Response<pb::AcceptResponse>, Status> {
        let r = request.into_inner();
        if r.idempotency_key.is_empty() {
            return Err(Status::invalid_argument("idempotency_key is required"));
        }
        if !r
            .partner_offer_ref
            .starts_with(&format!("{}-", self.settings.bank_id))
        {
            return Err(Status::not_found("unknown partner_offer_ref"));
        }
        let mut accepted = self
            .accepted
            .lock()
            .map_err(|_| Status::internal("state poisoned"))?;
        let n = accepted.len();
        let answer = accepted
            .entry(r.idempotency_key)
            .or_insert_with(|| pb::AcceptResponse {
                status: pb::AcceptanceStatus::Accepted as i32,
                partner_reference: format!("PB-{:08}", n + 1),
                detail: "loan booked".into(),
            })
            .clone();
        Ok(Response::new(answer))
    }
}

/// Serves the bank (with health) on `listener` until `shutdown` completes.
pub async fn serve(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<pb::financing_adapter_server::FinancingAdapterServer<PartnerBank>>()
        .await;
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(pb::financing_adapter_server::FinancingAdapterServer::new(
            PartnerBank::new(settings),
        ))
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
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

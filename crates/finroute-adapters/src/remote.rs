//! A partner institution's `FinancingAdapter` server, reached over gRPC.
//!
//! One lazily connected tonic `Channel` per partner, reused by every call
//! (HTTP/2 multiplexes). Each quote carries its budget as `grpc-timeout`
//! and is also bounded locally (tonic does not enforce a client deadline
//! over headers and body by itself). Replies are size-limited and every
//! offer is decoded on its own, so one garbage offer costs only itself.

use std::time::Duration;

use finroute_core::{ProductKind, text};
use finroute_proto::v1 as pb;
use pb::financing_adapter_client::FinancingAdapterClient;
use serde::{Deserialize, Serialize};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::convert::{self, MAX_OFFERS_PER_QUOTE};
use crate::{
    AcceptOutcome, AcceptRequest, AcceptStatus, Adapter, AdapterError, Description, MalformedOffer,
    QuoteOutcome, QuoteRequest,
};

/// Largest reply accepted from a partner.
pub const MAX_REPLY_BYTES: usize = 256 * 1024;
/// Budget for Describe and Accept calls when the caller gives none.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// `kind = "remote"` settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `http://host:port` of the partner's FinancingAdapter server.
    pub endpoint: String,
    /// TCP connect timeout (default 200 ms).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// HTTP/2 keepalive interval (default 300 s: partners in Go, Java or Python
    /// reject pings more often than every 5 minutes).
    #[serde(default = "default_keepalive")]
    pub keepalive_s: u64,
    /// `[adapters.tls]`: TLS to the partner (the endpoint is then `https://`).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
}

/// `[adapters.tls]`: whom the partner must prove to be, and who we are.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM bundle of the CAs the partner's certificate must chain to (only
    /// these: the system roots are not trusted for partners).
    pub ca_file: std::path::PathBuf,
    /// Our client certificate (mTLS), PEM; with `key_file`.
    pub cert_file: Option<std::path::PathBuf>,
    pub key_file: Option<std::path::PathBuf>,
    /// The name the partner's certificate must carry; default: the
    /// endpoint's host.
    pub domain_name: Option<String>,
}

impl TlsConfig {
    fn client_config(&self) -> Result<ClientTlsConfig, String> {
        let read = |key: &str, path: &std::path::Path| {
            std::fs::read(path)
                .map_err(|e| format!("`tls.{key}` cannot read {}: {e}", path.display()))
        };
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read("ca_file", &self.ca_file)?));
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                tls = tls.identity(Identity::from_pem(
                    read("cert_file", cert)?,
                    read("key_file", key)?,
                ));
            }
            (None, None) => {}
            _ => return Err("`tls.cert_file` and `tls.key_file` go together".into()),
        }
        if let Some(name) = &self.domain_name {
            tls = tls.domain_name(name.clone());
        }
        Ok(tls)
    }
}

fn default_connect_timeout() -> u64 {
    200
}

fn default_keepalive() -> u64 {
    300
}

/// The running remote channel.
#[derive(Debug, Clone)]
pub struct RemoteAdapter {
    client: FinancingAdapterClient<Channel>,
}

impl RemoteAdapter {
    /// Builds a lazily connected client; fails only on a malformed endpoint.
    pub fn build(config: &Config) -> Result<Self, String> {
        Ok(Self::from_channel(endpoint(config)?.connect_lazy()))
    }

    /// A remote adapter over an existing channel (tests use in-memory ones).
    pub fn from_channel(channel: Channel) -> Self {
        let client =
            FinancingAdapterClient::new(channel).max_decoding_message_size(MAX_REPLY_BYTES);
        Self { client }
    }
}

/// The partner's endpoint as the router dials it (timeouts, keepalive,
/// TLS); fails only on a malformed endpoint or unreadable TLS files. The
/// conformance kit connects through the same settings.
pub fn endpoint(config: &Config) -> Result<Endpoint, String> {
    let https = config.endpoint.starts_with("https://");
    match (https, &config.tls) {
        (false, None) if config.endpoint.starts_with("http://") => {}
        (true, Some(_)) => {}
        (true, None) => {
            return Err(format!(
                "`endpoint` {:?} is https://: add [adapters.tls] with the partner's ca_file",
                config.endpoint
            ));
        }
        (false, Some(_)) => {
            return Err(format!(
                "`endpoint` {:?} must be https:// with [adapters.tls]",
                config.endpoint
            ));
        }
        (false, None) => {
            return Err(format!(
                "`endpoint` {:?} must be http://host:port, or https://host:port with [adapters.tls]",
                config.endpoint
            ));
        }
    }
    let mut endpoint = Endpoint::from_shared(config.endpoint.clone())
        .map_err(|e| format!("`endpoint` {:?}: {e}", config.endpoint))?
        .connect_timeout(Duration::from_millis(config.connect_timeout_ms))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(config.keepalive_s))
        .keep_alive_timeout(Duration::from_secs(20))
        // Late replies to cancelled calls count as local resets; hyper's
        // default of 1024 then closes a busy connection (h2 issue 856).
        .http2_max_local_error_reset_streams(Some(1 << 20));
    if let Some(tls) = &config.tls {
        endpoint = endpoint
            .tls_config(tls.client_config()?)
            .map_err(|e| format!("[adapters.tls]: {e}"))?;
    }
    Ok(endpoint)
}

/// Runs one call under `budget`, as `grpc-timeout` and locally.
async fn bounded<T, F>(budget: Duration, call: F) -> Result<T, AdapterError>
where
    F: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let started = tokio::time::Instant::now();
    match tokio::time::timeout(budget, call).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        // tonic's own grpc-timeout enforcement answers CANCELLED "Timeout
        // expired" a hair before our timer: that is our timeout, not a failure.
        Ok(Err(status))
            if status.code() == tonic::Code::Cancelled
                && started.elapsed() + Duration::from_millis(5) >= budget =>
        {
            Err(AdapterError::Timeout(budget))
        }
        Ok(Err(status)) => Err(match AdapterError::from(status) {
            AdapterError::Timeout(_) => AdapterError::Timeout(budget),
            other => other,
        }),
        Err(_) => Err(AdapterError::Timeout(budget)),
    }
}

fn request_with_timeout<T>(msg: T, budget: Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(budget);
    r
}

#[async_trait::async_trait]
impl Adapter for RemoteAdapter {
    fn product_kind(&self) -> ProductKind {
        ProductKind::PartnerLoan
    }

    fn is_partner(&self) -> bool {
        true
    }

    async fn describe(&self) -> Result<Description, AdapterError> {
        let mut c = self.client.clone();
        let d = bounded(
            CALL_TIMEOUT,
            c.describe(request_with_timeout(pb::DescribeRequest {}, CALL_TIMEOUT)),
        )
        .await?;
        convert::description_from_pb(&d).map_err(AdapterError::Malformed)
    }

    async fn quote(&self, req: QuoteRequest) -> Result<QuoteOutcome, AdapterError> {
        let msg = pb::QuoteRequest {
            quote_id: req.quote_id,
            applicant: Some(convert::applicant_to_pb(&req.applicant)),
            requested_amount: Some(convert::money_to_pb(req.requested_amount)),
            min_term_months: req.min_term_months as i32,
            max_term_months: req.max_term_months as i32,
            purpose: convert::purpose_to_pb(req.purpose),
            locale: req.locale.tag().to_owned(),
        };
        let mut c = self.client.clone();
        let reply = bounded(req.budget, c.quote(request_with_timeout(msg, req.budget))).await?;
        Ok(quote_outcome_from_pb(&reply))
    }

    async fn accept(&self, req: AcceptRequest) -> Result<AcceptOutcome, AdapterError> {
        let msg = pb::AcceptRequest {
            partner_offer_ref: req.partner_offer_ref,
            idempotency_key: req.idempotency_key,
            applicant_id: req.applicant_id,
        };
        let budget = req.budget.unwrap_or(CALL_TIMEOUT);
        let mut c = self.client.clone();
        let r = bounded(budget, c.accept(request_with_timeout(msg, budget))).await?;
        let status = match pb::AcceptanceStatus::try_from(r.status) {
            Ok(pb::AcceptanceStatus::Accepted) => AcceptStatus::Accepted,
            Ok(pb::AcceptanceStatus::Declined) => AcceptStatus::Declined,
            Ok(pb::AcceptanceStatus::Pending) => AcceptStatus::Pending,
            _ => {
                return Err(AdapterError::Malformed(format!(
                    "status: unknown AcceptanceStatus {}",
                    r.status
                )));
            }
        };
        Ok(AcceptOutcome {
            status,
            partner_reference: r.partner_reference,
            detail: r.detail,
        })
    }
}

/// A partner's QuoteResponse as the fan-out sees it: every offer converted
/// or counted as malformed with its reason, the decline reason cleaned
/// (untrusted text: `finroute_core::text::clean`).
pub fn quote_outcome_from_pb(reply: &pb::QuoteResponse) -> QuoteOutcome {
    let mut out = QuoteOutcome {
        decline_reason: text::clean(&reply.decline_reason, convert::MAX_PARTNER_MESSAGE),
        // Only a decline the partner typed (the fan-out reads a bare no as
        // an untyped OTHER; the conformance kit tells the two apart).
        decline: reply
            .decline
            .is_some()
            .then(|| convert::quote_decline_from_pb(reply))
            .flatten(),
        ..Default::default()
    };
    for (i, o) in reply.offers.iter().enumerate() {
        if i >= MAX_OFFERS_PER_QUOTE {
            out.malformed.push(MalformedOffer {
                partner_offer_ref: text::clean(&o.partner_offer_ref, 64),
                reason: format!("more than {MAX_OFFERS_PER_QUOTE} offers in one quote"),
            });
            continue;
        }
        match convert::partner_offer_from_pb(o) {
            Ok(offer) => out.offers.push(offer),
            Err(reason) => out.malformed.push(MalformedOffer {
                partner_offer_ref: text::clean(&o.partner_offer_ref, 64),
                reason,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_must_be_http() {
        let c = |e: &str| Config {
            endpoint: e.into(),
            connect_timeout_ms: 200,
            keepalive_s: 300,
            tls: None,
        };
        assert!(RemoteAdapter::build(&c("ftp://x")).is_err());
        assert!(
            RemoteAdapter::build(&c("https://x:1"))
                .expect_err("tls")
                .contains("[adapters.tls]")
        );
    }

    #[tokio::test]
    async fn unreachable_partner_is_an_error_not_a_hang() {
        // Port 1 on loopback: nothing listens, connect is refused at once.
        let a = RemoteAdapter::build(&Config {
            endpoint: "http://127.0.0.1:1".into(),
            connect_timeout_ms: 200,
            keepalive_s: 300,
            tls: None,
        })
        .expect("valid endpoint");
        let started = tokio::time::Instant::now();
        let e = a.describe().await.expect_err("nothing listens");
        assert!(
            matches!(e, AdapterError::Rpc { .. } | AdapterError::Timeout(_)),
            "{e}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

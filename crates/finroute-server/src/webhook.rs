//! Events pushed to the platform (`docs/webhooks.md`).
//!
//! The store enqueues an event in the transaction of the change it reports
//! (an acceptance becoming final, an appeal decided). The [`Webhooks`]
//! worker leases due events from that outbox, each the oldest undelivered
//! event of its application, POSTs each as JSON to its tenant's
//! `[[webhooks]]` url, signed with HMAC-SHA256, and marks it delivered on a
//! 2xx answer. Anything else (an error status, a refused connection, a
//! timeout) gives the lease back with an exponential backoff with jitter;
//! the event is retried until it is acknowledged. A crash leaves the lease
//! to run out, and the next start (or another replica) sends the event
//! again: delivery is at least once, and the receiver deduplicates on the
//! event id.
//!
//! Events of a tenant with no `[[webhooks]]` entry are marked delivered at
//! once, with the note `no_webhook` (kept in the store, never sent).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use finroute_store::{EventRecord, Store, StoreError};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry as MetricRegistry;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use crate::config::{ConfigError, EventsConfig, WebhookConfig};
use crate::router::unix_millis;

/// Header: the event id (dedup key).
pub const EVENT_ID_HEADER: &str = "finroute-event-id";
/// Header: unix seconds when the request was signed.
pub const TIMESTAMP_HEADER: &str = "finroute-timestamp";
/// Header: `v1=<hex hmac_sha256(secret, timestamp "." body)>`.
pub const SIGNATURE_HEADER: &str = "finroute-signature";

/// Events leased per poll.
const BATCH: u32 = 32;

/// Where the system's CA bundle is looked for when an https webhook has no
/// `ca_file` (Debian/Ubuntu, Fedora/RHEL, Alpine/macOS-style).
const SYSTEM_BUNDLES: [&str; 3] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// The signature header's value for `body` sent at `timestamp` (unix
/// seconds): `v1=` and the hex HMAC-SHA256 with `secret` of
/// `"{timestamp}.{body}"`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    type HmacSha256 = hmac::Hmac<sha2_011::Sha256>;
    // HMAC takes a key of any length: this never fails.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait after `attempts` failed deliveries: `initial` doubling, capped
/// at `max`, then jittered down to between half and all of it (`salt`
/// picks where, so replicas retrying together spread out).
pub fn backoff(attempts: i32, initial: Duration, max: Duration, salt: u64) -> Duration {
    let exp = attempts.clamp(1, 30) as u32 - 1;
    let full = initial
        .saturating_mul(1u32.checked_shl(exp).unwrap_or(u32::MAX))
        .min(max);
    let half = full / 2;
    let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
    let jitter = if spread == 0 { 0 } else { salt % (spread + 1) };
    half + Duration::from_millis(jitter)
}

/// A webhook target, resolved from its `[[webhooks]]` entry.
struct Target {
    https: bool,
    host: String,
    port: u16,
    /// Path and query sent in the request line.
    path: String,
    /// The `Host` header.
    authority: String,
    secret: Vec<u8>,
    timeout: Duration,
    backoff_initial: Duration,
    backoff_max: Duration,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl Target {
    /// Resolves the secret and the TLS roots. Errors name the key.
    fn new(i: usize, c: &WebhookConfig) -> Result<Target, ConfigError> {
        let invalid = |k: &'static str| {
            move |message: String| ConfigError::Invalid {
                key: format!("webhooks[{i}].{k}"),
                message,
            }
        };
        let url = c.parse_url().map_err(invalid("url"))?;
        let secret = c.resolve_secret().map_err(invalid("secret"))?;
        let tls = if url.https {
            Some(tls_connector(c.ca_file.as_deref()).map_err(invalid("ca_file"))?)
        } else {
            None
        };
        Ok(Target {
            https: url.https,
            host: url.host,
            port: url.port,
            path: url.path,
            authority: url.authority,
            secret: secret.into_bytes(),
            timeout: Duration::from_millis(c.timeout_ms),
            backoff_initial: Duration::from_millis(c.backoff_initial_ms),
            backoff_max: Duration::from_millis(c.backoff_max_ms),
            tls,
        })
    }
}

/// A TLS client trusting `ca_file`, else the system's CA bundle.
fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<tokio_rustls::TlsConnector, String> {
    let path = match ca_file {
        Some(p) => p.to_path_buf(),
        None => SYSTEM_BUNDLES
            .iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.is_file())
            .ok_or("no system CA bundle found: set ca_file")?,
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    for cert in certs {
        let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
        // A bundle may hold certificates rustls cannot use; skip those.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(format!("{}: no CA certificate in it", path.display()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// `{tenant, result}` of `finroute_webhook_deliveries_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// The tenant whose webhook it was.
    pub tenant: String,
    /// `delivered`, `failed` (retried), or `skipped` (no webhook).
    pub result: String,
}

/// The worker's series.
#[derive(Debug, Default, Clone)]
pub struct WebhookMetrics {
    deliveries: Family<DeliveryLabels, Counter>,
    retries: Counter,
    backlog: Gauge,
    backlog_age: Gauge,
}

impl WebhookMetrics {
    fn delivery(&self, tenant: &str, result: &str) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                tenant: tenant.to_owned(),
                result: result.to_owned(),
            })
            .inc();
    }

    /// Adds these series to `r`.
    pub fn register(&self, r: &mut MetricRegistry) {
        r.register(
            "finroute_webhook_deliveries",
            "Webhook delivery attempts, by tenant and result (delivered, failed, skipped)",
            self.deliveries.clone(),
        );
        r.register(
            "finroute_webhook_retries",
            "Webhook deliveries that failed and are retried later",
            self.retries.clone(),
        );
        r.register(
            "finroute_webhook_backlog",
            "Events not yet acknowledged by their webhook",
            self.backlog.clone(),
        );
        r.register(
            "finroute_webhook_backlog_age_seconds",
            "Age of the oldest event not yet acknowledged (0 when none)",
            self.backlog_age.clone(),
        );
    }
}

/// Delivers the event outbox to the tenants' webhooks. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    targets: HashMap<String, Target>,
    poll_interval: Duration,
    /// This process's lease owner name (unique per start).
    owner: String,
    metrics: WebhookMetrics,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("owner", &self.inner.owner)
            .field("tenants", &self.inner.targets.len())
            .finish_non_exhaustive()
    }
}

/// How one delivery attempt ended.
enum Attempt {
    Acknowledged,
    /// Not acknowledged: the failure kind (no personal data, no secret).
    Failed(String),
}

impl Webhooks {
    /// Resolves every `[[webhooks]]` entry (secrets, TLS roots); an error
    /// names the key.
    pub fn new(
        store: Store,
        webhooks: &[WebhookConfig],
        events: &EventsConfig,
        metrics: WebhookMetrics,
    ) -> Result<Webhooks, ConfigError> {
        let mut targets = HashMap::new();
        for (i, c) in webhooks.iter().enumerate() {
            targets.insert(c.tenant.clone(), Target::new(i, c)?);
            // Every configured tenant's series from the start, at 0.
            for result in ["delivered", "failed"] {
                drop(metrics.deliveries.get_or_create(&DeliveryLabels {
                    tenant: c.tenant.clone(),
                    result: result.to_owned(),
                }));
            }
        }
        Ok(Webhooks {
            inner: Arc::new(Inner {
                store,
                targets,
                poll_interval: Duration::from_millis(events.poll_interval_ms),
                owner: format!("webhooks-{}", uuid::Uuid::new_v4().simple()),
                metrics,
            }),
        })
    }

    /// Starts the worker: at once (resuming what a previous run left),
    /// then every poll interval, and straight on while there is work. The
    /// task ends when the store closes; the server aborts it at shutdown
    /// (a delivery cut short is sent again once its lease runs out).
    pub fn spawn(&self) -> JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let busy = match me.poll_once().await {
                    Ok(n) => n > 0,
                    Err(StoreError::Closed) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "webhooks: store poll failed");
                        false
                    }
                };
                if !busy {
                    tokio::time::sleep(me.inner.poll_interval).await;
                }
            }
        })
    }

    /// One round: refreshes the backlog gauges, leases due events and
    /// delivers them (one per application, so all at once). Returns how
    /// many were leased.
    pub async fn poll_once(&self) -> Result<usize, StoreError> {
        let now = unix_millis();
        let backlog = self.inner.store.event_backlog().await?;
        self.inner.metrics.backlog.set(backlog.count);
        let age = backlog
            .oldest_created_at_ms
            .map_or(0, |t| now.saturating_sub(t).max(0) / 1000);
        self.inner.metrics.backlog_age.set(age);
        // The lease: the longest delivery budget plus a second for the
        // store writes around it; a crashed process's events are sent
        // again once it runs out.
        let lease_ms = self
            .inner
            .targets
            .values()
            .map(|t| t.timeout)
            .max()
            .unwrap_or(Duration::ZERO)
            .as_millis() as i64
            + 1_000;
        let events = self
            .inner
            .store
            .lease_due_events(&self.inner.owner, now, lease_ms, BATCH)
            .await?;
        let n = events.len();
        let rounds = events.into_iter().map(|e| self.deliver(e));
        for result in futures::future::join_all(rounds).await {
            result?;
        }
        Ok(n)
    }

    async fn deliver(&self, event: EventRecord) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let metrics = &self.inner.metrics;
        let Some(target) = self.inner.targets.get(&event.tenant) else {
            store
                .ack_event(&event.event_id, unix_millis(), "no_webhook")
                .await?;
            metrics.delivery(&event.tenant, "skipped");
            return Ok(());
        };
        match self.attempt(target, &event).await {
            Attempt::Acknowledged => {
                store
                    .ack_event(&event.event_id, unix_millis(), "delivered")
                    .await?;
                metrics.delivery(&event.tenant, "delivered");
                tracing::debug!(
                    event_id = %event.event_id,
                    kind = %event.kind,
                    attempts = event.attempts,
                    "webhook delivered"
                );
            }
            Attempt::Failed(why) => {
                metrics.delivery(&event.tenant, "failed");
                metrics.retries.inc();
                let salt = salt(&event.event_id, event.attempts);
                let wait = backoff(
                    event.attempts,
                    target.backoff_initial,
                    target.backoff_max,
                    salt,
                );
                tracing::info!(
                    event_id = %event.event_id,
                    tenant = %event.tenant,
                    attempts = event.attempts,
                    retry_in_ms = wait.as_millis() as u64,
                    error = %why,
                    "webhook not acknowledged; retrying later"
                );
                let next = unix_millis().saturating_add(wait.as_millis() as i64);
                store
                    .release_event(&event.event_id, &self.inner.owner, next, &why)
                    .await?;
            }
        }
        Ok(())
    }

    async fn attempt(&self, target: &Target, event: &EventRecord) -> Attempt {
        let body = envelope(event);
        let timestamp = unix_millis() / 1000;
        let signature = sign(&target.secret, timestamp, &body);
        match tokio::time::timeout(
            target.timeout,
            post(target, event, body, timestamp, signature),
        )
        .await
        {
            Ok(Ok(status)) if status.is_success() => Attempt::Acknowledged,
            Ok(Ok(status)) => Attempt::Failed(format!("http status {}", status.as_u16())),
            Ok(Err(e)) => Attempt::Failed(e),
            Err(_) => Attempt::Failed("timeout".to_owned()),
        }
    }
}

/// A salt for the jitter of this event's retry: stable per (event, attempt).
fn salt(event_id: &str, attempts: i32) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (event_id, attempts).hash(&mut h);
    h.finish()
}

/// The JSON body: `{event_id, type, tenant, application_id, sequence,
/// occurred_at_ms, data}` (`data`: the stored payload object).
pub fn envelope(event: &EventRecord) -> Vec<u8> {
    let data: serde_json::Value = serde_json::from_str(&event.payload)
        .unwrap_or_else(|_| serde_json::Value::Object(serde_json::Map::new()));
    serde_json::json!({
        "event_id": event.event_id,
        "type": event.kind,
        "tenant": event.tenant,
        "application_id": event.application_id,
        "sequence": event.seq,
        "occurred_at_ms": event.created_at_ms,
        "data": data,
    })
    .to_string()
    .into_bytes()
}

/// One POST on a fresh connection; the response status, or the failure
/// kind.
async fn post(
    target: &Target,
    event: &EventRecord,
    body: Vec<u8>,
    timestamp: i64,
    signature: String,
) -> Result<http::StatusCode, String> {
    let request = http::Request::post(target.path.as_str())
        .header(http::header::HOST, target.authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "finroute-webhooks")
        .header(EVENT_ID_HEADER, event.event_id.as_str())
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(SIGNATURE_HEADER, signature)
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| "bad request".to_owned())?;
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connect: {}", e.kind()))?;
    match (&target.tls, target.https) {
        (Some(tls), true) => {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|_| "bad server name".to_owned())?;
            let stream = tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("tls: {}", e.kind()))?;
            send(TokioIo::new(stream), request).await
        }
        _ => send(TokioIo::new(tcp), request).await,
    }
}

async fn send<T>(io: T, request: http::Request<Full<Bytes>>) -> Result<http::StatusCode, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|_| "http handshake".to_owned())?;
    let conn = tokio::spawn(conn);
    let result = sender
        .send_request(request)
        .await
        .map(|r| r.status())
        .map_err(|_| "http exchange".to_owned());
    drop(sender);
    conn.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // HMAC-SHA256("secret", "1700000000.{}"), computed independently
        // (Python: hmac.new(b"secret", b"1700000000.{}", "sha256")).
        assert_eq!(
            sign(b"secret", 1_700_000_000, b"{}"),
            "v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
    }

    #[test]
    fn rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for
        // nothing?" (the HMAC `sign` uses, without its framing).
        use hmac::{KeyInit, Mac};
        let mut mac =
            hmac::Hmac::<sha2_011::Sha256>::new_from_slice(b"Jefe").expect("any key length");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_is_capped_and_jitters_within_half() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(backoff(1, i, m, 0), Duration::from_millis(50));
        assert_eq!(
            backoff(1, i, m, u64::MAX - 1),
            Duration::from_millis(50 + (u64::MAX - 1) % 51)
        );
        assert_eq!(backoff(3, i, m, 0), Duration::from_millis(200));
        assert_eq!(backoff(3, i, m, 200), Duration::from_millis(400));
        for attempts in [10, 30, 1000, i32::MAX] {
            let d = backoff(attempts, i, m, 12345);
            assert!(d >= m / 2 && d <= m, "{attempts}: {d:?}");
        }
        assert_eq!(backoff(0, i, m, 0), backoff(1, i, m, 0));
        assert_eq!(backoff(-5, i, m, 7), backoff(1, i, m, 7));
    }

    #[test]
    fn the_envelope_carries_ids_and_the_payload() {
        let e = EventRecord {
            event_id: "e-1".into(),
            tenant: "t".into(),
            application_id: "a-1".into(),
            seq: 2,
            kind: "acceptance.final".into(),
            payload: r#"{"status":"ACCEPTED"}"#.into(),
            created_at_ms: 1_000,
            attempts: 1,
        };
        let v: serde_json::Value = serde_json::from_slice(&envelope(&e)).expect("json");
        assert_eq!(v["event_id"], "e-1");
        assert_eq!(v["type"], "acceptance.final");
        assert_eq!(v["sequence"], 2);
        assert_eq!(v["data"]["status"], "ACCEPTED");
    }
}

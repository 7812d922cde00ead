//! The router's configuration (`docs/config.md`): TOML with a
//! default for every key, unknown keys rejected with their name.
//!
//! The sections are the runtime types: `[odds]` is finroute-core's
//! [`OddsModel`] and [`Learning`], `routing.strategy` its [`Strategy`],
//! `[[compliance.rate_caps]]` its [`RateCap`]s, `[[adapters]]` the
//! adapters' [`AdapterSpec`]s. Durations are `X_ms` keys in milliseconds
//! that may also be written `X = "5s"` (`config/env.rs`), and every key has
//! a `FINROUTE_<SECTION>_<KEY>` environment variable, found from the keys
//! themselves rather than a list.

mod env;
pub mod show;

use std::net::SocketAddr;
use std::path::Path;

use finroute_adapters::spec::AdapterSpec;
use finroute_core::{Learning, OddsModel, PricingPolicy, RateCap, Strategy};
use serde::{Deserialize, Serialize};

/// The whole config file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub routing: RoutingConfig,
    #[serde(default)]
    pub compliance: ComplianceConfig,
    #[serde(default)]
    pub acceptance: AcceptanceConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub odds: OddsConfig,
    #[serde(default)]
    pub review: ReviewConfig,
    #[serde(default)]
    pub platform: PlatformConfig,
    /// `[[quotas]]`: channels' volume agreements (docs/config.md).
    #[serde(default)]
    pub quotas: Vec<QuotaConfig>,
    /// `[events]`: the delivery of events to the platform (docs/webhooks.md).
    #[serde(default)]
    pub events: EventsConfig,
    /// `[[webhooks]]`: each tenant's webhook (docs/webhooks.md).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// The channels; absent = the embedded default's built-in channels.
    #[serde(default = "AdapterSpec::embedded_default")]
    pub adapters: Vec<AdapterSpec>,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the gRPC port binds (default `127.0.0.1:50051`).
    pub listen: SocketAddr,
    /// Address of the Prometheus text endpoint, `GET /metrics` (port 0: any free port; the ready line names it).
    pub metrics_listen: SocketAddr,
    /// Whether the metrics endpoint runs at all (default true).
    pub metrics: bool,
    /// Address of the operators' web console (docs/console.md); empty, the
    /// default: no console. It signs operators in with their api keys, so
    /// it needs `[[auth.keys]]` with the `operator` role.
    #[serde(
        deserialize_with = "empty_is_none::deserialize",
        serialize_with = "empty_is_none::serialize"
    )]
    pub console_listen: Option<SocketAddr>,
    /// Largest request message accepted.
    pub max_request_bytes: usize,
    /// Largest response message sent.
    pub max_response_bytes: usize,
    /// HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// Calls handled at once per connection; beyond it, RESOURCE_EXHAUSTED.
    pub concurrency_limit_per_connection: usize,
    /// Most time graceful shutdown waits for calls in flight.
    pub shutdown_grace_ms: u64,
    /// RouteFinancing/StreamOffers calls in flight across all connections;
    /// beyond it a call is refused at once with RESOURCE_EXHAUSTED (load
    /// shedding, not an unbounded queue).
    pub max_in_flight_routes: usize,
    /// Connections open at once on the gRPC port; at the cap the router
    /// stops accepting (the kernel's backlog holds the rest) until one
    /// closes. Absent: 10 000, or the process's open-file limit less 256
    /// if that is lower.
    pub max_connections: Option<usize>,
    /// Most time from accepting a connection to its first request's
    /// headers (TLS handshake, HTTP/2 preface and HEADERS included); then
    /// the connection is closed.
    pub first_request_timeout_ms: u64,
    /// A connection with no call in flight for this long is closed.
    pub idle_timeout_ms: u64,
    /// Most time a request body may take to arrive after its headers; then
    /// the call fails with DEADLINE_EXCEEDED and its stream is released.
    pub request_body_timeout_ms: u64,
    /// Age at which a connection is asked to close (GOAWAY; calls in flight
    /// finish). Bounds every connection, one whose client never reads its
    /// responses included.
    pub max_connection_age_ms: u64,
    /// Time after `max_connection_age_ms` at which the connection is closed
    /// whatever is in flight.
    pub max_connection_age_grace_ms: u64,
    /// Bytes per second one connection may send the router, sustained (with
    /// a burst of one second's worth); beyond it the router reads more
    /// slowly. 0: no limit.
    pub connection_read_bytes_per_second: u64,
    /// `[server.tls]`: serve TLS (absent: plaintext h2c).
    pub tls: Option<ServerTlsConfig>,
}

/// An address that may be written empty (`console_listen = ""`) for
/// none; none is written back empty.
mod empty_is_none {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        text.trim()
            .parse()
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("{e}: expected host:port or \"\"")))
    }

    pub fn serialize<S: Serializer>(addr: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match addr {
            Some(a) => s.collect_str(a),
            None => s.serialize_str(""),
        }
    }
}

/// One `[[quotas]]` entry: a channel's volume agreement with the
/// platform, per UTC day and month, shared by every replica through the
/// store (`crate::quota`). Absent limits are unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    /// The channel's `[[adapters]]` id.
    pub adapter: String,
    /// Quotes the router may ask for per day, and per month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotes_per_day: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotes_per_month: Option<u64>,
    /// Acceptances the partner confirms per day, and per month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptances_per_day: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptances_per_month: Option<u64>,
    /// Principal of confirmed acceptances per day, and per month, in
    /// minor units of the channel's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lent_minor_per_day: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lent_minor_per_month: Option<u64>,
}

impl QuotaConfig {
    /// Every limit, by key.
    pub fn limits(&self) -> [(&'static str, Option<u64>); 6] {
        [
            ("quotes_per_day", self.quotes_per_day),
            ("quotes_per_month", self.quotes_per_month),
            ("acceptances_per_day", self.acceptances_per_day),
            ("acceptances_per_month", self.acceptances_per_month),
            ("lent_minor_per_day", self.lent_minor_per_day),
            ("lent_minor_per_month", self.lent_minor_per_month),
        ]
    }
}

/// `[events]`: how the event outbox is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// How often the delivery worker looks for due events (default 1000).
    pub poll_interval_ms: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            poll_interval_ms: 1_000,
        }
    }
}

/// One `[[webhooks]]` entry: where a tenant's events are POSTed, and the
/// secret they are signed with.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The tenant (an `[[auth.keys]]` tenant, or `default` when the
    /// router is open).
    pub tenant: String,
    /// `https://host[:port]/path`; `http://` only to a loopback host
    /// (127.0.0.1, ::1, localhost), for development and tests.
    pub url: String,
    /// The signing secret itself; or
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// the name of the environment variable holding it (one of the two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_env: Option<String>,
    /// PEM bundle of the CAs trusted for this https url; absent: the
    /// system's CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Budget of one delivery: connect, TLS, request and response status.
    #[serde(default = "default_webhook_timeout_ms")]
    pub timeout_ms: u64,
    /// First wait after a failed delivery; it doubles per failure.
    #[serde(default = "default_webhook_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// Longest wait between deliveries of one event.
    #[serde(default = "default_webhook_backoff_max_ms")]
    pub backoff_max_ms: u64,
}

fn default_webhook_timeout_ms() -> u64 {
    5_000
}

fn default_webhook_backoff_initial_ms() -> u64 {
    1_000
}

fn default_webhook_backoff_max_ms() -> u64 {
    300_000
}

/// A checked webhook url.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
    /// `host[:port]` as written (the `Host` header).
    pub authority: String,
}

impl WebhookConfig {
    /// The url, checked: https, or http to a loopback host.
    pub fn parse_url(&self) -> Result<WebhookUrl, String> {
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|_| "not a url: expected https://host[:port]/path".to_owned())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("must start with https:// (http:// only to loopback)".into()),
        };
        let authority = uri.authority().ok_or("has no host")?;
        if authority.as_str().contains('@') {
            return Err("must not carry credentials; use secret for signing".into());
        }
        let host = uri.host().unwrap_or_default();
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if host.is_empty() {
            return Err("has no host".into());
        }
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !https && !loopback {
            return Err("must be https:// (http:// only to a loopback host)".into());
        }
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let path = if path.is_empty() {
            "/".to_owned()
        } else {
            path
        };
        Ok(WebhookUrl {
            https,
            host,
            port,
            path,
            authority: authority.as_str().to_owned(),
        })
    }

    /// The signing secret: `secret`, or the variable `secret_env` names.
    pub fn resolve_secret(&self) -> Result<String, String> {
        let secret = match (&self.secret, &self.secret_env) {
            (Some(s), None) => s.clone(),
            (None, Some(var)) => std::env::var(var)
                .map_err(|_| format!("secret_env names {var:?}, which is not set"))?,
            (Some(_), Some(_)) => return Err("set secret or secret_env, not both".into()),
            (None, None) => return Err("set secret or secret_env".into()),
        };
        if secret.len() < 16 {
            return Err("must be at least 16 bytes".into());
        }
        Ok(secret)
    }
}

/// `[server.tls]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsConfig {
    /// PEM certificate chain of the router.
    pub cert_file: std::path::PathBuf,
    /// PEM private key.
    pub key_file: std::path::PathBuf,
    /// PEM bundle of every CA whose client certificates are accepted;
    /// set: clients must present one (mTLS).
    pub client_ca_file: Option<std::path::PathBuf>,
    /// Most time a client may take to finish the handshake.
    #[serde(default = "default_handshake_ms")]
    pub handshake_timeout_ms: u64,
}

fn default_handshake_ms() -> u64 {
    5_000
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            metrics: true,
            console_listen: None,
            max_request_bytes: 65_536,
            max_response_bytes: 4 * 1024 * 1024,
            max_concurrent_streams: 128,
            concurrency_limit_per_connection: 256,
            shutdown_grace_ms: 5_000,
            max_in_flight_routes: 1_024,
            max_connections: None,
            first_request_timeout_ms: 10_000,
            idle_timeout_ms: 300_000,
            request_body_timeout_ms: 10_000,
            max_connection_age_ms: 1_800_000,
            max_connection_age_grace_ms: 60_000,
            connection_read_bytes_per_second: 8_388_608,
            tls: None,
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://finroute.db` (default) or `postgres://user@host/db`.
    pub url: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://finroute.db".into(),
        }
    }
}

/// `[routing]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Deadline of a routing call when the caller sends none.
    pub deadline_ms: u64,
    /// Time kept back from the caller's deadline to price, store and reply.
    pub reply_margin_ms: u64,
    /// Default ranking strategy.
    pub strategy: Strategy,
    /// `h`: the cost of one application in bp of APR.
    pub inquiry_cost_bps: i32,
    /// Offers returned when the request says 0.
    pub max_offers: u32,
    /// Debt-to-income above which an offer is not made.
    pub affordability_hard_limit: f64,
    /// Consecutive failures or timeouts after which a channel is ejected
    /// (reported CIRCUIT_OPEN, not called).
    pub breaker_failure_threshold: u32,
    /// First ejection; it doubles with every failed probe.
    pub breaker_open_ms: u64,
    /// Longest ejection.
    pub breaker_max_open_ms: u64,
    /// Whether the built-in routing rules apply after `rules`
    /// (docs/routing-rules.md).
    pub default_rules: bool,
    /// A later tier of channels (`prefer` / `defer` rules) is called only
    /// while the earlier tiers together made fewer valid offers than this.
    pub tier_min_offers: u32,
    /// Channel calls that may go on past their reply at once, router-wide
    /// (each for its channel's `late_window_ms`); 0 = none (every call is
    /// cut at the reply).
    pub max_late_calls: u32,
    /// `[[routing.rules]]`: the operator's routing rules, tried in order
    /// before the default ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<crate::rules::RoutingRule>,
}

impl RoutingConfig {
    /// The rules in force: `rules`, then the defaults if on.
    pub fn rule_set(&self) -> crate::rules::RuleSet {
        crate::rules::RuleSet::new(&self.rules, self.default_rules, self.tier_min_offers)
    }
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            deadline_ms: 800,
            reply_margin_ms: 50,
            strategy: Strategy::Balanced,
            inquiry_cost_bps: 150,
            max_offers: 10,
            affordability_hard_limit: 0.70,
            breaker_failure_threshold: 5,
            breaker_open_ms: 1_000,
            breaker_max_open_ms: 60_000,
            default_rules: true,
            tier_min_offers: 1,
            max_late_calls: 1_024,
            rules: Vec::new(),
        }
    }
}

/// `[acceptance]`: the exactly-once path of AcceptOffer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcceptanceConfig {
    /// Most time one partner `Accept` call may take. The relay's lease on
    /// an acceptance is this plus one second, so a replica that died
    /// mid-call is taken over that long after.
    pub partner_timeout_ms: u64,
    /// How long AcceptOffer waits for the partner's answer when the
    /// caller sends no deadline; then it answers PENDING.
    pub wait_ms: u64,
    /// How often the relay looks for acceptances left unfinished (by a
    /// crash, another replica or a failed attempt).
    pub poll_interval_ms: u64,
    /// Longest wait between two attempts at a partner that keeps failing.
    pub max_backoff_ms: u64,
}

impl Default for AcceptanceConfig {
    fn default() -> Self {
        Self {
            partner_timeout_ms: 3_000,
            wait_ms: 3_000,
            poll_interval_ms: 500,
            max_backoff_ms: 30_000,
        }
    }
}

/// `[odds]`: the approval-odds model (finroute-core `odds.rs`), read
/// straight into the core's types: the logistic prior's coefficients
/// ([`OddsModel`], in log-odds) and how outcomes are learned from
/// ([`Learning`]), their keys side by side in one section. Defaults are the
/// core's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OddsConfig {
    /// The prior and partner blend: `intercept` .. `partner_weight`.
    #[serde(flatten)]
    pub model: OddsModel,
    /// `window`, `half_life`, `ridge`, `band_strength`, `trust_scale`.
    #[serde(flatten)]
    pub learning: Learning,
    /// How often the model is rebuilt from the store's outcomes (also
    /// right after this replica records one).
    pub refresh_ms: u64,
}

impl Default for OddsConfig {
    fn default() -> Self {
        Self {
            model: OddsModel::default(),
            learning: Learning::default(),
            refresh_ms: 2_000,
        }
    }
}

impl<'de> Deserialize<'de> for OddsConfig {
    /// Each core type reads its own keys (serde's `flatten` would lose the
    /// key from a type error); keys neither has are refused, by name.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let defaults = OddsConfig::default();
        let mut table = toml::Table::deserialize(d)?;
        let mut own = |keys: toml::Table| -> toml::Table {
            keys.keys().filter_map(|k| table.remove_entry(k)).collect()
        };
        let model = own(toml::Table::try_from(defaults.model).map_err(D::Error::custom)?);
        let learning = own(toml::Table::try_from(defaults.learning).map_err(D::Error::custom)?);
        let refresh_ms = table.remove("refresh_ms");
        if let Some(key) = table.keys().next() {
            return Err(D::Error::custom(format!("unknown field `{key}`")));
        }
        let named =
            |e: toml::de::Error| D::Error::custom(e.to_string().trim_end().replace('\n', " "));
        Ok(OddsConfig {
            model: OddsModel::deserialize(toml::Value::Table(model)).map_err(named)?,
            learning: Learning::deserialize(toml::Value::Table(learning)).map_err(named)?,
            refresh_ms: match refresh_ms {
                Some(v) => u64::deserialize(v)
                    .map_err(|e| D::Error::custom(format!("refresh_ms: {}", e.message())))?,
                None => defaults.refresh_ms,
            },
        })
    }
}

impl OddsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                message: message.into(),
            })
        };
        // The coefficients are every number of the model but the blend
        // weight, as config names them.
        let model = toml::Table::try_from(self.model).map_err(|e| ConfigError::Invalid {
            key: "odds".into(),
            message: e.to_string(),
        })?;
        for (key, value) in &model {
            if key == "partner_weight" {
                continue;
            }
            let value = value.as_float().unwrap_or(f64::NAN);
            if !value.is_finite() || value.abs() > 1_000.0 {
                return bad(
                    &format!("odds.{key}"),
                    "must be a number within -1000..=1000",
                );
            }
        }
        if !(0.0..=1.0).contains(&self.model.partner_weight) {
            return bad("odds.partner_weight", "must be within 0..=1");
        }
        let l = &self.learning;
        if l.window == 0 || l.window > 100_000 {
            return bad("odds.window", "must be within 1..=100000");
        }
        for (key, value) in [
            ("half_life", l.half_life),
            ("ridge", l.ridge),
            ("trust_scale", l.trust_scale),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return bad(&format!("odds.{key}"), "must be a number above 0");
            }
        }
        if !(l.band_strength.is_finite() && l.band_strength >= 0.0) {
            return bad("odds.band_strength", "must be a number >= 0");
        }
        if self.refresh_ms < 10 || self.refresh_ms > 3_600_000 {
            return bad("odds.refresh_ms", "must be within 10..=3600000");
        }
        Ok(())
    }
}

/// `[auth]`: who may call.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `[[auth.keys]]`; none: open (one tenant, every role), loopback only.
    pub keys: Vec<ApiKeyConfig>,
    /// Allow an open router on a non-loopback address (behind a trusted
    /// proxy that authenticates).
    pub allow_open: bool,
    /// Calls per second a key may make, sustained; beyond it
    /// RESOURCE_EXHAUSTED. Per-key `rate_per_second` overrides. (An open
    /// router, without keys, is not limited.)
    pub default_rate_per_second: u32,
    /// Calls a key may make at once above the rate.
    pub default_burst: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            allow_open: false,
            default_rate_per_second: 1_000,
            default_burst: 2_000,
        }
    }
}

/// `[review]`: the operators' ReviewService.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewConfig {
    /// 64 hex digits (32 bytes) that seal ListAppeals page tokens. The
    /// same on every replica so a token from one works on another; absent:
    /// a random secret per start (tokens then end with the process).
    pub page_token_secret: Option<String>,
    /// How long a claim on an appeal holds; after it the appeal counts as
    /// unclaimed (default 30 minutes).
    pub claim_lapse_ms: u64,
    /// Overturning needs a second operator's approval (default true).
    pub four_eyes: bool,
    /// `[review.sla]`: how long an appeal may stay undecided, per reason.
    pub sla: ReviewSlaConfig,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        ReviewConfig {
            page_token_secret: None,
            claim_lapse_ms: 30 * 60 * 1000,
            four_eyes: true,
            sla: ReviewSlaConfig::default(),
        }
    }
}

/// `[review.sla]`: the time to a decision per appeal reason.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReviewSlaConfig {
    /// INCOME_CHANGED (default 3 days).
    pub income_changed_ms: u64,
    /// DATA_ERROR (default 2 days).
    pub data_error_ms: u64,
    /// LINE_REDUCED_UNFAIRLY (default 5 days).
    pub line_reduced_unfairly_ms: u64,
    /// OTHER and anything unknown (default 5 days).
    pub other_ms: u64,
}

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

impl Default for ReviewSlaConfig {
    fn default() -> Self {
        ReviewSlaConfig {
            income_changed_ms: 3 * DAY_MS,
            data_error_ms: 2 * DAY_MS,
            line_reduced_unfairly_ms: 5 * DAY_MS,
            other_ms: 5 * DAY_MS,
        }
    }
}

impl ReviewSlaConfig {
    /// The SLA of an appeal reason (its stored enum name).
    pub fn for_reason(&self, reason: &str) -> u64 {
        match reason {
            "INCOME_CHANGED" => self.income_changed_ms,
            "DATA_ERROR" => self.data_error_ms,
            "LINE_REDUCED_UNFAIRLY" => self.line_reduced_unfairly_ms,
            _ => self.other_ms,
        }
    }
}

impl ReviewConfig {
    /// The configured page-token secret, if any (`validate` has checked it).
    pub fn page_token_secret(&self) -> Option<[u8; 32]> {
        let hex = self.page_token_secret.as_deref()?;
        let bytes = hex::decode(hex).ok()?;
        bytes.try_into().ok()
    }
}

/// One `[[auth.keys]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Names the key in logs (never the key itself).
    pub id: String,
    /// Hex sha256 of the api key.
    pub sha256: String,
    /// The tenant whose data the key reaches.
    pub tenant: String,
    /// `router` and/or `operator`; or `partner` alone.
    pub roles: Vec<String>,
    /// Overrides `auth.default_rate_per_second` for this key.
    #[serde(default)]
    pub rate_per_second: Option<u32>,
    /// Overrides `auth.default_burst` for this key.
    #[serde(default)]
    pub burst: Option<u32>,
    /// With the `partner` role (and only then, required): the
    /// `[[adapters]]` id whose acceptances the key reports outcomes for.
    #[serde(default)]
    pub adapter_id: Option<String>,
}

/// `[compliance]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceConfig {
    /// `[[compliance.rate_caps]]`; default: mainland China at 2400 bp.
    pub rate_caps: Vec<RateCap>,
    /// The lenders' partner name-lists (TOML, `[[lists]]`); default none.
    /// A relative path is relative to the working directory.
    pub partner_lists_file: Option<std::path::PathBuf>,
    /// How often the list file is looked at for a change, in ms.
    pub partner_lists_poll_ms: u64,
    /// Refuse offers whose lender has no partner list loaded (default false:
    /// they pass unchecked).
    pub require_partner_list: bool,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        Self {
            rate_caps: vec![RateCap {
                region_prefix: "CN".into(),
                max_apr_bps: 2400,
                lender_types: Vec::new(),
            }],
            partner_lists_file: None,
            partner_lists_poll_ms: 5_000,
            require_partner_list: false,
        }
    }
}

/// `[platform]`: the platform operator running this router, named as a
/// party of every offer (docs/disclosure.md, "Parties and consent").
/// Empty (the default): no platform party.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlatformConfig {
    /// Registered legal name; empty = no platform party.
    pub legal_name: String,
    /// Official registration id (e.g. the unified social credit code).
    pub registration_id: String,
    /// How a borrower reaches the operator (service phone, web address).
    pub contact: String,
}

impl PlatformConfig {
    /// The operator as a party in `role`, when named.
    pub fn party(&self, role: finroute_core::PartyRole) -> Option<finroute_core::Party> {
        (!self.legal_name.trim().is_empty()).then(|| finroute_core::Party {
            role,
            legal_name: self.legal_name.clone(),
            registration_id: self.registration_id.clone(),
            contact: self.contact.clone(),
            lender_type: None,
        })
    }
}

/// Why a config could not be used. Messages name the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            routing: RoutingConfig::default(),
            compliance: ComplianceConfig::default(),
            acceptance: AcceptanceConfig::default(),
            auth: AuthConfig::default(),
            odds: OddsConfig::default(),
            review: ReviewConfig::default(),
            platform: PlatformConfig::default(),
            quotas: Vec::new(),
            events: EventsConfig::default(),
            webhooks: Vec::new(),
            adapters: AdapterSpec::embedded_default(),
        }
    }
}

impl Config {
    /// Reads and checks a config file, then applies environment overrides.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let config = Self::load_unchecked(path)?;
        config.validate()?;
        Ok(config)
    }

    /// The file read and parsed with environment overrides applied, its
    /// rules not yet checked (`finroute config check` checks them along
    /// with everything else `serve` checks, `crate::preflight`).
    pub fn load_unchecked(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })?;
        config.apply_env(env::process_vars()?)?;
        Ok(config)
    }

    /// The process's `FINROUTE_*` variables (those config reads).
    pub fn process_vars() -> Result<Vec<(String, String)>, ConfigError> {
        env::process_vars()
    }

    /// The embedded default with environment overrides applied.
    pub fn embedded() -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.apply_env(env::process_vars()?)?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text; the error names the key. A duration may be written
    /// `X = "5s"` instead of `X_ms = 5000` (not both).
    pub fn parse(text: &str) -> Result<Config, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let shape = env::shape().map_err(|e| e.to_string())?;
        if env::normalize_durations(&mut table, &shape, "")? {
            env::from_table(table)
        } else {
            // Straight from the text, so that errors show line and column.
            toml::from_str(text).map_err(|e| e.to_string())
        }
    }

    /// Applies `FINROUTE_<SECTION>_<KEY>` overrides: every key of the file
    /// has one (`config/env.rs`). Variables of a config section that name
    /// no key, and values that do not parse, are errors naming the
    /// variable; other `FINROUTE_` variables are not config's.
    pub fn apply_env<I: IntoIterator<Item = (String, String)>>(
        &mut self,
        vars: I,
    ) -> Result<(), ConfigError> {
        *self = env::apply(self, vars)?;
        Ok(())
    }

    /// The defaults with every optional key present: the key tree the
    /// environment variables are resolved against. Arrays of tables need
    /// one entry only to show their entries' keys.
    fn with_every_key() -> Config {
        let mut c = Config::default();
        c.server.max_connections = Some(10_000);
        c.server.tls = Some(ServerTlsConfig {
            cert_file: "server.pem".into(),
            key_file: "server.key".into(),
            client_ca_file: Some("clients-ca.pem".into()),
            handshake_timeout_ms: default_handshake_ms(),
        });
        c.review.page_token_secret = Some("0".repeat(64));
        c.compliance.partner_lists_file = Some("partner_lists.toml".into());
        c.quotas = vec![QuotaConfig {
            adapter: "partner-sim".into(),
            quotes_per_day: Some(1),
            quotes_per_month: Some(1),
            acceptances_per_day: Some(1),
            acceptances_per_month: Some(1),
            lent_minor_per_day: Some(1),
            lent_minor_per_month: Some(1),
        }];
        c.routing.rules = vec![crate::rules::RoutingRule {
            id: "rule".into(),
            reasons: vec![crate::rules::Reason::InsufficientHistory],
            has: vec![crate::rules::Field::Region],
            lacks: vec![crate::rules::Field::CreditScore],
            kinds: vec![crate::rules::Kind::PartnerLoan],
            adapters: vec!["partner-sim".into()],
            requiring: vec![crate::rules::Field::CreditScore],
            action: crate::rules::Action::Skip,
        }];
        c.webhooks = vec![WebhookConfig {
            tenant: "tenant".into(),
            url: "https://platform.example/finroute/events".into(),
            secret: Some("0".repeat(32)),
            secret_env: Some("FINROUTE_WEBHOOK_SECRET".into()),
            ca_file: Some("platform-ca.pem".into()),
            timeout_ms: default_webhook_timeout_ms(),
            backoff_initial_ms: default_webhook_backoff_initial_ms(),
            backoff_max_ms: default_webhook_backoff_max_ms(),
        }];
        c.auth.keys = vec![ApiKeyConfig {
            id: "key".into(),
            sha256: "0".repeat(64),
            tenant: "tenant".into(),
            roles: vec!["router".into()],
            rate_per_second: Some(c.auth.default_rate_per_second),
            burst: Some(c.auth.default_burst),
            adapter_id: None,
        }];
        c
    }

    /// Checks ranges and cross-field rules, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                message: message.into(),
            })
        };
        let adapter_ids: Vec<&str> = self.adapters.iter().map(|a| a.id.as_str()).collect();
        let mut rule_seen = std::collections::HashSet::new();
        for (i, rule) in self.routing.rules.iter().enumerate() {
            if let Some((key, message)) = rule.problem(&adapter_ids) {
                return bad(&format!("routing.rules[{i}].{key}"), &message);
            }
            if !rule_seen.insert(rule.id.as_str()) {
                return bad(
                    &format!("routing.rules[{i}].id"),
                    &format!("{:?} names another rule too: ids are unique", rule.id),
                );
            }
        }
        if self.routing.max_late_calls > 100_000 {
            return bad("routing.max_late_calls", "must be within 0..=100000");
        }
        if !(1..=100).contains(&self.routing.tier_min_offers) {
            return bad("routing.tier_min_offers", "must be within 1..=100");
        }
        let mut quota_seen = std::collections::HashSet::new();
        for (i, q) in self.quotas.iter().enumerate() {
            if !self.adapters.iter().any(|a| a.id == q.adapter) {
                return bad(
                    &format!("quotas[{i}].adapter"),
                    &format!("no [[adapters]] entry has the id {:?}", q.adapter),
                );
            }
            if !quota_seen.insert(q.adapter.as_str()) {
                return bad(
                    &format!("quotas[{i}].adapter"),
                    &format!(
                        "{:?} has another [[quotas]] entry: one per channel",
                        q.adapter
                    ),
                );
            }
            if q.limits().iter().all(|(_, v)| v.is_none()) {
                return bad(
                    &format!("quotas[{i}]"),
                    "set at least one limit (quotes_per_day, acceptances_per_month, ...)",
                );
            }
        }
        let mut webhook_seen = std::collections::HashSet::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            let key = |k: &str| format!("webhooks[{i}].{k}");
            if w.tenant.is_empty() || w.tenant.len() > 64 {
                return bad(&key("tenant"), "required, at most 64 bytes");
            }
            if !webhook_seen.insert(w.tenant.as_str()) {
                return bad(
                    &key("tenant"),
                    &format!(
                        "{:?} has another [[webhooks]] entry: one per tenant",
                        w.tenant
                    ),
                );
            }
            if let Err(e) = w.parse_url() {
                return bad(&key("url"), &e);
            }
            if let Err(e) = w.resolve_secret() {
                return bad(&key("secret"), &e);
            }
            if w.timeout_ms == 0 || w.timeout_ms > 60_000 {
                return bad(&key("timeout_ms"), "must be within 1..=60000");
            }
            if w.backoff_initial_ms == 0 || w.backoff_initial_ms > w.backoff_max_ms {
                return bad(
                    &key("backoff_initial_ms"),
                    "must be at least 1 and at most backoff_max_ms",
                );
            }
            if w.backoff_max_ms > DAY_MS {
                return bad(&key("backoff_max_ms"), "must be at most 86400000 (1 day)");
            }
        }
        if self.events.poll_interval_ms == 0 || self.events.poll_interval_ms > 60_000 {
            return bad("events.poll_interval_ms", "must be within 1..=60000");
        }
        if let Some(secret) = &self.review.page_token_secret
            && (secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return bad(
                "review.page_token_secret",
                "must be 64 hex digits (32 bytes)",
            );
        }
        let rv = &self.review;
        if rv.claim_lapse_ms == 0 || rv.claim_lapse_ms > 7 * DAY_MS {
            return bad(
                "review.claim_lapse_ms",
                "must be within 1..=604800000 (7 days)",
            );
        }
        for (key, ms) in [
            ("review.sla.income_changed_ms", rv.sla.income_changed_ms),
            ("review.sla.data_error_ms", rv.sla.data_error_ms),
            (
                "review.sla.line_reduced_unfairly_ms",
                rv.sla.line_reduced_unfairly_ms,
            ),
            ("review.sla.other_ms", rv.sla.other_ms),
        ] {
            if ms == 0 || ms > 365 * DAY_MS {
                return bad(key, "must be within 1..=31536000000 (a year)");
            }
        }
        let r = &self.routing;
        if r.deadline_ms == 0 || r.deadline_ms > 60_000 {
            return bad("routing.deadline_ms", "must be within 1..=60000");
        }
        if r.reply_margin_ms >= r.deadline_ms {
            return bad(
                "routing.reply_margin_ms",
                "must be below routing.deadline_ms",
            );
        }
        if !(0..=10_000).contains(&r.inquiry_cost_bps) {
            return bad("routing.inquiry_cost_bps", "must be within 0..=10000");
        }
        if r.max_offers == 0 || r.max_offers > 100 {
            return bad("routing.max_offers", "must be within 1..=100");
        }
        if !(r.affordability_hard_limit > 0.0 && r.affordability_hard_limit <= 2.0) {
            return bad("routing.affordability_hard_limit", "must be within (0, 2]");
        }
        if self.server.max_in_flight_routes == 0 {
            return bad("server.max_in_flight_routes", "must be at least 1");
        }
        let s = &self.server;
        if s.console_listen.is_some()
            && !self
                .auth
                .keys
                .iter()
                .any(|k| k.roles.iter().any(|r| r == "operator"))
        {
            return bad(
                "server.console_listen",
                "the console signs operators in with their api keys: add [[auth.keys]] \
                 with roles = [\"operator\"] (finroute keys new --role operator), or leave \
                 console_listen empty",
            );
        }
        if s.max_connections == Some(0) {
            return bad("server.max_connections", "must be at least 1");
        }
        for (key, value, max) in [
            (
                "first_request_timeout_ms",
                s.first_request_timeout_ms,
                3_600_000,
            ),
            ("idle_timeout_ms", s.idle_timeout_ms, 86_400_000),
            (
                "request_body_timeout_ms",
                s.request_body_timeout_ms,
                3_600_000,
            ),
            (
                "max_connection_age_ms",
                s.max_connection_age_ms,
                604_800_000,
            ),
            (
                "max_connection_age_grace_ms",
                s.max_connection_age_grace_ms,
                86_400_000,
            ),
        ] {
            if value == 0 || value > max {
                return Err(ConfigError::Invalid {
                    key: format!("server.{key}"),
                    message: format!("must be within 1..={max}"),
                });
            }
        }
        if s.connection_read_bytes_per_second != 0 && s.connection_read_bytes_per_second < 65_536 {
            return bad(
                "server.connection_read_bytes_per_second",
                "must be 0 (no limit) or at least 65536",
            );
        }
        if self.server.max_request_bytes < 1024 {
            return bad("server.max_request_bytes", "must be at least 1024");
        }
        for (i, c) in self.compliance.rate_caps.iter().enumerate() {
            if c.max_apr_bps <= 0 {
                return Err(ConfigError::Invalid {
                    key: format!("compliance.rate_caps[{i}].max_apr_bps"),
                    message: "must be positive".into(),
                });
            }
        }
        let c = &self.compliance;
        if c.partner_lists_poll_ms < 100 || c.partner_lists_poll_ms > 3_600_000 {
            return bad(
                "compliance.partner_lists_poll_ms",
                "must be within 100..=3600000",
            );
        }
        if c.partner_lists_file
            .as_ref()
            .is_some_and(|f| f.as_os_str().is_empty())
        {
            return bad(
                "compliance.partner_lists_file",
                "must name a file (leave the key out for none)",
            );
        }
        let p = &self.platform;
        if p.legal_name.trim().is_empty() && !(p.registration_id.is_empty() && p.contact.is_empty())
        {
            return bad(
                "platform.legal_name",
                "must be set when platform.registration_id or platform.contact is",
            );
        }
        if r.breaker_failure_threshold == 0 {
            return bad("routing.breaker_failure_threshold", "must be at least 1");
        }
        if r.breaker_open_ms == 0 || r.breaker_open_ms > r.breaker_max_open_ms {
            return bad(
                "routing.breaker_open_ms",
                "must be within 1..=routing.breaker_max_open_ms",
            );
        }
        let a = &self.acceptance;
        if a.partner_timeout_ms == 0 || a.partner_timeout_ms > 120_000 {
            return bad("acceptance.partner_timeout_ms", "must be within 1..=120000");
        }
        if a.wait_ms > 60_000 {
            return bad("acceptance.wait_ms", "must be within 0..=60000");
        }
        if a.poll_interval_ms < 10 || a.poll_interval_ms > 60_000 {
            return bad("acceptance.poll_interval_ms", "must be within 10..=60000");
        }
        if a.max_backoff_ms < 100 || a.max_backoff_ms > 3_600_000 {
            return bad("acceptance.max_backoff_ms", "must be within 100..=3600000");
        }
        self.odds.validate()?;
        let mut seen = std::collections::HashSet::new();
        for a in &self.adapters {
            if !seen.insert(a.id.as_str()) {
                return Err(ConfigError::Invalid {
                    key: format!("adapters[{}].id", a.id),
                    message: "duplicate id".into(),
                });
            }
        }
        if self.adapters.is_empty() {
            return bad("adapters", "at least one adapter is needed");
        }
        crate::auth::Authenticator::from_config(&self.auth)?
            .check_listen(self.server.listen, self.auth.allow_open)?;
        for (i, k) in self.auth.keys.iter().enumerate() {
            if let Some(adapter) = &k.adapter_id
                && !self.adapters.iter().any(|a| &a.id == adapter)
            {
                return Err(ConfigError::Invalid {
                    key: format!("auth.keys[{i}].adapter_id"),
                    message: format!("no [[adapters]] entry has id {adapter:?}"),
                });
            }
        }
        Ok(())
    }

    /// The circuit breaker's tuning for every channel.
    pub fn breaker_settings(&self) -> crate::breaker::BreakerSettings {
        crate::breaker::BreakerSettings {
            failure_threshold: self.routing.breaker_failure_threshold,
            base_open: std::time::Duration::from_millis(self.routing.breaker_open_ms),
            max_open: std::time::Duration::from_millis(self.routing.breaker_max_open_ms),
        }
    }

    /// The pricing policy for `finroute_core`.
    pub fn pricing_policy(&self) -> PricingPolicy {
        PricingPolicy {
            rate_caps: self.compliance.rate_caps.clone(),
            inquiry_cost_bps: self.routing.inquiry_cost_bps,
            affordability_hard_limit: self.routing.affordability_hard_limit,
            odds: self.odds.model,
            ..PricingPolicy::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_token_secret_is_64_hex_digits() {
        let c = Config::parse(&format!(
            "[review]\npage_token_secret = \"{}\"\n",
            "ab".repeat(32)
        ))
        .expect("valid secret");
        assert_eq!(c.review.page_token_secret(), Some([0xab; 32]));
        assert_eq!(Config::default().review.page_token_secret(), None);
        for bad in ["ab".repeat(31), "zz".repeat(32), "ab".repeat(33)] {
            let c = Config::parse(&format!("[review]\npage_token_secret = \"{bad}\"\n"))
                .expect("parses");
            let e = c.validate().expect_err("a bad secret is refused");
            assert!(e.to_string().contains("review.page_token_secret"), "{e}");
        }
    }

    #[test]
    fn webhook_urls_are_https_or_loopback_http() {
        let w = |url: &str| WebhookConfig {
            tenant: "t".into(),
            url: url.into(),
            secret: Some("0123456789abcdef".into()),
            secret_env: None,
            ca_file: None,
            timeout_ms: 1,
            backoff_initial_ms: 1,
            backoff_max_ms: 1,
        };
        let u = w("https://platform.example/a/b?x=1")
            .parse_url()
            .expect("https");
        assert_eq!((u.https, u.port, u.path.as_str()), (true, 443, "/a/b?x=1"));
        assert_eq!(u.authority, "platform.example");
        let u = w("http://[::1]:8080").parse_url().expect("loopback v6");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 8080, "/")
        );
        assert!(w("http://localhost:1/h").parse_url().is_ok());
        assert!(w("http://10.0.0.1/h").parse_url().is_err());
        assert!(w("https://user:pw@platform.example/").parse_url().is_err());
        assert!(w("platform.example/hook").parse_url().is_err());
        assert_eq!(
            w("x").resolve_secret().expect("16 bytes"),
            "0123456789abcdef"
        );
    }

    #[test]
    fn quotas_name_a_channel_once_with_a_limit() {
        let c = Config::parse(
            "[[quotas]]\nadapter = \"partner-sim\"\nquotes_per_day = 100\nlent_minor_per_month = 50000000\n",
        )
        .expect("parses");
        c.validate().expect("valid");
        assert_eq!(c.quotas[0].quotes_per_day, Some(100));
        assert_eq!(c.quotas[0].acceptances_per_day, None);
        for (text, key) in [
            (
                "[[quotas]]\nadapter = \"nobody\"\nquotes_per_day = 1\n",
                "quotas[0].adapter",
            ),
            ("[[quotas]]\nadapter = \"secured\"\n", "quotas[0]"),
            (
                "[[quotas]]\nadapter = \"secured\"\nquotes_per_day = 1\n[[quotas]]\nadapter = \"secured\"\nquotes_per_month = 1\n",
                "quotas[1].adapter",
            ),
        ] {
            let c = Config::parse(text).expect("parses");
            let e = c.validate().expect_err(text);
            assert!(e.to_string().contains(key), "{key}: {e}");
        }
        assert!(Config::parse("[[quotas]]\nadapter = \"secured\"\nquotes_per_week = 1\n").is_err());
    }

    #[test]
    fn empty_file_is_the_embedded_default() {
        let c = Config::parse("").expect("empty is valid");
        assert_eq!(c, Config::default());
        assert_eq!(c.adapters.len(), 3);
        c.validate().expect("default is valid");
    }

    #[test]
    fn review_workflow_keys_have_defaults_and_ranges() {
        let c = Config::default();
        assert_eq!(c.review.claim_lapse_ms, 30 * 60 * 1000);
        assert!(c.review.four_eyes);
        assert_eq!(c.review.sla.for_reason("DATA_ERROR"), 2 * DAY_MS);
        assert_eq!(c.review.sla.for_reason("unknown"), c.review.sla.other_ms);
        let c = Config::parse(
            "[review]\nclaim_lapse = \"90s\"\nfour_eyes = false\n[review.sla]\nincome_changed = \"1h\"\n",
        )
        .expect("parses");
        c.validate().expect("valid");
        assert_eq!(c.review.claim_lapse_ms, 90_000);
        assert!(!c.review.four_eyes);
        assert_eq!(c.review.sla.for_reason("INCOME_CHANGED"), 3_600_000);
        for (text, key) in [
            ("[review]\nclaim_lapse_ms = 0\n", "review.claim_lapse_ms"),
            ("[review.sla]\nother_ms = 0\n", "review.sla.other_ms"),
        ] {
            let c = Config::parse(text).expect("parses");
            let e = c.validate().expect_err(text);
            assert!(e.to_string().contains(key), "{e}");
        }
    }

    /// `finroute.example.toml` at the repository root: its values are the
    /// defaults, and with its optional `#key = ...` lines set it names every
    /// key the config accepts, so a new key without an entry fails here.
    #[test]
    fn the_example_file_holds_the_defaults_and_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../finroute.example.toml");
        let text = std::fs::read_to_string(&path).expect("finroute.example.toml");
        let config = Config::parse(&text).expect("the example parses");
        config.validate().expect("the example is valid");
        assert_eq!(
            config,
            Config::default(),
            "every value of the example is the default"
        );
        let every: Vec<&str> = text
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| !c.is_whitespace()) => rest,
                _ => l,
            })
            .collect();
        let every = every.join("\n");
        Config::parse(&every).expect("the example with its optional keys set parses");
        let keys = |table: &toml::Table| {
            let mut out = Vec::new();
            show::leaves(table, &mut Vec::new(), &mut out);
            out.into_iter()
                .map(|p| p.join("."))
                .collect::<std::collections::BTreeSet<_>>()
        };
        let example = keys(&toml::from_str(&every).expect("toml"));
        let accepted = keys(&env::shape().expect("shape"));
        let missing: Vec<_> = accepted.difference(&example).collect();
        let extra: Vec<_> = example.difference(&accepted).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "finroute.example.toml lacks {missing:?} and has unknown {extra:?}"
        );
    }

    #[test]
    fn the_config_md_example_parses() {
        let text = r#"
[server]
listen = "127.0.0.1:50051"
metrics_listen = "127.0.0.1:9464"
max_request_bytes = 65536

[store]
url = "sqlite://finroute.db"

[routing]
deadline_ms = 800
strategy = "balanced"
inquiry_cost_bps = 150
max_offers = 10
affordability_hard_limit = 0.70

[[compliance.rate_caps]]
region_prefix = "CN"
max_apr_bps = 2400

[[adapters]]
id = "bank-a"
kind = "remote"
endpoint = "http://127.0.0.1:50061"
timeout_ms = 300
max_in_flight = 256
"#;
        let c = Config::parse(text).expect("valid");
        assert_eq!(c.adapters.len(), 1);
        assert_eq!(c.adapters[0].timeout_ms, 300);
        c.validate().expect("valid");
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::parse("[routing]\ndeadline = 5\n").expect_err("unknown key");
        assert!(e.contains("deadline"), "{e}");
        let e = Config::parse("[sever]\nlisten = \"127.0.0.1:1\"\n").expect_err("unknown section");
        assert!(e.contains("sever"), "{e}");
    }

    #[test]
    fn env_overrides_scalars_and_rejects_unknown_keys() {
        let mut c = Config::default();
        c.apply_env([
            (
                "FINROUTE_ROUTING_DEADLINE_MS".to_string(),
                "250".to_string(),
            ),
            (
                "FINROUTE_STORE_URL".to_string(),
                "sqlite://x.db".to_string(),
            ),
            (
                "FINROUTE_TEST_DATABASE_URL".to_string(),
                "postgres://ignored".to_string(),
            ),
        ])
        .expect("valid overrides");
        assert_eq!(c.routing.deadline_ms, 250);
        assert_eq!(c.store.url, "sqlite://x.db");
        let e = c
            .apply_env([("FINROUTE_ROUTING_DEADLINE".to_string(), "1".to_string())])
            .expect_err("unknown");
        assert!(e.to_string().contains("FINROUTE_ROUTING_DEADLINE"), "{e}");
    }

    #[test]
    fn connection_limits_are_settable_from_the_environment_and_checked() {
        let mut c = Config::default();
        c.apply_env(
            [
                ("FINROUTE_SERVER_MAX_CONNECTIONS", "20"),
                ("FINROUTE_SERVER_FIRST_REQUEST_TIMEOUT_MS", "400"),
                ("FINROUTE_SERVER_IDLE_TIMEOUT_MS", "500"),
                ("FINROUTE_SERVER_REQUEST_BODY_TIMEOUT_MS", "300"),
                ("FINROUTE_SERVER_MAX_CONNECTION_AGE_MS", "60000"),
                ("FINROUTE_SERVER_MAX_CONNECTION_AGE_GRACE_MS", "1000"),
                ("FINROUTE_SERVER_CONNECTION_READ_BYTES_PER_SECOND", "0"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .expect("valid overrides");
        let s = &c.server;
        assert_eq!(s.max_connections, Some(20));
        assert_eq!(
            (
                s.first_request_timeout_ms,
                s.idle_timeout_ms,
                s.request_body_timeout_ms
            ),
            (400, 500, 300)
        );
        assert_eq!(
            (s.max_connection_age_ms, s.max_connection_age_grace_ms),
            (60_000, 1_000)
        );
        assert_eq!(s.connection_read_bytes_per_second, 0);
        c.validate().expect("in range");
        for (text, key) in [
            ("max_connections = 0", "server.max_connections"),
            ("idle_timeout_ms = 0", "server.idle_timeout_ms"),
            (
                "first_request_timeout_ms = 0",
                "server.first_request_timeout_ms",
            ),
            (
                "request_body_timeout_ms = 0",
                "server.request_body_timeout_ms",
            ),
            ("max_connection_age_ms = 0", "server.max_connection_age_ms"),
            (
                "connection_read_bytes_per_second = 100",
                "server.connection_read_bytes_per_second",
            ),
        ] {
            let c = Config::parse(&format!("[server]\n{text}\n")).expect("parses");
            let e = c.validate().expect_err(text).to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        let e = Config::default()
            .apply_env([("FINROUTE_SERVER_IDLE_TIMEOUT_MS".into(), "soon".into())])
            .expect_err("not a number");
        assert!(
            e.to_string().contains("FINROUTE_SERVER_IDLE_TIMEOUT_MS"),
            "{e}"
        );
    }

    #[test]
    fn invalid_values_name_the_key() {
        let mut c = Config::default();
        c.routing.max_offers = 0;
        assert!(
            c.validate()
                .expect_err("zero")
                .to_string()
                .contains("routing.max_offers")
        );
        let mut c = Config::default();
        c.adapters.push(c.adapters[0].clone());
        assert!(
            c.validate()
                .expect_err("dup")
                .to_string()
                .contains("duplicate")
        );
    }

    #[test]
    fn odds_section_sets_the_model_and_names_bad_keys() {
        let c = Config::parse("[odds]\npartner_weight = 0.4\nwindow = 100\nunemployed = -2.5\n")
            .expect("valid odds section");
        c.validate().expect("in range");
        assert_eq!(c.pricing_policy().odds.partner_weight, 0.4);
        assert_eq!(c.pricing_policy().odds.unemployed, -2.5);
        assert_eq!(c.odds.learning.window, 100);
        // Everything else keeps the core's defaults.
        assert_eq!(c.odds.learning.half_life, Learning::default().half_life);
        for (text, key) in [
            ("partner_weight = 1.5", "odds.partner_weight"),
            ("window = 0", "odds.window"),
            ("half_life = 0.0", "odds.half_life"),
            ("score_per_100 = nan", "odds.score_per_100"),
            ("refresh_ms = 1", "odds.refresh_ms"),
        ] {
            let c = Config::parse(&format!("[odds]\n{text}\n")).expect("parses");
            let e = c.validate().expect_err(text).to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
        let e = Config::parse("[odds]\nweight = 0.4\n").expect_err("unknown key");
        assert!(e.contains("weight"), "{e}");
        for (text, key) in [
            ("intercept = \"high\"", "intercept"),
            ("window = -1", "window"),
            ("refresh_ms = 0.5", "refresh_ms"),
        ] {
            let e = Config::parse(&format!("[odds]\n{text}\n")).expect_err(text);
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    fn vars<const N: usize>(pairs: [(&str, &str); N]) -> Vec<(String, String)> {
        pairs
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into_iter()
            .collect()
    }

    /// The value at `path` of `config` as TOML.
    fn value_at(config: &Config, path: &[String]) -> Option<toml::Value> {
        let mut value = toml::Value::Table(toml::Table::try_from(config).expect("serializes"));
        for step in path {
            value = value.as_table()?.get(step)?.clone();
        }
        Some(value)
    }

    /// A value for the key at `path`, other than `current`, that its type
    /// reads (as an environment variable's text).
    fn another_value(base: &Config, var: &str, path: &[String], current: &toml::Value) -> String {
        use toml::Value;
        let candidates = match current {
            Value::Integer(n) => vec![(n + 1).to_string()],
            Value::Float(f) => vec![(f + 0.25).to_string()],
            Value::Boolean(b) => vec![(!b).to_string()],
            Value::Array(items) => {
                let first = items.first().expect("the sample's arrays have an entry");
                vec![Value::Array(vec![first.clone(), first.clone()]).to_string()]
            }
            // Strings: the first of these that the key's type reads.
            _ => ["127.0.0.2:1", "lowest_cost", "/etc/finroute/x.pem", "x"]
                .map(String::from)
                .to_vec(),
        };
        for text in candidates {
            let mut c = base.clone();
            if c.apply_env([(var.to_string(), text.clone())]).is_ok()
                && value_at(&c, path).as_ref() != Some(current)
            {
                return text;
            }
        }
        panic!("no value found for {var}: add a candidate for its type");
    }

    #[test]
    fn every_key_is_settable_from_the_environment() {
        let sample = Config::with_every_key();
        let all = env::variables().expect("keys");
        for var in [
            "FINROUTE_SERVER_SHUTDOWN_GRACE_MS",
            "FINROUTE_SERVER_TLS_CERT_FILE",
            "FINROUTE_SERVER_MAX_CONNECTIONS",
            "FINROUTE_ODDS_PARTNER_WEIGHT",
            "FINROUTE_ODDS_WINDOW",
            "FINROUTE_AUTH_ALLOW_OPEN",
            "FINROUTE_AUTH_KEYS",
            "FINROUTE_COMPLIANCE_RATE_CAPS",
            "FINROUTE_ADAPTERS",
            "FINROUTE_STORE_URL",
        ] {
            assert!(all.iter().any(|(v, _)| v == var), "{var} is not listed");
        }
        // One value per key, each different from the sample's, then all of
        // them at once on the defaults: each lands where its name says.
        let mut set = Vec::new();
        let mut expected = Vec::new();
        for (var, path) in &all {
            let current = value_at(&sample, path).expect("the sample has every key");
            let text = another_value(&sample, var, path, &current);
            let mut one = sample.clone();
            one.apply_env([(var.clone(), text.clone())])
                .unwrap_or_else(|e| panic!("{var}={text}: {e}"));
            let landed = value_at(&one, path).expect("set");
            assert_ne!(landed, current, "{var}={text}");
            set.push((var.clone(), text));
            expected.push((var, path, landed));
        }
        let mut c = Config::default();
        c.apply_env(set).expect("every key at once");
        for (var, path, value) in expected {
            assert_eq!(value_at(&c, path).as_ref(), Some(&value), "{var}");
        }
        // Durations also take their human-readable name and form.
        let durations: Vec<_> = all
            .iter()
            .filter_map(|(var, path)| Some((var.strip_suffix("_MS")?, path)))
            .collect();
        assert!(durations.len() >= 15, "{durations:?}");
        let mut c = Config::with_every_key();
        c.apply_env(
            durations
                .iter()
                .map(|(var, _)| (var.to_string(), "1m 2s 3ms".to_string())),
        )
        .expect("human-readable durations");
        for (var, path) in durations {
            assert_eq!(
                value_at(&c, path),
                Some(toml::Value::Integer(62_003)),
                "{var}"
            );
        }
    }

    #[test]
    fn the_key_sample_leaves_no_key_out_and_docs_name_each() {
        // An optional key left `None` in `with_every_key` would have no
        // environment variable: serde_json shows it as null.
        fn nulls(value: &serde_json::Value, path: &str, out: &mut Vec<String>) {
            match value {
                serde_json::Value::Null => out.push(path.to_string()),
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        nulls(v, &format!("{path}.{k}"), out);
                    }
                }
                serde_json::Value::Array(items) if items.is_empty() => {
                    out.push(format!("{path} (empty array)"))
                }
                _ => {}
            }
        }
        let json = serde_json::to_value(Config::with_every_key()).expect("serializes");
        let mut missing = Vec::new();
        for (section, value) in json.as_object().expect("a table") {
            if section != "adapters" {
                nulls(value, section, &mut missing);
            }
        }
        assert!(
            missing.is_empty(),
            "give these a value in Config::with_every_key: {missing:?}"
        );
        let docs = include_str!("../../../docs/config.md");
        for (var, path) in env::variables().expect("keys") {
            let key = path.last().expect("a key");
            assert!(
                docs.contains(&format!("`{key}`")),
                "{var}: `{key}` is not in docs/config.md"
            );
        }
    }

    #[test]
    fn the_environment_reaches_every_section_and_names_bad_variables() {
        let mut c = Config::default();
        c.apply_env(vars([
            ("FINROUTE_SERVER_SHUTDOWN_GRACE_MS", "7000"),
            ("FINROUTE_ODDS_PARTNER_WEIGHT", "0.4"),
            ("FINROUTE_ODDS_WINDOW", "100"),
            ("FINROUTE_AUTH_DEFAULT_BURST", "9"),
            ("FINROUTE_SERVER_TLS_CERT_FILE", "a.pem"),
            ("FINROUTE_SERVER_TLS_KEY_FILE", "a.key"),
            ("FINROUTE_SERVER_TLS_HANDSHAKE_TIMEOUT", "2s"),
            (
                "FINROUTE_COMPLIANCE_RATE_CAPS",
                r#"[{ region_prefix = "US", max_apr_bps = 3600 }]"#,
            ),
            ("FINROUTE_ROUTING_STRATEGY", "highest_approval"),
            ("FINROUTE_SIGKILL_SEED", "not config's"),
        ]))
        .expect("valid overrides");
        assert_eq!(c.server.shutdown_grace_ms, 7_000);
        assert_eq!(c.odds.model.partner_weight, 0.4);
        assert_eq!(c.odds.learning.window, 100);
        assert_eq!(c.auth.default_burst, 9);
        let tls = c.server.tls.as_ref().expect("tls from the environment");
        assert_eq!(tls.cert_file, std::path::Path::new("a.pem"));
        assert_eq!(tls.handshake_timeout_ms, 2_000);
        assert_eq!(
            c.pricing_policy().rate_caps,
            vec![RateCap {
                region_prefix: "US".into(),
                max_apr_bps: 3600,
                lender_types: Vec::new(),
            }]
        );
        assert_eq!(c.routing.strategy, Strategy::HighestApproval);

        for (var, value, says) in [
            ("FINROUTE_ODDS_WEIGHT", "0.4", "no such config key"),
            ("FINROUTE_AUTH_KEY", "x", "no such config key"),
            ("FINROUTE_SERVER_TLS", "{}", "table"),
            ("FINROUTE_SERVER_LISTEN", "nope", "socket address"),
            ("FINROUTE_ROUTING_STRATEGY", "fastest", "lowest_cost"),
            ("FINROUTE_ODDS_PARTNER_WEIGHT", "most", "most"),
            ("FINROUTE_AUTH_ALLOW_OPEN", "yes", "yes"),
            ("FINROUTE_AUTH_KEYS", "[{ id = 1 }]", ""),
            ("FINROUTE_AUTH_KEYS", "[unclosed", "TOML"),
            ("FINROUTE_SERVER_SHUTDOWN_GRACE", "5 parsecs", "duration"),
            ("FINROUTE_SERVER_SHUTDOWN_GRACE_MS", "5s", "5s"),
        ] {
            let e = Config::default()
                .apply_env(vars([(var, value)]))
                .expect_err(var)
                .to_string();
            assert!(e.starts_with(&format!("{var}:")), "{var}={value}: {e}");
            assert!(e.contains(says), "{var}={value}: {e}");
        }
        // One key set twice, in both spellings: both variables are named.
        let e = Config::default()
            .apply_env(vars([
                ("FINROUTE_ROUTING_DEADLINE", "1s"),
                ("FINROUTE_ROUTING_DEADLINE_MS", "900"),
            ]))
            .expect_err("both")
            .to_string();
        assert!(
            e.contains("FINROUTE_ROUTING_DEADLINE and FINROUTE_ROUTING_DEADLINE_MS"),
            "{e}"
        );
        // A variable overrides the file's key whichever spelling each uses.
        let mut c = Config::parse("[server]\nshutdown_grace = \"9s\"\n").expect("valid");
        c.apply_env(vars([("FINROUTE_SERVER_SHUTDOWN_GRACE_MS", "1500")]))
            .expect("override");
        assert_eq!(c.server.shutdown_grace_ms, 1_500);
    }

    #[test]
    fn durations_read_human_readable_or_in_milliseconds_not_both() {
        let c = Config::parse(
            "[server]\nshutdown_grace = \"5s\"\nidle_timeout = \"2m\"\n\
             [server.tls]\ncert_file = \"c\"\nkey_file = \"k\"\nhandshake_timeout = \"750ms\"\n\
             [routing]\ndeadline = \"1s\"\nreply_margin_ms = 40\n\
             [odds]\nrefresh = \"1h\"\n",
        )
        .expect("valid");
        assert_eq!(c.server.shutdown_grace_ms, 5_000);
        assert_eq!(c.server.idle_timeout_ms, 120_000);
        assert_eq!(
            c.server.tls.as_ref().map(|t| t.handshake_timeout_ms),
            Some(750)
        );
        assert_eq!(
            (c.routing.deadline_ms, c.routing.reply_margin_ms),
            (1_000, 40)
        );
        assert_eq!(c.odds.refresh_ms, 3_600_000);
        c.validate().expect("in range");
        for (text, says) in [
            (
                "[server]\nshutdown_grace = \"5s\"\nshutdown_grace_ms = 5000\n",
                "server.shutdown_grace and server.shutdown_grace_ms",
            ),
            (
                "[server]\nshutdown_grace = \"soon\"\n",
                "server.shutdown_grace",
            ),
            ("[server]\nshutdown_grace = 5000\n", "server.shutdown_grace"),
            (
                "[routing]\ndeadline = \"1500us\"\n",
                "whole number of milliseconds",
            ),
            (
                "[server]\nshutdown_grace_ms = \"5s\"\n",
                "shutdown_grace_ms",
            ),
            ("[routing]\ndeadline = \"1s\"\nbogus = 1\n", "bogus"),
        ] {
            let e = Config::parse(text).expect_err(text);
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn the_config_serializes_to_what_parses_back() {
        let c = Config::with_every_key();
        let text = toml::to_string(&c).expect("serializes");
        assert_eq!(Config::parse(&text).expect("parses back"), c);
    }
}

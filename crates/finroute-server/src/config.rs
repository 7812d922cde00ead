//! The router's configuration (`docs/config.md`): TOML with a
//! default for every key, unknown keys rejected with their name, and
//! `FINROUTE_<SECTION>_<KEY>` environment overrides for scalar keys.

use std::net::SocketAddr;
use std::path::Path;

use finroute_adapters::spec::AdapterSpec;
use finroute_core::{Learning, OddsModel, PricingPolicy, RateCap, Strategy};
use serde::Deserialize;

/// The whole config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    /// The channels; absent = the embedded default's built-in channels.
    #[serde(default = "AdapterSpec::embedded_default")]
    pub adapters: Vec<AdapterSpec>,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the gRPC port binds (default `127.0.0.1:50051`).
    pub listen: SocketAddr,
    /// Address of the Prometheus text endpoint, `GET /metrics` (port 0: any free port; the ready line names it).
    pub metrics_listen: SocketAddr,
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

/// `[server.tls]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Deadline of a routing call when the caller sends none.
    pub deadline_ms: u64,
    /// Time kept back from the caller's deadline to price, store and reply.
    pub reply_margin_ms: u64,
    /// Default ranking strategy.
    pub strategy: StrategyName,
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
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            deadline_ms: 800,
            reply_margin_ms: 50,
            strategy: StrategyName::Balanced,
            inquiry_cost_bps: 150,
            max_offers: 10,
            affordability_hard_limit: 0.70,
            breaker_failure_threshold: 5,
            breaker_open_ms: 1_000,
            breaker_max_open_ms: 60_000,
        }
    }
}

/// `[acceptance]`: the exactly-once path of AcceptOffer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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

/// `[odds]`: the approval-odds model (finroute-core `odds.rs`). The
/// coefficients are the logistic prior's, in log-odds; the rest is how
/// outcomes are learned from. Defaults are the core's.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OddsConfig {
    pub intercept: f64,
    pub score_center: f64,
    pub score_per_100: f64,
    pub dti_center: f64,
    pub dti_coefficient: f64,
    pub dti_cap: f64,
    pub volatility_coefficient: f64,
    pub collateral_coefficient: f64,
    pub collateral_cap: f64,
    pub employed: f64,
    pub self_employed: f64,
    pub freelance: f64,
    pub student: f64,
    pub retired: f64,
    pub unemployed: f64,
    /// Weight of a partner's estimate before its outcomes are known (0..=1).
    pub partner_weight: f64,
    /// Outcomes per adapter learned from (the newest).
    pub window: u32,
    /// Age, in outcomes, at which an outcome counts half.
    pub half_life: f64,
    /// Ridge penalty of the blend fit.
    pub ridge: f64,
    /// Pseudo-outcomes behind each risk band's Beta prior.
    pub band_strength: f64,
    /// Squared calibration error at which a partner's trust halves.
    pub trust_scale: f64,
    /// How often the model is rebuilt from the store's outcomes (also
    /// right after this replica records one).
    pub refresh_ms: u64,
}

impl Default for OddsConfig {
    fn default() -> Self {
        let m = OddsModel::default();
        let l = Learning::default();
        Self {
            intercept: m.intercept,
            score_center: m.score_center,
            score_per_100: m.score_per_100,
            dti_center: m.dti_center,
            dti_coefficient: m.dti_coefficient,
            dti_cap: m.dti_cap,
            volatility_coefficient: m.volatility_coefficient,
            collateral_coefficient: m.collateral_coefficient,
            collateral_cap: m.collateral_cap,
            employed: m.employed,
            self_employed: m.self_employed,
            freelance: m.freelance,
            student: m.student,
            retired: m.retired,
            unemployed: m.unemployed,
            partner_weight: m.partner_weight,
            window: u32::try_from(l.window).unwrap_or(u32::MAX),
            half_life: l.half_life,
            ridge: l.ridge,
            band_strength: l.band_strength,
            trust_scale: l.trust_scale,
            refresh_ms: 2_000,
        }
    }
}

impl OddsConfig {
    /// The prior and partner blend.
    pub fn model(&self) -> OddsModel {
        OddsModel {
            intercept: self.intercept,
            score_center: self.score_center,
            score_per_100: self.score_per_100,
            dti_center: self.dti_center,
            dti_coefficient: self.dti_coefficient,
            dti_cap: self.dti_cap,
            volatility_coefficient: self.volatility_coefficient,
            collateral_coefficient: self.collateral_coefficient,
            collateral_cap: self.collateral_cap,
            employed: self.employed,
            self_employed: self.self_employed,
            freelance: self.freelance,
            student: self.student,
            retired: self.retired,
            unemployed: self.unemployed,
            partner_weight: self.partner_weight,
        }
    }

    /// How outcomes are learned from.
    pub fn learning(&self) -> Learning {
        Learning {
            window: self.window as usize,
            half_life: self.half_life,
            ridge: self.ridge,
            band_strength: self.band_strength,
            trust_scale: self.trust_scale,
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                message: message.into(),
            })
        };
        let coefficients = [
            ("intercept", self.intercept),
            ("score_center", self.score_center),
            ("score_per_100", self.score_per_100),
            ("dti_center", self.dti_center),
            ("dti_coefficient", self.dti_coefficient),
            ("dti_cap", self.dti_cap),
            ("volatility_coefficient", self.volatility_coefficient),
            ("collateral_coefficient", self.collateral_coefficient),
            ("collateral_cap", self.collateral_cap),
            ("employed", self.employed),
            ("self_employed", self.self_employed),
            ("freelance", self.freelance),
            ("student", self.student),
            ("retired", self.retired),
            ("unemployed", self.unemployed),
        ];
        for (key, value) in coefficients {
            if !value.is_finite() || value.abs() > 1_000.0 {
                return bad(
                    &format!("odds.{key}"),
                    "must be a number within -1000..=1000",
                );
            }
        }
        if !(0.0..=1.0).contains(&self.partner_weight) {
            return bad("odds.partner_weight", "must be within 0..=1");
        }
        if self.window == 0 || self.window > 100_000 {
            return bad("odds.window", "must be within 1..=100000");
        }
        for (key, value) in [
            ("half_life", self.half_life),
            ("ridge", self.ridge),
            ("trust_scale", self.trust_scale),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return bad(&format!("odds.{key}"), "must be a number above 0");
            }
        }
        if !(self.band_strength.is_finite() && self.band_strength >= 0.0) {
            return bad("odds.band_strength", "must be a number >= 0");
        }
        if self.refresh_ms < 10 || self.refresh_ms > 3_600_000 {
            return bad("odds.refresh_ms", "must be within 10..=3600000");
        }
        Ok(())
    }
}

/// `[auth]`: who may call.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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

/// One `[[auth.keys]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// Names the key in logs (never the key itself).
    pub id: String,
    /// Hex sha256 of the api key.
    pub sha256: String,
    /// The tenant whose data the key reaches.
    pub tenant: String,
    /// `router` and/or `operator`.
    pub roles: Vec<String>,
    /// Overrides `auth.default_rate_per_second` for this key.
    #[serde(default)]
    pub rate_per_second: Option<u32>,
    /// Overrides `auth.default_burst` for this key.
    #[serde(default)]
    pub burst: Option<u32>,
}

/// Strategy names as config spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyName {
    Balanced,
    LowestCost,
    HighestApproval,
}

impl From<StrategyName> for Strategy {
    fn from(s: StrategyName) -> Self {
        match s {
            StrategyName::Balanced => Strategy::Balanced,
            StrategyName::LowestCost => Strategy::LowestCost,
            StrategyName::HighestApproval => Strategy::HighestApproval,
        }
    }
}

/// `[compliance]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceConfig {
    /// `[[compliance.rate_caps]]`; default: mainland China at 2400 bp.
    pub rate_caps: Vec<RateCapConfig>,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        Self {
            rate_caps: vec![RateCapConfig {
                region_prefix: "CN".into(),
                max_apr_bps: 2400,
            }],
        }
    }
}

/// One `[[compliance.rate_caps]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCapConfig {
    /// Matches `Applicant.region` by prefix.
    pub region_prefix: String,
    pub max_apr_bps: i32,
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
            adapters: AdapterSpec::embedded_default(),
        }
    }
}

impl Config {
    /// Reads and checks a config file, then applies environment overrides.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Self::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.display().to_string(),
            message,
        })?;
        config.apply_env(std::env::vars())?;
        config.validate()?;
        Ok(config)
    }

    /// The embedded default with environment overrides applied.
    pub fn embedded() -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.apply_env(std::env::vars())?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text; the error names the key and line.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies `FINROUTE_<SECTION>_<KEY>` overrides (scalar keys of
    /// `server`, `store` and `routing`). Unknown `FINROUTE_*` section
    /// variables are ignored only if they are not config sections.
    pub fn apply_env<I: IntoIterator<Item = (String, String)>>(
        &mut self,
        vars: I,
    ) -> Result<(), ConfigError> {
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("FINROUTE_") else {
                continue;
            };
            let rest = rest.to_ascii_lowercase();
            let Some((section, key)) = rest.split_once('_') else {
                continue;
            };
            if !matches!(section, "server" | "store" | "routing" | "acceptance") {
                continue;
            }
            let invalid = |message: String| ConfigError::Invalid {
                key: name.clone(),
                message,
            };
            let parse_err = |e: &dyn std::fmt::Display| invalid(format!("{value:?}: {e}"));
            match (section, key) {
                ("server", "listen") => {
                    self.server.listen = value.parse().map_err(|e| parse_err(&e))?
                }
                ("server", "metrics_listen") => {
                    self.server.metrics_listen = value.parse().map_err(|e| parse_err(&e))?
                }
                ("server", "max_request_bytes") => {
                    self.server.max_request_bytes = value.parse().map_err(|e| parse_err(&e))?
                }
                ("server", "max_in_flight_routes") => {
                    self.server.max_in_flight_routes = value.parse().map_err(|e| parse_err(&e))?
                }
                ("server", "max_connections") => {
                    self.server.max_connections = Some(value.parse().map_err(|e| parse_err(&e))?)
                }
                ("server", "first_request_timeout_ms") => {
                    self.server.first_request_timeout_ms =
                        value.parse().map_err(|e| parse_err(&e))?
                }
                ("server", "idle_timeout_ms") => {
                    self.server.idle_timeout_ms = value.parse().map_err(|e| parse_err(&e))?
                }
                ("server", "request_body_timeout_ms") => {
                    self.server.request_body_timeout_ms =
                        value.parse().map_err(|e| parse_err(&e))?
                }
                ("server", "max_connection_age_ms") => {
                    self.server.max_connection_age_ms = value.parse().map_err(|e| parse_err(&e))?
                }
                ("server", "max_connection_age_grace_ms") => {
                    self.server.max_connection_age_grace_ms =
                        value.parse().map_err(|e| parse_err(&e))?
                }
                ("server", "connection_read_bytes_per_second") => {
                    self.server.connection_read_bytes_per_second =
                        value.parse().map_err(|e| parse_err(&e))?
                }
                ("store", "url") => self.store.url = value.clone(),
                ("routing", "deadline_ms") => {
                    self.routing.deadline_ms = value.parse().map_err(|e| parse_err(&e))?
                }
                ("routing", "reply_margin_ms") => {
                    self.routing.reply_margin_ms = value.parse().map_err(|e| parse_err(&e))?
                }
                ("routing", "inquiry_cost_bps") => {
                    self.routing.inquiry_cost_bps = value.parse().map_err(|e| parse_err(&e))?
                }
                ("routing", "max_offers") => {
                    self.routing.max_offers = value.parse().map_err(|e| parse_err(&e))?
                }
                ("routing", "affordability_hard_limit") => {
                    self.routing.affordability_hard_limit =
                        value.parse().map_err(|e| parse_err(&e))?
                }
                ("routing", "breaker_failure_threshold") => {
                    self.routing.breaker_failure_threshold =
                        value.parse().map_err(|e| parse_err(&e))?
                }
                ("routing", "breaker_open_ms") => {
                    self.routing.breaker_open_ms = value.parse().map_err(|e| parse_err(&e))?
                }
                ("routing", "breaker_max_open_ms") => {
                    self.routing.breaker_max_open_ms = value.parse().map_err(|e| parse_err(&e))?
                }
                ("acceptance", "partner_timeout_ms") => {
                    self.acceptance.partner_timeout_ms = value.parse().map_err(|e| parse_err(&e))?
                }
                ("acceptance", "wait_ms") => {
                    self.acceptance.wait_ms = value.parse().map_err(|e| parse_err(&e))?
                }
                ("acceptance", "poll_interval_ms") => {
                    self.acceptance.poll_interval_ms = value.parse().map_err(|e| parse_err(&e))?
                }
                ("acceptance", "max_backoff_ms") => {
                    self.acceptance.max_backoff_ms = value.parse().map_err(|e| parse_err(&e))?
                }
                ("routing", "strategy") => {
                    self.routing.strategy = match value.as_str() {
                        "balanced" => StrategyName::Balanced,
                        "lowest_cost" => StrategyName::LowestCost,
                        "highest_approval" => StrategyName::HighestApproval,
                        _ => {
                            return Err(invalid(
                                "one of balanced, lowest_cost, highest_approval".into(),
                            ));
                        }
                    }
                }
                _ => return Err(invalid("no such config key".into())),
            }
        }
        Ok(())
    }

    /// Checks ranges and cross-field rules, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| {
            Err(ConfigError::Invalid {
                key: key.into(),
                message: message.into(),
            })
        };
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
            rate_caps: self
                .compliance
                .rate_caps
                .iter()
                .map(|c| RateCap {
                    region_prefix: c.region_prefix.clone(),
                    max_apr_bps: c.max_apr_bps,
                })
                .collect(),
            inquiry_cost_bps: self.routing.inquiry_cost_bps,
            affordability_hard_limit: self.routing.affordability_hard_limit,
            odds: self.odds.model(),
            ..PricingPolicy::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_embedded_default() {
        let c = Config::parse("").expect("empty is valid");
        assert_eq!(c, Config::default());
        assert_eq!(c.adapters.len(), 3);
        c.validate().expect("default is valid");
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
        assert_eq!(c.odds.learning().window, 100);
        // Everything else keeps the core's defaults.
        assert_eq!(c.odds.learning().half_life, Learning::default().half_life);
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
    }
}

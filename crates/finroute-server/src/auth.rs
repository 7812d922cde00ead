//! Caller authentication (api.md): `authorization: Bearer <api key>`.
//!
//! Each `[[auth.keys]]` entry holds the sha256 of a key (the key itself is
//! never stored), the tenant it belongs to and its roles. The interceptor
//! puts the [`Caller`] into the request's extensions; handlers take their
//! tenant from it, so every read and write is scoped to the caller's tenant
//! and another tenant's ids answer NOT_FOUND. With no keys configured the
//! router is open (one tenant, every role): allowed on loopback, refused at
//! start-up elsewhere unless `auth.allow_open` says so.
//!
//! Never logged: the key, its hash, the header.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tonic::{Code, Request, Status};

use crate::config::{AuthConfig, ConfigError};
use crate::error::{Reason, error_status};

/// The tenant of an open router (no keys configured).
pub const OPEN_TENANT: &str = "default";

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles {
    /// FinancingRouter: route, accept, appeal.
    pub router: bool,
    /// ReviewService: list and resolve appeals.
    pub operator: bool,
    /// PartnerOutcomeService: report outcomes of the acceptances of one channel
    /// (`Caller::adapter_id`).
    pub partner: bool,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The config id of the key (safe to log).
    pub key_id: String,
    pub tenant: String,
    pub roles: Roles,
    /// The channel a `partner` key reports for (`[[auth.keys]].adapter_id`);
    /// `None` for other keys and the open router (whose one caller may
    /// report for any channel).
    pub adapter_id: Option<String>,
}

impl Caller {
    fn open() -> Caller {
        Caller {
            key_id: "open".into(),
            tenant: OPEN_TENANT.into(),
            roles: Roles {
                router: true,
                operator: true,
                partner: true,
            },
            adapter_id: None,
        }
    }
}

/// Which role a service needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Router,
    Operator,
    Partner,
}

type Limiter = governor::DefaultDirectRateLimiter;

/// A caller and its rate limiter.
#[derive(Debug)]
struct Entry {
    caller: Caller,
    limiter: Limiter,
    rate: u32,
}

/// The configured keys. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// sha256 of the key -> caller.
    keys: Arc<HashMap<[u8; 32], Entry>>,
    /// The open router's single caller, when no key is configured.
    open: Arc<Entry>,
}

fn entry(caller: Caller, rate: u32, burst: u32) -> Entry {
    let per = std::num::NonZeroU32::new(rate.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    let burst = std::num::NonZeroU32::new(burst.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    Entry {
        caller,
        limiter: governor::RateLimiter::direct(governor::Quota::per_second(per).allow_burst(burst)),
        rate: rate.max(1),
    }
}

impl Authenticator {
    /// Builds from `[auth]`; errors name the key.
    pub fn from_config(auth: &AuthConfig) -> Result<Authenticator, ConfigError> {
        let mut keys = HashMap::new();
        for (i, k) in auth.keys.iter().enumerate() {
            let field = |name: &str| format!("auth.keys[{i}].{name}");
            let invalid = |name: &str, message: &str| ConfigError::Invalid {
                key: field(name),
                message: message.into(),
            };
            // `sha256sum` prints `<hex>  -` for its standard input: the
            // digest pasted with its marker is accepted as the digest.
            let hex_digest = k.sha256.trim();
            let hex_digest = hex_digest
                .strip_suffix('-')
                .map_or(hex_digest, str::trim_end);
            let digest: [u8; 32] = hex::decode(hex_digest)
                .ok()
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| invalid("sha256", "64 hex digits: the sha256 of the api key"))?;
            if k.tenant.is_empty() || k.tenant.len() > 64 {
                return Err(invalid("tenant", "required, at most 64 bytes"));
            }
            let mut roles = Roles::default();
            for r in &k.roles {
                match r.as_str() {
                    "router" => roles.router = true,
                    "operator" => roles.operator = true,
                    "partner" => roles.partner = true,
                    _ => return Err(invalid("roles", "each one of router, operator, partner")),
                }
            }
            if roles == Roles::default() {
                return Err(invalid(
                    "roles",
                    "at least one of router, operator, partner",
                ));
            }
            // A partner key speaks for one channel, and only as a partner:
            // the lender must not route, accept or review for the platform.
            let adapter_id = match (&k.adapter_id, roles.partner) {
                (Some(a), true) if !a.is_empty() && a.len() <= 64 => Some(a.clone()),
                (_, true) => {
                    return Err(invalid(
                        "adapter_id",
                        "required with the partner role: the [[adapters]] id whose acceptances the key reports on (at most 64 bytes)",
                    ));
                }
                (Some(_), false) => {
                    return Err(invalid(
                        "adapter_id",
                        "only with the partner role (roles = [\"partner\"])",
                    ));
                }
                (None, false) => None,
            };
            if roles.partner && (roles.router || roles.operator) {
                return Err(invalid(
                    "roles",
                    "a partner key has the partner role only (give the platform its own key)",
                ));
            }
            let caller = Caller {
                key_id: k.id.clone(),
                tenant: k.tenant.clone(),
                roles,
                adapter_id,
            };
            let rate = k.rate_per_second.unwrap_or(auth.default_rate_per_second);
            let burst = k.burst.unwrap_or(auth.default_burst);
            if rate == 0 || burst == 0 {
                return Err(invalid(
                    "rate_per_second",
                    "rate and burst must be at least 1",
                ));
            }
            if keys.insert(digest, entry(caller, rate, burst)).is_some() {
                return Err(invalid("sha256", "the same key is listed twice"));
            }
        }
        if auth.default_rate_per_second == 0 || auth.default_burst == 0 {
            return Err(ConfigError::Invalid {
                key: "auth.default_rate_per_second".into(),
                message: "rate and burst must be at least 1".into(),
            });
        }
        Ok(Authenticator {
            keys: Arc::new(keys),
            open: Arc::new(entry(
                Caller::open(),
                auth.default_rate_per_second,
                auth.default_burst,
            )),
        })
    }

    /// True when no key is configured.
    pub fn is_open(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many api keys are configured.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Refuses an open router on a non-loopback address unless allowed.
    pub fn check_listen(&self, addr: SocketAddr, allow_open: bool) -> Result<(), ConfigError> {
        if self.is_open() && !addr.ip().is_loopback() && !allow_open {
            return Err(ConfigError::Invalid {
                key: "auth.keys".into(),
                message: format!(
                    "no api keys configured and {addr} is not a loopback address: add [[auth.keys]] or set auth.allow_open = true"
                ),
            });
        }
        Ok(())
    }

    /// The caller of a request with this `authorization` value, counted
    /// against its rate limit.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, Status> {
        let entry = self.entry(authorization)?;
        // The open router (loopback, no keys) is not rate limited: its one
        // caller is whoever runs it.
        if !self.is_open() && entry.limiter.check().is_err() {
            tracing::warn!(key = %entry.caller.key_id, "call refused: rate limit");
            return Err(error_status(
                Code::ResourceExhausted,
                format!(
                    "rate limit of {} calls per second for this api key; retry with backoff",
                    entry.rate
                ),
                Reason::RateLimited,
                &[("rate_per_second", &entry.rate.to_string())],
            ));
        }
        Ok(entry.caller.clone())
    }

    fn entry(&self, authorization: Option<&str>) -> Result<&Entry, Status> {
        if self.is_open() {
            return Ok(&self.open);
        }
        let Some(value) = authorization else {
            return Err(error_status(
                Code::Unauthenticated,
                "missing `authorization: Bearer <api key>` metadata",
                Reason::ApiKeyMissing,
                &[],
            ));
        };
        let Some(key) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return Err(error_status(
                Code::Unauthenticated,
                "authorization must use the Bearer scheme: `Bearer <api key>`",
                Reason::ApiKeyMalformed,
                &[],
            ));
        };
        let digest: [u8; 32] = Sha256::digest(key.trim().as_bytes()).into();
        self.keys.get(&digest).ok_or_else(|| {
            error_status(
                Code::Unauthenticated,
                "unknown api key",
                Reason::ApiKeyUnknown,
                &[],
            )
        })
    }

    /// A tonic interceptor for a service needing `need`.
    pub fn interceptor(
        &self,
        need: Need,
    ) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone + use<> {
        let auth = self.clone();
        move |mut req: Request<()>| {
            let header = req
                .metadata()
                .get("authorization")
                .map(|v| v.to_str().unwrap_or(""));
            let caller = auth.authenticate(header)?;
            let allowed = match need {
                Need::Router => caller.roles.router,
                Need::Operator => caller.roles.operator,
                Need::Partner => caller.roles.partner,
            };
            if !allowed {
                tracing::warn!(key = %caller.key_id, ?need, "call refused: role missing");
                let (message, role) = match need {
                    Need::Router => ("this api key lacks the `router` role", "router"),
                    Need::Operator => (
                        "ReviewService needs an api key with the `operator` role",
                        "operator",
                    ),
                    Need::Partner => (
                        "PartnerOutcomeService needs an api key with the `partner` role",
                        "partner",
                    ),
                };
                return Err(error_status(
                    Code::PermissionDenied,
                    message,
                    Reason::RoleRequired,
                    &[("role", role)],
                ));
            }
            req.extensions_mut().insert(caller);
            Ok(req)
        }
    }
}

/// The caller the interceptor put on `req`; an open router's caller if
/// none (requests built in-process without the interceptor).
pub fn caller_of<T>(req: &Request<T>) -> Caller {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(Caller::open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiKeyConfig;

    fn auth() -> Authenticator {
        Authenticator::from_config(&AuthConfig {
            keys: vec![
                ApiKeyConfig {
                    id: "mobile".into(),
                    sha256: hex::encode(Sha256::digest(b"secret-a")),
                    tenant: "platform-a".into(),
                    roles: vec!["router".into()],
                    rate_per_second: None,
                    burst: None,
                    adapter_id: None,
                },
                ApiKeyConfig {
                    id: "ops".into(),
                    sha256: hex::encode(Sha256::digest(b"secret-o")),
                    tenant: "platform-a".into(),
                    roles: vec!["operator".into()],
                    rate_per_second: Some(1),
                    burst: Some(2),
                    adapter_id: None,
                },
            ],
            ..AuthConfig::default()
        })
        .expect("valid keys")
    }

    #[test]
    fn keys_map_to_tenants_and_bad_headers_are_unauthenticated() {
        let a = auth();
        let c = a.authenticate(Some("Bearer secret-a")).expect("known key");
        assert_eq!(c.tenant, "platform-a");
        assert!(c.roles.router && !c.roles.operator);
        for bad in [
            None,
            Some("secret-a"),
            Some("Basic secret-a"),
            Some("Bearer nope"),
        ] {
            let s = a.authenticate(bad).expect_err("refused");
            assert_eq!(s.code(), tonic::Code::Unauthenticated);
            assert!(!s.message().contains("secret"), "{}", s.message());
        }
    }

    #[test]
    fn each_key_has_its_own_rate_limit() {
        let a = auth();
        // ops: 1/s with a burst of 2; mobile: the default.
        assert!(a.authenticate(Some("Bearer secret-o")).is_ok());
        assert!(a.authenticate(Some("Bearer secret-o")).is_ok());
        let s = a
            .authenticate(Some("Bearer secret-o"))
            .expect_err("over the burst");
        assert_eq!(s.code(), tonic::Code::ResourceExhausted);
        assert!(
            a.authenticate(Some("Bearer secret-a")).is_ok(),
            "other keys unaffected"
        );
    }

    #[test]
    fn an_open_router_is_refused_off_loopback_unless_allowed() {
        let open = Authenticator::from_config(&AuthConfig::default()).expect("no keys");
        let public: SocketAddr = "0.0.0.0:50051".parse().expect("addr");
        let local: SocketAddr = "127.0.0.1:50051".parse().expect("addr");
        assert!(open.check_listen(public, false).is_err());
        assert!(open.check_listen(public, true).is_ok());
        assert!(open.check_listen(local, false).is_ok());
        assert!(auth().check_listen(public, false).is_ok());
    }

    #[test]
    fn bad_key_entries_name_the_field() {
        let e = Authenticator::from_config(&AuthConfig {
            keys: vec![ApiKeyConfig {
                id: "x".into(),
                sha256: "abc".into(),
                tenant: "t".into(),
                roles: vec!["router".into()],
                rate_per_second: None,
                burst: None,
                adapter_id: None,
            }],
            ..AuthConfig::default()
        })
        .expect_err("short hash");
        assert!(e.to_string().contains("auth.keys[0].sha256"), "{e}");
    }

    fn partner_key(roles: &[&str], adapter: Option<&str>) -> ApiKeyConfig {
        ApiKeyConfig {
            id: "bank-a".into(),
            sha256: hex::encode(Sha256::digest(b"secret-p")),
            tenant: "platform-a".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            rate_per_second: None,
            burst: None,
            adapter_id: adapter.map(str::to_owned),
        }
    }

    #[test]
    fn a_partner_key_names_its_channel_and_has_no_other_role() {
        let a = Authenticator::from_config(&AuthConfig {
            keys: vec![partner_key(&["partner"], Some("bank-a"))],
            ..AuthConfig::default()
        })
        .expect("valid partner key");
        let c = a.authenticate(Some("Bearer secret-p")).expect("known key");
        assert!(c.roles.partner && !c.roles.router && !c.roles.operator);
        assert_eq!(c.adapter_id.as_deref(), Some("bank-a"));
        for (key, field) in [
            (partner_key(&["partner"], None), "auth.keys[0].adapter_id"),
            (
                partner_key(&["partner"], Some("")),
                "auth.keys[0].adapter_id",
            ),
            (
                partner_key(&["router"], Some("bank-a")),
                "auth.keys[0].adapter_id",
            ),
            (
                partner_key(&["partner", "operator"], Some("bank-a")),
                "auth.keys[0].roles",
            ),
        ] {
            let e = Authenticator::from_config(&AuthConfig {
                keys: vec![key],
                ..AuthConfig::default()
            })
            .expect_err(field);
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn each_service_needs_its_role() {
        let a = auth();
        let partner = Authenticator::from_config(&AuthConfig {
            keys: vec![partner_key(&["partner"], Some("bank-a"))],
            ..AuthConfig::default()
        })
        .expect("valid");
        let call = |secret: &str| {
            let mut r = Request::new(());
            r.metadata_mut().insert(
                "authorization",
                format!("Bearer {secret}").parse().expect("ascii"),
            );
            r
        };
        assert!((partner.interceptor(Need::Partner))(call("secret-p")).is_ok());
        let s = (partner.interceptor(Need::Router))(call("secret-p")).expect_err("no router role");
        assert_eq!(s.code(), Code::PermissionDenied);
        let s = (a.interceptor(Need::Partner))(call("secret-a")).expect_err("no partner role");
        assert_eq!(s.code(), Code::PermissionDenied);
        assert!(s.message().contains("partner"), "{}", s.message());
        let open = Authenticator::from_config(&AuthConfig::default()).expect("open");
        assert!((open.interceptor(Need::Partner))(call("anything")).is_ok());
    }

    #[test]
    fn sha256sum_output_is_accepted_as_pasted() {
        let digest = hex::encode(Sha256::digest(b"secret-s"));
        let a = Authenticator::from_config(&AuthConfig {
            keys: vec![ApiKeyConfig {
                id: "s".into(),
                sha256: format!("{digest}  -"),
                tenant: "t".into(),
                roles: vec!["router".into()],
                rate_per_second: None,
                burst: None,
                adapter_id: None,
            }],
            ..AuthConfig::default()
        })
        .expect("sha256sum's own output");
        assert!(a.authenticate(Some("Bearer secret-s")).is_ok());
    }
}

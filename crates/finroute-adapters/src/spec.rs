//! The `[[adapters]]` config entry, which is also the factory of the running
//! adapter: adding a built-in kind is one file, one [`AdapterKind`] variant
//! and one arm in [`AdapterSpec::build`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Adapter, installment, partner_sim, remote, secured};

/// Default per-channel budget when the entry sets none.
pub const DEFAULT_TIMEOUT_MS: u64 = 300;
/// Default in-flight limit per channel.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;
/// Default late window: how long after the reply a channel still working
/// may go on answering (its offers become late offers).
pub const DEFAULT_LATE_WINDOW_MS: u64 = 3_000;
/// Longest late window.
pub const MAX_LATE_WINDOW_MS: u64 = 60_000;

/// One `[[adapters]]` entry: the channel's id, its limits and its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterSpec {
    /// The channel's id: names it in offers, reports and outcomes.
    pub id: String,
    /// Most time one quote may take.
    pub timeout_ms: u64,
    /// Most concurrent calls to this channel.
    pub max_in_flight: usize,
    /// How long after the router replied a call still working may go on
    /// (never past `timeout_ms` from its start); 0 = cut at the reply.
    pub late_window_ms: u64,
    /// What the channel is, with its kind-specific settings.
    pub kind: AdapterKind,
}

/// The kinds of channel, tagged by `kind = "..."` in config.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AdapterKind {
    /// A partner's `FinancingAdapter` server reached over gRPC.
    Remote(remote::Config),
    /// Built-in secured loans against the applicant's collateral.
    Secured(secured::Config),
    /// Built-in installment products with flat monthly fees.
    Installment(installment::Config),
    /// A built-in simulated partner institution (for the demo and tests).
    PartnerSim(partner_sim::Config),
}

impl AdapterKind {
    /// The config name of the kind.
    pub fn name(&self) -> &'static str {
        match self {
            AdapterKind::Remote(_) => "remote",
            AdapterKind::Secured(_) => "secured",
            AdapterKind::Installment(_) => "installment",
            AdapterKind::PartnerSim(_) => "partner_sim",
        }
    }
}

/// `[adapters.lender]` of a built-in channel: the lender of record of its
/// loans, named in its description (docs/disclosure.md).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LenderConfig {
    /// Registered legal name (required, non-empty).
    pub legal_name: String,
    /// Official registration id (e.g. the unified social credit code).
    #[serde(default)]
    pub registration_id: String,
    /// How a borrower reaches the lender.
    #[serde(default)]
    pub contact: String,
    /// What kind of institution it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lender_type: Option<finroute_core::LenderType>,
}

impl LenderConfig {
    /// The lender as a party of the channel's description; an empty legal
    /// name is an error naming the key.
    pub fn parties(lender: Option<&LenderConfig>) -> Result<Vec<finroute_core::Party>, String> {
        let Some(l) = lender else {
            return Ok(Vec::new());
        };
        if l.legal_name.trim().is_empty() {
            return Err("`lender.legal_name` must not be empty".into());
        }
        Ok(vec![finroute_core::Party {
            role: finroute_core::PartyRole::Lender,
            legal_name: finroute_core::text::clean(&l.legal_name, 200),
            registration_id: finroute_core::text::clean(&l.registration_id, 100),
            contact: finroute_core::text::clean(&l.contact, 200),
            lender_type: l.lender_type,
        }])
    }
}

/// Why an adapter could not be built from its entry.
#[derive(Debug, thiserror::Error)]
#[error("adapters[{id}]: {message}")]
pub struct BuildError {
    pub id: String,
    pub message: String,
}

impl AdapterSpec {
    /// Builds the running adapter.
    pub fn build(&self) -> Result<Arc<dyn Adapter>, BuildError> {
        let err = |message: String| BuildError {
            id: self.id.clone(),
            message,
        };
        Ok(match &self.kind {
            AdapterKind::Remote(c) => Arc::new(remote::RemoteAdapter::build(c).map_err(err)?),
            AdapterKind::Secured(c) => Arc::new(secured::Secured::build(c).map_err(err)?),
            AdapterKind::Installment(c) => {
                Arc::new(installment::Installment::build(c).map_err(err)?)
            }
            AdapterKind::PartnerSim(c) => {
                Arc::new(partner_sim::PartnerSim::build(&self.id, c).map_err(err)?)
            }
        })
    }

    /// The embedded default's channels: one of each built-in kind with its demo catalog.
    pub fn embedded_default() -> Vec<AdapterSpec> {
        let spec = |id: &str, kind| AdapterSpec {
            id: id.to_owned(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            late_window_ms: DEFAULT_LATE_WINDOW_MS,
            kind,
        };
        vec![
            spec("secured", AdapterKind::Secured(secured::Config::default())),
            spec(
                "installment",
                AdapterKind::Installment(installment::Config::default()),
            ),
            spec(
                "partner-sim",
                AdapterKind::PartnerSim(partner_sim::Config::default()),
            ),
        ]
    }
}

/// Keys every entry has, whatever its kind.
const COMMON_KEYS: [&str; 4] = ["id", "timeout_ms", "max_in_flight", "late_window_ms"];

impl<'de> Deserialize<'de> for AdapterSpec {
    /// Splits the common keys from the kind's own, so that each kind's
    /// `Config` can `deny_unknown_fields` (serde's `flatten` would defeat it).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let id = match table.remove("id") {
            Some(toml::Value::String(s)) if !s.trim().is_empty() => s,
            Some(_) => return Err(D::Error::custom("`id` must be a non-empty string")),
            None => return Err(D::Error::missing_field("id")),
        };
        let int = |table: &mut toml::Table, key: &str, default: u64| -> Result<u64, D::Error> {
            match table.remove(key) {
                None => Ok(default),
                Some(toml::Value::Integer(n)) if n > 0 => Ok(n as u64),
                Some(_) => Err(D::Error::custom(format!(
                    "adapters[{id}]: `{key}` must be a positive integer"
                ))),
            }
        };
        let timeout_ms = int(&mut table, COMMON_KEYS[1], DEFAULT_TIMEOUT_MS)?;
        let max_in_flight = int(&mut table, COMMON_KEYS[2], DEFAULT_MAX_IN_FLIGHT as u64)? as usize;
        let late_window_ms = match table.remove(COMMON_KEYS[3]) {
            None => DEFAULT_LATE_WINDOW_MS,
            Some(toml::Value::Integer(n)) if (0..=MAX_LATE_WINDOW_MS as i64).contains(&n) => {
                n as u64
            }
            Some(_) => {
                return Err(D::Error::custom(format!(
                    "adapters[{id}]: `late_window_ms` must be an integer within 0..={MAX_LATE_WINDOW_MS}"
                )));
            }
        };
        let kind = AdapterKind::deserialize(toml::Value::Table(table))
            .map_err(|e| D::Error::custom(format!("adapters[{id}]: {}", e.message())))?;
        Ok(AdapterSpec {
            id,
            timeout_ms,
            max_in_flight,
            late_window_ms,
            kind,
        })
    }
}

impl Serialize for AdapterSpec {
    /// The entry as config writes it: the common keys next to `kind` and
    /// the kind's own keys in one table (what [`Deserialize`] reads back).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut table = toml::Table::try_from(&self.kind).map_err(S::Error::custom)?;
        let int = |n: u64| i64::try_from(n).map_err(S::Error::custom);
        table.insert(COMMON_KEYS[0].into(), self.id.clone().into());
        table.insert(COMMON_KEYS[1].into(), int(self.timeout_ms)?.into());
        table.insert(
            COMMON_KEYS[2].into(),
            int(self.max_in_flight as u64)?.into(),
        );
        table.insert(COMMON_KEYS[3].into(), int(self.late_window_ms)?.into());
        table.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize)]
    struct Wrapper {
        adapters: Vec<AdapterSpec>,
    }

    fn parse(s: &str) -> Result<Vec<AdapterSpec>, String> {
        toml::from_str::<Wrapper>(s)
            .map(|w| w.adapters)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn remote_entry_parses_with_defaults() {
        let a = parse("[[adapters]]\nid = \"bank-a\"\nkind = \"remote\"\nendpoint = \"http://127.0.0.1:50061\"\n")
            .expect("valid");
        assert_eq!(a[0].id, "bank-a");
        assert_eq!(a[0].timeout_ms, DEFAULT_TIMEOUT_MS);
        assert!(matches!(a[0].kind, AdapterKind::Remote(_)));
    }

    #[test]
    fn misspelt_kind_key_is_rejected_and_named() {
        let e =
            parse("[[adapters]]\nid = \"bank-a\"\nkind = \"remote\"\nendpoitn = \"http://x\"\n")
                .expect_err("misspelt key");
        assert!(e.contains("endpoitn"), "{e}");
        assert!(e.contains("bank-a"), "{e}");
    }

    #[test]
    fn misspelt_key_in_builtin_catalog_is_rejected() {
        let e = parse("[[adapters]]\nid = \"i\"\nkind = \"installment\"\n[[adapters.products]]\nperiods = 3\nmonthly_fee_rate_bp = 75\n")
            .expect_err("misspelt key");
        assert!(e.contains("monthly_fee_rate_bp"), "{e}");
    }

    #[test]
    fn unknown_kind_and_missing_id_are_rejected() {
        assert!(
            parse("[[adapters]]\nid = \"x\"\nkind = \"teleport\"\n")
                .expect_err("kind")
                .contains("teleport")
        );
        assert!(
            parse("[[adapters]]\nkind = \"secured\"\n")
                .expect_err("id")
                .contains("id")
        );
        assert!(
            parse("[[adapters]]\nid = \"x\"\nkind = \"secured\"\ntimeout_ms = -3\n")
                .expect_err("t")
                .contains("timeout_ms")
        );
    }

    #[test]
    fn entries_serialize_to_what_parses_back() {
        let mut specs = AdapterSpec::embedded_default();
        specs.extend(parse("[[adapters]]\nid = \"bank-a\"\nkind = \"remote\"\nendpoint = \"https://127.0.0.1:50061\"\ntimeout_ms = 250\n[adapters.tls]\nca_file = \"ca.pem\"\n").expect("valid"));
        let text = toml::to_string(&Wrapper {
            adapters: specs.clone(),
        })
        .expect("serializes");
        assert_eq!(parse(&text).expect("parses back"), specs);
    }

    #[test]
    fn a_builtin_lender_is_described_and_misspelt_keys_refused() {
        let a = parse("[[adapters]]\nid = \"s\"\nkind = \"secured\"\n[adapters.lender]\nlegal_name = \"Bank A\"\nregistration_id = \"913100\"\nlender_type = \"bank\"\n")
            .expect("valid");
        let AdapterKind::Secured(c) = &a[0].kind else {
            panic!("secured")
        };
        let parties = LenderConfig::parties(c.lender.as_ref()).expect("named");
        assert_eq!(parties[0].key(), "913100");
        assert_eq!(
            parties[0].lender_type,
            Some(finroute_core::LenderType::Bank)
        );
        let e = parse("[[adapters]]\nid = \"i\"\nkind = \"installment\"\n[adapters.lender]\nlegal_nam = \"x\"\n")
            .expect_err("misspelt");
        assert!(e.contains("legal_nam"), "{e}");
        let empty = parse("[[adapters]]\nid = \"i\"\nkind = \"installment\"\n[adapters.lender]\nlegal_name = \" \"\n")
            .expect("parses");
        let Err(e) = empty[0].build() else {
            panic!("an empty lender name is refused")
        };
        assert!(e.to_string().contains("lender.legal_name"), "{e}");
    }

    #[test]
    fn embedded_default_builds() {
        for spec in AdapterSpec::embedded_default() {
            spec.build().expect("demo catalog builds");
        }
    }
}

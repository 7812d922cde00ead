//! Partner name-lists (`docs/disclosure.md`, "Partner name-lists"): each
//! lender's published list of the platforms and guarantors it works with,
//! versioned and dated. The operator names a TOML file
//! (`compliance.partner_lists_file`); every version in it is stored
//! (append-only, `finroute_store::Store::insert_partner_list`) and the
//! in-memory [`ListIndex`] is rebuilt from the store, so the history
//! survives restarts and a version removed from the file stays on record.
//! The file is read at start (a bad file refuses the start, naming the
//! entry) and again on SIGHUP or when its content changes (polled every
//! `compliance.partner_lists_poll_ms`); a reload that fails keeps the
//! lists in force and logs why.
//!
//! The fan-out asks [`ListIndex::check`] about every priced offer: the
//! version in force for its lender is the one with the greatest
//! `effective_from` not after now, and the offer's platform and every
//! guarantor must be on it.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use finroute_core::{
    Charge, ChargeKind, PartnerListCheck, Party, PartyRole, UnixMillis, disclosure::lender_of,
};
use finroute_store::{PartnerListRecord, Store, StoreError};
use serde::{Deserialize, Serialize};

/// Longest lender, version or entry key in a list file.
const MAX_KEY: usize = 200;

/// One version of one lender's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListVersion {
    /// The lender's registration id (or legal name).
    pub lender: String,
    /// The lender's name for the version.
    pub version: String,
    /// From when it is in force (ms since the Unix epoch).
    pub effective_from: UnixMillis,
    /// The entries.
    pub entries: Entries,
}

/// What a list names: platform and guarantor keys (registration ids or
/// legal names). Serialized sorted, as the store compares it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entries {
    /// Platforms the lender works with.
    #[serde(default)]
    pub platforms: BTreeSet<String>,
    /// Guarantors the lender works with.
    #[serde(default)]
    pub guarantors: BTreeSet<String>,
}

/// Every stored version, by lender, oldest first.
#[derive(Debug, Clone, Default)]
pub struct ListIndex {
    by_lender: HashMap<String, Vec<ListVersion>>,
}

/// Why an offer fails the check: the message for its rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotOnList(pub String);

impl ListIndex {
    /// The index over stored versions; a row whose entries do not parse
    /// is an error naming it.
    pub fn from_records(records: &[PartnerListRecord]) -> Result<ListIndex, String> {
        let mut by_lender: HashMap<String, Vec<ListVersion>> = HashMap::new();
        for r in records {
            let entries: Entries = serde_json::from_str(&r.entries).map_err(|e| {
                format!(
                    "stored partner list {} version {}: {e}",
                    r.lender, r.version
                )
            })?;
            by_lender
                .entry(r.lender.clone())
                .or_default()
                .push(ListVersion {
                    lender: r.lender.clone(),
                    version: r.version.clone(),
                    effective_from: r.effective_from_ms,
                    entries,
                });
        }
        for versions in by_lender.values_mut() {
            versions.sort_by(|a, b| {
                (a.effective_from, &a.version).cmp(&(b.effective_from, &b.version))
            });
        }
        Ok(ListIndex { by_lender })
    }

    /// How many versions are indexed.
    pub fn len(&self) -> usize {
        self.by_lender.values().map(Vec::len).sum()
    }

    /// Whether no version is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_lender.is_empty()
    }

    /// The stored version `version` of `lender`'s list.
    pub fn get(&self, lender: &str, version: &str) -> Option<&ListVersion> {
        (self.by_lender.get(lender)?)
            .iter()
            .find(|v| v.version == version)
    }

    /// The version of `lender`'s list in force at `now`: the greatest
    /// `effective_from` not after `now` (on a tie, the greatest version name).
    pub fn in_force(&self, lender: &str, now: UnixMillis) -> Option<&ListVersion> {
        (self.by_lender.get(lender)?)
            .iter()
            .rev()
            .find(|v| v.effective_from <= now)
    }

    /// The list in force for `lender`, by its registration id, else its
    /// legal name.
    fn for_party(&self, lender: &Party, now: UnixMillis) -> Option<&ListVersion> {
        [lender.registration_id.as_str(), lender.legal_name.as_str()]
            .into_iter()
            .filter(|k| !k.is_empty())
            .find_map(|k| self.in_force(k, now))
    }

    /// Checks an offer's parties (merged with its channel's) and charges
    /// against its lender's list in force at `now`. `Ok(Some(..))`: checked
    /// against that version; `Ok(None)`: no lender, or no list for it and
    /// `require` is false; `Err`: not on the list (or no list and
    /// `require`), with a message naming the version and what is missing.
    pub fn check(
        &self,
        parties: &[Party],
        charges: &[Charge],
        require: bool,
        now: UnixMillis,
    ) -> Result<Option<PartnerListCheck>, NotOnList> {
        let Some(lender) = lender_of(parties) else {
            return Ok(None);
        };
        let Some(list) = self.for_party(lender, now) else {
            return if require {
                Err(NotOnList(format!(
                    "no partner list loaded for the lender {}",
                    lender.key()
                )))
            } else {
                Ok(None)
            };
        };
        let on = |set: &BTreeSet<String>, p: &Party| {
            set.contains(&p.registration_id) || set.contains(&p.legal_name)
        };
        let missing = |what: &str, p: &Party| {
            NotOnList(format!(
                "{what} {} is not on the partner list of {} version {}",
                p.key(),
                list.lender,
                list.version
            ))
        };
        for p in parties {
            match p.role {
                PartyRole::Platform if !on(&list.entries.platforms, p) => {
                    return Err(missing("platform", p));
                }
                PartyRole::Guarantor if !on(&list.entries.guarantors, p) => {
                    return Err(missing("guarantor", p));
                }
                _ => {}
            }
        }
        // A guarantee fee paid to a guarantor: that guarantor (the party of
        // that legal name, else the name itself) must be on the list too.
        for c in charges {
            if c.kind != Some(ChargeKind::GuaranteeFee) || c.payee != Some(PartyRole::Guarantor) {
                continue;
            }
            let named = parties
                .iter()
                .find(|p| p.role == PartyRole::Guarantor && p.legal_name == c.payee_name);
            let payee = named.cloned().unwrap_or_else(|| Party {
                role: PartyRole::Guarantor,
                legal_name: c.payee_name.clone(),
                registration_id: String::new(),
                contact: String::new(),
                lender_type: None,
            });
            if !on(&list.entries.guarantors, &payee) {
                return Err(missing("guarantor", &payee));
            }
        }
        Ok(Some(PartnerListCheck {
            lender: list.lender.clone(),
            version: list.version.clone(),
            effective_from: list.effective_from,
        }))
    }
}

/// The list file: `[[lists]]` entries.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    #[serde(default)]
    lists: Vec<FileEntry>,
}

/// One `[[lists]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    lender: String,
    version: String,
    /// `"2026-10-01"` (UTC midnight), `"2026-10-01T08:00:00Z"`, or a TOML
    /// date or date-time.
    effective_from: toml::Value,
    #[serde(default)]
    platforms: Vec<String>,
    #[serde(default)]
    guarantors: Vec<String>,
}

/// A date (`2026-10-01`, UTC midnight) or an RFC 3339 time in UTC
/// (`2026-10-01T08:00:00Z`) as ms since the Unix epoch.
pub fn parse_effective_from(text: &str) -> Result<UnixMillis, String> {
    let text = text.trim();
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    let t = humantime::parse_rfc3339(&full).map_err(|e| {
        format!("`{text}` is not a date (2026-10-01) or a UTC time (2026-10-01T08:00:00Z): {e}")
    })?;
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| format!("`{text}` is before 1970"))?
        .as_millis();
    i64::try_from(ms).map_err(|_| format!("`{text}` is too far ahead"))
}

/// Parses the list file's text into versions; an error names the entry
/// (`lists[2].effective_from: ...`).
pub fn parse_file(text: &str) -> Result<Vec<ListVersion>, String> {
    let file: ListFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut seen = BTreeSet::new();
    let mut versions = Vec::with_capacity(file.lists.len());
    for (i, e) in file.lists.into_iter().enumerate() {
        let field = |name: &str, m: String| format!("lists[{i}].{name}: {m}");
        let key = |name: &str, v: &str| -> Result<String, String> {
            let v = v.trim();
            if v.is_empty() || v.len() > MAX_KEY || v.chars().any(char::is_control) {
                Err(field(
                    name,
                    format!("must be 1..={MAX_KEY} bytes without control characters"),
                ))
            } else {
                Ok(v.to_owned())
            }
        };
        let lender = key("lender", &e.lender)?;
        let version = key("version", &e.version)?;
        let effective_from = match &e.effective_from {
            toml::Value::String(s) => parse_effective_from(s),
            toml::Value::Datetime(d) => parse_effective_from(&d.to_string()),
            _ => Err("must be a date or an RFC 3339 time".to_owned()),
        }
        .map_err(|m| field("effective_from", m))?;
        let mut entries = Entries::default();
        for (name, list, set) in [
            ("platforms", &e.platforms, &mut entries.platforms),
            ("guarantors", &e.guarantors, &mut entries.guarantors),
        ] {
            for (j, v) in list.iter().enumerate() {
                set.insert(key(&format!("{name}[{j}]"), v)?);
            }
        }
        if !seen.insert((lender.clone(), version.clone())) {
            return Err(field(
                "version",
                format!("{lender} version {version} is listed twice"),
            ));
        }
        versions.push(ListVersion {
            lender,
            version,
            effective_from,
            entries,
        });
    }
    Ok(versions)
}

/// The partner lists in force: the file they are loaded from, the store
/// that keeps every version, and the index the fan-out reads.
#[derive(Debug)]
pub struct PartnerLists {
    store: Store,
    file: Option<PathBuf>,
    /// Whether an offer whose lender has no list is refused.
    pub require: bool,
    /// A std lock: held for a clone of the `Arc`, never across an await.
    index: RwLock<Arc<ListIndex>>,
    /// The file's content at the last load, to see a change.
    loaded: Mutex<Option<Vec<u8>>>,
    /// One reload at a time (SIGHUP and the poll may coincide).
    reloading: tokio::sync::Mutex<()>,
}

/// Why the lists could not be (re)loaded; the lists in force stay.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// How a reload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    /// The file was read and stored; `new` versions were new.
    Loaded { new: usize },
    /// The file had not changed since the last load (poll only).
    Unchanged,
}

impl PartnerLists {
    /// Loads the file (when one is named) and builds the index from the
    /// store: the start-up load, whose failure refuses the start.
    pub async fn start(
        store: Store,
        file: Option<PathBuf>,
        require: bool,
    ) -> Result<Arc<PartnerLists>, LoadError> {
        let lists = Arc::new(PartnerLists {
            store,
            file,
            require,
            index: RwLock::new(Arc::new(ListIndex::default())),
            loaded: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
        });
        if lists.file.is_some() {
            lists.reload(true).await?;
        } else {
            lists.rebuild().await?;
        }
        Ok(lists)
    }

    /// A fixed index, without a file (tests of the fan-out).
    pub fn fixed(store: Store, index: ListIndex, require: bool) -> PartnerLists {
        PartnerLists {
            store,
            file: None,
            require,
            index: RwLock::new(Arc::new(index)),
            loaded: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The index in force now.
    pub fn index(&self) -> Arc<ListIndex> {
        match self.index.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The file lists are loaded from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Reads the file and, when it changed since the last load (or
    /// `force`), stores every version in it and rebuilds the index from
    /// the store. On any error nothing in force changes. A version already
    /// stored with other content is an error naming it (versions are never
    /// overwritten; publish a new version instead).
    pub async fn reload(&self, force: bool) -> Result<Reloaded, LoadError> {
        let Some(path) = self.file.clone() else {
            return Ok(Reloaded::Unchanged);
        };
        let _one = self.reloading.lock().await;
        let shown = path.display().to_string();
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|source| LoadError::Read {
                path: shown.clone(),
                source,
            })?;
        if !force
            && self
                .loaded
                .lock()
                .is_ok_and(|l| l.as_deref() == Some(&bytes))
        {
            return Ok(Reloaded::Unchanged);
        }
        let invalid = |message: String| LoadError::Invalid {
            path: shown.clone(),
            message,
        };
        let text = std::str::from_utf8(&bytes).map_err(|e| invalid(e.to_string()))?;
        let versions = parse_file(text).map_err(invalid)?;
        // Refuse the whole file before storing anything when one of its
        // versions would overwrite a stored one.
        let stored =
            ListIndex::from_records(&self.store.partner_lists().await?).map_err(invalid)?;
        for (i, v) in versions.iter().enumerate() {
            if let Some(s) = stored.get(&v.lender, &v.version)
                && (s.effective_from, &s.entries) != (v.effective_from, &v.entries)
            {
                return Err(invalid(format!(
                    "lists[{i}]: {} version {} is already loaded with other content; \
                     a version is never changed, publish a new version",
                    v.lender, v.version
                )));
            }
        }
        let now = now_ms();
        let mut new = 0;
        for v in &versions {
            let entries = serde_json::to_string(&v.entries)
                .map_err(|e| invalid(format!("entries of {}: {e}", v.lender)))?;
            let record = PartnerListRecord {
                lender: v.lender.clone(),
                version: v.version.clone(),
                effective_from_ms: v.effective_from,
                entries,
                loaded_at_ms: now,
            };
            if self.store.insert_partner_list(&record).await?
                == finroute_store::PartnerListWrite::Inserted
            {
                new += 1;
            }
        }
        self.rebuild().await?;
        if let Ok(mut l) = self.loaded.lock() {
            *l = Some(bytes);
        }
        Ok(Reloaded::Loaded { new })
    }

    /// Rebuilds the index from every stored version.
    async fn rebuild(&self) -> Result<(), LoadError> {
        let index = ListIndex::from_records(&self.store.partner_lists().await?).map_err(|m| {
            LoadError::Invalid {
                path: "store".into(),
                message: m,
            }
        })?;
        tracing::info!(versions = index.len(), "partner lists in force");
        if let Ok(mut g) = self.index.write() {
            *g = Arc::new(index);
        }
        Ok(())
    }

    /// Reloads on SIGHUP and whenever the file's content changes (looked
    /// at every `poll`), until `stop` is cancelled. A failed reload is
    /// logged; the lists in force stay.
    pub fn spawn_watch(
        self: &Arc<Self>,
        poll: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        self.file.as_ref()?;
        let lists = self.clone();
        Some(tokio::spawn(async move {
            #[cfg(unix)]
            let mut hup =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "partner lists: cannot listen for SIGHUP");
                        None
                    }
                };
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                #[cfg(unix)]
                let hangup = async {
                    match hup.as_mut() {
                        Some(s) => s.recv().await,
                        None => std::future::pending().await,
                    }
                };
                #[cfg(not(unix))]
                let hangup = std::future::pending::<Option<()>>();
                let force = tokio::select! {
                    () = stop.cancelled() => return,
                    _ = tick.tick() => false,
                    _ = hangup => true,
                };
                lists.reload_logged(force).await;
            }
        }))
    }

    /// [`PartnerLists::reload`], logged.
    pub async fn reload_logged(&self, force: bool) {
        match self.reload(force).await {
            Ok(Reloaded::Unchanged) => {}
            Ok(Reloaded::Loaded { new }) => {
                tracing::info!(new, "partner lists reloaded");
            }
            Err(e) => {
                tracing::error!(error = %e, "partner lists: reload failed; the lists in force stay");
            }
        }
    }
}

fn now_ms() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(role: PartyRole, name: &str, id: &str) -> Party {
        Party::new(role, name, id)
    }

    fn record(
        version: &str,
        from: i64,
        platforms: &[&str],
        guarantors: &[&str],
    ) -> PartnerListRecord {
        let entries = Entries {
            platforms: platforms.iter().map(|s| s.to_string()).collect(),
            guarantors: guarantors.iter().map(|s| s.to_string()).collect(),
        };
        PartnerListRecord {
            lender: "L1".into(),
            version: version.into(),
            effective_from_ms: from,
            entries: serde_json::to_string(&entries).expect("json"),
            loaded_at_ms: 0,
        }
    }

    fn guarantee_fee(payee: &str) -> Charge {
        Charge {
            kind: Some(ChargeKind::GuaranteeFee),
            payee: Some(PartyRole::Guarantor),
            payee_name: payee.into(),
            timing: None,
            amount: None,
            period_rate_bps: 0,
            declinable: false,
            description: String::new(),
        }
    }

    #[test]
    fn the_version_in_force_is_the_latest_not_after_now() {
        let index = ListIndex::from_records(&[
            record("b", 2_000, &[], &[]),
            record("a", 1_000, &[], &[]),
            record("c", 3_000, &[], &[]),
        ])
        .expect("index");
        assert_eq!(index.in_force("L1", 999), None);
        assert_eq!(
            index.in_force("L1", 1_000).map(|v| v.version.as_str()),
            Some("a")
        );
        assert_eq!(
            index.in_force("L1", 2_999).map(|v| v.version.as_str()),
            Some("b")
        );
        assert_eq!(
            index.in_force("L1", i64::MAX).map(|v| v.version.as_str()),
            Some("c")
        );
        assert_eq!(index.in_force("L2", i64::MAX), None);
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn the_check_names_the_missing_party_and_the_version() {
        let index = ListIndex::from_records(&[
            record("v1", 1_000, &["PLAT"], &[]),
            record("v2", 2_000, &["PLAT"], &["GUAR"]),
        ])
        .expect("index");
        let parties = vec![
            party(PartyRole::Lender, "Lender Bank", "L1"),
            party(PartyRole::Platform, "Plat Co", "PLAT"),
            party(PartyRole::Guarantor, "Guar Co", "GUAR"),
        ];
        let e = index
            .check(&parties, &[], false, 1_500)
            .expect_err("v1 lacks GUAR");
        assert!(
            e.0.contains("guarantor GUAR") && e.0.contains("v1"),
            "{}",
            e.0
        );
        let ok = index.check(&parties, &[], false, 2_000).expect("on v2");
        assert_eq!(
            ok,
            Some(PartnerListCheck {
                lender: "L1".into(),
                version: "v2".into(),
                effective_from: 2_000
            })
        );
        // A platform not on the list.
        let mut other = parties.clone();
        other[1] = party(PartyRole::Platform, "Other Plat", "OTHER");
        let e = index
            .check(&other, &[], false, 2_000)
            .expect_err("platform");
        assert!(e.0.contains("platform OTHER"), "{}", e.0);
        // A guarantee fee paid to a guarantor no party names.
        let fee = [guarantee_fee("Shadow Guarantee Ltd")];
        let e = index
            .check(&parties, &fee, false, 2_000)
            .expect_err("fee payee");
        assert!(e.0.contains("Shadow Guarantee Ltd"), "{}", e.0);
        // ... and to the named one: matched through its party.
        assert!(
            index
                .check(&parties, &[guarantee_fee("Guar Co")], false, 2_000)
                .is_ok()
        );
    }

    #[test]
    fn without_a_list_the_setting_decides() {
        let index = ListIndex::default();
        let parties = vec![party(PartyRole::Lender, "Lender Bank", "L9")];
        assert_eq!(index.check(&parties, &[], false, 0), Ok(None));
        let e = index.check(&parties, &[], true, 0).expect_err("required");
        assert!(
            e.0.contains("no partner list") && e.0.contains("L9"),
            "{}",
            e.0
        );
        // No lender at all: nothing to check against.
        assert_eq!(index.check(&[], &[], true, 0), Ok(None));
    }

    #[test]
    fn a_lender_listed_by_legal_name_is_found() {
        let mut r = record("v1", 0, &["Plat Co"], &[]);
        r.lender = "Lender Bank".into();
        let index = ListIndex::from_records(&[r]).expect("index");
        let parties = vec![
            party(PartyRole::Lender, "Lender Bank", "L1"),
            party(PartyRole::Platform, "Plat Co", "PLAT"),
        ];
        let ok = index.check(&parties, &[], true, 0).expect("found by name");
        assert_eq!(ok.map(|c| c.version), Some("v1".into()));
    }

    #[test]
    fn the_file_parses_dates_and_names_bad_entries() {
        let v = parse_file(
            r#"
[[lists]]
lender = "L1"
version = "2026-10"
effective_from = "2026-10-01"
platforms = ["P", "P"]
guarantors = ["G"]

[[lists]]
lender = "L1"
version = "2026-11"
effective_from = 2026-11-01T08:00:00Z
"#,
        )
        .expect("valid");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].effective_from, 1_790_812_800_000);
        assert_eq!(v[0].entries.platforms.len(), 1);
        assert_eq!(v[1].effective_from, 1_793_491_200_000 + 8 * 3_600_000);
        for (text, named) in [
            (
                "[[lists]]\nlender = \"L\"\nversion = \"v\"\neffective_from = \"soon\"\n",
                "lists[0].effective_from",
            ),
            (
                "[[lists]]\nlender = \"\"\nversion = \"v\"\neffective_from = \"2026-01-01\"\n",
                "lists[0].lender",
            ),
            (
                "[[lists]]\nlender = \"L\"\nversion = \"v\"\neffective_from = \"2026-01-01\"\nplatforms = [\"ok\", \"\"]\n",
                "lists[0].platforms[1]",
            ),
            (
                "[[lists]]\nlender = \"L\"\nversion = \"v\"\neffective_from = \"2026-01-01\"\nplatfroms = []\n",
                "platfroms",
            ),
            (
                "[[lists]]\nlender = \"L\"\nversion = \"v\"\neffective_from = \"2026-01-01\"\n[[lists]]\nlender = \"L\"\nversion = \"v\"\neffective_from = \"2026-01-01\"\n",
                "lists[1].version",
            ),
        ] {
            let e = parse_file(text).expect_err(named);
            assert!(e.contains(named), "{named}: {e}");
        }
    }
}

//! `finroute config show`: the effective config, key by key, with where
//! each value came from (the default, the file, or a `FINROUTE_*`
//! variable), secrets redacted.

use std::fmt::Write as _;
use std::path::Path;

use toml::{Table, Value};

use super::{Config, ConfigError, env};

/// Where a key's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Nobody set it.
    Default,
    /// The config file.
    File,
    /// This environment variable.
    Env(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File => f.write_str("file"),
            Source::Env(var) => write!(f, "env {var}"),
        }
    }
}

/// One key of the effective config.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    /// The key's dotted path (`server.listen`); an array of tables is one key.
    pub key: String,
    /// Its value, secrets redacted; `None` when the optional key is not set.
    pub value: Option<Value>,
    /// Where the value came from.
    pub source: Source,
}

/// Placed where a secret was.
pub const REDACTED: &str = "***";

/// The effective config of `file` (the embedded default without one)
/// under the environment `vars`, every key with its source. Its rules are
/// not checked (`finroute config check` does that).
pub fn show<I>(file: Option<&Path>, vars: I) -> Result<Vec<Shown>, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let shape = env::shape()?;
    let (base, from_file) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let parse_error = |message: String| ConfigError::Parse {
                path: path.display().to_string(),
                message,
            };
            let config = Config::parse(&text).map_err(parse_error)?;
            let mut table: Table = toml::from_str(&text).map_err(|e| parse_error(e.to_string()))?;
            env::normalize_durations(&mut table, &shape, "").map_err(parse_error)?;
            (config, table)
        }
        None => (Config::default(), Table::new()),
    };
    let vars: Vec<(String, String)> = vars.into_iter().collect();
    let set_by_env = env::settings_paths(&shape, vars.clone())?;
    let mut effective = base;
    effective.apply_env(vars)?;
    let effective = Table::try_from(&effective).map_err(|e| ConfigError::Invalid {
        key: "config".into(),
        message: format!("cannot list the keys: {e}"),
    })?;
    let mut keys = Vec::new();
    leaves(&shape, &mut Vec::new(), &mut keys);
    Ok(keys
        .into_iter()
        .map(|path| {
            let source = match set_by_env
                .iter()
                .find(|(p, _)| p.starts_with(&path) || path.starts_with(p))
            {
                Some((_, var)) => Source::Env(var.clone()),
                None if lookup(&from_file, &path).is_some() => Source::File,
                None => Source::Default,
            };
            let value = lookup(&effective, &path).map(|v| redact(path.last(), v.clone()));
            Shown {
                key: path.join("."),
                value,
                source,
            }
        })
        .collect())
}

/// Every leaf key path of `table` (arrays whole), in its order.
pub(super) fn leaves(table: &Table, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (key, value) in table {
        path.push(key.clone());
        match value {
            Value::Table(below) => leaves(below, path, out),
            _ => out.push(path.clone()),
        }
        path.pop();
    }
}

fn lookup<'a>(table: &'a Table, path: &[String]) -> Option<&'a Value> {
    let (last, steps) = path.split_last()?;
    let mut here = table;
    for step in steps {
        here = here.get(step)?.as_table()?;
    }
    here.get(last)
}

/// Whether a key by this name holds a secret.
fn is_secret(key: &str) -> bool {
    key == "sha256" || key.contains("secret") || key.contains("password")
}

/// `value` with secrets replaced by [`REDACTED`]: values of secret keys,
/// at any depth, and the `user:password@` of URLs.
pub fn redact(key: Option<&String>, value: Value) -> Value {
    if key.is_some_and(|k| is_secret(k)) {
        return Value::String(REDACTED.into());
    }
    match value {
        Value::String(s) => Value::String(redact_url(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| redact(None, v)).collect()),
        Value::Table(table) => Value::Table(
            table
                .into_iter()
                .map(|(k, v)| {
                    let v = redact(Some(&k), v);
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// A URL with any `user:password@` masked.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://{REDACTED}@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The keys as TOML: each `[section]`, then `key = value  # source`
/// (unset optional keys as comments). Top-level keys come first, as TOML
/// asks.
pub fn render(shown: &[Shown]) -> String {
    let mut out = String::new();
    let mut top: Vec<&Shown> = Vec::new();
    let mut sections: Vec<(&str, Vec<(&str, &Shown)>)> = Vec::new();
    for s in shown {
        match s.key.split_once('.') {
            None => top.push(s),
            Some((section, rest)) => match sections.iter_mut().find(|(n, _)| *n == section) {
                Some((_, keys)) => keys.push((rest, s)),
                None => sections.push((section, vec![(rest, s)])),
            },
        }
    }
    let line = |out: &mut String, key: &str, s: &Shown| {
        let _ = match &s.value {
            Some(v) => writeln!(out, "{key} = {}  # {}", inline(v), s.source),
            None => writeln!(out, "# {key}: not set  # {}", s.source),
        };
    };
    for s in top {
        line(&mut out, &s.key, s);
    }
    for (section, keys) in sections {
        let _ = writeln!(out, "\n[{section}]");
        for (key, s) in keys {
            line(&mut out, key, s);
        }
    }
    out
}

/// A value on one line (tables inline).
fn inline(value: &Value) -> String {
    match value {
        Value::Table(t) => {
            let fields: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{} = {}", key_text(k), inline(v)))
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn key_text(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        Value::String(key.to_owned()).to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn vars<const N: usize>(pairs: [(&str, &str); N]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn find<'a>(shown: &'a [Shown], key: &str) -> &'a Shown {
        shown.iter().find(|s| s.key == key).unwrap()
    }

    #[test]
    fn each_key_names_its_source_and_secrets_are_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("finroute.toml");
        std::fs::write(
            &file,
            r#"
[server]
shutdown_grace = "3s"

[store]
url = "postgres://finroute:hunter2@db:5432/finroute"

[[auth.keys]]
id = "mobile"
sha256 = "4f9c2b6a0d3e8f1a7b5c9d2e6f0a3b8c1d4e7f2a5b8c0d3e6f9a2b5c8d1e4f7a"
tenant = "t1"
roles = ["router"]

[[webhooks]]
tenant = "t1"
url = "https://platform.example/hook"
secret = "whsec-s3cr3t-value-0001"
"#,
        )
        .unwrap();
        let shown = show(
            Some(&file),
            vars([
                ("FINROUTE_ROUTING_DEADLINE_MS", "900"),
                ("FINROUTE_TEST_DATABASE_URL", "ignored"),
            ]),
        )
        .unwrap();
        let grace = find(&shown, "server.shutdown_grace_ms");
        assert_eq!(grace.source, Source::File);
        assert_eq!(grace.value, Some(Value::Integer(3000)));
        let deadline = find(&shown, "routing.deadline_ms");
        assert_eq!(
            deadline.source,
            Source::Env("FINROUTE_ROUTING_DEADLINE_MS".into())
        );
        assert_eq!(deadline.value, Some(Value::Integer(900)));
        assert_eq!(find(&shown, "server.listen").source, Source::Default);
        assert_eq!(find(&shown, "server.tls.cert_file").value, None);
        let text = render(&shown);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("4f9c2b6a"), "{text}");
        assert!(
            text.contains("url = \"postgres://***@db:5432/finroute\"  # file"),
            "{text}"
        );
        assert!(text.contains("sha256 = \"***\""), "{text}");
        // A webhook's signing secret too.
        assert!(!text.contains("whsec-s3cr3t"), "{text}");
        assert!(text.contains("secret = \"***\""), "{text}");
        assert!(
            text.contains("deadline_ms = 900  # env FINROUTE_ROUTING_DEADLINE_MS"),
            "{text}"
        );
        // The output is TOML again, for every key set.
        let parsed: Table = toml::from_str(&text).unwrap();
        assert!(parsed.contains_key("server"), "{text}");
    }

    #[test]
    fn without_a_file_everything_is_default_or_env() {
        let shown = show(None, vars([("FINROUTE_STORE_URL", "sqlite://x.db")])).unwrap();
        assert!(shown.len() > 20, "every key: {}", shown.len());
        for s in &shown {
            if s.key == "store.url" {
                assert_eq!(s.source, Source::Env("FINROUTE_STORE_URL".into()));
            } else {
                assert_eq!(s.source, Source::Default, "{}", s.key);
            }
        }
        let bad = show(None, vars([("FINROUTE_ROUTING_NO_SUCH", "1")])).unwrap_err();
        assert!(
            bad.to_string().contains("FINROUTE_ROUTING_NO_SUCH"),
            "{bad}"
        );
    }
}

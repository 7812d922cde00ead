//! The config as a TOML value tree: `FINROUTE_<SECTION>_<KEY>` environment
//! overrides for every key, and durations written `X = "5s"` next to the
//! `X_ms = 5000` keys.
//!
//! Both work on the *shape*: [`Config::with_every_key`] serialised, the
//! tree of every key the config has with a value of each key's type. A
//! variable's name is resolved against it one table at a time (single
//! underscores join words and levels alike, so `FINROUTE_SERVER_TLS_CERT_FILE`
//! is `server.tls.cert_file` because `server` has a table `tls` with a key
//! `cert_file`), its value is read as that key's type, and the result goes
//! through the same deserialisation and `validate` as the file. A new key
//! needs no code here: it has a variable as soon as it is in the config.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use toml::{Table, Value};

use super::{Config, ConfigError};

/// The prefix of every config variable.
pub(super) const PREFIX: &str = "FINROUTE_";

/// Every key of the config with a value of its type (optional keys
/// included).
pub(super) fn shape() -> Result<Table, ConfigError> {
    Table::try_from(Config::with_every_key()).map_err(|e| ConfigError::Invalid {
        key: "config".into(),
        message: format!("cannot list the keys: {e}"),
    })
}

/// A table with every duration in its `_ms` form, deserialised; errors
/// name the key.
pub(super) fn from_table(table: Table) -> Result<Config, String> {
    Config::deserialize(table).map_err(|e| e.to_string().trim_end().replace('\n', " "))
}

/// The process's `FINROUTE_` variables. A config variable whose value is
/// not UTF-8 is an error naming it (never a panic); other variables are
/// not read.
pub(super) fn process_vars() -> Result<Vec<(String, String)>, ConfigError> {
    let shape = shape()?;
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else {
            continue;
        };
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        match value.into_string() {
            Ok(value) => vars.push((name.to_owned(), value)),
            Err(_) if is_config(&shape, &rest.to_ascii_lowercase()) => {
                return Err(ConfigError::Invalid {
                    key: name.to_owned(),
                    message: "the value is not UTF-8".into(),
                });
            }
            Err(_) => {}
        }
    }
    Ok(vars)
}

/// Whether `FINROUTE_<rest>` is config's: its first word (or words) is a
/// section.
fn is_config(shape: &Table, rest: &str) -> bool {
    shape
        .keys()
        .any(|s| rest == s || rest.starts_with(&format!("{s}_")))
}

/// One variable that sets a key.
struct Setting {
    var: String,
    /// Where it goes, as written (a duration's last step may be its
    /// human-readable name).
    path: Vec<String>,
    value: Value,
}

/// `config` with the overrides among `vars` applied.
pub(super) fn apply<I>(config: &Config, vars: I) -> Result<Config, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let shape = shape()?;
    let settings = read_settings(&shape, vars)?;
    if settings.is_empty() {
        return Ok(config.clone());
    }
    let base = Table::try_from(config).map_err(|e| ConfigError::Invalid {
        key: "config".into(),
        message: e.to_string(),
    })?;
    let build = |settings: &[&Setting]| -> Result<Config, String> {
        let mut table = base.clone();
        for s in settings {
            insert(&mut table, &shape, &s.path, s.value.clone())?;
        }
        normalize_durations(&mut table, &shape, "")?;
        from_table(table)
    };
    let all: Vec<&Setting> = settings.iter().collect();
    build(&all).map_err(|message| {
        // Name the variable whose value does not fit its key.
        for s in &settings {
            if let Err(message) = build(&[s]) {
                return ConfigError::Invalid {
                    key: s.var.clone(),
                    message,
                };
            }
        }
        ConfigError::Invalid {
            key: "environment".into(),
            message,
        }
    })
}

/// The key paths (canonical: durations as `_ms`) the config variables
/// among `vars` set, each with its variable; errors name the variable.
pub(super) fn settings_paths<I>(
    shape: &Table,
    vars: I,
) -> Result<Vec<(Vec<String>, String)>, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    Ok(read_settings(shape, vars)?
        .into_iter()
        .map(|s| (canonical(shape, &s.path), s.var))
        .collect())
}

/// The config variables among `vars`, each resolved to its key and read as
/// its type; errors name the variable.
fn read_settings<I>(shape: &Table, vars: I) -> Result<Vec<Setting>, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut settings: Vec<Setting> = Vec::new();
    // Canonical key path -> the variable that set it.
    let mut owners: HashMap<Vec<String>, String> = HashMap::new();
    let mut vars: Vec<(String, String)> = vars.into_iter().collect();
    vars.sort();
    for (var, raw) in vars {
        let Some(rest) = var.strip_prefix(PREFIX) else {
            continue;
        };
        let rest = rest.to_ascii_lowercase();
        if !is_config(shape, &rest) {
            // FINROUTE_TEST_DATABASE_URL and the like: not config's.
            continue;
        }
        let invalid = |message: String| ConfigError::Invalid {
            key: var.clone(),
            message,
        };
        let Some(path) = resolve(shape, &rest) else {
            return Err(invalid("no such config key".into()));
        };
        let value = read_value(shape, &path, &raw).map_err(invalid)?;
        let key = canonical(shape, &path);
        if let Some(other) = owners.insert(key.clone(), var.clone()) {
            return Err(invalid(format!(
                "{other} and {var} both set {}: set one of them",
                key.join(".")
            )));
        }
        settings.push(Setting { var, path, value });
    }
    Ok(settings)
}

/// The key path `rest` (lower case, words joined by `_`) names in `shape`:
/// a key (or a duration's human-readable name) of this table, or a key of
/// a table below it.
fn resolve(shape: &Table, rest: &str) -> Option<Vec<String>> {
    if shape.contains_key(rest) || is_duration_name(shape, rest) {
        return Some(vec![rest.to_owned()]);
    }
    shape.iter().find_map(|(key, value)| {
        let below = value.as_table()?;
        let tail = rest.strip_prefix(key.as_str())?.strip_prefix('_')?;
        let mut path = resolve(below, tail)?;
        path.insert(0, key.clone());
        Some(path)
    })
}

/// Whether `name` is the human-readable form of a duration key of `shape`
/// (`shutdown_grace` for `shutdown_grace_ms`).
fn is_duration_name(shape: &Table, name: &str) -> bool {
    !shape.contains_key(name) && matches!(shape.get(&format!("{name}_ms")), Some(Value::Integer(_)))
}

/// The path with a duration's human-readable name replaced by its `_ms` key.
fn canonical(shape: &Table, path: &[String]) -> Vec<String> {
    let mut table = Some(shape);
    let mut out = Vec::with_capacity(path.len());
    for step in path {
        let here = table.filter(|t| is_duration_name(t, step));
        out.push(match here {
            Some(_) => format!("{step}_ms"),
            None => step.clone(),
        });
        table = table.and_then(|t| t.get(step)).and_then(Value::as_table);
    }
    out
}

/// The shape's value at `path`, or `None` for a duration's human name.
fn shape_at<'a>(shape: &'a Table, path: &[String]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut table = shape;
    for step in parents {
        table = table.get(step)?.as_table()?;
    }
    table.get(last)
}

/// `raw` read as the type of the key at `path`.
fn read_value(shape: &Table, path: &[String], raw: &str) -> Result<Value, String> {
    let bad = |e: &dyn std::fmt::Display| format!("{raw:?}: {e}");
    Ok(match shape_at(shape, path) {
        Some(Value::Integer(_)) => Value::Integer(raw.trim().parse().map_err(|e| bad(&e))?),
        Some(Value::Float(_)) => Value::Float(raw.trim().parse().map_err(|e| bad(&e))?),
        Some(Value::Boolean(_)) => Value::Boolean(raw.trim().parse().map_err(|e| bad(&e))?),
        Some(Value::Table(_)) => {
            return Err("is a table: set its keys one by one".into());
        }
        Some(Value::Array(_)) => {
            // A whole array (of tables), as one TOML inline value.
            let mut parsed: Table = toml::from_str(&format!("value = {raw}"))
                .map_err(|e| format!("not a TOML inline array: {}", e.message().trim_end()))?;
            parsed.remove("value").unwrap_or(Value::Table(Table::new()))
        }
        // Strings, and durations in their human-readable form (read when
        // the tree is normalised).
        Some(Value::String(_) | Value::Datetime(_)) | None => Value::String(raw.to_owned()),
    })
}

/// Sets `path` in `table`, making the tables on the way, and drops the
/// other spelling of a duration it sets (the variable wins over the
/// file, whichever form either used).
fn insert(table: &mut Table, shape: &Table, path: &[String], value: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut table = table;
    let mut shape = Some(shape);
    for (i, step) in parents.iter().enumerate() {
        let entry = table
            .entry(step.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| format!("{} is not a table", path[..=i].join(".")))?;
        shape = shape.and_then(|s| s.get(step)).and_then(Value::as_table);
    }
    if let Some(shape) = shape {
        let other = match last.strip_suffix("_ms") {
            Some(human) if is_duration_name(shape, human) => Some(human.to_owned()),
            _ if is_duration_name(shape, last) => Some(format!("{last}_ms")),
            _ => None,
        };
        if let Some(other) = other {
            table.remove(&other);
        }
    }
    table.insert(last.clone(), value);
    Ok(())
}

/// Rewrites every `X = "<duration>"` of `table` as `X_ms = <milliseconds>`
/// where the shape has an `X_ms` key; `prefix` is the table's path for
/// messages. Returns whether anything changed. Both spellings of one key
/// are an error naming both.
pub(super) fn normalize_durations(
    table: &mut Table,
    shape: &Table,
    prefix: &str,
) -> Result<bool, String> {
    let mut changed = false;
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let here = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if let Some(Value::Table(below)) = shape.get(&key) {
            if let Some(Value::Table(sub)) = table.get_mut(&key) {
                changed |= normalize_durations(sub, below, &here)?;
            }
            continue;
        }
        if !is_duration_name(shape, &key) {
            continue;
        }
        let ms_key = format!("{key}_ms");
        if table.contains_key(&ms_key) {
            return Err(format!(
                "{here} and {here}_ms are the same setting: set one of them"
            ));
        }
        let Some(value) = table.remove(&key) else {
            continue;
        };
        let ms = duration_ms(&value).map_err(|m| format!("{here}: {m}"))?;
        table.insert(ms_key, Value::Integer(ms));
        changed = true;
    }
    Ok(changed)
}

/// Milliseconds of a human-readable duration (`"5s"`, `"250ms"`,
/// `"1m 30s"`, `"2h"`).
fn duration_ms(value: &Value) -> Result<i64, String> {
    let Value::String(text) = value else {
        return Err(format!(
            "a duration such as \"5s\" or \"250ms\", not {}",
            value.type_str()
        ));
    };
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration such as \"5s\" or \"250ms\": {e}"))?;
    let ms = d.as_millis();
    if d != Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)) {
        return Err(format!("{text:?} is not a whole number of milliseconds"));
    }
    i64::try_from(ms).map_err(|_| format!("{text:?} is too long"))
}

/// Every config variable with the key it sets (durations under their
/// `_MS` name; arrays of tables whole), in the shape's order.
#[cfg(test)]
pub(super) fn variables() -> Result<Vec<(String, Vec<String>)>, ConfigError> {
    fn walk(table: &Table, path: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
        for (key, value) in table {
            path.push(key.clone());
            match value {
                Value::Table(below) => walk(below, path, out),
                _ => out.push((
                    format!("{PREFIX}{}", path.join("_").to_ascii_uppercase()),
                    path.clone(),
                )),
            }
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(&shape()?, &mut Vec::new(), &mut out);
    Ok(out)
}

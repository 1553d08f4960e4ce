//! Loading: files, environment and flags become layers of one `serde_yaml::Value`
//! tree, which is then deserialized into [`NodeConfig`] with the failing key's path.
//!
//! The default configuration, serialized, is the schema: it tells which keys exist and
//! what type each has, so flag and variable text can be read by type (`12345` stays a
//! string for `socket.server_key`) and an unknown key is reported with its full path
//! and where it came from.

use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use crate::error::ConfigError;
use crate::node::NodeConfig;

/// Prefix of the environment variables read as settings: `SHOAL__SOCKET__PORT=7360`
/// sets `socket.port`. Segments are separated by `__` and lowercased.
pub const ENV_PREFIX: &str = "SHOAL__";

/// The flag naming a YAML file to load; repeatable.
const CONFIG_FLAG: &str = "config";

/// List keys whose flag or variable value is one whole entry (`key=value` entries may
/// contain commas). Every other list key splits its value on commas.
const UNSPLIT_LISTS: [&str; 1] = ["runtime.env"];

/// One `key = text` setting from a flag or an environment variable.
struct Setting {
    /// Dotted key path, e.g. `socket.port`.
    key: String,
    raw: String,
    /// Where it came from, for error messages: `flag --socket.port`.
    origin: String,
}

#[derive(Default)]
struct Args {
    config_files: Vec<PathBuf>,
    flags: Vec<Setting>,
}

pub(crate) fn build<I, E>(args: I, env: E) -> Result<NodeConfig, ConfigError>
where
    I: IntoIterator<Item = String>,
    E: IntoIterator<Item = (String, String)>,
{
    let schema = serde_yaml::to_value(NodeConfig::default())
        .expect("the default configuration serializes to YAML");
    let args = parse_args(args, &schema)?;

    let mut tree = Value::Mapping(Mapping::new());
    for path in &args.config_files {
        merge(&mut tree, read_file(path, &schema)?);
    }
    merge(&mut tree, settings_layer(env_settings(env), &schema)?);
    merge(&mut tree, settings_layer(args.flags, &schema)?);

    let mut config: NodeConfig =
        serde_path_to_error::deserialize(tree).map_err(|err| ConfigError::InvalidValue {
            key: err.path().to_string(),
            message: err.into_inner().to_string(),
        })?;
    // Nakama accepts `--logger.level DEBUG`.
    config.logger.level.make_ascii_lowercase();
    config.logger.format.make_ascii_lowercase();
    Ok(config)
}

/// Splits the command line into `--config` files and settings, in order.
fn parse_args<I>(args: I, schema: &Value) -> Result<Args, ConfigError>
where
    I: IntoIterator<Item = String>,
{
    let mut out = Args::default();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        // Like Go's flag package, one or two dashes.
        let body = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .filter(|body| !body.is_empty() && !body.starts_with(['-', '=']));
        let Some(body) = body else {
            return Err(ConfigError::UnexpectedArgument { arg });
        };
        let (key, inline) = match body.split_once('=') {
            Some((key, value)) => (key, Some(value.to_owned())),
            None => (body, None),
        };
        let flag = format!("--{key}");
        let value = match inline {
            Some(value) => value,
            None if is_bool_key(schema, key) => {
                // A boolean flag alone means true, as in Go; an explicit value may follow.
                args.next_if(|next| parse_bool(next).is_some())
                    .unwrap_or_else(|| "true".to_owned())
            }
            None => args
                .next_if(|next| !looks_like_flag(next))
                .ok_or_else(|| ConfigError::MissingValue { flag: flag.clone() })?,
        };
        if key == CONFIG_FLAG {
            out.config_files.push(PathBuf::from(value));
        } else {
            out.flags.push(Setting {
                key: key.to_owned(),
                raw: value,
                origin: format!("flag {flag}"),
            });
        }
    }
    Ok(out)
}

/// `-x`/`--x` is a flag; `-`, `-5` and `-.5` are values.
fn looks_like_flag(arg: &str) -> bool {
    match arg.strip_prefix('-') {
        Some(rest) => {
            !rest.is_empty() && !rest.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        }
        None => false,
    }
}

/// `SHOAL__SECTION__KEY=value` variables as settings, sorted by name for determinism.
fn env_settings<E>(env: E) -> Vec<Setting>
where
    E: IntoIterator<Item = (String, String)>,
{
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();
    vars.into_iter()
        .map(|(name, raw)| Setting {
            key: name[ENV_PREFIX.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
                .join("."),
            raw,
            origin: format!("environment variable {name}"),
        })
        .collect()
}

/// Builds one layer from settings, reading each text by the type of its key.
/// Repeated list settings accumulate; repeated scalars keep the last.
fn settings_layer(settings: Vec<Setting>, schema: &Value) -> Result<Value, ConfigError> {
    let mut layer = Value::Mapping(Mapping::new());
    for Setting { key, raw, origin } in settings {
        let path: Vec<&str> = key.split('.').collect();
        let Some(target) = lookup(schema, &path) else {
            return Err(ConfigError::UnknownKey { key, origin });
        };
        let value = match target {
            Value::Mapping(_) => {
                return Err(ConfigError::InvalidValue {
                    message: format!(
                        "this is a section, not a value; set one of its keys ({key}.<key>)"
                    ),
                    key,
                });
            }
            Value::Sequence(_) => Value::Sequence(list_items(&key, &raw)),
            Value::Bool(_) => parse_bool(&raw).map_or(Value::String(raw), Value::Bool),
            Value::Number(_) => parse_number(&raw).unwrap_or(Value::String(raw)),
            // Strings, and paths that default to unset.
            _ => Value::String(raw),
        };
        match (slot_mut(&mut layer, &path), value) {
            (Value::Sequence(existing), Value::Sequence(items)) => existing.extend(items),
            (slot, value) => *slot = value,
        }
    }
    Ok(layer)
}

fn list_items(key: &str, raw: &str) -> Vec<Value> {
    if UNSPLIT_LISTS.contains(&key) {
        return vec![Value::String(raw.to_owned())];
    }
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| Value::String(item.to_owned()))
        .collect()
}

/// Go's `strconv.ParseBool`, which Nakama's boolean flags use.
fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn parse_number(raw: &str) -> Option<Value> {
    let raw = raw.trim();
    if let Ok(n) = raw.parse::<u64>() {
        return Some(Value::Number(n.into()));
    }
    if let Ok(n) = raw.parse::<i64>() {
        return Some(Value::Number(n.into()));
    }
    raw.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .map(|n| Value::Number(n.into()))
}

fn is_bool_key(schema: &Value, key: &str) -> bool {
    let path: Vec<&str> = key.split('.').collect();
    matches!(lookup(schema, &path), Some(Value::Bool(_)))
}

fn lookup<'a>(schema: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(schema, |node, segment| node.as_mapping()?.get(*segment))
}

/// The value at `path` in `tree`, creating mappings on the way (and replacing
/// anything that is not one).
fn slot_mut<'a>(tree: &'a mut Value, path: &[&str]) -> &'a mut Value {
    path.iter().fold(tree, |node, segment| {
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else {
            unreachable!("made a mapping above")
        };
        map.entry(Value::String((*segment).to_owned()))
            .or_insert(Value::Null)
    })
}

/// Reads one `--config` file and checks its keys against the schema.
fn read_file(path: &Path, schema: &Value) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let parse_error = |message: String| ConfigError::Parse {
        path: path.to_owned(),
        message,
    };
    let value = match serde_yaml::from_str(&text).map_err(|err| parse_error(err.to_string()))? {
        Value::Null => Value::Mapping(Mapping::new()),
        value @ Value::Mapping(_) => value,
        _ => {
            return Err(parse_error(
                "the top level must be a mapping of sections".to_owned(),
            ));
        }
    };
    coerce(value, schema, "", &format!("in file {}", path.display()))
}

/// Checks a file's value against the schema at dotted `key`, reporting unknown keys,
/// and adapts it the way Go's YAML decoder would: `null` is an empty section, list or
/// string, and a number or boolean given for a string is its text.
fn coerce(value: Value, schema: &Value, key: &str, origin: &str) -> Result<Value, ConfigError> {
    Ok(match (schema, value) {
        (Value::Mapping(fields), Value::Mapping(entries)) => {
            let mut out = Mapping::new();
            for (name, entry) in entries {
                let child = match key {
                    "" => key_text(&name),
                    _ => format!("{key}.{}", key_text(&name)),
                };
                let Some(field) = fields.get(&name) else {
                    return Err(ConfigError::UnknownKey {
                        key: child,
                        origin: origin.to_owned(),
                    });
                };
                let entry = coerce(entry, field, &child, origin)?;
                out.insert(name, entry);
            }
            Value::Mapping(out)
        }
        (Value::Mapping(_), Value::Null) => Value::Mapping(Mapping::new()),
        (Value::Sequence(_), Value::Null) => Value::Sequence(Vec::new()),
        (Value::Sequence(_), Value::Sequence(items)) => {
            Value::Sequence(items.into_iter().map(scalar_to_string).collect())
        }
        (Value::String(_), Value::Null) => Value::String(String::new()),
        (Value::String(_) | Value::Null, value) => scalar_to_string(value),
        (_, value) => value,
    })
}

fn scalar_to_string(value: Value) -> Value {
    match value {
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Number(n) => Value::String(n.to_string()),
        other => other,
    }
}

fn key_text(name: &Value) -> String {
    match name {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => "null".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Overlays `overlay` on `base`: mappings merge key by key, anything else replaces.
fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Mapping(base), Value::Mapping(overlay)) => {
            for (name, value) in overlay {
                match base.get_mut(&name) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(name, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

#[cfg(test)]
mod tests;

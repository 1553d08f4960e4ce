//! Argument checking for `nk.*` functions, with gopher-lua's `Check*`/`Opt*` semantics and
//! its "bad argument #n to name (message)" errors.

use std::collections::BTreeMap;

use mlua::{MultiValue, Table, Value};
use shoal_proto::Status;

use crate::convert::{as_i64, as_text};

/// Why an `nk` function failed.
pub(crate) enum NkError {
    /// Raised in Lua as a string error (the normal case).
    Raise(String),
    /// An mlua failure (e.g. out of memory) propagated as is.
    Lua(mlua::Error),
}

impl From<mlua::Error> for NkError {
    fn from(e: mlua::Error) -> Self {
        NkError::Lua(e)
    }
}

pub(crate) type NkResult<T> = Result<T, NkError>;

/// A Lua error with this message.
pub(crate) fn raise(message: impl Into<String>) -> NkError {
    NkError::Raise(message.into())
}

/// Raises `"{context}: {status message}"` for a failed host call.
pub(crate) fn host_error(context: &str) -> impl FnOnce(Status) -> NkError + '_ {
    move |s| NkError::Raise(format!("{context}: {}", s.message))
}

/// The arguments of one call, 1-based like Lua's.
pub(crate) struct Args {
    name: &'static str,
    values: Vec<Value>,
}

impl Args {
    pub fn new(name: &'static str, values: MultiValue) -> Self {
        Args {
            name,
            values: values.into_iter().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Argument `i` (nil when absent).
    pub fn get(&self, i: usize) -> &Value {
        self.values.get(i - 1).unwrap_or(&Value::Nil)
    }

    pub fn error(&self, i: usize, message: &str) -> NkError {
        raise(format!("bad argument #{i} to {} ({message})", self.name))
    }

    fn type_error(&self, i: usize, expected: &str) -> NkError {
        self.error(
            i,
            &format!("{expected} expected, got {}", type_name(self.get(i))),
        )
    }

    /// A string (numbers are converted, as Lua does).
    pub fn string(&self, i: usize) -> NkResult<String> {
        as_text(self.get(i)).ok_or_else(|| self.type_error(i, "string"))
    }

    /// A non-empty string; `message` is the error for an empty one.
    pub fn nonempty(&self, i: usize, message: &str) -> NkResult<String> {
        let s = self.string(i)?;
        if s.is_empty() {
            Err(self.error(i, message))
        } else {
            Ok(s)
        }
    }

    /// Raw bytes of a string argument (binary-safe).
    pub fn bytes(&self, i: usize) -> NkResult<Vec<u8>> {
        match self.get(i) {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            v => as_text(v)
                .map(String::into_bytes)
                .ok_or_else(|| self.type_error(i, "string")),
        }
    }

    /// Non-empty raw bytes.
    pub fn nonempty_bytes(&self, i: usize, message: &str) -> NkResult<Vec<u8>> {
        let b = self.bytes(i)?;
        if b.is_empty() {
            Err(self.error(i, message))
        } else {
            Ok(b)
        }
    }

    /// An optional string: nil is `None`.
    pub fn opt_string(&self, i: usize) -> NkResult<Option<String>> {
        match self.get(i) {
            Value::Nil => Ok(None),
            _ => self.string(i).map(Some),
        }
    }

    /// An optional string where nil and "" are both `None`.
    pub fn opt_nonempty(&self, i: usize) -> NkResult<Option<String>> {
        Ok(self.opt_string(i)?.filter(|s| !s.is_empty()))
    }

    pub fn opt_bool(&self, i: usize, default: bool) -> NkResult<bool> {
        match self.get(i) {
            Value::Nil => Ok(default),
            Value::Boolean(b) => Ok(*b),
            _ => Err(self.type_error(i, "boolean")),
        }
    }

    pub fn int(&self, i: usize) -> NkResult<i64> {
        match self.get(i) {
            v @ (Value::Integer(_) | Value::Number(_) | Value::String(_)) => {
                as_i64(v).ok_or_else(|| self.type_error(i, "number"))
            }
            _ => Err(self.type_error(i, "number")),
        }
    }

    pub fn opt_int(&self, i: usize) -> NkResult<Option<i64>> {
        match self.get(i) {
            Value::Nil => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    /// A required UUID string in canonical form (lower-case, hyphenated): `empty` is the
    /// error for "", `invalid` for a string that does not parse.
    pub fn uuid(&self, i: usize, empty: &str, invalid: &str) -> NkResult<String> {
        let s = self.string(i)?;
        if s.is_empty() {
            return Err(self.error(i, empty));
        }
        canonical_uuid(&s).ok_or_else(|| self.error(i, invalid))
    }

    /// An optional UUID (nil and "" are `None`) in canonical form; `invalid` is the error
    /// for a string that does not parse.
    pub fn opt_uuid(&self, i: usize, invalid: &str) -> NkResult<Option<String>> {
        match self.opt_nonempty(i)? {
            Some(s) => canonical_uuid(&s).map(Some).ok_or_else(|| self.error(i, invalid)),
            None => Ok(None),
        }
    }

    pub fn table(&self, i: usize) -> NkResult<Table> {
        match self.get(i) {
            Value::Table(t) => Ok(t.clone()),
            _ => Err(self.type_error(i, "table")),
        }
    }

    pub fn opt_table(&self, i: usize) -> NkResult<Option<Table>> {
        match self.get(i) {
            Value::Nil => Ok(None),
            _ => self.table(i).map(Some),
        }
    }

    /// A table used as a list of strings (`{ "a", "b" }`); nil is empty.
    pub fn string_list(&self, i: usize, what: &str) -> NkResult<Vec<String>> {
        let Some(t) = self.opt_table(i)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for v in t.sequence_values::<Value>() {
            match as_text(&v?) {
                Some(s) if !s.is_empty() => out.push(s),
                _ => return Err(self.error(i, &format!("each {what} must be a string"))),
            }
        }
        Ok(out)
    }

    /// A table of string → string (session vars, properties); nil is empty.
    pub fn string_map(&self, i: usize, what: &str) -> NkResult<BTreeMap<String, String>> {
        let Some(t) = self.opt_table(i)? else {
            return Ok(BTreeMap::new());
        };
        let mut out = BTreeMap::new();
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            match (&k, &v) {
                (Value::String(k), Value::String(v)) => {
                    out.insert(k.to_string_lossy(), v.to_string_lossy());
                }
                (Value::String(_), _) => {
                    return Err(self.error(i, &format!("{what} values must be strings")));
                }
                _ => return Err(self.error(i, &format!("{what} keys must be strings"))),
            }
        }
        Ok(out)
    }
}

/// `s` as a canonical UUID string (lower-case, hyphenated), as Go's `uuid.FromString`
/// followed by `String()` gives it; `None` if it does not parse.
pub(crate) fn canonical_uuid(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s).ok().map(|u| u.to_string())
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) | Value::Number(_) => "number",
        Value::Error(_) => "userdata",
        other => other.type_name(),
    }
}

/// Reads field `key` of a table as text (nil → None); `what` names it in errors.
pub(crate) fn field_string(t: &Table, key: &str) -> NkResult<Option<String>> {
    match t.raw_get::<Value>(key)? {
        Value::Nil => Ok(None),
        v => as_text(&v)
            .map(Some)
            .ok_or_else(|| raise(format!("expects {key} to be a string"))),
    }
}

/// Reads field `key` of a table as an integer (nil → None).
pub(crate) fn field_int(t: &Table, key: &str) -> NkResult<Option<i64>> {
    match t.raw_get::<Value>(key)? {
        Value::Nil => Ok(None),
        v => as_i64(&v)
            .map(Some)
            .ok_or_else(|| raise(format!("expects {key} to be a number"))),
    }
}

//! JSON ↔ Lua values, with Nakama's rules (N `RuntimeLuaConvertLuaValue`,
//! `RuntimeLuaConvertValue`): a table with a sequence part becomes an array of its
//! elements `1..#t`, any other table an object (an empty table is `{}`); object keys are
//! sorted; JSON `null` becomes `nil`; numbers are Lua numbers (doubles).

use mlua::{Lua, Table, Value};
use serde_json::{Map, Number, Value as Json};

/// Deepest table nesting converted; deeper (or cyclic) tables are an error.
pub(crate) const MAX_DEPTH: usize = 100;

pub(crate) fn json_to_lua(lua: &Lua, v: &Json) -> mlua::Result<Value> {
    Ok(match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) if i.unsigned_abs() < (1 << 53) => Value::Integer(i),
            _ => Value::Number(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::String(lua.create_string(s)?),
        Json::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        Json::Object(map) => Value::Table(json_object_to_table(lua, map)?),
    })
}

pub(crate) fn json_object_to_table(lua: &Lua, map: &Map<String, Json>) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, map.len())?;
    for (k, item) in map {
        t.raw_set(k.as_str(), json_to_lua(lua, item)?)?;
    }
    Ok(t)
}

/// Parses JSON text into a Lua value (`nk.json_decode`).
pub(crate) fn json_text_to_lua(lua: &Lua, text: &[u8]) -> Result<Value, String> {
    let v: Json = serde_json::from_slice(text).map_err(|e| e.to_string())?;
    json_to_lua(lua, &v).map_err(|e| e.to_string())
}

/// A Lua number as JSON: integral values print without a fraction, like Go's float64.
pub(crate) fn number_to_json(f: f64) -> Json {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        Json::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null)
    }
}

/// A Lua number as a table key or a string, as Go's `%v` prints a float64.
pub(crate) fn number_to_string(f: f64) -> String {
    match number_to_json(f) {
        Json::Number(n) => n.to_string(),
        _ => f.to_string(),
    }
}

pub(crate) fn lua_to_json(v: &Value) -> Result<Json, String> {
    to_json(v, 0)
}

fn to_json(v: &Value, depth: usize) -> Result<Json, String> {
    Ok(match v {
        Value::Nil => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Integer(i) => Json::Number(Number::from(*i)),
        Value::Number(f) => number_to_json(*f),
        Value::String(s) => Json::String(s.to_string_lossy()),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                return Err("table nesting too deep (or cyclic)".into());
            }
            let len = t.raw_len();
            if len > 0 {
                let mut items = Vec::with_capacity(len);
                for i in 1..=len {
                    items.push(to_json(
                        &t.raw_get::<Value>(i).map_err(|e| e.to_string())?,
                        depth + 1,
                    )?);
                }
                Json::Array(items)
            } else {
                let mut entries: Vec<(String, Json)> = Vec::new();
                for pair in t.pairs::<Value, Value>() {
                    let (k, item) = pair.map_err(|e| e.to_string())?;
                    let key = match &k {
                        Value::String(s) => s.to_string_lossy(),
                        Value::Integer(i) => i.to_string(),
                        Value::Number(f) => number_to_string(*f),
                        Value::Boolean(b) => b.to_string(),
                        _ => continue,
                    };
                    entries.push((key, to_json(&item, depth + 1)?));
                }
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Json::Object(entries.into_iter().collect())
            }
        }
        // Functions, userdata and threads have no JSON form.
        _ => Json::Null,
    })
}

/// Encodes a Lua value as JSON text with sorted keys (`nk.json_encode`).
pub(crate) fn lua_to_json_text(v: &Value) -> Result<String, String> {
    let json = lua_to_json(v)?;
    serde_json::to_string(&json).map_err(|e| e.to_string())
}

/// Reads a Lua string-or-number as text; `None` for any other type.
pub(crate) fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.to_string_lossy()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Number(f) => Some(number_to_string(*f)),
        _ => None,
    }
}

/// Reads a Lua number as an integer (truncating, like gopher-lua's `CheckInt64`).
pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        Value::Number(f) if f.is_finite() => Some(*f as i64),
        Value::String(s) => s
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .map(|f| f as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_nakama_rules() {
        let lua = Lua::new();
        let v: Value = lua
            .load(r#"return { b = 1, a = { 1, 2.5, "x" }, e = {}, n = { [1] = true, skip = 1 } }"#)
            .eval()
            .unwrap();
        assert_eq!(
            lua_to_json_text(&v).unwrap(),
            r#"{"a":[1,2.5,"x"],"b":1,"e":{},"n":[true]}"#
        );
        let back = json_text_to_lua(&lua, br#"{"k":[1,{"z":null}],"s":"t"}"#).unwrap();
        assert_eq!(lua_to_json_text(&back).unwrap(), r#"{"k":[1,{}],"s":"t"}"#);
    }

    #[test]
    fn cycles_are_an_error() {
        let lua = Lua::new();
        let v: Value = lua
            .load("local t = {} ; t.self = t ; return t")
            .eval()
            .unwrap();
        assert!(lua_to_json(&v).is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(number_to_json(3.0).to_string(), "3");
        assert_eq!(number_to_json(1.5).to_string(), "1.5");
        assert_eq!(number_to_string(-2.0), "-2");
        assert_eq!(number_to_json(f64::NAN), Json::Null);
    }
}

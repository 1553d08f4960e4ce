//! serde helpers for protojson's conventions.
//!
//! - int64 values go out as strings and come in as a number or a string;
//! - timestamps go out as RFC 3339 UTC strings (stored as unix seconds);
//! - zero values are omitted (`skip_serializing_if` with the predicates below).

use serde::{Deserialize, Deserializer, Serializer, de};

pub fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
pub fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}
pub fn is_false(v: &bool) -> bool {
    !*v
}

/// Formats unix seconds as RFC 3339 UTC with no fraction.
pub fn rfc3339(unix_sec: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix_sec)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    );
    t.format(&f).unwrap_or_default()
}

/// `int64` fields: out as a JSON string, in as number or string.
pub mod int64 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(Int64Visitor)
    }
}

/// Optional `int64` (a `google.protobuf.Int64Value` or a field that may be absent).
pub mod opt_int64 {
    use super::*;
    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_option(OptVisitor(Int64Visitor))
    }
}

/// `int32` fields (and Int32Value wrappers) in as number or string, out as a number.
pub mod opt_int32 {
    use super::*;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
        let v = d.deserialize_option(OptVisitor(Int64Visitor))?;
        match v {
            None => Ok(None),
            Some(v) => i32::try_from(v).map(Some).map_err(|_| de::Error::custom("int32 out of range")),
        }
    }
}

/// `bool` or BoolValue that also accepts the strings "true"/"false" (query parameters).
pub mod opt_bool {
    use super::*;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        d.deserialize_option(OptVisitor(BoolVisitor))
    }
}

/// Timestamps: stored as unix seconds, sent as RFC 3339.
pub mod timestamp {
    use super::*;
    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&rfc3339(*v))
    }
}

/// Optional Timestamps: absent when `None`.
pub mod opt_timestamp {
    use super::*;
    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => s.serialize_str(&rfc3339(*t)),
            None => s.serialize_none(),
        }
    }
}

/// Enum `Operator` (`NO_OVERRIDE=0, BEST=1, SET=2, INCREMENT=3, DECREMENT=4`): its number, a
/// string holding it, or its name, as protojson accepts; out of range is an error.
pub mod operator {
    use super::*;
    pub const NAMES: [&str; 5] = ["NO_OVERRIDE", "BEST", "SET", "INCREMENT", "DECREMENT"];
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        let n = match &v {
            None | Some(serde_json::Value::Null) => Some(0),
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => {
                NAMES.iter().position(|x| x == s).map(|i| i as i64).or_else(|| s.parse().ok())
            }
            _ => None,
        };
        match n {
            Some(n @ 0..=4) => Ok(n as i32),
            _ => Err(de::Error::custom(format!("invalid value for enum type: {}", v.unwrap_or_default()))),
        }
    }
}

struct Int64Visitor;
impl de::Visitor<'_> for Int64Visitor {
    type Value = i64;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer or a string holding an integer")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if v.fract() == 0.0 && v.abs() < 9.2e18 {
            Ok(v as i64)
        } else {
            Err(E::custom("not an integer"))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        v.trim().parse::<i64>().map_err(|_| E::custom(format!("invalid integer {v:?}")))
    }
}

struct BoolVisitor;
impl de::Visitor<'_> for BoolVisitor {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a boolean")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match v {
            "true" | "1" | "" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(E::custom(format!("invalid boolean {v:?}"))),
        }
    }
}

struct OptVisitor<V>(V);
impl<'de, V: de::Visitor<'de> + Copy> de::Visitor<'de> for OptVisitor<V> {
    type Value = Option<V::Value>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        self.0.expecting(f)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self.0).map(Some)
    }
}
impl Clone for Int64Visitor {
    fn clone(&self) -> Self {
        Int64Visitor
    }
}
impl Copy for Int64Visitor {}
impl Clone for BoolVisitor {
    fn clone(&self) -> Self {
        BoolVisitor
    }
}
impl Copy for BoolVisitor {}

/// A `Deserialize` for a string field that also tolerates `null` (protojson treats null as
/// the default value).
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct T {
        #[serde(with = "int64", default, skip_serializing_if = "is_zero_i64")]
        score: i64,
        #[serde(with = "opt_int64", default, skip_serializing_if = "Option::is_none")]
        opt: Option<i64>,
    }

    #[test]
    fn int64_goes_out_as_string_and_comes_in_as_either() {
        let t = T { score: 10, opt: Some(-3) };
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"score":"10","opt":"-3"}"#);
        let a: T = serde_json::from_str(r#"{"score":"42","opt":7}"#).unwrap();
        assert_eq!(a, T { score: 42, opt: Some(7) });
        let b: T = serde_json::from_str(r#"{"score":42,"opt":null}"#).unwrap();
        assert_eq!(b, T { score: 42, opt: None });
        assert!(serde_json::from_str::<T>(r#"{"score":"x"}"#).is_err());
        assert_eq!(serde_json::to_string(&T { score: 0, opt: None }).unwrap(), "{}");
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Op {
        #[serde(deserialize_with = "operator::deserialize", default)]
        operator: i32,
    }

    #[test]
    fn operator_accepts_numbers_and_names() {
        let op = |s: &str| serde_json::from_str::<Op>(s).map(|o| o.operator).ok();
        assert_eq!(op(r#"{"operator":2}"#), Some(2));
        assert_eq!(op(r#"{"operator":"INCREMENT"}"#), Some(3));
        assert_eq!(op(r#"{"operator":"4"}"#), Some(4));
        assert_eq!(op(r#"{}"#), Some(0));
        assert_eq!(op(r#"{"operator":9}"#), None);
        assert_eq!(op(r#"{"operator":"BOGUS"}"#), None);
    }

    #[test]
    fn rfc3339_has_no_fraction() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1767323045), "2026-01-02T03:04:05Z");
    }
}

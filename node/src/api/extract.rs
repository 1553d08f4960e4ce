//! Request decoding shared by every route: auth (server key, session), JSON bodies with
//! protojson's leniency and the body size limit, and query parameters with repeated keys.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use base64::Engine;
use serde::de::DeserializeOwned;
use shoal_proto::Status;

use super::ApiError;
use crate::core::Core;
use crate::tokens::SessionClaims;

fn authorization(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .or_else(|| parts.headers.get("grpcgateway-authorization"))
        .and_then(|v| v.to_str().ok())
}

/// (username, password) of `Authorization: Basic base64(user:pass)`.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    Some(match s.split_once(':') {
        Some((u, p)) => (u.to_string(), p.to_string()),
        None => (s, String::new()),
    })
}

/// The username part of `Authorization: Basic base64(user:pass)`.
pub fn basic_username(header: &str) -> Option<String> {
    basic_credentials(header).map(|(u, _)| u)
}

fn bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
}

/// Basic auth with the server key (authenticate and session refresh routes).
pub struct ServerKey;

impl FromRequestParts<Core> for ServerKey {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, core: &Core) -> Result<Self, ApiError> {
        let header = authorization(parts).ok_or_else(|| Status::unauthenticated("Server key required"))?;
        let user = basic_username(header).ok_or_else(|| Status::unauthenticated("Server key invalid"))?;
        if user != core.config.socket.server_key {
            return Err(Status::unauthenticated("Server key invalid").into());
        }
        Ok(ServerKey)
    }
}

/// A valid session (Bearer token); its claims.
pub struct Session(pub SessionClaims);

impl Session {
    pub fn user_id(&self) -> uuid::Uuid {
        self.0.user_id().unwrap_or_default()
    }

    pub fn username(&self) -> &str {
        &self.0.usn
    }

    /// The runtime context of a call made with this session.
    pub fn ctx(&self) -> shoal_runtime::CallContext {
        shoal_runtime::CallContext {
            user_id: Some(self.0.uid.clone()),
            username: Some(self.0.usn.clone()),
            vars: Some(self.0.vrs.clone()),
            user_session_exp: Some(self.0.exp),
            ..Default::default()
        }
    }
}

impl FromRequestParts<Core> for Session {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, core: &Core) -> Result<Self, ApiError> {
        let header = authorization(parts).ok_or_else(|| Status::unauthenticated("Auth token required"))?;
        let token = bearer(header).ok_or_else(|| Status::unauthenticated("Auth token invalid"))?;
        Ok(Session(core.tokens.verify_session(&core.reader, token)?))
    }
}

/// A JSON request body decoded into `T`; an empty body is `T::default()`.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<Core> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, core: &Core) -> Result<Self, ApiError> {
        let limit = core.config.socket.max_request_size_bytes as usize;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| Status::invalid("http: request body too large"))?;
        decode_json(&bytes).map(Body)
    }
}

pub fn decode_json<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Ok(T::default()),
        // Every REST body is a proto message: a JSON object (protojson refuses the rest).
        Some(b'{') => {}
        Some(_) => return Err(Status::invalid("invalid request body: expected a JSON object").into()),
    }
    serde_json::from_slice(bytes).map_err(|e| Status::invalid(format!("invalid request body: {e}")).into())
}

/// A body that must be a JSON string literal (the RPC convention); Go's message otherwise.
pub fn decode_json_str(bytes: &[u8]) -> Result<String, String> {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(v) => {
            let kind = match v {
                serde_json::Value::Object(_) => "object",
                serde_json::Value::Array(_) => "array",
                serde_json::Value::Number(_) => "number",
                serde_json::Value::Bool(_) => "bool",
                _ => "null",
            };
            Err(format!("json: cannot unmarshal {kind} into Go value of type string"))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Query parameters, keeping repeated keys (`?ids=a&ids=b`). Each lookup accepts the proto
/// name and its lowerCamel JSON name.
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        Ok(Params(form_urlencoded::parse(q.as_bytes()).into_owned().collect()))
    }
}

fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl Params {
    /// Every (key, value) pair in order, repeated keys included.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
    fn matches(k: &str, name: &str) -> bool {
        k == name || k == camel(name)
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| Self::matches(k, name)).map(|(_, v)| v.as_str())
    }
    pub fn str(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| Self::matches(k, name)).map(|(_, v)| v.clone()).collect()
    }
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") | Some("1") | Some("True") | Some("TRUE") | Some("t") => Ok(Some(true)),
            Some("false") | Some("0") | Some("False") | Some("FALSE") | Some("f") => Ok(Some(false)),
            Some(v) => Err(Status::invalid(format!("invalid value for bool field {name}: {v:?}")).into()),
        }
    }
    /// An int32 parameter; out of range is Nakama's invalid-argument error.
    pub fn int32(&self, name: &str) -> Result<Option<i32>, ApiError> {
        match self.int(name)? {
            None => Ok(None),
            Some(v) => i32::try_from(v)
                .map(Some)
                .map_err(|_| Status::invalid(format!("invalid value for int32 field {name}")).into()),
        }
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| Status::invalid(format!("invalid value for int field {name}: {v:?}")).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer_parsing() {
        let h = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("defaultkey:"));
        assert_eq!(basic_username(&h).as_deref(), Some("defaultkey"));
        assert_eq!(basic_username("Basic !!!"), None);
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(camel("user_id"), "userId");
    }
}

//! Session and refresh tokens: HS256 JWTs with Nakama's claims, and the revocation checks
//! against the replicated deny-list.

use std::collections::BTreeMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use shoal_proto::Status;
use shoal_storage::Reader;
use uuid::Uuid;

/// Nakama's `SessionTokenClaims`, in its field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionClaims {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub usn: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vrs: BTreeMap<String, String>,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
}

impl SessionClaims {
    pub fn user_id(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.uid).ok()
    }
}

pub struct TokenPair {
    pub token: String,
    pub refresh_token: String,
}

pub struct TokenService {
    session_enc: EncodingKey,
    session_dec: DecodingKey,
    refresh_enc: EncodingKey,
    refresh_dec: DecodingKey,
    token_expiry_sec: i64,
    refresh_expiry_sec: i64,
    validation: Validation,
}

fn invalid_session() -> Status {
    Status::unauthenticated("Auth token invalid")
}

impl TokenService {
    pub fn new(session_key: &str, refresh_key: &str, token_expiry_sec: i64, refresh_expiry_sec: i64) -> Self {
        // Only HS256, `exp` required, no leeway: as Nakama's jwt-go verification.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        TokenService {
            session_enc: EncodingKey::from_secret(session_key.as_bytes()),
            session_dec: DecodingKey::from_secret(session_key.as_bytes()),
            refresh_enc: EncodingKey::from_secret(refresh_key.as_bytes()),
            refresh_dec: DecodingKey::from_secret(refresh_key.as_bytes()),
            token_expiry_sec,
            refresh_expiry_sec,
            validation,
        }
    }

    pub fn token_expiry_sec(&self) -> i64 {
        self.token_expiry_sec
    }

    fn sign(&self, key: &EncodingKey, claims: &SessionClaims) -> Result<String, Status> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, key).map_err(|e| {
            tracing::error!(error = %e, "signing token");
            Status::internal()
        })
    }

    /// A new session: fresh token id, issued now.
    pub fn issue(
        &self,
        user_id: &Uuid,
        username: &str,
        vars: BTreeMap<String, String>,
        now: i64,
    ) -> Result<TokenPair, Status> {
        self.reissue(&Uuid::new_v4().to_string(), user_id, username, vars, now, now)
    }

    /// Tokens for an existing session id (refresh keeps `tid` and `iat`).
    pub fn reissue(
        &self,
        tid: &str,
        user_id: &Uuid,
        username: &str,
        vars: BTreeMap<String, String>,
        iat: i64,
        now: i64,
    ) -> Result<TokenPair, Status> {
        let mut claims = SessionClaims {
            tid: tid.to_string(),
            uid: user_id.to_string(),
            usn: username.to_string(),
            vrs: vars,
            exp: now + self.token_expiry_sec,
            iat,
        };
        let token = self.sign(&self.session_enc, &claims)?;
        claims.exp = now + self.refresh_expiry_sec;
        let refresh_token = self.sign(&self.refresh_enc, &claims)?;
        Ok(TokenPair { token, refresh_token })
    }

    /// A session token (no refresh token) with an explicit expiry.
    pub fn issue_session_until(
        &self,
        user_id: &Uuid,
        username: &str,
        vars: BTreeMap<String, String>,
        iat: i64,
        exp: i64,
    ) -> Result<String, Status> {
        let claims = SessionClaims {
            tid: Uuid::new_v4().to_string(),
            uid: user_id.to_string(),
            usn: username.to_string(),
            vrs: vars,
            exp,
            iat,
        };
        self.sign(&self.session_enc, &claims)
    }

    /// Checks signature, algorithm and expiry only.
    pub fn parse_session(&self, token: &str) -> Option<SessionClaims> {
        jsonwebtoken::decode::<SessionClaims>(token, &self.session_dec, &self.validation)
            .ok()
            .map(|d| d.claims)
            .filter(|c| c.user_id().is_some())
    }

    pub fn parse_refresh(&self, token: &str) -> Option<SessionClaims> {
        jsonwebtoken::decode::<SessionClaims>(token, &self.refresh_dec, &self.validation)
            .ok()
            .map(|d| d.claims)
            .filter(|c| c.user_id().is_some())
    }

    fn revoked(reader: &Reader, claims: &SessionClaims, refresh: bool) -> Result<bool, Status> {
        let uid = claims.user_id().unwrap_or_default();
        let by_id = if refresh { reader.refresh_revoked(&claims.tid) } else { reader.session_revoked(&claims.tid) };
        let by_id = by_id.map_err(crate::core::internal)?;
        let before = reader.revoked_before(&uid).map_err(crate::core::internal)?;
        Ok(by_id || claims.iat < before)
    }

    /// A valid, unrevoked session token, or 401 `Auth token invalid`.
    pub fn verify_session(&self, reader: &Reader, token: &str) -> Result<SessionClaims, Status> {
        let claims = self.parse_session(token).ok_or_else(invalid_session)?;
        if Self::revoked(reader, &claims, false)? {
            return Err(invalid_session());
        }
        Ok(claims)
    }

    /// A valid, unrevoked refresh token, or 401 `Refresh token invalid or expired.`
    pub fn verify_refresh(&self, reader: &Reader, token: &str) -> Result<SessionClaims, Status> {
        let bad = || Status::unauthenticated("Refresh token invalid or expired.");
        let claims = self.parse_refresh(token).ok_or_else(bad)?;
        if Self::revoked(reader, &claims, true)? {
            return Err(bad());
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn svc() -> TokenService {
        TokenService::new("sk", "rk", 60, 3600)
    }

    #[test]
    fn claims_follow_nakama_names_and_round_trip() {
        let s = svc();
        let uid = Uuid::new_v4();
        let now = crate::core::now();
        let pair = s.issue(&uid, "alice", BTreeMap::from([("k".into(), "v".into())]), now).unwrap();
        let payload = pair.token.split('.').nth(1).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["exp", "iat", "tid", "uid", "usn", "vrs"]); // serde_json sorts keys
        assert_eq!(v["usn"], "alice");
        assert_eq!(v["exp"], now + 60);
        let c = s.parse_session(&pair.token).unwrap();
        assert_eq!(c.user_id(), Some(uid));
        // A refresh token is not a session token, and vice versa.
        assert!(s.parse_session(&pair.refresh_token).is_none());
        assert!(s.parse_refresh(&pair.token).is_none());
        assert_eq!(s.parse_refresh(&pair.refresh_token).unwrap().exp, now + 3600);
    }

    #[test]
    fn rejects_alg_none_expired_and_forged() {
        let s = svc();
        let uid = Uuid::new_v4();
        let enc = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
        };
        let claims = serde_json::json!({"tid":"t","uid":uid.to_string(),"exp": crate::core::now() + 100});
        let none = format!("{}.{}.", enc(&serde_json::json!({"alg":"none","typ":"JWT"})), enc(&claims));
        assert!(s.parse_session(&none).is_none());
        let forged = TokenService::new("other", "rk", 60, 3600)
            .issue(&uid, "x", BTreeMap::new(), crate::core::now())
            .unwrap();
        assert!(s.parse_session(&forged.token).is_none());
        let expired = s.issue(&uid, "x", BTreeMap::new(), crate::core::now() - 120).unwrap();
        assert!(s.parse_session(&expired.token).is_none());
        let no_exp = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"tid":"t","uid":uid.to_string()}),
            &EncodingKey::from_secret(b"sk"),
        )
        .unwrap();
        assert!(s.parse_session(&no_exp).is_none());
        assert!(s.parse_session("garbage").is_none());
    }
}

//! Authentication (device, email, custom), session refresh and logout.

use std::collections::BTreeMap;

use rand::Rng;
use shoal_proto::{Session, Status};
use shoal_storage::{Command, Reply, UserRecord};
use uuid::Uuid;

use super::{Core, internal, now};
use crate::tokens::SessionClaims;

/// A login identifier being authenticated.
enum Login<'a> {
    Device(&'a str),
    Custom(&'a str),
    Email { email: &'a str, password: &'a str },
}

pub struct AuthOutcome {
    pub session: Session,
    pub user_id: Uuid,
    pub username: String,
}

const USERNAME_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn generate_username() -> String {
    let mut rng = rand::rng();
    (0..10).map(|_| USERNAME_CHARS[rng.random_range(0..USERNAME_CHARS.len())] as char).collect()
}

/// Nakama's username rule: 1–128 bytes, no whitespace or control characters.
pub(super) fn validate_username(name: &str) -> Result<(), Status> {
    if name.is_empty() || name.len() > 128 {
        return Err(Status::invalid("Username invalid, must be 1-128 bytes."));
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Status::invalid("Username invalid, no spaces or control characters allowed."));
    }
    Ok(())
}

pub(super) fn validate_device_id(id: &str) -> Result<(), Status> {
    if id.is_empty() {
        return Err(Status::invalid("Device ID is required."));
    }
    if id.len() < 10 || id.len() > 128 {
        return Err(Status::invalid("Device ID invalid, must be 10-128 bytes."));
    }
    Ok(())
}

pub(super) fn validate_custom_id(id: &str) -> Result<(), Status> {
    if id.is_empty() {
        return Err(Status::invalid("Custom ID is required."));
    }
    if id.len() < 6 || id.len() > 128 {
        return Err(Status::invalid("Custom ID invalid, must be 6-128 bytes."));
    }
    Ok(())
}

/// Validates an email login and returns the normalised (lower-case) address.
pub(super) fn validate_email(email: &str, password: &str) -> Result<String, Status> {
    if email.is_empty() {
        return Err(Status::invalid("Email address is required."));
    }
    if email.len() < 10 || email.len() > 255 {
        return Err(Status::invalid("Invalid email address, must be 10-255 bytes."));
    }
    let at = email.find('@');
    let valid = match at {
        Some(i) if i > 0 => {
            let domain = &email[i + 1..];
            domain.rfind('.').is_some_and(|d| d > 0 && d + 1 < domain.len())
        }
        _ => false,
    };
    if !valid {
        return Err(Status::invalid("Invalid email address format."));
    }
    if password.is_empty() {
        return Err(Status::invalid("Password is required."));
    }
    if password.len() < 8 {
        return Err(Status::invalid("Password must be at least 8 characters long."));
    }
    Ok(email.to_lowercase())
}

pub(super) async fn bcrypt_hash(password: &str) -> Result<String, Status> {
    let p = password.to_string();
    tokio::task::spawn_blocking(move || bcrypt::hash(p, bcrypt::DEFAULT_COST))
        .await
        .map_err(internal)?
        .map_err(internal)
}

async fn bcrypt_verify(password: &str, hash: &str) -> Result<bool, Status> {
    let (p, h) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || bcrypt::verify(p, &h).unwrap_or(false)).await.map_err(internal)
}

fn check_not_banned(user: &UserRecord) -> Result<(), Status> {
    if user.disable_time.is_some() {
        return Err(Status::permission_denied("User account banned."));
    }
    Ok(())
}

impl Core {
    pub async fn authenticate_device(
        &self,
        id: &str,
        create: bool,
        username: Option<&str>,
        vars: BTreeMap<String, String>,
    ) -> Result<AuthOutcome, Status> {
        validate_device_id(id)?;
        self.authenticate(Login::Device(id), create, username, vars).await
    }

    pub async fn authenticate_custom(
        &self,
        id: &str,
        create: bool,
        username: Option<&str>,
        vars: BTreeMap<String, String>,
    ) -> Result<AuthOutcome, Status> {
        validate_custom_id(id)?;
        self.authenticate(Login::Custom(id), create, username, vars).await
    }

    pub async fn authenticate_email(
        &self,
        email: &str,
        password: &str,
        create: bool,
        username: Option<&str>,
        vars: BTreeMap<String, String>,
    ) -> Result<AuthOutcome, Status> {
        let email = validate_email(email, password)?;
        self.authenticate(Login::Email { email: &email, password }, create, username, vars).await
    }

    async fn authenticate(
        &self,
        login: Login<'_>,
        create: bool,
        username: Option<&str>,
        vars: BTreeMap<String, String>,
    ) -> Result<AuthOutcome, Status> {
        let username = username.filter(|u| !u.is_empty());
        if let Some(u) = username {
            validate_username(u)?;
        }
        self.read_barrier().await?;
        let existing = match &login {
            Login::Device(id) => self.reader.user_id_by_device(id),
            Login::Custom(id) => self.reader.user_id_by_custom(id),
            Login::Email { email, .. } => self.reader.user_id_by_email(email),
        }
        .map_err(internal)?;
        let existing = match existing {
            Some(id) => self.reader.user(&id).map_err(internal)?,
            None => None,
        };
        if let Some(user) = existing {
            if let Login::Email { password, .. } = &login
                && !bcrypt_verify(password, &user.password_hash).await?
            {
                return Err(Status::unauthenticated("Invalid credentials."));
            }
            check_not_banned(&user)?;
            return self.new_session(&user, false, vars);
        }
        if !create {
            return Err(Status::not_found("User account not found."));
        }
        let t = now();
        let mut user = UserRecord {
            id: Uuid::new_v4(),
            lang_tag: "en".into(),
            metadata: "{}".into(),
            wallet: "{}".into(),
            create_time: t,
            update_time: t,
            ..Default::default()
        };
        match &login {
            Login::Device(id) => user.devices.push(id.to_string()),
            Login::Custom(id) => user.custom_id = id.to_string(),
            Login::Email { email, password } => {
                user.email = email.to_string();
                user.password_hash = bcrypt_hash(password).await?;
            }
        }
        // A generated username can collide; retry with another. A requested one cannot.
        for _ in 0..5 {
            user.username = username.map(str::to_string).unwrap_or_else(generate_username);
            match self.propose(Command::CreateUser { user: user.clone() }).await {
                Ok(Reply::User { user: stored, created }) => {
                    if !created && let Login::Email { password, .. } = &login
                        && !bcrypt_verify(password, &stored.password_hash).await?
                    {
                        return Err(Status::unauthenticated("Invalid credentials."));
                    }
                    return self.new_session(&stored, created, vars);
                }
                Ok(other) => return Err(internal(format!("unexpected reply {other:?}"))),
                Err(e) if username.is_none() && e.code() == shoal_proto::ErrorCode::AlreadyExists => {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(internal("could not generate a free username"))
    }

    fn new_session(
        &self,
        user: &UserRecord,
        created: bool,
        vars: BTreeMap<String, String>,
    ) -> Result<AuthOutcome, Status> {
        let pair = self.tokens.issue(&user.id, &user.username, vars, now())?;
        Ok(AuthOutcome {
            session: Session { created, token: pair.token, refresh_token: pair.refresh_token },
            user_id: user.id,
            username: user.username.clone(),
        })
    }

    /// A session token for a user, as `nk.authenticate_token_generate`: `exp` is absolute
    /// unix seconds, 0 meaning now + `session.token_expiry_sec`.
    pub fn token_generate(
        &self,
        user_id: &Uuid,
        username: &str,
        exp: i64,
        vars: BTreeMap<String, String>,
    ) -> Result<(String, i64), Status> {
        let now = now();
        let exp = if exp <= 0 { now + self.tokens.token_expiry_sec() } else { exp };
        let token = self.tokens.issue_session_until(user_id, username, vars, now, exp)?;
        Ok((token, exp))
    }

    /// Exchanges a refresh token for a new session token and refresh token (same `tid`).
    pub async fn session_refresh(
        &self,
        refresh_token: &str,
        vars: Option<BTreeMap<String, String>>,
    ) -> Result<Session, Status> {
        if refresh_token.is_empty() {
            return Err(Status::invalid("Refresh token is required."));
        }
        self.read_barrier().await?;
        let claims = self.tokens.verify_refresh(&self.reader, refresh_token)?;
        let uid = claims.user_id().unwrap_or_default();
        let user = self
            .reader
            .user(&uid)
            .map_err(internal)?
            .ok_or_else(|| Status::not_found("User account not found."))?;
        check_not_banned(&user)?;
        let vars = vars.filter(|v| !v.is_empty()).unwrap_or(claims.vrs);
        let pair = self.tokens.reissue(&claims.tid, &uid, &user.username, vars, claims.iat, now())?;
        Ok(Session { created: false, token: pair.token, refresh_token: pair.refresh_token })
    }

    /// Revokes the given tokens of the caller, or every token it holds if none is given.
    pub async fn session_logout(
        &self,
        caller: &SessionClaims,
        token: &str,
        refresh_token: &str,
    ) -> Result<(), Status> {
        let uid = caller.user_id().unwrap_or_default();
        if token.is_empty() && refresh_token.is_empty() {
            self.propose(Command::RevokeAllBefore { user_id: uid, before: now() + 1 }).await?;
            return Ok(());
        }
        let mut session = Vec::new();
        let mut refresh = Vec::new();
        if !token.is_empty()
            && let Some(c) = self.tokens.parse_session(token)
            && c.uid == caller.uid
        {
            session.push((c.tid, c.exp));
        }
        if !refresh_token.is_empty()
            && let Some(c) = self.tokens.parse_refresh(refresh_token)
            && c.uid == caller.uid
        {
            refresh.push((c.tid, c.exp));
        }
        if !session.is_empty() || !refresh.is_empty() {
            self.propose(Command::RevokeTokens { session, refresh }).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_match_nakama() {
        assert_eq!(validate_custom_id("abc").unwrap_err().message, "Custom ID invalid, must be 6-128 bytes.");
        assert_eq!(validate_custom_id("").unwrap_err().message, "Custom ID is required.");
        assert!(validate_custom_id("abcdef").is_ok());
        assert_eq!(validate_device_id("short").unwrap_err().message, "Device ID invalid, must be 10-128 bytes.");
        assert_eq!(validate_email("a@b.c", "password").unwrap_err().message, "Invalid email address, must be 10-255 bytes.");
        assert_eq!(validate_email("nobody-at-example.com", "password").unwrap_err().message, "Invalid email address format.");
        assert_eq!(validate_email("me@example.com", "short").unwrap_err().message, "Password must be at least 8 characters long.");
        assert_eq!(validate_email("Me@Example.com", "password").unwrap(), "me@example.com");
        assert!(validate_username("has space").is_err());
        assert!(validate_username(&"x".repeat(129)).is_err());
        assert_eq!(generate_username().len(), 10);
    }
}

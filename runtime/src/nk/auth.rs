//! `nk.authenticate_*`, `nk.authenticate_token_generate`, `nk.session_*`.

use super::Installer;
use super::args::{Args, NkResult, host_error};
use crate::host::AuthResult;

fn has_invalid_chars(s: &str) -> bool {
    s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn check_id(args: &Args, min: usize) -> NkResult<String> {
    let id = args.nonempty(1, "expects id string")?;
    if has_invalid_chars(&id) {
        return Err(args.error(
            1,
            "expects id to be valid, no spaces or control characters allowed",
        ));
    }
    if id.len() < min || id.len() > 128 {
        return Err(args.error(
            1,
            &format!("expects id to be valid, must be {min}-128 bytes"),
        ));
    }
    Ok(id)
}

fn check_username(args: &Args, i: usize) -> NkResult<Option<String>> {
    let Some(username) = args.opt_nonempty(i)? else {
        return Ok(None);
    };
    if has_invalid_chars(&username) {
        return Err(args.error(
            i,
            "expects username to be valid, no spaces or control characters allowed",
        ));
    }
    if username.len() > 128 {
        return Err(args.error(i, "expects id to be valid, must be 1-128 bytes"));
    }
    Ok(Some(username))
}

fn auth_result(r: AuthResult) -> (String, String, bool) {
    (r.user_id, r.username, r.created)
}

fn check_user_id(args: &Args, i: usize) -> NkResult<String> {
    let id = args.nonempty(i, "expects user id")?;
    uuid::Uuid::parse_str(&id).map_err(|_| args.error(i, "expects valid user id"))?;
    Ok(id)
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    let shared = i.shared.clone();
    i.add("authenticate_device", move |_, args| {
        let id = check_id(&args, 10)?;
        let username = check_username(&args, 2)?;
        let create = args.opt_bool(3, true)?;
        let r = shared
            .host
            .authenticate_device(&id, username.as_deref(), create);
        r.map(auth_result)
            .map_err(host_error("error authenticating"))
    })?;
    let shared = i.shared.clone();
    i.add("authenticate_custom", move |_, args| {
        let id = check_id(&args, 6)?;
        let username = check_username(&args, 2)?;
        let create = args.opt_bool(3, true)?;
        let r = shared
            .host
            .authenticate_custom(&id, username.as_deref(), create);
        r.map(auth_result)
            .map_err(host_error("error authenticating"))
    })?;
    let shared = i.shared.clone();
    i.add("authenticate_email", move |_, args| {
        let email = args.nonempty(1, "expects email string")?;
        if has_invalid_chars(&email) {
            return Err(args.error(
                1,
                "expects email to be valid, no spaces or control characters allowed",
            ));
        }
        let at = email.find('@');
        if !at.is_some_and(|at| at > 0 && email[at + 1..].contains('.')) {
            return Err(args.error(1, "expects email to be valid, invalid email address format"));
        }
        if email.len() < 10 || email.len() > 255 {
            return Err(args.error(1, "expects email to be valid, must be 10-255 bytes"));
        }
        let password = args.nonempty(2, "expects password string")?;
        if password.len() < 8 {
            return Err(args.error(
                2,
                "expects password to be valid, must be longer than 8 characters",
            ));
        }
        let username = check_username(&args, 3)?;
        let create = args.opt_bool(4, true)?;
        let r = shared.host.authenticate_email(
            &email.to_lowercase(),
            &password,
            username.as_deref(),
            create,
        );
        r.map(auth_result)
            .map_err(host_error("error authenticating"))
    })?;

    let shared = i.shared.clone();
    i.add("authenticate_token_generate", move |_, args| {
        let user_id = check_user_id(&args, 1)?;
        let username = args.string(2)?;
        let exp = args.opt_int(3)?.unwrap_or(0);
        let vars = args.string_map(4, "vars")?;
        shared
            .host
            .authenticate_token_generate(&user_id, &username, exp, &vars)
            .map_err(host_error("error generating token"))
    })?;

    let shared = i.shared.clone();
    i.add("session_disconnect", move |_, args| {
        let session_id = args.nonempty(1, "expects session id")?;
        uuid::Uuid::parse_str(&session_id)
            .map_err(|_| args.error(1, "expects valid session id"))?;
        let reason = args.opt_int(2)?.map(|r| r as i32);
        shared
            .host
            .session_disconnect(&session_id, reason)
            .map_err(host_error("failed to disconnect"))
    })?;
    let shared = i.shared.clone();
    i.add("session_logout", move |_, args| {
        let user_id = check_user_id(&args, 1)?;
        let token = args.opt_nonempty(2)?;
        let refresh = args.opt_nonempty(3)?;
        shared
            .host
            .session_logout(&user_id, token.as_deref(), refresh.as_deref())
            .map_err(host_error("failed to logout"))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn invalid_chars() {
        assert!(super::has_invalid_chars("a b"));
        assert!(super::has_invalid_chars("a\u{7}"));
        assert!(!super::has_invalid_chars("abc-def"));
    }
}

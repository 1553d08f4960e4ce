//! `nk.http_request`: real outbound HTTP(S) with a timeout, on the calling (blocking)
//! thread. The timeout is also capped by what is left of the call's time budget.

use std::time::Duration;

use mlua::{Lua, Table, Value};

use super::Installer;
use super::args::{Args, NkResult, raise};
use crate::convert::as_text;

/// Largest response body read into Lua.
const MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS: i64 = 5000;

/// One agent that verifies TLS and one that does not (`insecure = true`).
pub(crate) struct HttpClients {
    secure: ureq::Agent,
    insecure: ureq::Agent,
}

impl HttpClients {
    pub fn new() -> Self {
        let agent = |verify: bool| -> ureq::Agent {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_millis(DEFAULT_TIMEOUT_MS as u64)))
                .tls_config(
                    ureq::tls::TlsConfig::builder()
                        .disable_verification(!verify)
                        .build(),
                )
                .build()
                .into()
        };
        HttpClients {
            secure: agent(true),
            insecure: agent(false),
        }
    }
}

struct Request {
    url: String,
    method: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
}

fn parse(args: &Args, budget_left: Option<Duration>) -> NkResult<(Request, bool)> {
    let url = args.nonempty(1, "expects URL string")?;
    let method = args.string(2)?.to_uppercase();
    if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&method.as_str()) {
        return Err(args.error(
            2,
            "expects method to be one of: 'get', 'post', 'put', 'patch', 'delete', 'head'",
        ));
    }
    let mut headers = Vec::new();
    if let Some(t) = args.opt_table(3)? {
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            match (as_text(&k), as_text(&v)) {
                (Some(k), Some(v)) => headers.push((k, v)),
                _ => return Err(raise("HTTP header values must be strings")),
            }
        }
    }
    let body = match args.get(4) {
        Value::Nil => Vec::new(),
        _ => args.bytes(4)?,
    };
    let mut timeout_ms = args.opt_int(5)?.unwrap_or(DEFAULT_TIMEOUT_MS);
    if timeout_ms <= 0 {
        timeout_ms = DEFAULT_TIMEOUT_MS;
    }
    let mut timeout = Duration::from_millis(timeout_ms as u64);
    if let Some(left) = budget_left {
        timeout = timeout.min(left.max(Duration::from_millis(1)));
    }
    let insecure = args.opt_bool(6, false)?;
    Ok((
        Request {
            url,
            method,
            headers,
            body,
            timeout,
        },
        insecure,
    ))
}

fn send(
    agent: &ureq::Agent,
    req: Request,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    macro_rules! with_headers {
        ($builder:expr) => {{
            let mut b = $builder.config().timeout_global(Some(req.timeout)).build();
            for (k, v) in &req.headers {
                b = b.header(k.as_str(), v.as_str());
            }
            b
        }};
    }
    match req.method.as_str() {
        "POST" => with_headers!(agent.post(&req.url)).send(&req.body[..]),
        "PUT" => with_headers!(agent.put(&req.url)).send(&req.body[..]),
        "PATCH" => with_headers!(agent.patch(&req.url)).send(&req.body[..]),
        method => {
            let b = match method {
                "DELETE" => with_headers!(agent.delete(&req.url)),
                "HEAD" => with_headers!(agent.head(&req.url)),
                _ => with_headers!(agent.get(&req.url)),
            };
            if req.body.is_empty() {
                b.call()
            } else {
                b.force_send_body().send(&req.body[..])
            }
        }
    }
}

fn response_to_lua(
    lua: &Lua,
    mut resp: ureq::http::Response<ureq::Body>,
) -> NkResult<(i64, Table, mlua::LuaString)> {
    let headers = lua.create_table()?;
    for name in resp.headers().keys() {
        if let Some(v) = resp.headers().get(name).and_then(|v| v.to_str().ok()) {
            headers.raw_set(canonical_header(name.as_str()), v)?;
        }
    }
    let status = i64::from(resp.status().as_u16());
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_BODY_BYTES)
        .read_to_vec()
        .map_err(|e| raise(format!("HTTP response body error: {e}")))?;
    Ok((status, headers, lua.create_string(body)?))
}

/// `content-type` → `Content-Type`, as Go's `http.Header` keys.
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    let shared = i.shared.clone();
    let budget = i.budget.clone();
    i.add("http_request", move |lua, args| {
        let (req, insecure) = parse(&args, budget.remaining())?;
        let agent = if insecure {
            &shared.http.insecure
        } else {
            &shared.http.secure
        };
        let resp = crate::blocking::section(|| send(agent, req)).map_err(|e| raise(format!("HTTP request error: {e}")))?;
        crate::blocking::section(|| response_to_lua(lua, resp))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_names_are_canonical() {
        assert_eq!(super::canonical_header("content-type"), "Content-Type");
        assert_eq!(super::canonical_header("x-a-b"), "X-A-B");
    }
}

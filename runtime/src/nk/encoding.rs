//! JSON, UUIDs, base64/base64url/base16.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use mlua::Value;

use super::Installer;
use super::args::raise;
use crate::convert::{json_text_to_lua, lua_to_json_text};

/// Pads base64 input to a multiple of 4, as Nakama does before decoding.
fn pad(mut input: String) -> String {
    while !input.len().is_multiple_of(4) {
        input.push('=');
    }
    input
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    i.add("json_encode", |_, args| {
        if args.len() == 0 {
            return Err(args.error(1, "expects a non-nil value to encode"));
        }
        lua_to_json_text(args.get(1)).map_err(|e| raise(format!("error encoding to JSON: {e}")))
    })?;
    i.add("json_decode", |lua, args| {
        let text = args.nonempty_bytes(1, "expects JSON string")?;
        json_text_to_lua(lua, &text).map_err(|e| raise(format!("not a valid JSON string: {e}")))
    })?;

    i.add("uuid_v4", |_, _| Ok(uuid::Uuid::new_v4().to_string()))?;
    i.add("uuid_bytes_to_string", |_, args| {
        let bytes = args.nonempty_bytes(1, "expects a UUID byte string")?;
        uuid::Uuid::from_slice(&bytes)
            .map(|u| u.to_string())
            .map_err(|_| args.error(1, "not a valid UUID byte string"))
    })?;
    i.add("uuid_string_to_bytes", |lua, args| {
        let s = args.nonempty(1, "expects a UUID string")?;
        let u = uuid::Uuid::parse_str(&s).map_err(|_| args.error(1, "not a valid UUID string"))?;
        Ok(lua.create_string(u.as_bytes())?)
    })?;

    i.add("base64_encode", |_, args| {
        let input = args.nonempty_bytes(1, "expects string")?;
        let engine = if args.opt_bool(2, true)? {
            &STANDARD
        } else {
            &STANDARD_NO_PAD
        };
        Ok(engine.encode(input))
    })?;
    i.add("base64_decode", |lua, args| {
        let mut input = args.nonempty(1, "expects string")?;
        if args.opt_bool(2, true)? {
            input = pad(input);
        }
        let out = STANDARD
            .decode(input)
            .map_err(|e| raise(format!("not a valid base64 string: {e}")))?;
        Ok(lua.create_string(out)?)
    })?;
    i.add("base64url_encode", |_, args| {
        let input = args.nonempty_bytes(1, "expects string")?;
        let engine = if args.opt_bool(2, true)? {
            &URL_SAFE
        } else {
            &URL_SAFE_NO_PAD
        };
        Ok(engine.encode(input))
    })?;
    i.add("base64url_decode", |lua, args| {
        let mut input = args.nonempty(1, "expects string")?;
        if !args.opt_bool(2, false)? {
            input = pad(input);
        }
        let out = URL_SAFE
            .decode(input)
            .map_err(|e| raise(format!("not a valid base64 url string: {e}")))?;
        Ok(lua.create_string(out)?)
    })?;
    i.add("base16_encode", |_, args| {
        Ok(hex::encode(args.nonempty_bytes(1, "expects string")?))
    })?;
    i.add("base16_decode", |lua, args| {
        let input = args.nonempty(1, "expects string")?;
        let out =
            hex::decode(input).map_err(|e| raise(format!("not a valid base16 string: {e}")))?;
        Ok(Value::String(lua.create_string(out)?))
    })
}

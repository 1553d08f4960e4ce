//! Hashes, AES (Nakama's scheme), bcrypt and JWTs.

use aes::cipher::{AsyncStreamCipher, KeyIvInit};
use hmac::{Hmac, Mac};
use md5::Md5;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::Installer;
use super::args::{Args, NkResult, raise};
use crate::convert::lua_to_json;

/// Go's `bcrypt.DefaultCost`.
const BCRYPT_COST: u32 = 10;
const AES_BLOCK: usize = 16;

/// Nakama's `aesEncrypt`: input padded with spaces to a multiple of 4 bytes, a random
/// 16-byte IV, AES-CFB; the result is IV followed by ciphertext, raw bytes.
fn aes_encrypt(args: &Args, key_len: usize) -> NkResult<Vec<u8>> {
    let mut input = args.nonempty_bytes(1, "expects string")?;
    let key = args.bytes(2)?;
    if key.len() != key_len {
        return Err(args.error(2, &format!("expects key {key_len} bytes long")));
    }
    while !input.len().is_multiple_of(4) {
        input.push(b' ');
    }
    let mut iv = [0u8; AES_BLOCK];
    rand::rng().fill_bytes(&mut iv);
    match key_len {
        16 => cfb_mode::Encryptor::<aes::Aes128>::new_from_slices(&key, &iv)
            .map(|c| c.encrypt(&mut input)),
        _ => cfb_mode::Encryptor::<aes::Aes256>::new_from_slices(&key, &iv)
            .map(|c| c.encrypt(&mut input)),
    }
    .map_err(|e| raise(format!("error creating cipher block: {e}")))?;
    let mut out = iv.to_vec();
    out.extend_from_slice(&input);
    Ok(out)
}

/// Inverse of [`aes_encrypt`] (the space padding is left in place, as Nakama does).
fn aes_decrypt(args: &Args, key_len: usize) -> NkResult<Vec<u8>> {
    let input = args.nonempty_bytes(1, "expects string")?;
    let key = args.bytes(2)?;
    if key.len() != key_len {
        return Err(args.error(2, &format!("expects key {key_len} bytes long")));
    }
    if input.len() < AES_BLOCK {
        return Err(raise("input too short"));
    }
    let (iv, data) = input.split_at(AES_BLOCK);
    let mut data = data.to_vec();
    match key_len {
        16 => cfb_mode::Decryptor::<aes::Aes128>::new_from_slices(&key, iv)
            .map(|c| c.decrypt(&mut data)),
        _ => cfb_mode::Decryptor::<aes::Aes256>::new_from_slices(&key, iv)
            .map(|c| c.decrypt(&mut data)),
    }
    .map_err(|e| raise(format!("error creating cipher block: {e}")))?;
    Ok(data)
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    i.add("md5_hash", |_, args| {
        Ok(hex::encode(Md5::digest(
            args.nonempty_bytes(1, "expects input string")?,
        )))
    })?;
    i.add("sha256_hash", |_, args| {
        Ok(hex::encode(Sha256::digest(
            args.nonempty_bytes(1, "expects input string")?,
        )))
    })?;
    i.add("hmac_sha256_hash", |lua, args| {
        let input = args.nonempty_bytes(1, "expects input string")?;
        let key = args.nonempty_bytes(2, "expects key string")?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&key)
            .map_err(|e| raise(format!("error creating hash: {e}")))?;
        mac.update(&input);
        Ok(lua.create_string(mac.finalize().into_bytes())?)
    })?;

    i.add("aes128_encrypt", |lua, args| {
        Ok(lua.create_string(aes_encrypt(&args, 16)?)?)
    })?;
    i.add("aes128_decrypt", |lua, args| {
        Ok(lua.create_string(aes_decrypt(&args, 16)?)?)
    })?;
    i.add("aes256_encrypt", |lua, args| {
        Ok(lua.create_string(aes_encrypt(&args, 32)?)?)
    })?;
    i.add("aes256_decrypt", |lua, args| {
        Ok(lua.create_string(aes_decrypt(&args, 32)?)?)
    })?;

    i.add("bcrypt_hash", |_, args| {
        let input = args.nonempty_bytes(1, "expects string")?;
        crate::blocking::section(|| bcrypt::hash(input, BCRYPT_COST)).map_err(|e| raise(format!("error hashing input: {e}")))
    })?;
    i.add("bcrypt_compare", |_, args| {
        let hash = args.nonempty(1, "expects string")?;
        let plaintext = args.nonempty_bytes(2, "expects string")?;
        match crate::blocking::section(|| bcrypt::verify(plaintext, &hash)) {
            Ok(matches) => Ok(matches),
            // Go's bcrypt answers "mismatch" for a hash too short to be one.
            Err(_) if hash.len() < 59 => Ok(false),
            Err(e) => Err(raise(format!("error comparing hash and plaintext: {e}"))),
        }
    })?;

    i.add("jwt_generate", |_, args| {
        let algorithm = match args.nonempty(1, "expects string")?.as_str() {
            "HS256" => jsonwebtoken::Algorithm::HS256,
            "RS256" => jsonwebtoken::Algorithm::RS256,
            _ => {
                return Err(args.error(1, "unsupported algo type - only allowed 'HS256', 'RS256'."));
            }
        };
        let key = args.nonempty(2, "expects string")?;
        let claims = lua_to_json(&mlua::Value::Table(args.table(3)?)).map_err(raise)?;
        let claims = match claims {
            serde_json::Value::Array(a) if a.is_empty() => {
                serde_json::Value::Object(Default::default())
            }
            c @ serde_json::Value::Object(_) => c,
            _ => return Err(args.error(3, "expects claims to be a table of keys")),
        };
        let encoding_key = match algorithm {
            jsonwebtoken::Algorithm::HS256 => {
                jsonwebtoken::EncodingKey::from_secret(key.as_bytes())
            }
            _ => jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes())
                .map_err(|e| raise(format!("could not parse private key: {e}")))?,
        };
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(algorithm),
            &claims,
            &encoding_key,
        )
        .map_err(|e| raise(format!("failed to sign token: {e}")))
    })
}

//! Nakama REST messages (`nakama.api`), in proto field order. Outbound types serialise with
//! protojson's conventions; inbound types accept snake_case and lowerCamel names, numbers as
//! numbers or strings, and ignore unknown fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::json::{self, is_false, is_zero_i32};

fn is_empty(s: &str) -> bool {
    s.is_empty()
}

// ---------------------------------------------------------------- outbound

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Session {
    #[serde(skip_serializing_if = "is_false")]
    pub created: bool,
    pub token: String,
    pub refresh_token: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct User {
    pub id: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub display_name: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub avatar_url: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub lang_tag: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub location: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub timezone: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub metadata: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub facebook_id: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub google_id: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub gamecenter_id: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub steam_id: String,
    #[serde(skip_serializing_if = "is_false")]
    pub online: bool,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub edge_count: i32,
    #[serde(with = "json::timestamp")]
    pub create_time: i64,
    #[serde(with = "json::timestamp")]
    pub update_time: i64,
    #[serde(skip_serializing_if = "is_empty")]
    pub facebook_instant_game_id: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub apple_id: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct AccountDeviceOut {
    pub id: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Account {
    pub user: User,
    pub wallet: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub email: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<AccountDeviceOut>,
    #[serde(skip_serializing_if = "is_empty")]
    pub custom_id: String,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_ts")]
    pub verify_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_ts")]
    pub disable_time: Option<i64>,
}

fn opt_ts<S: serde::Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&json::rfc3339(*v)),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Users {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StorageObject {
    pub collection: String,
    pub key: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub user_id: String,
    pub value: String,
    pub version: String,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub permission_read: i32,
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub permission_write: i32,
    #[serde(with = "json::timestamp")]
    pub create_time: i64,
    #[serde(with = "json::timestamp")]
    pub update_time: i64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StorageObjects {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<StorageObject>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StorageObjectList {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<StorageObject>,
    #[serde(skip_serializing_if = "is_empty")]
    pub cursor: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StorageObjectAck {
    pub collection: String,
    pub key: String,
    pub version: String,
    #[serde(skip_serializing_if = "is_empty")]
    pub user_id: String,
    #[serde(with = "json::timestamp")]
    pub create_time: i64,
    #[serde(with = "json::timestamp")]
    pub update_time: i64,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StorageObjectAcks {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub acks: Vec<StorageObjectAck>,
}

/// `Friend.state` is an Int32Value wrapper: present (even when 0) whenever set.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Friend {
    pub user: User,
    pub state: i32,
    #[serde(with = "json::timestamp")]
    pub update_time: i64,
    #[serde(skip_serializing_if = "is_empty")]
    pub metadata: String,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FriendList {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub friends: Vec<Friend>,
    #[serde(skip_serializing_if = "is_empty")]
    pub cursor: String,
}

/// `google.protobuf.Empty`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Empty {}

// ---------------------------------------------------------------- inbound

/// Body of `authenticate/device` and `link|unlink/device`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountDevice {
    #[serde(deserialize_with = "json::null_as_default")]
    pub id: String,
    #[serde(deserialize_with = "json::null_as_default")]
    pub vars: BTreeMap<String, String>,
}

/// Body of `authenticate/custom` and `link|unlink/custom`.
pub type AccountCustom = AccountDevice;

/// Body of `authenticate/email` and `link|unlink/email`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountEmail {
    #[serde(deserialize_with = "json::null_as_default")]
    pub email: String,
    #[serde(deserialize_with = "json::null_as_default")]
    pub password: String,
    #[serde(deserialize_with = "json::null_as_default")]
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionRefreshRequest {
    #[serde(deserialize_with = "json::null_as_default")]
    pub token: String,
    pub vars: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionLogoutRequest {
    #[serde(deserialize_with = "json::null_as_default")]
    pub token: String,
    #[serde(alias = "refreshToken", deserialize_with = "json::null_as_default")]
    pub refresh_token: String,
}

/// `PUT /v2/account`: every field is a StringValue, absent means unchanged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct UpdateAccountRequest {
    pub username: Option<String>,
    #[serde(alias = "displayName")]
    pub display_name: Option<String>,
    #[serde(alias = "avatarUrl")]
    pub avatar_url: Option<String>,
    #[serde(alias = "langTag")]
    pub lang_tag: Option<String>,
    pub location: Option<String>,
    pub timezone: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadStorageObjectId {
    #[serde(deserialize_with = "json::null_as_default")]
    pub collection: String,
    #[serde(deserialize_with = "json::null_as_default")]
    pub key: String,
    #[serde(alias = "userId", deserialize_with = "json::null_as_default")]
    pub user_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReadStorageObjectsRequest {
    #[serde(alias = "objectIds", deserialize_with = "json::null_as_default")]
    pub object_ids: Vec<ReadStorageObjectId>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WriteStorageObject {
    #[serde(deserialize_with = "json::null_as_default")]
    pub collection: String,
    #[serde(deserialize_with = "json::null_as_default")]
    pub key: String,
    #[serde(deserialize_with = "json::null_as_default")]
    pub value: String,
    #[serde(deserialize_with = "json::null_as_default")]
    pub version: String,
    #[serde(alias = "permissionRead", deserialize_with = "json::opt_int32::deserialize")]
    pub permission_read: Option<i32>,
    #[serde(alias = "permissionWrite", deserialize_with = "json::opt_int32::deserialize")]
    pub permission_write: Option<i32>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WriteStorageObjectsRequest {
    #[serde(deserialize_with = "json::null_as_default")]
    pub objects: Vec<WriteStorageObject>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeleteStorageObjectId {
    #[serde(deserialize_with = "json::null_as_default")]
    pub collection: String,
    #[serde(deserialize_with = "json::null_as_default")]
    pub key: String,
    #[serde(deserialize_with = "json::null_as_default")]
    pub version: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeleteStorageObjectsRequest {
    #[serde(alias = "objectIds", deserialize_with = "json::null_as_default")]
    pub object_ids: Vec<DeleteStorageObjectId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_omits_created_false() {
        let s = Session { created: false, token: "t".into(), refresh_token: "r".into() };
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"token":"t","refresh_token":"r"}"#);
    }

    #[test]
    fn inbound_accepts_both_casings_and_number_strings() {
        let w: WriteStorageObjectsRequest = serde_json::from_str(
            r#"{"objects":[{"collection":"c","key":"k","value":"{}","permissionRead":"2","permission_write":0,"extra":1}]}"#,
        )
        .unwrap();
        assert_eq!(w.objects[0].permission_read, Some(2));
        assert_eq!(w.objects[0].permission_write, Some(0));
        let l: SessionLogoutRequest =
            serde_json::from_str(r#"{"token":"a","refreshToken":"b"}"#).unwrap();
        assert_eq!(l.refresh_token, "b");
    }

    #[test]
    fn friend_state_zero_is_present() {
        let f = Friend { state: 0, ..Default::default() };
        let v: serde_json::Value = serde_json::to_value(&f).unwrap();
        assert_eq!(v["state"], 0);
    }
}

// ---------------------------------------------------------------- whole requests
// Routes whose inputs come from the path or query are still one request message in
// Nakama (that is what before/after hooks see); these are those messages.

/// `Authenticate{Device,Custom,Email}Request`: the body is `account`; `create`, `username`
/// come from the query.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthenticateRequest<A> {
    pub account: A,
    #[serde(deserialize_with = "json::opt_bool::deserialize")]
    pub create: Option<bool>,
    pub username: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FriendsRequest {
    #[serde(deserialize_with = "json::null_as_default")]
    pub ids: Vec<String>,
    #[serde(deserialize_with = "json::null_as_default")]
    pub usernames: Vec<String>,
    #[serde(deserialize_with = "json::null_as_default")]
    pub metadata: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ListFriendsRequest {
    #[serde(deserialize_with = "json::opt_int32::deserialize")]
    pub limit: Option<i32>,
    #[serde(deserialize_with = "json::opt_int32::deserialize")]
    pub state: Option<i32>,
    #[serde(deserialize_with = "json::null_as_default")]
    pub cursor: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GetUsersRequest {
    #[serde(deserialize_with = "json::null_as_default")]
    pub ids: Vec<String>,
    #[serde(deserialize_with = "json::null_as_default")]
    pub usernames: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ListStorageObjectsRequest {
    #[serde(deserialize_with = "json::null_as_default")]
    pub user_id: String,
    #[serde(deserialize_with = "json::null_as_default")]
    pub collection: String,
    #[serde(deserialize_with = "json::opt_int32::deserialize")]
    pub limit: Option<i32>,
    #[serde(deserialize_with = "json::null_as_default")]
    pub cursor: String,
}

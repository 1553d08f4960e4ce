//! Notification and chat history routes (N `api_notification.go`, `api_channel.go`). Each
//! decodes, runs the hooks, calls `core`, encodes.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use shoal_proto::{ChannelMessageList, Empty, NotificationList, json};

use crate::api::ApiResult;
use crate::api::extract::{Params, Session};
use crate::core::Core;

pub fn routes() -> Router<Core> {
    Router::new()
        .route(
            "/v2/notification",
            get(list_notifications).delete(delete_notifications),
        )
        .route("/v2/channel/{channel_id}", get(list_channel_messages))
}

/// `api.ListNotificationsRequest`, as hooks see it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ListNotificationsRequest {
    #[serde(deserialize_with = "json::opt_int32::deserialize")]
    pub limit: Option<i32>,
    #[serde(deserialize_with = "json::null_as_default")]
    pub cacheable_cursor: String,
}

/// `api.DeleteNotificationsRequest`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DeleteNotificationsRequest {
    #[serde(deserialize_with = "json::null_as_default")]
    pub ids: Vec<String>,
}

/// `api.ListChannelMessagesRequest`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ListChannelMessagesRequest {
    #[serde(deserialize_with = "json::null_as_default")]
    pub channel_id: String,
    #[serde(deserialize_with = "json::opt_int32::deserialize")]
    pub limit: Option<i32>,
    #[serde(deserialize_with = "json::opt_bool::deserialize")]
    pub forward: Option<bool>,
    #[serde(deserialize_with = "json::null_as_default")]
    pub cursor: String,
}

async fn list_notifications(
    State(core): State<Core>,
    s: Session,
    q: Params,
) -> ApiResult<NotificationList> {
    let req = ListNotificationsRequest {
        limit: q.int32("limit")?,
        cacheable_cursor: q.str("cacheable_cursor").to_owned(),
    };
    hooked!(core, s.ctx(), "ListNotifications", req, |r| {
        core.notifications_list(&s.user_id(), r.limit.map(i64::from), &r.cacheable_cursor)
            .await?
    })
}

async fn delete_notifications(State(core): State<Core>, s: Session, q: Params) -> ApiResult<Empty> {
    hooked!(
        core,
        s.ctx(),
        "DeleteNotifications",
        DeleteNotificationsRequest { ids: q.all("ids") },
        |r| {
            core.notifications_delete(&s.user_id(), &r.ids).await?;
            Empty {}
        }
    )
}

async fn list_channel_messages(
    State(core): State<Core>,
    s: Session,
    Path(channel_id): Path<String>,
    q: Params,
) -> ApiResult<ChannelMessageList> {
    let req = ListChannelMessagesRequest {
        channel_id,
        limit: q.int32("limit")?,
        forward: q.bool("forward")?,
        cursor: q.str("cursor").to_owned(),
    };
    hooked!(core, s.ctx(), "ListChannelMessages", req, |r| {
        let caller = s.user_id();
        core.channel_messages_list(
            Some(&caller),
            &r.channel_id,
            r.limit.map(i64::from),
            r.forward,
            &r.cursor,
        )
        .await?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_requests_round_trip_with_string_ints_and_nulls() {
        // What a before hook hands back: snake_case, int32 possibly as a string, nulls.
        let r: ListChannelMessagesRequest = serde_json::from_str(
            r#"{"channel_id":"2...x","limit":"5","forward":false,"cursor":null}"#,
        )
        .unwrap();
        assert_eq!(
            (r.channel_id.as_str(), r.limit, r.forward, r.cursor.as_str()),
            ("2...x", Some(5), Some(false), "")
        );
        let r: ListNotificationsRequest = serde_json::from_str("{}").unwrap();
        assert_eq!((r.limit, r.cacheable_cursor.as_str()), (None, ""));
        let d: DeleteNotificationsRequest = serde_json::from_str(r#"{"ids":["a","b"]}"#).unwrap();
        assert_eq!(d.ids, vec!["a", "b"]);
    }
}

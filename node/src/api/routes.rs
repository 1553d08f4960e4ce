//! Route table and handlers. Each handler only decodes, calls `core`, and encodes.

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use shoal_proto::*;

use super::ApiResult;
use super::extract::{Body, Params, ServerKey, Session};
use crate::core::{Core, account::IdentityInput};

pub fn routes() -> Router<Core> {
    Router::new()
        .route("/", get(|| async { "" }))
        .route("/healthcheck", get(|| async { Json(Empty {}) }))
        .route("/v2/account/authenticate/device", post(authenticate_device))
        .route("/v2/account/authenticate/email", post(authenticate_email))
        .route("/v2/account/authenticate/custom", post(authenticate_custom))
        .route("/v2/account/session/refresh", post(session_refresh))
        .route("/v2/session/logout", post(session_logout))
        .route("/v2/account", get(get_account).put(update_account).delete(delete_account))
        .route("/v2/account/link/device", post(link_device))
        .route("/v2/account/link/custom", post(link_custom))
        .route("/v2/account/link/email", post(link_email))
        .route("/v2/account/unlink/device", post(unlink_device))
        .route("/v2/account/unlink/custom", post(unlink_custom))
        .route("/v2/account/unlink/email", post(unlink_email))
        .route("/v2/user", get(get_users))
        .route("/v2/storage", post(storage_read).put(storage_write))
        .route("/v2/storage/delete", put(storage_delete))
        .route("/v2/storage/{collection}", get(storage_list))
        .route("/v2/storage/{collection}/{user_id}", get(storage_list_user))
        .route("/v2/friend", get(friends_list).post(friends_add).delete(friends_delete))
        .route("/v2/friend/block", post(friends_block))
        .route("/v2/rpc/{id}", get(super::rpc::rpc).post(super::rpc::rpc))
        .route("/runtime/{*path}", get(super::rpc::runtime_http).post(super::rpc::runtime_http))
}

fn ok<T>(v: T) -> ApiResult<T> {
    Ok(Json(v))
}

// ------------------------------------------------------------------ authenticate

struct AuthQuery {
    create: bool,
    username: Option<String>,
}

fn auth_query(q: &Params) -> Result<AuthQuery, super::ApiError> {
    Ok(AuthQuery { create: q.bool("create")?.unwrap_or(true), username: q.get("username").map(str::to_string) })
}

async fn authenticate_device(
    State(core): State<Core>,
    _: ServerKey,
    q: Params,
    Body(acc): Body<AccountDevice>,
) -> ApiResult<shoal_proto::Session> {
    let a = auth_query(&q)?;
    ok(core.authenticate_device(&acc.id, a.create, a.username.as_deref(), acc.vars).await?.session)
}

async fn authenticate_custom(
    State(core): State<Core>,
    _: ServerKey,
    q: Params,
    Body(acc): Body<AccountCustom>,
) -> ApiResult<shoal_proto::Session> {
    let a = auth_query(&q)?;
    ok(core.authenticate_custom(&acc.id, a.create, a.username.as_deref(), acc.vars).await?.session)
}

async fn authenticate_email(
    State(core): State<Core>,
    _: ServerKey,
    q: Params,
    Body(acc): Body<AccountEmail>,
) -> ApiResult<shoal_proto::Session> {
    let a = auth_query(&q)?;
    let out = core
        .authenticate_email(&acc.email, &acc.password, a.create, a.username.as_deref(), acc.vars)
        .await?;
    ok(out.session)
}

async fn session_refresh(
    State(core): State<Core>,
    _: ServerKey,
    Body(req): Body<SessionRefreshRequest>,
) -> ApiResult<shoal_proto::Session> {
    ok(core.session_refresh(&req.token, req.vars).await?)
}

async fn session_logout(
    State(core): State<Core>,
    s: Session,
    Body(req): Body<SessionLogoutRequest>,
) -> ApiResult<Empty> {
    core.session_logout(&s.0, &req.token, &req.refresh_token).await?;
    ok(Empty {})
}

// ------------------------------------------------------------------ account

async fn get_account(State(core): State<Core>, s: Session) -> ApiResult<Account> {
    ok(core.get_account(&s.user_id()).await?)
}

async fn update_account(
    State(core): State<Core>,
    s: Session,
    Body(req): Body<UpdateAccountRequest>,
) -> ApiResult<Empty> {
    let update = shoal_storage::UserUpdate {
        username: req.username,
        display_name: req.display_name,
        avatar_url: req.avatar_url,
        lang_tag: req.lang_tag,
        location: req.location,
        timezone: req.timezone,
        metadata: None,
    };
    core.update_account(&s.user_id(), update).await?;
    ok(Empty {})
}

async fn delete_account(State(core): State<Core>, s: Session) -> ApiResult<Empty> {
    core.delete_account(&s.user_id()).await?;
    ok(Empty {})
}

async fn link_device(State(core): State<Core>, s: Session, Body(a): Body<AccountDevice>) -> ApiResult<Empty> {
    core.link(&s.user_id(), IdentityInput::Device(&a.id)).await?;
    ok(Empty {})
}

async fn link_custom(State(core): State<Core>, s: Session, Body(a): Body<AccountCustom>) -> ApiResult<Empty> {
    core.link(&s.user_id(), IdentityInput::Custom(&a.id)).await?;
    ok(Empty {})
}

async fn link_email(State(core): State<Core>, s: Session, Body(a): Body<AccountEmail>) -> ApiResult<Empty> {
    core.link(&s.user_id(), IdentityInput::Email { email: &a.email, password: &a.password }).await?;
    ok(Empty {})
}

async fn unlink_device(State(core): State<Core>, s: Session, Body(a): Body<AccountDevice>) -> ApiResult<Empty> {
    core.unlink(&s.user_id(), IdentityInput::Device(&a.id)).await?;
    ok(Empty {})
}

async fn unlink_custom(State(core): State<Core>, s: Session, Body(a): Body<AccountCustom>) -> ApiResult<Empty> {
    core.unlink(&s.user_id(), IdentityInput::Custom(&a.id)).await?;
    ok(Empty {})
}

async fn unlink_email(State(core): State<Core>, s: Session, Body(a): Body<AccountEmail>) -> ApiResult<Empty> {
    core.unlink(&s.user_id(), IdentityInput::Email { email: &a.email, password: &a.password }).await?;
    ok(Empty {})
}

async fn get_users(State(core): State<Core>, _: Session, q: Params) -> ApiResult<Users> {
    ok(core.get_users(&q.all("ids"), &q.all("usernames")).await?)
}

// ------------------------------------------------------------------ storage

async fn storage_read(
    State(core): State<Core>,
    s: Session,
    Body(req): Body<ReadStorageObjectsRequest>,
) -> ApiResult<StorageObjects> {
    ok(core.storage_read(Some(&s.user_id()), &req.object_ids).await?)
}

async fn storage_write(
    State(core): State<Core>,
    s: Session,
    Body(req): Body<WriteStorageObjectsRequest>,
) -> ApiResult<StorageObjectAcks> {
    ok(core.storage_write(Some(&s.user_id()), &req.objects, None).await?)
}

async fn storage_delete(
    State(core): State<Core>,
    s: Session,
    Body(req): Body<DeleteStorageObjectsRequest>,
) -> ApiResult<Empty> {
    core.storage_delete(Some(&s.user_id()), &req.object_ids, None).await?;
    ok(Empty {})
}

async fn storage_list(
    State(core): State<Core>,
    s: Session,
    Path(collection): Path<String>,
    q: Params,
) -> ApiResult<StorageObjectList> {
    let out = core
        .storage_list(Some(&s.user_id()), &collection, q.str("user_id"), q.int("limit")?, q.str("cursor"))
        .await?;
    ok(out)
}

async fn storage_list_user(
    State(core): State<Core>,
    s: Session,
    Path((collection, user_id)): Path<(String, String)>,
    q: Params,
) -> ApiResult<StorageObjectList> {
    let out = core.storage_list(Some(&s.user_id()), &collection, &user_id, q.int("limit")?, q.str("cursor")).await?;
    ok(out)
}

// ------------------------------------------------------------------ friends

async fn friends_list(State(core): State<Core>, s: Session, q: Params) -> ApiResult<FriendList> {
    ok(core.friends_list(&s.user_id(), q.int("limit")?, q.int("state")?, q.str("cursor")).await?)
}

async fn friends_add(State(core): State<Core>, s: Session, q: Params) -> ApiResult<Empty> {
    core.friends_add(&s.user_id(), &q.all("ids"), &q.all("usernames"), q.str("metadata")).await?;
    ok(Empty {})
}

async fn friends_delete(State(core): State<Core>, s: Session, q: Params) -> ApiResult<Empty> {
    core.friends_delete(&s.user_id(), &q.all("ids"), &q.all("usernames")).await?;
    ok(Empty {})
}

async fn friends_block(State(core): State<Core>, s: Session, q: Params) -> ApiResult<Empty> {
    core.friends_block(&s.user_id(), &q.all("ids"), &q.all("usernames")).await?;
    ok(Empty {})
}

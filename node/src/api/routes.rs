//! Route table and handlers. Each handler only decodes, calls `core`, and encodes.

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use shoal_proto::*;

use super::ApiResult;
use super::extract::{Body, Params, ServerKey, Session};
use crate::core::{Core, account::IdentityInput};
use shoal_runtime::CallContext;


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


// ------------------------------------------------------------------ authenticate

fn auth_request<A>(q: &Params, account: A) -> Result<AuthenticateRequest<A>, super::ApiError> {
    Ok(AuthenticateRequest { account, create: q.bool("create")?, username: q.get("username").map(str::to_string) })
}

async fn authenticate_device(
    State(core): State<Core>,
    _: ServerKey,
    q: Params,
    Body(acc): Body<AccountDevice>,
) -> ApiResult<shoal_proto::Session> {
    hooked!(core, CallContext::default(), "AuthenticateDevice", auth_request(&q, acc)?, |r| {
        core.authenticate_device(&r.account.id, r.create.unwrap_or(true), r.username.as_deref(), r.account.vars.clone())
            .await?
            .session
    })
}

async fn authenticate_custom(
    State(core): State<Core>,
    _: ServerKey,
    q: Params,
    Body(acc): Body<AccountCustom>,
) -> ApiResult<shoal_proto::Session> {
    hooked!(core, CallContext::default(), "AuthenticateCustom", auth_request(&q, acc)?, |r| {
        core.authenticate_custom(&r.account.id, r.create.unwrap_or(true), r.username.as_deref(), r.account.vars.clone())
            .await?
            .session
    })
}

async fn authenticate_email(
    State(core): State<Core>,
    _: ServerKey,
    q: Params,
    Body(acc): Body<AccountEmail>,
) -> ApiResult<shoal_proto::Session> {
    hooked!(core, CallContext::default(), "AuthenticateEmail", auth_request(&q, acc)?, |r| {
        let a = &r.account;
        core.authenticate_email(&a.email, &a.password, r.create.unwrap_or(true), r.username.as_deref(), a.vars.clone())
            .await?
            .session
    })
}

async fn session_refresh(
    State(core): State<Core>,
    _: ServerKey,
    Body(req): Body<SessionRefreshRequest>,
) -> ApiResult<shoal_proto::Session> {
    hooked!(core, CallContext::default(), "SessionRefresh", req, |r| core.session_refresh(&r.token, r.vars.clone()).await?)
}

async fn session_logout(
    State(core): State<Core>,
    s: Session,
    Body(req): Body<SessionLogoutRequest>,
) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "SessionLogout", req, |r| {
        core.session_logout(&s.0, &r.token, &r.refresh_token).await?;
        Empty {}
    })
}

// ------------------------------------------------------------------ account

async fn get_account(State(core): State<Core>, s: Session) -> ApiResult<Account> {
    hooked!(core, s.ctx(), "GetAccount", Empty {}, |_r| core.get_account(&s.user_id()).await?)
}

async fn update_account(
    State(core): State<Core>,
    s: Session,
    Body(req): Body<UpdateAccountRequest>,
) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "UpdateAccount", req, |r| {
        let update = shoal_storage::UserUpdate {
            username: r.username.clone(),
            display_name: r.display_name.clone(),
            avatar_url: r.avatar_url.clone(),
            lang_tag: r.lang_tag.clone(),
            location: r.location.clone(),
            timezone: r.timezone.clone(),
            metadata: None,
        };
        core.update_account(&s.user_id(), update).await?;
        Empty {}
    })
}

async fn delete_account(State(core): State<Core>, s: Session) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "DeleteAccount", Empty {}, |_r| {
        core.delete_account(&s.user_id()).await?;
        Empty {}
    })
}

async fn link_device(State(core): State<Core>, s: Session, Body(a): Body<AccountDevice>) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "LinkDevice", a, |r| {
        core.link(&s.user_id(), IdentityInput::Device(&r.id)).await?;
        Empty {}
    })
}

async fn link_custom(State(core): State<Core>, s: Session, Body(a): Body<AccountCustom>) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "LinkCustom", a, |r| {
        core.link(&s.user_id(), IdentityInput::Custom(&r.id)).await?;
        Empty {}
    })
}

async fn link_email(State(core): State<Core>, s: Session, Body(a): Body<AccountEmail>) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "LinkEmail", a, |r| {
        core.link(&s.user_id(), IdentityInput::Email { email: &r.email, password: &r.password }).await?;
        Empty {}
    })
}

async fn unlink_device(State(core): State<Core>, s: Session, Body(a): Body<AccountDevice>) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "UnlinkDevice", a, |r| {
        core.unlink(&s.user_id(), IdentityInput::Device(&r.id)).await?;
        Empty {}
    })
}

async fn unlink_custom(State(core): State<Core>, s: Session, Body(a): Body<AccountCustom>) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "UnlinkCustom", a, |r| {
        core.unlink(&s.user_id(), IdentityInput::Custom(&r.id)).await?;
        Empty {}
    })
}

async fn unlink_email(State(core): State<Core>, s: Session, Body(a): Body<AccountEmail>) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "UnlinkEmail", a, |r| {
        core.unlink(&s.user_id(), IdentityInput::Email { email: &r.email, password: &r.password }).await?;
        Empty {}
    })
}

async fn get_users(State(core): State<Core>, s: Session, q: Params) -> ApiResult<Users> {
    let req = GetUsersRequest { ids: q.all("ids"), usernames: q.all("usernames") };
    hooked!(core, s.ctx(), "GetUsers", req, |r| core.get_users(&r.ids, &r.usernames).await?)
}

// ------------------------------------------------------------------ storage

async fn storage_read(
    State(core): State<Core>,
    s: Session,
    Body(req): Body<ReadStorageObjectsRequest>,
) -> ApiResult<StorageObjects> {
    hooked!(core, s.ctx(), "ReadStorageObjects", req, |r| core.storage_read(Some(&s.user_id()), &r.object_ids).await?)
}

async fn storage_write(
    State(core): State<Core>,
    s: Session,
    Body(req): Body<WriteStorageObjectsRequest>,
) -> ApiResult<StorageObjectAcks> {
    hooked!(core, s.ctx(), "WriteStorageObjects", req, |r| core.storage_write(Some(&s.user_id()), &r.objects, None).await?)
}

async fn storage_delete(
    State(core): State<Core>,
    s: Session,
    Body(req): Body<DeleteStorageObjectsRequest>,
) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "DeleteStorageObjects", req, |r| {
        core.storage_delete(Some(&s.user_id()), &r.object_ids, None).await?;
        Empty {}
    })
}

async fn list_storage(core: Core, s: Session, req: ListStorageObjectsRequest) -> ApiResult<StorageObjectList> {
    hooked!(core, s.ctx(), "ListStorageObjects", req, |r| {
        let limit = r.limit.map(i64::from);
        core.storage_list(Some(&s.user_id()), &r.collection, &r.user_id, limit, &r.cursor).await?
    })
}


async fn storage_list(
    State(core): State<Core>,
    s: Session,
    Path(collection): Path<String>,
    q: Params,
) -> ApiResult<StorageObjectList> {
    let req = ListStorageObjectsRequest {
        user_id: q.str("user_id").to_string(),
        collection,
        limit: q.int32("limit")?,
        cursor: q.str("cursor").to_string(),
    };
    list_storage(core, s, req).await
}

async fn storage_list_user(
    State(core): State<Core>,
    s: Session,
    Path((collection, user_id)): Path<(String, String)>,
    q: Params,
) -> ApiResult<StorageObjectList> {
    let req = ListStorageObjectsRequest { user_id, collection, limit: q.int32("limit")?, cursor: q.str("cursor").to_string() };
    list_storage(core, s, req).await
}

// ------------------------------------------------------------------ friends

async fn friends_list(State(core): State<Core>, s: Session, q: Params) -> ApiResult<FriendList> {
    let req = ListFriendsRequest { limit: q.int32("limit")?, state: q.int32("state")?, cursor: q.str("cursor").to_string() };
    hooked!(core, s.ctx(), "ListFriends", req, |r| {
        core.friends_list(&s.user_id(), r.limit.map(i64::from), r.state.map(i64::from), &r.cursor).await?
    })
}

fn friends_request(q: &Params) -> FriendsRequest {
    FriendsRequest { ids: q.all("ids"), usernames: q.all("usernames"), metadata: q.str("metadata").to_string() }
}

async fn friends_add(State(core): State<Core>, s: Session, q: Params) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "AddFriends", friends_request(&q), |r| {
        core.friends_add(&s.user_id(), &r.ids, &r.usernames, &r.metadata).await?;
        Empty {}
    })
}

async fn friends_delete(State(core): State<Core>, s: Session, q: Params) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "DeleteFriends", friends_request(&q), |r| {
        core.friends_delete(&s.user_id(), &r.ids, &r.usernames).await?;
        Empty {}
    })
}

async fn friends_block(State(core): State<Core>, s: Session, q: Params) -> ApiResult<Empty> {
    hooked!(core, s.ctx(), "BlockFriends", friends_request(&q), |r| {
        core.friends_block(&s.user_id(), &r.ids, &r.usernames).await?;
        Empty {}
    })
}

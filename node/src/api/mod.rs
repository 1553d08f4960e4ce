//! The REST API on `socket.port`: routes decode their input, call `core`, and encode the
//! result with protojson's conventions. Errors leave as grpc-gateway's `{"code","message"}`.

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shoal_proto::{ErrorCode, Status};
use tower_http::cors::{Any, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::core::Core;

/// Runs `id`'s before hook on `req`, then `op`, then (in the background) its after hook;
/// answers with `op`'s result as JSON. Every hooked route goes through this.
macro_rules! hooked {
    ($core:expr, $ctx:expr, $id:literal, $req:expr, |$r:ident| $op:expr) => {{
        let ctx = $ctx;
        let $r = $core.before($id, &ctx, $req).await?;
        let out = $op;
        $core.after($id, &ctx, &out, &$r);
        Ok(axum::Json(out))
    }};
}

mod extract;
mod leaderboard;
mod matches;
mod notifications;
mod routes;
mod rpc;

pub use extract::{basic_credentials, basic_username};

/// A `Status` on its way out as an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub Status);

impl From<Status> for ApiError {
    fn from(s: Status) -> Self {
        ApiError(s)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.0).unwrap_or_default();
        let mut resp = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        if self.0.code() == ErrorCode::Unauthenticated
            && let Ok(v) = HeaderValue::from_str(&self.0.message)
        {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<axum::Json<T>, ApiError>;

async fn not_found() -> ApiError {
    ApiError(Status::not_found("Not Found"))
}

async fn method_not_allowed() -> ApiError {
    ApiError(Status::new(ErrorCode::Unimplemented, "Method Not Allowed"))
}

/// A path whose percent-decoding is not UTF-8 gets Nakama's JSON error, not axum's plain
/// text rejection (for an RPC id: the function is not found).
async fn check_path(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    if percent_encoding::percent_decode_str(path).decode_utf8().is_err() {
        if path.starts_with("/v2/rpc/") {
            let body = serde_json::json!({"code": 5, "error": "RPC function not found", "message": "RPC function not found"});
            return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response();
        }
        return ApiError(Status::invalid("Invalid path: not valid UTF-8.")).into_response();
    }
    next.run(req).await
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError(Status::internal()).into_response()
}

/// The client API router.
pub fn router(core: Core) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::USER_AGENT]);
    routes::routes()
        .merge(leaderboard::routes())
        .merge(matches::routes())
        .merge(notifications::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(core)
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, no-cache, must-revalidate"),
        ))
        .layer(cors)
        .layer(axum::middleware::from_fn(check_path))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
}

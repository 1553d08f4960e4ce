//! Calling registered Lua RPC functions (one path for HTTP now and the socket later).

use shoal_proto::{ErrorCode, Status};
use shoal_runtime::{CallContext, RuntimeError};

use super::Core;

/// Why an RPC call failed: not found, or the function's own error.
pub enum RpcError {
    NotFound,
    Failed(Status),
}

impl Core {
    pub async fn rpc(&self, id: &str, ctx: CallContext, payload: String) -> Result<String, RpcError> {
        let Some(pool) = self.runtime.get() else { return Err(RpcError::NotFound) };
        match pool.call_rpc(&id.to_lowercase(), ctx, payload).await {
            Ok(out) => Ok(out.unwrap_or_default()),
            Err(RuntimeError::RpcNotFound) => Err(RpcError::NotFound),
            Err(e) => {
                let status: Status = e.into();
                if status.code() == ErrorCode::Internal && status.message == Status::internal().message {
                    tracing::warn!(rpc = %id, "rpc failed with an internal error");
                }
                Err(RpcError::Failed(status))
            }
        }
    }
}

impl Core {
    /// Calls a `register_http` handler (Nakama 1.x) with the decoded JSON body.
    pub async fn runtime_http(
        &self,
        path: &str,
        ctx: CallContext,
        payload: serde_json::Value,
    ) -> Result<serde_json::Value, RpcError> {
        let Some(pool) = self.runtime.get() else { return Err(RpcError::NotFound) };
        match pool.call_http(path, ctx, payload).await {
            Ok(v) => Ok(v),
            Err(RuntimeError::FunctionNotFound(_)) => Err(RpcError::NotFound),
            Err(e) => Err(RpcError::Failed(e.into())),
        }
    }
}

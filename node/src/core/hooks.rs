//! Before/after hooks (`register_req_before/after`, and the 1.x `register_before/after`)
//! around every REST operation: one mechanism, used by every route.

use serde::Serialize;
use serde::de::DeserializeOwned;
use shoal_proto::Status;
use shoal_runtime::{CallContext, HookId, RuntimeError};

use super::{Core, internal};

impl Core {
    /// Runs the before hook registered for the gRPC method `id`, if any. The request goes in
    /// as its protojson table and may come back rewritten; a hook that returns nil rejects
    /// the call (404 `Requested resource was not found.`). Input validation runs after it.
    pub async fn before<T: Serialize + DeserializeOwned>(&self, id: &str, ctx: &CallContext, input: T) -> Result<T, Status> {
        let Some(pool) = self.runtime.get() else { return Ok(input) };
        let hook = HookId::request(id);
        if !pool.registry().has_before(&hook) {
            return Ok(input);
        }
        let mut value = serde_json::to_value(&input).map_err(internal)?;
        omit_empty(&mut value);
        match pool.call_before(&hook, ctx.clone(), value).await {
            Ok(Some(v)) => serde_json::from_value(v)
                .map_err(|e| Status::invalid(format!("before hook returned an invalid request: {e}"))),
            Ok(None) => Err(Status::not_found("Requested resource was not found.")),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs the after hook registered for `id`, if any, in the background: the response is
    /// already on its way; failures are logged.
    pub fn after<O: Serialize, I: Serialize>(&self, id: &str, ctx: &CallContext, output: &O, input: &I) {
        let Some(pool) = self.runtime.get() else { return };
        let hook = HookId::request(id);
        if !pool.registry().has_after(&hook) {
            return;
        }
        let (Ok(mut out), Ok(mut inp)) = (serde_json::to_value(output), serde_json::to_value(input)) else { return };
        omit_empty(&mut out);
        omit_empty(&mut inp);
        let (pool, ctx) = (pool.clone(), ctx.clone());
        tokio::spawn(async move {
            if let Err(e) = pool.call_after(&hook, ctx, out, inp).await
                && !matches!(e, RuntimeError::FunctionNotFound(_))
            {
                tracing::warn!(hook = %hook, error = %e, "after hook failed");
            }
        });
    }
}

/// protojson leaves out empty strings, lists and maps and unset values; so do hook tables
/// (an empty Lua table would otherwise come back as a map where a list was). `false` and
/// `0` stay: wrapper values such as `create = false` are meaningful.
fn omit_empty(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            map.retain(|_, x| {
                omit_empty(x);
                !matches!(x, Value::Null)
                    && !matches!(x, Value::String(s) if s.is_empty())
                    && !matches!(x, Value::Array(a) if a.is_empty())
                    && !matches!(x, Value::Object(o) if o.is_empty())
            });
        }
        Value::Array(items) => items.iter_mut().for_each(omit_empty),
        _ => {}
    }
}

//! The runtime's one error type, and how it maps onto the client-visible [`Status`].

use std::path::PathBuf;

use shoal_proto::{ErrorCode, Status};

/// Which per-call budget a Lua function ran out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetKind {
    /// `runtime.lua_instruction_limit`.
    Instructions,
    /// `runtime.lua_call_timeout_ms`.
    Time,
}

/// Everything that can go wrong loading modules or calling into Lua.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Raised by Lua code: `error("msg")` gives code 13, `error({"msg", code})` that code.
    #[error("{message}")]
    Lua { code: ErrorCode, message: String },
    /// `call_rpc` with an id no module registered.
    #[error("RPC function not found")]
    RpcNotFound,
    /// A hook or HTTP handler that no module registered.
    #[error("runtime function not found: {0}")]
    FunctionNotFound(String),
    /// The function returned a value of a type its caller cannot use.
    #[error(
        "Runtime function returned invalid data - only allowed one return value of type String/Byte."
    )]
    InvalidReturn,
    /// The call ran out of instructions or wall-clock time; its VM was discarded.
    #[error("runtime function exceeded its {} budget", match .0 { BudgetKind::Instructions => "instruction", BudgetKind::Time => "time" })]
    BudgetExceeded(BudgetKind),
    /// The VM hit its memory limit; it was discarded.
    #[error("runtime function exceeded its memory limit")]
    MemoryLimit,
    /// Every VM stayed busy for the whole call timeout.
    #[error("no Lua VM became free within {0} ms")]
    PoolBusy(u64),
    /// A module failed to compile or to run at load time.
    #[error("module {module} failed to load: {file}:{}: {message}", .line.map(|l| l.to_string()).unwrap_or_else(|| "?".into()))]
    ModuleLoad {
        module: String,
        file: String,
        line: Option<u32>,
        message: String,
    },
    /// Reading the module directory failed.
    #[error("reading modules from {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The set of module files is not a valid bundle (duplicate names, bad paths, …).
    #[error("invalid module bundle: {0}")]
    Bundle(String),
    /// A bug or an unexpected Lua state; logged in full, reported generically.
    #[error("internal runtime error: {0}")]
    Internal(String),
}

impl RuntimeError {
    /// The gRPC code this error reports to clients.
    pub fn code(&self) -> ErrorCode {
        match self {
            RuntimeError::Lua { code, .. } => *code,
            RuntimeError::RpcNotFound | RuntimeError::FunctionNotFound(_) => ErrorCode::NotFound,
            RuntimeError::InvalidReturn => ErrorCode::Internal,
            RuntimeError::BudgetExceeded(BudgetKind::Time) => ErrorCode::DeadlineExceeded,
            RuntimeError::BudgetExceeded(BudgetKind::Instructions) => ErrorCode::ResourceExhausted,
            RuntimeError::MemoryLimit => ErrorCode::ResourceExhausted,
            RuntimeError::PoolBusy(_) => ErrorCode::Unavailable,
            RuntimeError::ModuleLoad { .. }
            | RuntimeError::Io { .. }
            | RuntimeError::Bundle(_)
            | RuntimeError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The client-facing status. Load and internal errors leave with a generic message;
    /// the caller logs `self` in full.
    pub fn to_status(&self) -> Status {
        let code = self.code();
        match self {
            RuntimeError::Lua { message, .. } => Status::new(code, message.clone()),
            RuntimeError::RpcNotFound => Status::new(code, "RPC function not found"),
            RuntimeError::FunctionNotFound(_) => Status::new(code, "Runtime function not found."),
            RuntimeError::InvalidReturn => Status::new(code, self.to_string()),
            RuntimeError::BudgetExceeded(BudgetKind::Time) => {
                Status::new(code, "Runtime function exceeded its time budget.")
            }
            RuntimeError::BudgetExceeded(BudgetKind::Instructions) => {
                Status::new(code, "Runtime function exceeded its instruction budget.")
            }
            RuntimeError::MemoryLimit => {
                Status::new(code, "Runtime function exceeded its memory limit.")
            }
            RuntimeError::PoolBusy(_) => Status::new(code, "Runtime is busy, try again later."),
            _ => Status::internal(),
        }
    }

    /// Whether the VM that produced this error must be discarded.
    pub(crate) fn poisons_vm(&self) -> bool {
        matches!(
            self,
            RuntimeError::BudgetExceeded(_) | RuntimeError::MemoryLimit | RuntimeError::Internal(_)
        )
    }

    pub(crate) fn lua(code: ErrorCode, message: impl Into<String>) -> Self {
        RuntimeError::Lua {
            code,
            message: message.into(),
        }
    }
}

impl From<RuntimeError> for Status {
    fn from(e: RuntimeError) -> Status {
        e.to_status()
    }
}

/// Splits a Lua position prefix off a message: `"lib/util.lua:12: boom"` gives
/// `Some(("lib/util.lua", 12, "boom"))`.
pub(crate) fn split_position(message: &str) -> Option<(&str, u32, &str)> {
    let first_line = message.lines().next().unwrap_or("");
    let mut from = 0;
    while let Some(i) = first_line[from..].find(": ") {
        let at = from + i;
        let head = &first_line[..at];
        if let Some(colon) = head.rfind(':') {
            let digits = &head[colon + 1..];
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                let line = digits.parse().ok()?;
                return Some((&head[..colon], line, &message[at + 2..]));
            }
        }
        from = at + 2;
    }
    None
}

/// Removes the leading `"<file>:<line>: "` Lua adds to `error("msg")`.
pub(crate) fn strip_position(message: &str) -> &str {
    split_position(message)
        .map(|(_, _, rest)| rest)
        .unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_split_and_stripped() {
        assert_eq!(
            split_position("lib/util.lua:12: boom"),
            Some(("lib/util.lua", 12, "boom"))
        );
        assert_eq!(strip_position("a.lua:3: x: y"), "x: y");
        assert_eq!(strip_position("[string \"a:b\"]:1: bad"), "bad");
        assert_eq!(strip_position("no position: here"), "no position: here");
        assert_eq!(strip_position("plain"), "plain");
    }

    #[test]
    fn statuses() {
        assert_eq!(RuntimeError::RpcNotFound.to_status().code, 5);
        let e = RuntimeError::lua(ErrorCode::InvalidArgument, "bad");
        assert_eq!(e.to_status(), Status::invalid("bad"));
        assert_eq!(
            RuntimeError::Internal("x".into()).to_status().message,
            "Internal server error"
        );
        assert_eq!(
            RuntimeError::InvalidReturn.to_status().message,
            "Runtime function returned invalid data - only allowed one return value of type String/Byte."
        );
    }
}

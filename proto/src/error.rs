//! The error model: gRPC status codes, their HTTP mapping, and a `Status` that every layer
//! (REST, socket, Lua) reports the same way.

use serde::Serialize;

/// gRPC status codes, as Nakama uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

impl ErrorCode {
    /// grpc-gateway's `HTTPStatusFromCode`.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            Ok => 200,
            Cancelled => 499,
            Unknown => 500,
            InvalidArgument => 400,
            DeadlineExceeded => 504,
            NotFound => 404,
            AlreadyExists => 409,
            PermissionDenied => 403,
            ResourceExhausted => 429,
            FailedPrecondition => 400,
            Aborted => 409,
            OutOfRange => 400,
            Unimplemented => 501,
            Internal => 500,
            Unavailable => 503,
            DataLoss => 500,
            Unauthenticated => 401,
        }
    }

    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// Codes a Lua `error({msg, code})` may set; anything else falls back to Internal.
    pub fn from_i32(code: i64) -> Option<ErrorCode> {
        use ErrorCode::*;
        Some(match code {
            0 => Ok,
            1 => Cancelled,
            2 => Unknown,
            3 => InvalidArgument,
            4 => DeadlineExceeded,
            5 => NotFound,
            6 => AlreadyExists,
            7 => PermissionDenied,
            8 => ResourceExhausted,
            9 => FailedPrecondition,
            10 => Aborted,
            11 => OutOfRange,
            12 => Unimplemented,
            13 => Internal,
            14 => Unavailable,
            15 => DataLoss,
            16 => Unauthenticated,
            _ => return None,
        })
    }
}

/// A failure as the client sees it: a code and a message. Serialises as grpc-gateway's
/// `google.rpc.Status` body `{"code":N,"message":"..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub code: i32,
    pub message: String,
    #[serde(skip)]
    kind: ErrorCode,
}

impl Status {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Status { code: code.as_i32(), message: message.into(), kind: code }
    }
    pub fn code(&self) -> ErrorCode {
        self.kind
    }
    pub fn http_status(&self) -> u16 {
        self.kind.http_status()
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AlreadyExists, message)
    }
    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::FailedPrecondition, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }
    /// Internal errors leave with a generic message; the caller logs the detail.
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "Internal server error")
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for Status {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_mapping_matches_grpc_gateway() {
        assert_eq!(ErrorCode::InvalidArgument.http_status(), 400);
        assert_eq!(ErrorCode::FailedPrecondition.http_status(), 400);
        assert_eq!(ErrorCode::NotFound.http_status(), 404);
        assert_eq!(ErrorCode::AlreadyExists.http_status(), 409);
        assert_eq!(ErrorCode::PermissionDenied.http_status(), 403);
        assert_eq!(ErrorCode::Unauthenticated.http_status(), 401);
        assert_eq!(ErrorCode::Unavailable.http_status(), 503);
        assert_eq!(ErrorCode::Unimplemented.http_status(), 501);
    }

    #[test]
    fn status_serialises_as_google_rpc_status() {
        let s = Status::invalid("Custom ID invalid, must be 6-128 bytes.");
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"code":3,"message":"Custom ID invalid, must be 6-128 bytes."}"#
        );
        assert_eq!(ErrorCode::from_i32(17), None);
        assert_eq!(ErrorCode::from_i32(3), Some(ErrorCode::InvalidArgument));
    }
}

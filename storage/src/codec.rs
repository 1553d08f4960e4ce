//! bincode encoding of everything stored or sent between nodes.

use serde::{Serialize, de::DeserializeOwned};

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    // Encoding our own serde types into a Vec cannot fail: no maps with non-string keys
    // matter to bincode, and writing to a Vec has no I/O error.
    bincode::serde::encode_to_vec(v, bincode::config::standard())
        .expect("bincode encoding of an in-memory value")
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::error::DecodeError> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard()).map(|(v, _)| v)
}

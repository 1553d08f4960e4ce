//! Shoal's cluster layer: the Raft group every durable write goes through, and (as it grows)
//! the QUIC endpoint, gossip membership and request routing between nodes.
//!
//! Owns: starting and initialising Raft over the storage crate's log store and state
//! machine, proposing commands with deadlines, read barriers, and the node-to-node network.
//! Must not import: the Lua runtime or HTTP; it is used by `node`.

mod error;
mod network;
mod raft;

pub use error::ClusterError;
pub use network::PeerNetwork;
pub use raft::{RaftHandle, RaftStatus};

//! Shoal's Lua runtime: the VM pool, the module bundle, the `nakama` (`nk`) module and the
//! match core. It reaches data only through a trait that `node` implements.
//!
//! Must not import: RocksDB, openraft, quinn (storage, Raft and transport stay out of here).
//! Not built yet: see the Lua runtime issue.

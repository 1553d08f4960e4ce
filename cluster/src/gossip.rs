//! Membership by gossip: chitchat, carried over the QUIC transport through chitchat's
//! `Transport`/`Socket` seam (one uni stream per message), and the typed view of members.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chitchat::transport::{Socket, Transport as ChitchatTransport};
use chitchat::{ChitchatMessage, Deserializable, Serializable};
use tokio::sync::{Mutex, Semaphore, mpsc};

use crate::transport::Transport;

/// Gossip keys each node publishes.
pub mod keys {
    pub const NAME: &str = "name";
    pub const NODE_ID: &str = "node_id";
    pub const API_ADDR: &str = "api_addr";
    pub const CONSOLE_ADDR: &str = "console_addr";
    pub const CLUSTER_ADDR: &str = "cluster_addr";
    pub const READY: &str = "ready";
    pub const RAFT_ROLE: &str = "raft_role";
    pub const INITIALIZED: &str = "initialized";
    pub const BUNDLE_VERSION: &str = "bundle_version";
    pub const SESSIONS: &str = "sessions";
    pub const MATCHES: &str = "matches";
    pub const TERM: &str = "term";
    pub const APPLIED_INDEX: &str = "applied_index";
}

/// A live member as gossip describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub node_id: u64,
    pub generation: u64,
    pub api_addr: String,
    pub console_addr: String,
    pub cluster_addr: String,
    pub ready: bool,
    pub raft_role: String,
    pub initialized: bool,
    pub bundle_version: String,
    /// Every other published key (load, Raft progress, …).
    pub extra: BTreeMap<String, String>,
}

impl Member {
    pub fn from_state(generation: u64, kv: &BTreeMap<String, String>) -> Option<Member> {
        let get = |k: &str| kv.get(k).cloned().unwrap_or_default();
        Some(Member {
            name: kv.get(keys::NAME)?.clone(),
            node_id: kv.get(keys::NODE_ID)?.parse().ok()?,
            generation,
            api_addr: get(keys::API_ADDR),
            console_addr: get(keys::CONSOLE_ADDR),
            cluster_addr: kv.get(keys::CLUSTER_ADDR)?.clone(),
            ready: get(keys::READY) == "true",
            raft_role: get(keys::RAFT_ROLE),
            initialized: get(keys::INITIALIZED) == "true",
            bundle_version: get(keys::BUNDLE_VERSION),
            extra: kv.clone(),
        })
    }
}

/// chitchat's transport over our QUIC endpoint.
pub struct QuicGossip {
    transport: Transport,
    inbound: Arc<Mutex<Option<mpsc::Receiver<(SocketAddr, Vec<u8>)>>>>,
}

impl QuicGossip {
    pub fn new(transport: Transport, inbound: mpsc::Receiver<(SocketAddr, Vec<u8>)>) -> Self {
        QuicGossip { transport, inbound: Arc::new(Mutex::new(Some(inbound))) }
    }
}

#[async_trait::async_trait]
impl ChitchatTransport for QuicGossip {
    async fn open(&self, _listen_addr: SocketAddr) -> anyhow::Result<Box<dyn Socket>> {
        let inbound = self
            .inbound
            .lock()
            .await
            .take()
            .ok_or_else(|| anyhow::anyhow!("the gossip socket is already open"))?;
        Ok(Box::new(QuicGossipSocket { transport: self.transport.clone(), inbound, sends: Arc::new(Semaphore::new(64)) }))
    }
}

struct QuicGossipSocket {
    transport: Transport,
    inbound: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
    /// Bounds concurrent sends; a gossip message that finds no slot is dropped.
    sends: Arc<Semaphore>,
}

#[async_trait::async_trait]
impl Socket for QuicGossipSocket {
    async fn send(&mut self, to: SocketAddr, msg: ChitchatMessage) -> anyhow::Result<()> {
        // Never let a slow or dead peer stall the gossip loop: send in the background.
        let Ok(permit) = self.sends.clone().try_acquire_owned() else { return Ok(()) };
        let transport = self.transport.clone();
        let bytes = msg.serialize_to_vec();
        tokio::spawn(async move {
            if let Err(e) = transport.gossip(to, bytes, Duration::from_secs(2)).await {
                tracing::debug!(%to, error = %e, "gossip send failed");
            }
            drop(permit);
        });
        Ok(())
    }

    async fn recv(&mut self) -> anyhow::Result<(SocketAddr, ChitchatMessage)> {
        loop {
            let (from, bytes) =
                self.inbound.recv().await.ok_or_else(|| anyhow::anyhow!("transport closed"))?;
            match ChitchatMessage::deserialize(&mut &bytes[..]) {
                Ok(m) => return Ok((from, m)),
                Err(e) => tracing::warn!(%from, error = %e, "dropping an undecodable gossip message"),
            }
        }
    }
}

//! The node's one QUIC endpoint (quinn) carrying all node-to-node traffic.
//!
//! Trust: certificates are self-signed and not verified; instead each side proves it knows
//! `cluster.secret` with an HMAC over TLS keying material exported from this very
//! connection (channel binding), on the connection's first stream, in both directions.
//! Nothing else on a connection is read before that proof. Afterwards every stream starts
//! with a kind byte: `KIND_RPC` (bi: one request, one response) or `KIND_GOSSIP` (uni).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hmac::{Hmac, Mac};
use quinn::{Connection, Endpoint};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::error::ClusterError;

pub const KIND_RPC: u8 = 1;
pub const KIND_GOSSIP: u8 = 2;
/// A long-lived uni stream of length-prefixed application frames (see `crate::mesh`).
pub const KIND_MESH: u8 = 3;
/// Largest mesh frame.
pub const MESH_FRAME_MAX_BYTES: usize = 4 << 20;
const ALPN: &[u8] = b"shoal/1";
const EKM_LABEL: &[u8] = b"EXPORTER-shoal-cluster-auth";
const AUTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest RPC request or response (Raft snapshot chunks are far smaller).
pub const RPC_MAX_BYTES: usize = 64 << 20;
/// Largest gossip message (chitchat messages stay under ~64 KB).
pub const GOSSIP_MAX_BYTES: usize = 1 << 20;

/// Handles an authenticated peer's RPC request (bincode bytes in, bincode bytes out).
pub trait RpcHandler: Send + Sync + 'static {
    fn handle(
        &self,
        from: SocketAddr,
        request: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send + '_>>;
}

struct Inner {
    endpoint: Endpoint,
    client_config: quinn::ClientConfig,
    secret: Vec<u8>,
    name: String,
    connections: Mutex<HashMap<SocketAddr, Connection>>,
    handler: OnceLock<Arc<dyn RpcHandler>>,
    mesh: OnceLock<Arc<dyn crate::mesh::MeshHandler>>,
    /// Peer addresses cut off by fault injection: nothing is sent to or accepted from them.
    blocked: std::sync::RwLock<std::collections::HashSet<SocketAddr>>,
    gossip_tx: mpsc::Sender<(SocketAddr, Vec<u8>)>,
}

/// A clonable handle over the endpoint.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

type HmacSha256 = Hmac<Sha256>;

fn proof(secret: &[u8], role: &[u8], ekm: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret).expect("hmac takes any key length");
    mac.update(role);
    mac.update(ekm);
    mac.finalize().into_bytes().to_vec()
}

fn verify(secret: &[u8], role: &[u8], ekm: &[u8], got: &[u8]) -> bool {
    let mut mac = HmacSha256::new_from_slice(secret).expect("hmac takes any key length");
    mac.update(role);
    mac.update(ekm);
    mac.verify_slice(got).is_ok()
}

fn ekm(conn: &Connection) -> Result<[u8; 32], ClusterError> {
    let mut out = [0u8; 32];
    conn.export_keying_material(&mut out, EKM_LABEL, b"")
        .map_err(|_| ClusterError::Transport("keying material export failed".into()))?;
    Ok(out)
}

/// Accepts any server certificate: peers are authenticated by the secret proof instead.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn transport_config() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(Duration::from_secs(1)));
    t.max_idle_timeout(Some(Duration::from_secs(10).try_into().expect("idle timeout")));
    t.max_concurrent_bidi_streams(1024u32.into());
    t.max_concurrent_uni_streams(1024u32.into());
    Arc::new(t)
}

fn configs() -> Result<(quinn::ServerConfig, quinn::ClientConfig), ClusterError> {
    let err = |e: &dyn std::fmt::Display| ClusterError::Transport(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = rcgen::generate_simple_self_signed(vec!["shoal".to_string()]).map_err(|e| err(&e))?;
    let cert_der = cert.cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let mut server_tls = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| err(&e))?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .map_err(|e| err(&e))?;
    server_tls.alpn_protocols = vec![ALPN.to_vec()];
    let mut client_tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| err(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
        .with_no_client_auth();
    client_tls.alpn_protocols = vec![ALPN.to_vec()];
    let server_crypto = quinn::crypto::rustls::QuicServerConfig::try_from(server_tls).map_err(|e| err(&e))?;
    let client_crypto = quinn::crypto::rustls::QuicClientConfig::try_from(client_tls).map_err(|e| err(&e))?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(server_crypto));
    server.transport_config(transport_config());
    let mut client = quinn::ClientConfig::new(Arc::new(client_crypto));
    client.transport_config(transport_config());
    Ok((server, client))
}

impl Transport {
    /// Binds the endpoint and starts accepting peers. Gossip messages received arrive on
    /// the returned channel.
    pub fn bind(
        addr: SocketAddr,
        name: &str,
        secret: &str,
    ) -> Result<(Transport, mpsc::Receiver<(SocketAddr, Vec<u8>)>), ClusterError> {
        let (server, client) = configs()?;
        let endpoint = Endpoint::server(server, addr)
            .map_err(|e| ClusterError::Transport(format!("binding the cluster port {addr}: {e}")))?;
        let (gossip_tx, gossip_rx) = mpsc::channel(1024);
        let inner = Arc::new(Inner {
            endpoint,
            client_config: client,
            secret: secret.as_bytes().to_vec(),
            name: name.to_string(),
            connections: Mutex::new(HashMap::new()),
            handler: OnceLock::new(),
            mesh: OnceLock::new(),
            blocked: Default::default(),
            gossip_tx,
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move { accept_loop(weak).await });
        Ok((Transport { inner }, gossip_rx))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.inner.endpoint.local_addr().expect("bound endpoint has an address")
    }

    /// Installs the RPC handler (once; Raft is created after the transport).
    pub fn set_handler(&self, handler: Arc<dyn RpcHandler>) {
        let _ = self.inner.handler.set(handler);
    }

    /// Cuts this node off from `peers` (replacing any earlier set; empty heals): their
    /// connections are closed and no new ones are made or accepted.
    pub fn set_blocked(&self, peers: std::collections::HashSet<SocketAddr>) {
        let cut: Vec<Connection> = {
            let conns = self.inner.connections.lock().expect("lock");
            conns.iter().filter(|(a, _)| peers.contains(a)).map(|(_, c)| c.clone()).collect()
        };
        *self.inner.blocked.write().unwrap_or_else(|e| e.into_inner()) = peers;
        for c in cut {
            c.close(2u32.into(), b"partitioned");
        }
    }

    fn is_blocked(inner: &Inner, addr: &SocketAddr) -> bool {
        inner.blocked.read().unwrap_or_else(|e| e.into_inner()).contains(addr)
    }

    /// Installs the receiver of mesh frames (once).
    pub fn set_mesh_handler(&self, handler: Arc<dyn crate::mesh::MeshHandler>) {
        let _ = self.inner.mesh.set(handler);
    }

    /// Opens a mesh stream to `addr` (after the kind byte, frames are `u32` big-endian
    /// length + body).
    pub(crate) async fn open_mesh(&self, addr: SocketAddr) -> Result<quinn::SendStream, ClusterError> {
        let conn = self.connection(addr).await?;
        let mut send = conn.open_uni().await.map_err(|e| {
            self.forget(addr);
            ClusterError::Transport(e.to_string())
        })?;
        send.write_all(&[KIND_MESH]).await.map_err(|e| ClusterError::Transport(e.to_string()))?;
        Ok(send)
    }

    /// An authenticated connection to `addr`, reusing one if it is open.
    async fn connection(&self, addr: SocketAddr) -> Result<Connection, ClusterError> {
        if Self::is_blocked(&self.inner, &addr) {
            return Err(ClusterError::Unreachable(format!("{addr} is partitioned away")));
        }
        if let Some(c) = self.inner.connections.lock().expect("lock").get(&addr)
            && c.close_reason().is_none()
        {
            return Ok(c.clone());
        }
        let connecting = self
            .inner
            .endpoint
            .connect_with(self.inner.client_config.clone(), addr, "shoal")
            .map_err(|e| ClusterError::Unreachable(e.to_string()))?;
        // Until the connection is authenticated nothing of the caller's has been sent, so
        // every failure here is `Unreachable` (certainly not delivered).
        let conn = tokio::time::timeout(AUTH_TIMEOUT, connecting)
            .await
            .map_err(|_| ClusterError::Unreachable(format!("connecting to {addr} timed out")))?
            .map_err(|e| ClusterError::Unreachable(e.to_string()))?;
        match tokio::time::timeout(AUTH_TIMEOUT, client_auth(&self.inner, &conn)).await {
            Ok(Ok(())) => {}
            Ok(Err(ClusterError::Auth(e))) => return Err(ClusterError::Auth(e)),
            Ok(Err(e)) => return Err(ClusterError::Unreachable(e.to_string())),
            Err(_) => return Err(ClusterError::Unreachable(format!("authenticating to {addr} timed out"))),
        }
        self.inner.connections.lock().expect("lock").insert(addr, conn.clone());
        let weak = Arc::downgrade(&self.inner);
        let c2 = conn.clone();
        tokio::spawn(async move { serve_connection(weak, c2).await });
        Ok(conn)
    }

    /// Sends one RPC and waits for its response, within `timeout`.
    pub async fn rpc(&self, addr: SocketAddr, request: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, ClusterError> {
        let ms = timeout.as_millis() as u64;
        let fut = async {
            let conn = self.connection(addr).await?;
            let (mut send, mut recv) = conn.open_bi().await.map_err(|e| {
                self.forget(addr);
                ClusterError::Transport(e.to_string())
            })?;
            send.write_all(&[KIND_RPC]).await.map_err(|e| ClusterError::Transport(e.to_string()))?;
            send.write_all(&request).await.map_err(|e| ClusterError::Transport(e.to_string()))?;
            send.finish().map_err(|e| ClusterError::Transport(e.to_string()))?;
            recv.read_to_end(RPC_MAX_BYTES).await.map_err(|e| ClusterError::Transport(e.to_string()))
        };
        tokio::time::timeout(timeout, fut).await.map_err(|_| ClusterError::Timeout { ms })?
    }

    /// Sends one gossip message (fire and forget, bounded by `timeout`).
    pub async fn gossip(&self, addr: SocketAddr, msg: Vec<u8>, timeout: Duration) -> Result<(), ClusterError> {
        let fut = async {
            let conn = self.connection(addr).await?;
            let mut send = conn.open_uni().await.map_err(|e| {
                self.forget(addr);
                ClusterError::Transport(e.to_string())
            })?;
            send.write_all(&[KIND_GOSSIP]).await.map_err(|e| ClusterError::Transport(e.to_string()))?;
            send.write_all(&msg).await.map_err(|e| ClusterError::Transport(e.to_string()))?;
            send.finish().map_err(|e| ClusterError::Transport(e.to_string()))
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| ClusterError::Timeout { ms: timeout.as_millis() as u64 })?
    }

    fn forget(&self, addr: SocketAddr) {
        self.inner.connections.lock().expect("lock").remove(&addr);
    }

    /// Closes every connection and the endpoint.
    pub fn close(&self) {
        self.inner.endpoint.close(0u32.into(), b"shutdown");
    }
}

async fn client_auth(inner: &Inner, conn: &Connection) -> Result<(), ClusterError> {
    let ekm = ekm(conn)?;
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| ClusterError::Transport(e.to_string()))?;
    let mut hello = proof(&inner.secret, b"client", &ekm);
    hello.extend_from_slice(inner.name.as_bytes());
    send.write_all(&hello).await.map_err(|e| ClusterError::Transport(e.to_string()))?;
    send.finish().map_err(|e| ClusterError::Transport(e.to_string()))?;
    let reply = recv.read_to_end(1024).await.map_err(|e| ClusterError::Transport(e.to_string()))?;
    if !verify(&inner.secret, b"server", &ekm, &reply) {
        conn.close(1u32.into(), b"bad cluster secret");
        return Err(ClusterError::Auth("peer did not prove the cluster secret".into()));
    }
    Ok(())
}

/// Verifies a connecting peer's proof; returns its self-reported name.
async fn server_auth(inner: &Inner, conn: &Connection) -> Result<String, ClusterError> {
    let ekm = ekm(conn)?;
    let (mut send, mut recv) = conn.accept_bi().await.map_err(|e| ClusterError::Transport(e.to_string()))?;
    let hello = recv.read_to_end(1024).await.map_err(|e| ClusterError::Transport(e.to_string()))?;
    if hello.len() < 32 || !verify(&inner.secret, b"client", &ekm, &hello[..32]) {
        conn.close(1u32.into(), b"bad cluster secret");
        return Err(ClusterError::Auth("peer did not prove the cluster secret".into()));
    }
    send.write_all(&proof(&inner.secret, b"server", &ekm)).await.map_err(|e| ClusterError::Transport(e.to_string()))?;
    send.finish().map_err(|e| ClusterError::Transport(e.to_string()))?;
    Ok(String::from_utf8_lossy(&hello[32..]).into_owned())
}

async fn accept_loop(weak: std::sync::Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let endpoint = inner.endpoint.clone();
        drop(inner);
        let Some(incoming) = endpoint.accept().await else { return };
        let weak = weak.clone();
        tokio::spawn(async move {
            let Ok(Ok(conn)) = tokio::time::timeout(AUTH_TIMEOUT, incoming).await else { return };
            let Some(inner) = weak.upgrade() else { return };
            if Transport::is_blocked(&inner, &conn.remote_address()) {
                conn.close(2u32.into(), b"partitioned");
                return;
            }
            match tokio::time::timeout(AUTH_TIMEOUT, server_auth(&inner, &conn)).await {
                Ok(Ok(peer)) => {
                    tracing::debug!(peer = %peer, addr = %conn.remote_address(), "peer authenticated");
                    inner.connections.lock().expect("lock").insert(conn.remote_address(), conn.clone());
                    drop(inner);
                    serve_connection(weak, conn).await;
                }
                Ok(Err(e)) => tracing::warn!(addr = %conn.remote_address(), error = %e, "rejected peer"),
                Err(_) => {
                    tracing::warn!(addr = %conn.remote_address(), "peer did not authenticate in time");
                    conn.close(1u32.into(), b"auth timeout");
                }
            }
        });
    }
}

/// Serves an authenticated connection's streams until it closes.
async fn serve_connection(weak: std::sync::Weak<Inner>, conn: Connection) {
    let from = conn.remote_address();
    loop {
        tokio::select! {
            bi = conn.accept_bi() => {
                let Ok((mut send, mut recv)) = bi else { break };
                let weak = weak.clone();
                tokio::spawn(async move {
                    let Ok(req) = recv.read_to_end(RPC_MAX_BYTES).await else { return };
                    if req.first() != Some(&KIND_RPC) {
                        tracing::warn!(%from, "dropping a stream of unknown kind");
                        return;
                    }
                    let Some(inner) = weak.upgrade() else { return };
                    let Some(handler) = inner.handler.get().cloned() else { return };
                    drop(inner);
                    let resp = handler.handle(from, req[1..].to_vec()).await;
                    let _ = send.write_all(&resp).await;
                    let _ = send.finish();
                });
            }
            uni = conn.accept_uni() => {
                let Ok(mut recv) = uni else { break };
                let weak = weak.clone();
                tokio::spawn(async move {
                    let mut kind = [0u8; 1];
                    if recv.read_exact(&mut kind).await.is_err() {
                        return;
                    }
                    if kind[0] == KIND_MESH {
                        let handler = weak.upgrade().and_then(|inner| inner.mesh.get().cloned());
                        if let Some(handler) = handler {
                            crate::mesh::read_frames(from, recv, handler).await;
                        }
                        return;
                    }
                    let Ok(rest) = recv.read_to_end(GOSSIP_MAX_BYTES).await else { return };
                    let mut msg = kind.to_vec();
                    msg.extend_from_slice(&rest);
                    if msg.first() != Some(&KIND_GOSSIP) {
                        tracing::warn!(%from, "dropping a stream of unknown kind");
                        return;
                    }
                    if let Some(inner) = weak.upgrade() {
                        // Gossip is lossy by design: drop when the queue is full.
                        let _ = inner.gossip_tx.try_send((from, msg[1..].to_vec()));
                    }
                });
            }
        }
    }
    if let Some(inner) = weak.upgrade() {
        let mut conns = inner.connections.lock().expect("lock");
        if conns.get(&from).is_some_and(|c| c.stable_id() == conn.stable_id()) {
            conns.remove(&from);
        }
    }
}

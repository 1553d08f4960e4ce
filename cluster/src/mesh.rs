//! Application traffic between nodes, for the realtime layer: ordered one-way frames and
//! request/response calls. The cluster carries opaque bytes; the node defines what they mean.
//!
//! One-way frames to a peer go through a bounded queue to a task that owns one long-lived
//! QUIC uni stream (`KIND_MESH`) to it, so frames from one node arrive at another in the
//! order they were sent. When the stream breaks, queued frames are dropped and the next
//! frame opens a new stream: receivers detect the loss from their own sequence numbers.
//! Requests ride the RPC streams (`PeerRequest::App`), each with a deadline.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::error::ClusterError;
use crate::transport::{MESH_FRAME_MAX_BYTES, Transport};

/// Frames queued per peer before `send` refuses more.
pub const MESH_QUEUE_LEN: usize = 16_384;
/// How many queued frames one stream write carries at most.
const WRITE_BATCH_MAX: usize = 256;
/// A write that takes longer than this means the peer is gone or stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Receives what peers send. Both methods must return quickly; `frame` must not block.
pub trait MeshHandler: Send + Sync + 'static {
    /// One frame from `from`, in the order the peer sent them on this stream.
    fn frame(&self, from: SocketAddr, body: Vec<u8>);
    /// A request from `from`; the returned bytes are the response.
    fn request(
        &self,
        from: SocketAddr,
        body: Vec<u8>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send + '_>>;
}

/// Per-peer outgoing queues. Cheap to clone.
#[derive(Clone)]
pub struct Mesh {
    transport: Transport,
    queues: Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>,
}

impl Mesh {
    pub(crate) fn new(transport: Transport) -> Mesh {
        Mesh { transport, queues: Arc::default() }
    }

    /// Queues one frame for `addr`. Fails (nothing queued) when the peer's queue is full or
    /// the frame is too big.
    pub fn send(&self, addr: SocketAddr, body: Vec<u8>) -> Result<(), ClusterError> {
        if body.len() > MESH_FRAME_MAX_BYTES {
            return Err(ClusterError::Transport(format!("mesh frame of {} bytes is too big", body.len())));
        }
        let mut queues = self.queues.lock().expect("lock");
        let tx = match queues.get(&addr) {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::channel(MESH_QUEUE_LEN);
                tokio::spawn(write_loop(self.transport.clone(), addr, rx));
                queues.insert(addr, tx.clone());
                tx
            }
        };
        drop(queues);
        tx.try_send(body).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ClusterError::Unavailable(format!("mesh queue to {addr} is full")),
            mpsc::error::TrySendError::Closed(_) => ClusterError::Unreachable(format!("mesh stream to {addr} closed")),
        })
    }

    /// Sends a request to `addr`'s [`MeshHandler::request`] and waits for the response.
    pub async fn request(&self, addr: SocketAddr, body: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, ClusterError> {
        let req = shoal_storage::encode(&crate::rpc::PeerRequest::App(body));
        let resp = self.transport.rpc(addr, req, timeout).await?;
        match shoal_storage::decode::<crate::rpc::PeerResponse>(&resp) {
            Ok(crate::rpc::PeerResponse::App(bytes)) => Ok(bytes),
            Ok(crate::rpc::PeerResponse::Refused(why)) => Err(ClusterError::Unavailable(why)),
            Ok(_) => Err(ClusterError::Decode("unexpected response to an app request".into())),
            Err(e) => Err(ClusterError::Decode(e.to_string())),
        }
    }

    /// Drops the queue (and stream) to a peer that left.
    pub fn forget(&self, addr: SocketAddr) {
        self.queues.lock().expect("lock").remove(&addr);
    }
}

/// Owns the stream to one peer: writes queued frames in batches; on any failure, drops
/// what is queued and ends (the next `send` starts a new loop and stream).
async fn write_loop(transport: Transport, addr: SocketAddr, mut rx: mpsc::Receiver<Vec<u8>>) {
    let mut stream = None;
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Some(first) = rx.recv().await {
        buf.clear();
        push_frame(&mut buf, &first);
        let mut n = 1;
        while n < WRITE_BATCH_MAX {
            match rx.try_recv() {
                Ok(f) => {
                    push_frame(&mut buf, &f);
                    n += 1;
                }
                Err(_) => break,
            }
        }
        if stream.is_none() {
            match tokio::time::timeout(WRITE_TIMEOUT, transport.open_mesh(addr)).await {
                Ok(Ok(s)) => stream = Some(s),
                Ok(Err(e)) => {
                    tracing::debug!(%addr, error = %e, "mesh stream could not open; dropping frames");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%addr, "mesh stream open timed out; dropping frames");
                    return;
                }
            }
        }
        let send = stream.as_mut().expect("stream opened");
        match tokio::time::timeout(WRITE_TIMEOUT, send.write_all(&buf)).await {
            Ok(Ok(())) => {}
            _ => {
                tracing::debug!(%addr, "mesh stream write failed; dropping frames");
                return;
            }
        }
    }
}

fn push_frame(buf: &mut Vec<u8>, body: &[u8]) {
    buf.extend_from_slice(&(body.len() as u32).to_be_bytes());
    buf.extend_from_slice(body);
}

/// Reads frames from a peer's mesh stream until it ends.
pub(crate) async fn read_frames(from: SocketAddr, mut recv: quinn::RecvStream, handler: Arc<dyn MeshHandler>) {
    let mut len = [0u8; 4];
    loop {
        if recv.read_exact(&mut len).await.is_err() {
            return;
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > MESH_FRAME_MAX_BYTES {
            tracing::warn!(%from, bytes = n, "mesh frame too big; closing the stream");
            return;
        }
        let mut body = vec![0u8; n];
        if recv.read_exact(&mut body).await.is_err() {
            return;
        }
        handler.frame(from, body);
    }
}

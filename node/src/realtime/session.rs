//! The sessions connected to this node: one per socket, each with a bounded outgoing
//! queue. A session whose queue is full is disconnected (a slow consumer never grows memory).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::ws::Utf8Bytes;
use shoal_runtime::CallContext;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

/// What the writer task sends.
pub enum Outgoing {
    Text(Utf8Bytes),
}

/// One connected socket.
pub struct SessionHandle {
    pub id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub vars: std::collections::BTreeMap<String, String>,
    pub expiry: i64,
    pub lang: String,
    pub client_ip: String,
    pub client_port: String,
    tx: mpsc::Sender<Outgoing>,
    closed: AtomicBool,
    close_reason: std::sync::Mutex<Option<String>>,
    close_tx: watch::Sender<bool>,
}

impl SessionHandle {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        user_id: Uuid,
        username: String,
        vars: std::collections::BTreeMap<String, String>,
        expiry: i64,
        lang: String,
        client: Option<std::net::SocketAddr>,
        queue_len: usize,
    ) -> (Arc<SessionHandle>, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(queue_len.max(1));
        let handle = Arc::new(SessionHandle {
            id: Uuid::new_v4(),
            user_id,
            username,
            vars,
            expiry,
            lang,
            client_ip: client.map(|a| a.ip().to_string()).unwrap_or_default(),
            client_port: client.map(|a| a.port().to_string()).unwrap_or_default(),
            tx,
            closed: AtomicBool::new(false),
            close_reason: Default::default(),
            close_tx: watch::channel(false).0,
        });
        (handle, rx)
    }

    /// Queues a message; a full queue disconnects the session.
    pub fn send(&self, text: Utf8Bytes) {
        if self.is_closed() {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(Outgoing::Text(text)) {
            tracing::info!(session = %self.id, "outgoing queue full; disconnecting a slow session");
            self.close("outgoing queue full");
        }
    }

    pub fn close(&self, reason: &str) {
        if !self.closed.swap(true, Ordering::SeqCst) {
            *self.close_reason.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.to_string());
        }
        self.close_tx.send_replace(true);
    }

    /// Resolves once the session is closed (immediately if it already is).
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.close_tx.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub fn close_reason(&self) -> Option<String> {
        self.close_reason.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The runtime context of a call made over this socket.
    pub fn ctx(&self) -> CallContext {
        CallContext {
            user_id: Some(self.user_id.to_string()),
            username: Some(self.username.clone()),
            vars: Some(self.vars.clone()),
            user_session_exp: Some(self.expiry),
            session_id: Some(self.id.to_string()),
            lang: Some(self.lang.clone()),
            client_ip: Some(self.client_ip.clone()).filter(|s| !s.is_empty()),
            client_port: Some(self.client_port.clone()).filter(|s| !s.is_empty()),
            ..Default::default()
        }
    }
}

/// This node's sessions by id and by user.
#[derive(Default)]
pub struct SessionRegistry {
    inner: RwLock<Registry>,
}

#[derive(Default)]
struct Registry {
    by_id: HashMap<Uuid, Arc<SessionHandle>>,
    by_user: HashMap<Uuid, Vec<Uuid>>,
}

impl SessionRegistry {
    pub fn add(&self, s: Arc<SessionHandle>) {
        let mut r = self.inner.write().unwrap_or_else(|e| e.into_inner());
        r.by_user.entry(s.user_id).or_default().push(s.id);
        r.by_id.insert(s.id, s);
    }

    pub fn remove(&self, id: Uuid) -> Option<Arc<SessionHandle>> {
        let mut r = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let s = r.by_id.remove(&id)?;
        if let Some(list) = r.by_user.get_mut(&s.user_id) {
            list.retain(|x| *x != id);
            if list.is_empty() {
                r.by_user.remove(&s.user_id);
            }
        }
        Some(s)
    }

    pub fn get(&self, id: Uuid) -> Option<Arc<SessionHandle>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).by_id.get(&id).cloned()
    }

    pub fn of_user(&self, user_id: Uuid) -> Vec<Arc<SessionHandle>> {
        let r = self.inner.read().unwrap_or_else(|e| e.into_inner());
        r.by_user.get(&user_id).into_iter().flatten().filter_map(|id| r.by_id.get(id).cloned()).collect()
    }

    pub fn len(&self) -> usize {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

//! Test harness: real `shoal` processes on free loopback ports, each with its own data dir,
//! and a small REST client that speaks Nakama's conventions.
//!
//! The binary is `$SHOAL_BIN`, or `shoal` next to the test executable's target directory
//! (`cargo build --bins` builds it into the same profile as the tests).

pub mod ws;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use serde_json::Value;

pub fn shoal_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SHOAL_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test-exe> → target/<profile>/shoal; a binary that is not in
    // deps/ (e.g. target/release/shoal-bench) has `shoal` beside it.
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().expect("exe dir");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("target dir").join("shoal")
    } else {
        dir.join("shoal")
    }
}

/// A port that was free a moment ago (bound to 0 and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A UDP port that was free a moment ago (for the QUIC cluster endpoint).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("free udp port")
}

/// Waits until `f` returns true, polling every 20 ms, up to `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut f: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("timed out after {timeout:?} waiting for {what}")
}

/// One `shoal` process. Killed (SIGKILL) on drop; its data dir is removed with the struct.
pub struct TestNode {
    pub name: String,
    pub port: u16,
    pub console_port: u16,
    pub cluster_port: u16,
    pub data_dir: tempfile::TempDir,
    pub extra_args: Vec<String>,
    child: Option<Child>,
    log_path: PathBuf,
}

impl TestNode {
    /// Starts a single node with test-friendly session lifetimes and waits until it serves.
    pub async fn start(extra_args: &[&str]) -> anyhow::Result<TestNode> {
        let mut node = TestNode::new("test1", extra_args)?;
        node.spawn().await?;
        Ok(node)
    }

    /// A node that is not started yet, on fresh free ports and a fresh data dir.
    pub fn new(name: &str, extra_args: &[&str]) -> anyhow::Result<TestNode> {
        let data_dir = tempfile::Builder::new().prefix("shoal-test-").tempdir()?;
        let log_path = data_dir.path().join("node.log");
        Ok(TestNode {
            name: name.into(),
            port: free_port(),
            console_port: free_port(),
            cluster_port: free_udp_port(),
            data_dir,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            child: None,
            log_path,
        })
    }

    /// GET /v2/console/cluster on this node (console defaults admin:password).
    pub async fn cluster_status(&self) -> Option<Value> {
        let r = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/v2/console/cluster", self.console_port))
            .basic_auth("admin", Some("password"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    /// (Re)starts the process on the same ports and data dir and waits until it serves.
    pub async fn spawn(&mut self) -> anyhow::Result<()> {
        self.launch()?;
        self.wait_serving().await
    }

    /// Starts the process without waiting for it to serve (a cluster node serves only once
    /// the cluster has a leader: start its peers, then [`TestNode::wait_serving`]).
    pub fn launch(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log_path)?;
        let mut cmd = Command::new(shoal_bin());
        cmd.args(["--name", &self.name])
            .args(["--data_dir", &self.data_dir.path().join("data").display().to_string()])
            .args(["--socket.port", &self.port.to_string()])
            .args(["--console.port", &self.console_port.to_string()])
            .args(["--cluster.port", &self.cluster_port.to_string()])
            .args(["--session.token_expiry_sec", "7200", "--session.refresh_token_expiry_sec", "86400"])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd.spawn().with_context(|| format!("spawning {}", shoal_bin().display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the node answers `/healthcheck` (60 s at most), failing fast if it exits.
    pub async fn wait_serving(&mut self) -> anyhow::Result<()> {
        let url = format!("{}/healthcheck", self.base());
        // The listener is bound before the node serves: a request may wait in its backlog.
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let start = Instant::now();
        loop {
            if client.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if !self.is_running() {
                bail!("{} exited before serving; node log:\n{}", self.name, tail(&self.log(), 80));
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!("{} did not serve within 60 s; node log:\n{}", self.name, tail(&self.log(), 80));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The OS process id, while the process is started (for `/proc/<pid>/…` figures).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// True if the process was started and not killed by the harness.
    pub fn is_started(&self) -> bool {
        self.child.is_some()
    }

    /// True while the process is running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn client(&self) -> Client {
        Client { base: self.base(), http: reqwest::Client::new() }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// N real nodes on loopback forming one cluster from one seed address.
pub struct TestCluster {
    pub nodes: Vec<TestNode>,
}

/// Cluster flags shared by every test node: short timeouts so tests are quick.
pub const CLUSTER_TEST_ARGS: &[&str] = &["--cluster.secret", "test-secret", "--cluster.dead_node_grace_sec", "30"];

impl TestCluster {
    /// Creates `n` nodes (n1…nN) seeded at n1's cluster address, starts them in `order`
    /// (indexes into the node list), and waits until every node reports the same leader
    /// and `n` ready members.
    pub async fn start(n: usize, order: &[usize], extra_args: &[&str]) -> anyhow::Result<TestCluster> {
        let mut nodes = Vec::new();
        let mut seed = String::new();
        for i in 0..n {
            let mut args: Vec<String> = CLUSTER_TEST_ARGS.iter().map(|s| s.to_string()).collect();
            args.extend(["--cluster.bootstrap_expect".into(), n.to_string()]);
            args.extend(extra_args.iter().map(|s| s.to_string()));
            let mut node = TestNode::new(&format!("n{}", i + 1), &[])?;
            if i == 0 {
                seed = format!("127.0.0.1:{}", node.cluster_port);
            }
            args.extend(["--cluster.seeds".into(), seed.clone()]);
            node.extra_args = args;
            nodes.push(node);
        }
        for &i in order {
            nodes[i].launch()?;
        }
        for &i in order {
            nodes[i].wait_serving().await?;
        }
        let cluster = TestCluster { nodes };
        cluster.wait_ready(n).await?;
        Ok(cluster)
    }

    /// A new node (not started) configured to join this cluster through n1's seed.
    pub fn joiner(&self, name: &str, bootstrap_expect: usize, extra_args: &[&str]) -> anyhow::Result<TestNode> {
        let seed = format!("127.0.0.1:{}", self.nodes[0].cluster_port);
        let mut node = TestNode::new(name, &[])?;
        let mut args: Vec<String> = CLUSTER_TEST_ARGS.iter().map(|s| s.to_string()).collect();
        args.extend(["--cluster.bootstrap_expect".to_string(), bootstrap_expect.to_string()]);
        args.extend(["--cluster.seeds".to_string(), seed]);
        args.extend(extra_args.iter().map(|s| s.to_string()));
        node.extra_args = args;
        Ok(node)
    }

    /// Waits until every running node sees `n` ready members and one agreed leader.
    pub async fn wait_ready(&self, n: usize) -> anyhow::Result<()> {
        let res = wait_until(Duration::from_secs(60), "cluster ready", || async {
            let mut leaders = std::collections::BTreeSet::new();
            for node in &self.nodes {
                if !node.is_started() {
                    continue;
                }
                let Some(s) = node.cluster_status().await else { return false };
                let ready = s["nodes"].as_array().map(|a| a.iter().filter(|m| m["ready"] == true).count()).unwrap_or(0);
                if ready < n || s["leader"].as_str().unwrap_or("").is_empty() {
                    return false;
                }
                leaders.insert(s["leader"].as_str().unwrap_or("").to_string());
            }
            leaders.len() == 1
        })
        .await;
        if let Err(e) = res {
            let logs: Vec<String> = self.nodes.iter().map(|n| format!("--- {} ---\n{}", n.name, tail(&n.log(), 60))).collect();
            bail!("{e}\n{}", logs.join("\n"));
        }
        Ok(())
    }

    /// The current leader's index in `nodes`, as the first running node reports it.
    pub async fn leader(&self) -> Option<usize> {
        for node in &self.nodes {
            if !node.is_started() {
                continue;
            }
            if let Some(s) = node.cluster_status().await {
                let name = s["leader"].as_str()?.to_string();
                return self.nodes.iter().position(|n| n.name == name);
            }
        }
        None
    }
}

/// The last `lines` lines of `s`.
pub fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// A response: HTTP status and the JSON body (Null when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// Asserts an error response with this HTTP status, gRPC code and message.
    pub fn assert_error(&self, status: u16, code: i64, message: &str) {
        assert_eq!(self.status, status, "status; body {}", self.body);
        assert_eq!(self.body["code"], code, "code; body {}", self.body);
        assert_eq!(self.body["message"], message, "message; body {}", self.body);
    }
    pub fn ok(self) -> Value {
        assert_eq!(self.status, 200, "expected 200, got body {}", self.body);
        self.body
    }
}

pub enum Auth<'a> {
    None,
    Basic(&'a str),
    Bearer(&'a str),
    Raw(&'a str),
}

#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
}

impl Client {
    pub async fn call(&self, method: &str, path: &str, auth: Auth<'_>, body: Option<Vec<u8>>) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        req = match auth {
            Auth::None => req,
            Auth::Basic(key) => req.header(
                "Authorization",
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:"))),
            ),
            Auth::Bearer(t) => req.header("Authorization", format!("Bearer {t}")),
            Auth::Raw(v) => req.header("Authorization", v),
        };
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body read");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { status, body, headers }
    }

    pub async fn json(&self, method: &str, path: &str, auth: Auth<'_>, body: Value) -> Resp {
        self.call(method, path, auth, Some(serde_json::to_vec(&body).unwrap())).await
    }

    /// Authenticates (creating) a custom id; returns (token, refresh_token).
    pub async fn login_custom(&self, id: &str) -> (String, String) {
        let b = self
            .json("POST", "/v2/account/authenticate/custom?create=true", Auth::Basic("defaultkey"), serde_json::json!({"id": id}))
            .await
            .ok();
        (b["token"].as_str().unwrap().to_string(), b["refresh_token"].as_str().unwrap().to_string())
    }
}

/// The `uid` claim of a session token.
pub fn token_user_id(token: &str) -> String {
    let payload = token.split('.').nth(1).expect("jwt payload");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64");
    let v: Value = serde_json::from_slice(&raw).expect("json");
    v["uid"].as_str().unwrap().to_string()
}

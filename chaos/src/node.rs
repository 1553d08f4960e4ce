//! One supervised `shoal` process: its ports, data dir and log, and the signals the
//! nemesis sends it (SIGKILL, SIGSTOP, SIGCONT).

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

/// The first port of the kernel's ephemeral range: node ports are chosen below it, so
/// none of the thousands of short-lived client connections the workload opens can take a
/// killed node's port before it restarts.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        .unwrap_or(32768)
}

/// A port below the ephemeral range that is free for TCP (all interfaces, as the node
/// binds) or UDP right now.
pub fn free_port(udp: bool) -> anyhow::Result<u16> {
    let hi = ephemeral_low().max(12_000);
    for _ in 0..1000 {
        let p = rand::random_range(10_000..hi);
        let free = if udp {
            UdpSocket::bind(("127.0.0.1", p)).is_ok() && UdpSocket::bind(("0.0.0.0", p)).is_ok()
        } else {
            TcpListener::bind(("0.0.0.0", p)).is_ok() && TcpListener::bind(("127.0.0.1", p)).is_ok()
        };
        if free {
            return Ok(p);
        }
    }
    bail!("no free port below {hi}")
}

/// `line` without terminal colour codes.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in line.chars() {
        match (esc, c) {
            (_, '\x1b') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

pub struct NodeProc {
    pub name: String,
    pub api_port: u16,
    pub console_port: u16,
    pub cluster_port: u16,
    pub dir: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) child: Option<Child>,
    pub paused: bool,
    /// Times this process was started.
    pub starts: usize,
}

impl NodeProc {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }
    pub fn console(&self) -> String {
        format!("127.0.0.1:{}", self.console_port)
    }
    pub fn cluster_addr(&self) -> String {
        format!("127.0.0.1:{}", self.cluster_port)
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("node.log")
    }
    pub fn is_up(&self) -> bool {
        self.child.is_some()
    }

    pub fn launch(&mut self, bin: &Path) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path())?;
        let mut cmd = Command::new(bin);
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::process::CommandExt;
            // SAFETY: prctl in the forked child before exec; async-signal-safe, no allocation.
            // The node dies with the supervisor (even on SIGTERM/SIGKILL of shoal-chaos).
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
        }
        let child = cmd
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        self.child = Some(child);
        self.paused = false;
        self.starts += 1;
        Ok(())
    }

    fn signal(&self, sig: libc::c_int) -> anyhow::Result<()> {
        let Some(c) = &self.child else { bail!("{} is not running", self.name) };
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let rc = unsafe { libc::kill(c.id() as libc::pid_t, sig) };
        if rc != 0 {
            bail!("kill({}, {sig}) failed: {}", self.name, std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.paused = false;
    }

    pub fn pause(&mut self) -> anyhow::Result<()> {
        self.signal(libc::SIGSTOP)?;
        self.paused = true;
        Ok(())
    }

    pub fn resume(&mut self) -> anyhow::Result<()> {
        self.signal(libc::SIGCONT)?;
        self.paused = false;
        Ok(())
    }

    /// True if the process exited on its own (crash).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }
}

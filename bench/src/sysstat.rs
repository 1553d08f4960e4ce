//! Process figures from `/proc`: CPU time and RSS of the server processes (every `shoal`
//! child of this process, so nodes restarted mid-scenario are followed) and of this load
//! generator over a measurement window, and the machine the figures come from.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::oneshot;

/// How often the sampler reads `/proc` (RSS peaks between samples are missed).
const SAMPLE_PERIOD: Duration = Duration::from_millis(250);

/// Server and client resource use over one measurement window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SysStats {
    pub window_s: f64,
    /// `shoal` processes seen during the window (a restarted node counts twice).
    pub server_processes: usize,
    /// User + system CPU of all server processes, in % of one core.
    pub server_cpu_pct: f64,
    /// The highest sampled sum of the server processes' VmRSS, and the last one.
    pub server_rss_peak_mb: f64,
    pub server_rss_end_mb: f64,
    /// User + system CPU of this load generator, in % of one core.
    pub client_cpu_pct: f64,
}

/// Samples `/proc` until [`Sampler::stop`].
pub struct Sampler {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<SysStats>,
}

impl Sampler {
    pub fn start() -> Sampler {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let client_before = cpu_ticks(None).unwrap_or(0);
            // pid → (ticks when first seen, ticks when last seen). Processes present at the
            // start count from there; ones started later count from 0.
            let mut ticks: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
            let mut sample = |first: bool| {
                let mut rss_kb = 0;
                for pid in server_pids() {
                    let Some(t) = cpu_ticks(Some(pid)) else { continue };
                    ticks.entry(pid).or_insert((if first { t } else { 0 }, t)).1 = t;
                    rss_kb += status_kb(Some(pid), "VmRSS").unwrap_or(0);
                }
                rss_kb
            };
            let mut rss_peak_kb = sample(true);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(SAMPLE_PERIOD) => rss_peak_kb = rss_peak_kb.max(sample(false)),
                    _ = &mut stopped => break,
                }
            }
            // One last sample at the stop.
            let rss_end_kb = sample(false);
            rss_peak_kb = rss_peak_kb.max(rss_end_kb);
            let window = started.elapsed().as_secs_f64();
            let pct = |ticks: u64| ticks as f64 / clock_ticks_per_s() / window * 100.0;
            SysStats {
                window_s: window,
                server_processes: ticks.len(),
                server_cpu_pct: pct(ticks.values().map(|(a, b)| b.saturating_sub(*a)).sum()),
                server_rss_peak_mb: rss_peak_kb as f64 / 1024.0,
                server_rss_end_mb: rss_end_kb as f64 / 1024.0,
                client_cpu_pct: pct(cpu_ticks(None).unwrap_or(0).saturating_sub(client_before)),
            }
        });
        Sampler { stop, task }
    }

    pub async fn stop(self) -> SysStats {
        let _ = self.stop.send(());
        self.task.await.unwrap_or_default()
    }
}

fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

/// `/proc/<pid>/stat` split after the parenthesised command name (field 3 is index 0),
/// with the command name.
fn stat_fields(pid: Option<u32>) -> Option<(String, Vec<String>)> {
    let path = pid.map_or_else(|| "/proc/self/stat".to_string(), |p| format!("/proc/{p}/stat"));
    let text = std::fs::read_to_string(path).ok()?;
    let (head, rest) = text.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    Some((comm, rest.split_whitespace().map(str::to_string).collect()))
}

/// utime + stime of a process in clock ticks; `pid` None is this process.
fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let (_, f) = stat_fields(pid)?;
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The `shoal` processes this process started.
fn server_pids() -> Vec<u32> {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| stat_fields(Some(pid)).is_some_and(|(comm, f)| comm == "shoal" && f.get(1) == Some(&me)))
        .collect()
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`, …); `pid` None is this process.
pub fn status_kb(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = pid.map_or_else(|| "/proc/self/status".to_string(), |p| format!("/proc/{p}/status"));
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line[field.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// Open file descriptors of a process.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// A process's soft open-files limit, from `/proc/<pid>/limits`.
pub fn nofile_limit(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    text.lines().find(|l| l.starts_with("Max open files"))?.split_whitespace().nth(3)?.parse().ok()
}

/// The machine the figures were measured on, read at run time.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub mem_total_mb: u64,
    pub kernel: String,
    /// Hard open-files limit of this process (bounds `socket-idle`).
    pub nofile_hard: u64,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let field = |text: &str, name: &str| {
            text.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_once(':')).map(|(_, v)| v.trim().to_string())
        };
        Machine {
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            cpu_model: field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
            mem_total_mb: field(&meminfo, "MemTotal")
                .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kb| kb / 1024),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string(),
            nofile_hard: rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(_, hard)| hard),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} CPUs ({}), {:.1} GiB RAM, Linux {}, open-files hard limit {}",
            self.cpus,
            self.cpu_model,
            self.mem_total_mb as f64 / 1024.0,
            self.kernel,
            self.nofile_hard
        )
    }
}

//! `lua-pool`: the Lua runtime in-process, without HTTP: how long a fresh VM with a
//! bundle of modules takes to build, what leasing a VM costs, and an RPC echo call.
//! Runs on a two-worker tokio runtime, as the node does on this machine, so leases take
//! the node's inline path.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use shoal_runtime::{CallContext, DetachedHost, ModuleBundle, PoolConfig, VmPool};

#[derive(Debug, Serialize)]
pub struct Figures {
    pub modules: usize,
    pub vm_create_p50_ms: f64,
    pub vm_create_p99_ms: f64,
    pub lease_p50_us: f64,
    pub lease_p99_us: f64,
    pub lease_p999_us: f64,
    pub rpc_echo_p50_us: f64,
    pub rpc_echo_p99_us: f64,
    pub rpc_echo_per_s_one_caller: f64,
}

fn ns_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

/// Writes `count` modules that look like a game's: a shared library module required by the
/// others, each registering RPCs and hooks and building some tables at load time.
fn write_bundle(dir: &std::path::Path, count: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("lib"))?;
    std::fs::write(
        dir.join("lib/util.lua"),
        r#"local M = {}
function M.clamp(x, lo, hi) if x < lo then return lo elseif x > hi then return hi end return x end
function M.merge(a, b) local out = {} for k, v in pairs(a) do out[k] = v end for k, v in pairs(b) do out[k] = v end return out end
M.levels = {}
for i = 1, 100 do M.levels[i] = { xp = i * i * 10, reward = "item_" .. i } end
return M
"#,
    )?;
    for i in 1..count {
        std::fs::write(
            dir.join(format!("game_{i:02}.lua")),
            format!(
                r#"local nk = require("nakama")
local util = require("lib.util")
local config = {{ name = "feature_{i}", limits = {{ daily = 10, weekly = 50 }}, weights = {{}} }}
for w = 1, 50 do config.weights[w] = (w * 7) % 13 end
local function handler(context, payload)
  local input = nk.json_decode(payload)
  input.level = util.clamp(input.level or 1, 1, 100)
  return nk.json_encode(util.merge(input, {{ reward = util.levels[input.level].reward }}))
end
nk.register_rpc(handler, "feature_{i}_rpc")
nk.register_req_before(function(context, payload) return payload end, "GetAccount")
"#
            ),
        )?;
    }
    std::fs::write(
        dir.join("echo.lua"),
        "require('nakama').register_rpc(function(context, payload) return payload end, 'echo')\n",
    )?;
    Ok(())
}

pub fn run(modules: usize, iterations: u64) -> anyhow::Result<Figures> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(measure(modules.max(2), iterations))
}

async fn measure(modules: usize, iterations: u64) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    // `modules` files in all: lib/util.lua, the game modules and echo.lua.
    write_bundle(dir.path(), modules - 1)?;
    let bundle = ModuleBundle::from_dir(dir.path())?;
    anyhow::ensure!(bundle.modules().len() == modules, "bundle has {} modules", bundle.modules().len());
    let host = Arc::new(DetachedHost);
    let one_vm = PoolConfig { min_count: 1, max_count: 1, ..PoolConfig::default() };

    // A fresh VM: a pool of one, created from scratch each time.
    let mut create = ns_histogram();
    for _ in 0..200 {
        let t = Instant::now();
        let pool = VmPool::new(bundle.clone(), one_vm.clone(), host.clone()).await?;
        create.record(t.elapsed().as_nanos() as u64)?;
        drop(pool);
    }

    let pool = VmPool::new(bundle, PoolConfig { min_count: 4, max_count: 8, ..PoolConfig::default() }, host).await?;
    // Lease and return a VM, running nothing on it.
    let mut lease = ns_histogram();
    for _ in 0..iterations {
        let t = Instant::now();
        pool.with_vm(|_| Ok(())).await?;
        lease.record(t.elapsed().as_nanos().max(1) as u64)?;
    }
    // An RPC echo through the pool (context table, payload in and out, budget hook).
    let payload = r#"{"hello":"world","n":42}"#.to_owned();
    let mut echo = ns_histogram();
    let started = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        let out = pool.call_rpc("echo", CallContext::default(), payload.clone()).await?;
        echo.record(t.elapsed().as_nanos().max(1) as u64)?;
        anyhow::ensure!(out.as_deref() == Some(payload.as_str()), "echo answered {out:?}");
    }
    let echo_elapsed = started.elapsed().max(Duration::from_nanos(1));

    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e6;
    let us = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e3;
    Ok(Figures {
        modules,
        vm_create_p50_ms: ms(&create, 0.5),
        vm_create_p99_ms: ms(&create, 0.99),
        lease_p50_us: us(&lease, 0.5),
        lease_p99_us: us(&lease, 0.99),
        lease_p999_us: us(&lease, 0.999),
        rpc_echo_p50_us: us(&echo, 0.5),
        rpc_echo_p99_us: us(&echo, 0.99),
        rpc_echo_per_s_one_caller: iterations as f64 / echo_elapsed.as_secs_f64(),
    })
}

impl Figures {
    pub fn print(&self) {
        println!("lua-pool ({} modules)", self.modules);
        println!("  fresh VM with the bundle   p50 {:>8.3} ms   p99 {:>8.3} ms", self.vm_create_p50_ms, self.vm_create_p99_ms);
        println!(
            "  VM lease round trip        p50 {:>8.3} µs   p99 {:>8.3} µs   p99.9 {:>8.3} µs",
            self.lease_p50_us, self.lease_p99_us, self.lease_p999_us
        );
        println!(
            "  rpc echo (in-process)      p50 {:>8.3} µs   p99 {:>8.3} µs   {:.0}/s from one caller",
            self.rpc_echo_p50_us, self.rpc_echo_p99_us, self.rpc_echo_per_s_one_caller
        );
    }
}

//! The printed report: fault timeline, operation counts by outcome, failover times,
//! checker verdicts; and the history as JSON lines for post-mortems.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::RunConfig;
use crate::checker::Verdict;
use crate::history::{FINAL_READER, Micros, Op, Outcome, secs};
use crate::nemesis::NemesisReport;

/// The failover goal after a leader kill (a figure, not a checker: it is liveness).
pub const FAILOVER_TARGET_P99: Micros = 3_000_000;

/// Time from each leader loss to the completion of the first acknowledged write invoked
/// after it (None: no write succeeded before the run ended).
pub fn failovers(ops: &[Op], nemesis: &NemesisReport) -> Vec<(&'static str, Option<Micros>)> {
    nemesis
        .leader_losses
        .iter()
        .map(|l| {
            let first = ops
                .iter()
                .filter(|o| o.worker != FINAL_READER && o.kind.is_write() && o.outcome == Outcome::Ok && o.invoke >= l.at)
                .map(|o| o.complete)
                .min();
            (l.cause, first.map(|c| c - l.at))
        })
        .collect()
}

fn percentile(sorted: &[Micros], q: f64) -> Micros {
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

pub fn render(cfg: &RunConfig, started: &str, ops: &[Op], nemesis: &NemesisReport, verdicts: &[Verdict], pass: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n=== shoal-chaos {} | {} nodes | {:?} | seed {} ===", cfg.label, cfg.nodes, cfg.duration, cfg.seed);
    let _ = writeln!(s, "t=0 is {started}; node flags: {:?}", cfg.node_flags);
    let _ = writeln!(s, "\nfault timeline:");
    for e in &nemesis.timeline {
        let _ = writeln!(s, "  [{:>9}] {}", secs(e.at), e.text);
    }
    if nemesis.skipped_partitions {
        let _ = writeln!(s, "  NOTE: partition faults were skipped (no fault seam on the nodes)");
    }

    let _ = writeln!(s, "\noperations (outcome per kind):");
    let mut counts: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    for o in ops.iter().filter(|o| o.worker != FINAL_READER) {
        let c = counts.entry(o.kind.name()).or_default();
        c[Outcome::ALL.iter().position(|x| *x == o.outcome).expect("outcome")] += 1;
    }
    let _ = writeln!(s, "  {:<20} {:>8} {:>8} {:>8} {:>8}", "kind", "ok", "rejected", "failed", "unknown");
    let mut total = [0usize; 4];
    for (k, c) in &counts {
        let _ = writeln!(s, "  {:<20} {:>8} {:>8} {:>8} {:>8}", k, c[0], c[1], c[2], c[3]);
        for i in 0..4 {
            total[i] += c[i];
        }
    }
    let _ = writeln!(s, "  {:<20} {:>8} {:>8} {:>8} {:>8}", "total", total[0], total[1], total[2], total[3]);
    let _ = writeln!(s, "  (rejected = version check failed; failed = certainly not applied; unknown = may have applied)");

    let _ = writeln!(s, "\nfaults:");
    let _ = writeln!(
        s,
        "  SIGKILL cycles survived: {} ({} of them killing the leader); pauses: {}; partitions: {}",
        nemesis.kill_cycles, nemesis.leader_kills, nemesis.pauses, nemesis.partitions
    );
    if !nemesis.recoveries.is_empty() {
        let mut r: Vec<Micros> = nemesis.recoveries.iter().map(|d| d.as_micros() as Micros).collect();
        r.sort();
        let _ = writeln!(s, "  back to ready after healing: p50 {} p99 {} max {}", secs(percentile(&r, 0.5)), secs(percentile(&r, 0.99)), secs(*r.last().expect("one")));
    }
    let f = failovers(ops, nemesis);
    let mut by_cause: BTreeMap<&str, (Vec<Micros>, usize)> = BTreeMap::new();
    for (cause, t) in &f {
        let e = by_cause.entry(cause).or_default();
        match t {
            Some(t) => e.0.push(*t),
            None => e.1 += 1,
        }
    }
    let mut kill_p99 = None;
    for (cause, (mut v, none)) in by_cause {
        v.sort();
        let label = format!("failover after leader {cause} (to first acknowledged write)");
        if v.is_empty() {
            let _ = writeln!(s, "  {label}: no successful write afterwards ({none} times)");
            continue;
        }
        let _ = writeln!(
            s,
            "  {label}: n={} p50 {} p99 {} max {}{}",
            v.len(),
            secs(percentile(&v, 0.5)),
            secs(percentile(&v, 0.99)),
            secs(*v.last().expect("one")),
            if none > 0 { format!(" ({none} with no later write)") } else { String::new() }
        );
        if cause == "kill" {
            kill_p99 = Some(percentile(&v, 0.99));
        }
    }
    if let Some(p99) = kill_p99 {
        let met = p99 <= FAILOVER_TARGET_P99;
        let _ = writeln!(s, "  failover target (p99 <= {} after a leader kill): {}", secs(FAILOVER_TARGET_P99), if met { "met" } else { "MISSED" });
    }

    let _ = writeln!(s, "\ncheckers:");
    for v in verdicts {
        let _ = writeln!(s, "  {} {}: {}", if v.pass { "PASS" } else { "FAIL" }, v.name, v.summary);
        for d in &v.details {
            let _ = writeln!(s, "       {d}");
        }
    }
    let _ = writeln!(s, "\nresult: {}", if pass { "PASS" } else { "FAIL" });
    let _ = writeln!(s, "reproduce: {}", cfg.reproduce);
    s
}

pub fn write_history(path: &Path, ops: &[Op]) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for o in ops {
        serde_json::to_writer(&mut f, o)?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    Ok(())
}

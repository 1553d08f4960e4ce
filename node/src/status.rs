//! `shoal status`: asks a node's console for the cluster status and prints it.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use crate::console::ClusterStatus;

#[derive(Parser, Debug)]
#[command(name = "shoal status", about = "Print the cluster's status as seen by one node")]
pub struct StatusArgs {
    #[command(flatten)]
    pub console: ConsoleArgs,
    /// Print the JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Where a node's console is and its credentials (`shoal status`, `deploy`, `rollback`).
#[derive(clap::Args, Debug, Clone)]
pub struct ConsoleArgs {
    /// host:port of any node's console API.
    #[arg(long, default_value = "127.0.0.1:7351")]
    pub console: String,
    /// Console username (or SHOAL_CONSOLE_USERNAME).
    #[arg(long, env = "SHOAL_CONSOLE_USERNAME", default_value = "admin")]
    pub username: String,
    /// Console password (or SHOAL_CONSOLE_PASSWORD).
    #[arg(long, env = "SHOAL_CONSOLE_PASSWORD", default_value = "password")]
    pub password: String,
}

pub async fn fetch(args: &ConsoleArgs) -> anyhow::Result<ClusterStatus> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let url = format!("http://{}/v2/console/cluster", args.console);
    let resp = client
        .get(&url)
        .basic_auth(&args.username, Some(&args.password))
        .send()
        .await
        .with_context(|| format!("requesting {url}"))?;
    if !resp.status().is_success() {
        bail!("{url} answered {}: {}", resp.status(), resp.text().await.unwrap_or_default());
    }
    Ok(resp.json().await.context("decoding the cluster status")?)
}

pub fn table(s: &ClusterStatus) -> String {
    let mut out = format!("leader: {}\n", if s.leader.is_empty() { "(none)" } else { &s.leader });
    let header = ["NAME", "NODE ID", "ROLE", "READY", "TERM", "COMMIT", "APPLIED", "API", "CLUSTER", "BUNDLE"];
    let rows: Vec<[String; 10]> = s
        .nodes
        .iter()
        .map(|n| {
            [
                n.name.clone(),
                n.node_id.clone(),
                n.raft_role.clone(),
                n.ready.to_string(),
                n.term.to_string(),
                n.commit_index.to_string(),
                n.applied_index.to_string(),
                n.api_address.clone(),
                n.cluster_address.clone(),
                if n.bundle_version.is_empty() { "-".into() } else { n.bundle_version.chars().take(12).collect() },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    out.push_str(&line(header.to_vec()));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

pub async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let status = fetch(&args.console).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", table(&status));
    }
    Ok(())
}

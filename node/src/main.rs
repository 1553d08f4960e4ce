//! `shoal`: runs a node. Flags follow Nakama's `--section.key value` form; see README.md.

use shoal_config::NodeConfig;
use tracing_subscriber::EnvFilter;

fn init_logging(config: &NodeConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!("{},openraft=warn", config.logger.level))
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.logger.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn run_subcommand(args: Vec<String>) -> std::process::ExitCode {
    use clap::Parser;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shoal: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match args[1].as_str() {
        "status" => {
            let parsed = shoal_node::status::StatusArgs::parse_from(args.iter().skip(1));
            runtime.block_on(shoal_node::status::run(parsed))
        }
        "deploy" => {
            let parsed = shoal_node::deploy::DeployArgs::parse_from(args.iter().skip(1));
            runtime.block_on(shoal_node::deploy::deploy(parsed))
        }
        "rollback" => {
            let parsed = shoal_node::deploy::RollbackArgs::parse_from(args.iter().skip(1));
            runtime.block_on(shoal_node::deploy::rollback(parsed))
        }
        other => Err(anyhow::anyhow!("unknown subcommand {other}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shoal: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "status" || a == "deploy" || a == "rollback") {
        return run_subcommand(args);
    }
    let config = match shoal_config::load(args.into_iter().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shoal: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(&config);
    // Every socket is a file descriptor: allow as many as the hard limit does.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(open_files = n, "open files limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open files limit"),
    }
    for w in config.default_secret_warnings() {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("shoal: starting the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let node = match shoal_node::start(config).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!("failed to start: {e:#}");
                return std::process::ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        tracing::info!("shutting down");
        node.shutdown().await;
        std::process::ExitCode::SUCCESS
    })
}

//! `shoal-bench`: the load generator and benchmark scenarios. Not built yet; see the
//! benchmarks issue. Running it says so rather than printing made-up figures.

fn main() -> std::process::ExitCode {
    eprintln!("shoal-bench: not implemented yet (see the benchmarks issue)");
    std::process::ExitCode::FAILURE
}

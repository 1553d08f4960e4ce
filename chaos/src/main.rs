//! `shoal-chaos`: process-level fault injection against real `shoal` nodes. Not built yet;
//! see the chaos issue. Running it says so rather than pretending to test anything.

fn main() -> std::process::ExitCode {
    eprintln!("shoal-chaos: not implemented yet (see the chaos issue)");
    std::process::ExitCode::FAILURE
}

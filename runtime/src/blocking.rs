//! Running Lua on the caller's tokio worker thread without starving the scheduler.
//!
//! Calls run inline on the async worker that asked for them: a typical RPC takes a few
//! microseconds, and a hand-off to another thread (`spawn_blocking`) costs more than the
//! call itself (two futex wake-ups and a context switch each way). Two things could still
//! hold a worker for long, and both leave it first through [`section`]:
//!
//! - work that blocks (a host call into `core`, `nk.http_request`, bcrypt): it runs inside
//!   `tokio::task::block_in_place`, which hands the worker's scheduler core to another
//!   thread for as long as it takes;
//! - Lua that computes for longer than [`INLINE_SLICE`]: the budget hook calls
//!   [`leave_worker`] once, which gives the core away the same way, so the rest of the call
//!   runs on a thread no other task waits for.
//!
//! Outside a multi-threaded runtime (a current-thread runtime, or a plain thread) both are
//! plain calls.

use std::time::Duration;

use tokio::runtime::{Handle, RuntimeFlavor};

/// How long Lua may compute on an async worker before the call gives the worker away.
pub const INLINE_SLICE: Duration = Duration::from_millis(2);

/// How long [`leave_worker`] lets the runtime start the thread that takes over the core.
const HANDOFF_WAIT: Duration = Duration::from_micros(500);

/// Whether `block_in_place` may be used here (it panics on a current-thread runtime).
fn on_multi_thread_runtime() -> bool {
    Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
}

/// Runs `f`, which may block, without holding up the async tasks of this worker.
/// `f` may use `Handle::block_on` (it runs outside the runtime context).
pub fn section<R>(f: impl FnOnce() -> R) -> R {
    if on_multi_thread_runtime() {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}

/// Gives this thread's scheduler core (if it holds one) to another thread, so that what
/// runs next on this thread delays no other task. The runtime starts a thread for the core;
/// a short wait inside the blocking section lets it take the core before this thread could
/// reclaim it.
pub(crate) fn leave_worker() {
    section(|| std::thread::sleep(HANDOFF_WAIT));
}

/// Whether calls may run inline here (a multi-threaded runtime); otherwise the pool runs
/// them on tokio's blocking threads.
pub(crate) fn inline_allowed() -> bool {
    on_multi_thread_runtime()
}

//! Per-call instruction and wall-clock budget, enforced by a Lua count hook.
//!
//! The hook runs every [`HOOK_STEP`] VM instructions. Once a budget is exceeded it raises
//! an error at every later step too, so a script that catches the first one with `pcall`
//! is stopped again immediately; the VM is then discarded by its owner.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use mlua::{HookTriggers, Lua, VmState};

use crate::error::BudgetKind;

/// VM instructions between two budget checks.
pub(crate) const HOOK_STEP: u32 = 1000;

const NONE: u8 = 0;
const INSTRUCTIONS: u8 = 1;
const TIME: u8 = 2;

/// The budget of the call currently running on one VM. Between calls it is unlimited
/// (only Rust code runs then).
pub(crate) struct Budget {
    base: Instant,
    used: AtomicU64,
    limit: AtomicU64,
    /// Nanoseconds since `base`; `u64::MAX` means none.
    deadline_ns: AtomicU64,
    /// When a call running inline on an async worker gives the worker away (nanoseconds
    /// since `base`; `u64::MAX`: not inline, or already given away). See `crate::blocking`.
    slice_end_ns: AtomicU64,
    exceeded: AtomicU8,
}

impl Budget {
    pub fn new() -> Self {
        Budget {
            base: Instant::now(),
            used: AtomicU64::new(0),
            limit: AtomicU64::new(u64::MAX),
            deadline_ns: AtomicU64::new(u64::MAX),
            slice_end_ns: AtomicU64::new(u64::MAX),
            exceeded: AtomicU8::new(NONE),
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Marks the call that is starting as running inline on an async worker: after `slice`
    /// of it, the hook gives the worker away.
    pub fn set_inline_slice(&self, slice: Option<Duration>) {
        let end = slice.map_or(u64::MAX, |s| {
            self.now_ns()
                .saturating_add(u64::try_from(s.as_nanos()).unwrap_or(u64::MAX))
        });
        self.slice_end_ns.store(end, Relaxed);
    }

    /// True once per inline call, when its slice is used up.
    fn slice_expired(&self) -> bool {
        let end = self.slice_end_ns.load(Relaxed);
        end != u64::MAX && self.now_ns() >= end && {
            self.slice_end_ns.store(u64::MAX, Relaxed);
            true
        }
    }

    /// Starts a call with `instructions` and `timeout` to spend.
    pub fn start(&self, instructions: u64, timeout: Duration) {
        self.used.store(0, Relaxed);
        self.limit.store(instructions, Relaxed);
        let deadline = self.base.elapsed().saturating_add(timeout).as_nanos();
        self.deadline_ns
            .store(u64::try_from(deadline).unwrap_or(u64::MAX), Relaxed);
        self.exceeded.store(NONE, Relaxed);
    }

    /// Ends the call; reports whether it ran out of budget.
    pub fn finish(&self) -> Option<BudgetKind> {
        self.limit.store(u64::MAX, Relaxed);
        self.slice_end_ns.store(u64::MAX, Relaxed);
        self.deadline_ns.store(u64::MAX, Relaxed);
        self.exceeded()
    }

    pub fn exceeded(&self) -> Option<BudgetKind> {
        match self.exceeded.load(Relaxed) {
            INSTRUCTIONS => Some(BudgetKind::Instructions),
            TIME => Some(BudgetKind::Time),
            _ => None,
        }
    }

    /// Wall-clock time left in the current call (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        let deadline = self.deadline_ns.load(Relaxed);
        if deadline == u64::MAX {
            return None;
        }
        Some(Duration::from_nanos(deadline.saturating_sub(self.now_ns())))
    }

    fn step(&self) -> Result<(), BudgetKind> {
        if let Some(kind) = self.exceeded() {
            return Err(kind);
        }
        let used = self.used.fetch_add(u64::from(HOOK_STEP), Relaxed) + u64::from(HOOK_STEP);
        let kind = if used > self.limit.load(Relaxed) {
            INSTRUCTIONS
        } else if self.remaining() == Some(Duration::ZERO) {
            TIME
        } else {
            return Ok(());
        };
        self.exceeded.store(kind, Relaxed);
        Err(self.exceeded().unwrap_or(BudgetKind::Time))
    }
}

/// Installs the count hook on `lua`'s main thread.
pub(crate) fn install(lua: &Lua, budget: Arc<Budget>) -> mlua::Result<()> {
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_STEP),
        move |_, _| match budget.step() {
            Ok(()) => {
                if budget.slice_expired() {
                    crate::blocking::leave_worker();
                }
                Ok(VmState::Continue)
            }
            Err(kind) => Err(mlua::Error::RuntimeError(format!(
                "call exceeded its {} budget",
                match kind {
                    BudgetKind::Instructions => "instruction",
                    BudgetKind::Time => "time",
                }
            ))),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_and_time_limits() {
        let b = Budget::new();
        b.start(2500, Duration::from_secs(60));
        assert!(b.step().is_ok());
        assert!(b.step().is_ok());
        assert_eq!(b.step(), Err(BudgetKind::Instructions));
        assert_eq!(b.step(), Err(BudgetKind::Instructions), "stays exceeded");
        assert_eq!(b.finish(), Some(BudgetKind::Instructions));

        b.start(u64::MAX, Duration::ZERO);
        assert_eq!(b.step(), Err(BudgetKind::Time));
        b.start(u64::MAX, Duration::from_secs(60));
        assert!(b.step().is_ok());
        assert_eq!(b.finish(), None);
        assert_eq!(b.remaining(), None);
    }

    #[test]
    fn inline_slice_expires_once() {
        let b = Budget::new();
        b.start(u64::MAX, Duration::from_secs(60));
        b.set_inline_slice(Some(Duration::ZERO));
        assert!(b.slice_expired());
        assert!(!b.slice_expired(), "only once per call");
        b.set_inline_slice(Some(Duration::from_secs(60)));
        assert!(!b.slice_expired());
        b.finish();
        b.set_inline_slice(None);
        assert!(!b.slice_expired());
    }
}

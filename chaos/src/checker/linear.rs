//! Linearizability checking in the style of Wing & Gong, with Lowe's memoization as
//! Porcupine does it: a depth-first search over the order in which pending calls take
//! effect, remembering every (set of linearized operations, model state) already explored.
//!
//! Operations with an unknown outcome (timed out, connection lost) return "never": they
//! may take effect at any point after their invocation, or not at all (placing them after
//! every observation is the same as dropping them). Their output is unknown, so the model
//! only applies their effect. Because they never have to be linearized, a configuration
//! that has linearized *fewer* unknown operations than an explored one with the same
//! known set and state dominates it; the cache records that, which keeps histories with
//! many timed-out writes tractable.

use std::collections::HashMap;
use std::hash::Hash;

/// A sequential specification.
pub trait Model {
    type State: Clone + Eq + Hash;
    type Input;
    type Output;
    fn init(&self) -> Self::State;
    /// The state after applying `input` in `state` when it returned `output` (None: not
    /// known), or None if that output is impossible in `state`.
    /// Must be Some whenever `output` is None: an operation of unknown outcome can always
    /// take effect.
    fn step(&self, state: &Self::State, input: &Self::Input, output: Option<&Self::Output>) -> Option<Self::State>;
    /// True if `input` observes nothing and its effect does not depend on the state (a
    /// blind write).
    fn is_blind(&self, _input: &Self::Input) -> bool {
        false
    }
}

/// One operation: its input, its output if it completed, and its call/return times.
#[derive(Clone, Debug)]
pub struct Event<I, O> {
    pub input: I,
    /// None: outcome unknown (then `ret` is ignored and treated as "never").
    pub output: Option<O>,
    pub call: u64,
    pub ret: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// No order exists. `linearized` is the longest prefix of a linearization the search
    /// found (event indexes), `stuck` the event that could not be placed after it.
    NotLinearizable { linearized: Vec<usize>, stuck: usize },
    /// The search ran out of its step budget.
    Inconclusive { steps: u64 },
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64).max(1)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
    fn is_subset_of(&self, other: &Bits) -> bool {
        self.0.iter().zip(&other.0).all(|(a, b)| a & !b == 0)
    }
}

const NIL: usize = usize::MAX;

/// Checks one history (one object; use P-compositionality to split by key first).
///
/// Two refinements of Lowe's search keep unknown-outcome operations cheap, both sound
/// because such an operation may always be moved to the very end instead:
/// - at each point, operations with a known outcome are tried before unknown ones, so a
///   configuration is first reached with as few unknown operations spent as possible and
///   the dominance rule in the cache prunes the rest;
/// - an unknown operation immediately followed by a blind write ([`Model::is_blind`])
///   had no observable effect, so that order is never tried.
pub fn check<M: Model>(model: &M, events: &[Event<M::Input, M::Output>], budget: u64) -> Verdict {
    let n = events.len();
    if n == 0 {
        return Verdict::Linearizable;
    }
    // Entries 0..n are calls, n..2n returns; sorted by time, calls first on ties (an
    // operation that starts as another ends may be ordered either way).
    let ret_time = |i: usize| if events[i].output.is_some() { events[i].ret.max(events[i].call) } else { u64::MAX };
    let mut order: Vec<usize> = (0..2 * n).collect();
    order.sort_by_key(|&e| if e < n { (events[e].call, 0u8, e) } else { (ret_time(e - n), 1u8, e - n) });
    let head = 2 * n;
    let mut next = vec![NIL; 2 * n + 1];
    let mut prev = vec![NIL; 2 * n + 1];
    let mut last = head;
    for &e in &order {
        next[last] = e;
        prev[e] = last;
        last = e;
    }
    let lift = |next: &mut Vec<usize>, prev: &mut Vec<usize>, call: usize| {
        for e in [call, call + n] {
            let (p, q) = (prev[e], next[e]);
            next[p] = q;
            if q != NIL {
                prev[q] = p;
            }
        }
    };
    let unlift = |next: &mut Vec<usize>, prev: &mut Vec<usize>, call: usize| {
        for e in [call + n, call] {
            let (p, q) = (prev[e], next[e]);
            next[p] = e;
            if q != NIL {
                prev[q] = e;
            }
        }
    };

    let unknown: Vec<bool> = events.iter().map(|e| e.output.is_none()).collect();
    let blind: Vec<bool> = events.iter().map(|e| model.is_blind(&e.input)).collect();
    // (known ops linearized, state) → the unknown-op sets explored with it.
    let mut cache: HashMap<(Bits, M::State), Vec<Bits>> = HashMap::new();
    let mut known = Bits::new(n);
    let mut unknowns = Bits::new(n);
    let mut state = model.init();
    let mut stack: Vec<(usize, M::State)> = Vec::new();
    let mut best: (Vec<usize>, usize) = (Vec::new(), 0);
    let mut steps = 0u64;
    // Which calls the scan tries: known-outcome ones first, then unknown ones.
    let mut scanning_unknown = false;
    // Unknown-outcome operations can always be appended at the end, so the search is
    // done once every known-outcome one is placed.
    let mut known_left = unknown.iter().filter(|u| !**u).count();
    let mut entry = next[head];
    while known_left > 0 {
        steps += 1;
        if steps > budget {
            return Verdict::Inconclusive { steps };
        }
        if entry < n {
            let skip = unknown[entry] != scanning_unknown
                || (blind[entry] && stack.last().is_some_and(|(top, _)| unknown[*top]));
            if !skip {
                let ev = &events[entry];
                if let Some(new_state) = model.step(&state, &ev.input, ev.output.as_ref()) {
                    let (mut k, mut u) = (known.clone(), unknowns.clone());
                    if unknown[entry] { u.set(entry) } else { k.set(entry) }
                    let explored = cache.entry((k.clone(), new_state.clone())).or_default();
                    if !explored.iter().any(|seen| seen.is_subset_of(&u)) {
                        explored.retain(|seen| !u.is_subset_of(seen));
                        explored.push(u.clone());
                        stack.push((entry, std::mem::replace(&mut state, new_state)));
                        (known, unknowns) = (k, u);
                        known_left -= usize::from(!unknown[entry]);
                        lift(&mut next, &mut prev, entry);
                        entry = next[head];
                        scanning_unknown = false;
                        continue;
                    }
                }
            }
            entry = next[entry];
        } else if !scanning_unknown {
            // No known-outcome call can go next: try the unknown ones.
            scanning_unknown = true;
            entry = next[head];
        } else {
            // A return whose call is not linearized yet: undo the last choice and resume
            // the scan after it.
            if stack.len() >= best.0.len() {
                best = (stack.iter().map(|(e, _)| *e).collect(), entry - n);
            }
            let Some((call, s)) = stack.pop() else {
                return Verdict::NotLinearizable { linearized: best.0, stuck: best.1 };
            };
            state = s;
            if unknown[call] { unknowns.clear(call) } else { known.clear(call) }
            known_left += usize::from(!unknown[call]);
            unlift(&mut next, &mut prev, call);
            entry = next[call];
            scanning_unknown = unknown[call];
        }
    }
    Verdict::Linearizable
}

/// The storage register: absent or holding one unique write id.
pub struct Register;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegInput {
    Read,
    Write(u64),
    /// Write `value` if the register holds `expected` (None: if it is absent).
    Cas { expected: Option<u64>, value: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegOutput {
    /// What a read saw.
    Value(Option<u64>),
    /// Whether a compare-and-set applied.
    Cas(bool),
    /// A write's acknowledgement.
    Done,
}

impl Model for Register {
    type State = Option<u64>;
    type Input = RegInput;
    type Output = RegOutput;
    fn init(&self) -> Option<u64> {
        None
    }
    fn is_blind(&self, input: &RegInput) -> bool {
        matches!(input, RegInput::Write(_))
    }
    fn step(&self, state: &Option<u64>, input: &RegInput, output: Option<&RegOutput>) -> Option<Option<u64>> {
        match (input, output) {
            (RegInput::Read, Some(RegOutput::Value(v))) => (v == state).then_some(*state),
            (RegInput::Read, _) => Some(*state),
            (RegInput::Write(v), _) => Some(Some(*v)),
            (RegInput::Cas { expected, value }, out) => {
                let matches = expected == state;
                match out {
                    Some(RegOutput::Cas(applied)) if *applied != matches => None,
                    _ => Some(if matches { Some(*value) } else { *state }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: u64 = 1_000_000;

    fn ev(call: u64, ret: u64, input: RegInput, output: Option<RegOutput>) -> Event<RegInput, RegOutput> {
        Event { input, output, call, ret }
    }
    fn w(call: u64, ret: u64, v: u64) -> Event<RegInput, RegOutput> {
        ev(call, ret, RegInput::Write(v), Some(RegOutput::Done))
    }
    fn w_unknown(call: u64, v: u64) -> Event<RegInput, RegOutput> {
        ev(call, 0, RegInput::Write(v), None)
    }
    fn r(call: u64, ret: u64, v: Option<u64>) -> Event<RegInput, RegOutput> {
        ev(call, ret, RegInput::Read, Some(RegOutput::Value(v)))
    }
    fn cas(call: u64, ret: u64, expected: Option<u64>, value: u64, applied: Option<bool>) -> Event<RegInput, RegOutput> {
        ev(call, ret, RegInput::Cas { expected, value }, applied.map(RegOutput::Cas))
    }
    fn verdict(h: &[Event<RegInput, RegOutput>]) -> Verdict {
        check(&Register, h, BUDGET)
    }
    fn linearizable(h: &[Event<RegInput, RegOutput>]) -> bool {
        match verdict(h) {
            Verdict::Linearizable => true,
            Verdict::NotLinearizable { .. } => false,
            v => panic!("inconclusive: {v:?}"),
        }
    }

    #[test]
    fn empty_and_sequential_histories() {
        assert!(linearizable(&[]));
        assert!(linearizable(&[r(0, 1, None), w(2, 3, 1), r(4, 5, Some(1)), w(6, 7, 2), r(8, 9, Some(2))]));
    }

    #[test]
    fn stale_read_after_an_acknowledged_write_is_caught() {
        let h = [w(0, 1, 1), w(2, 3, 2), r(4, 5, Some(1))];
        assert_eq!(verdict(&h), Verdict::NotLinearizable { linearized: vec![0, 1], stuck: 2 });
    }

    #[test]
    fn lost_write_is_caught() {
        assert!(!linearizable(&[w(0, 1, 1), r(2, 3, None)]));
    }

    #[test]
    fn a_read_concurrent_with_a_write_may_see_either_value() {
        assert!(linearizable(&[w(0, 1, 1), w(2, 10, 2), r(3, 4, Some(1))]));
        assert!(linearizable(&[w(0, 1, 1), w(2, 10, 2), r(3, 4, Some(2))]));
        assert!(linearizable(&[w(0, 10, 1), r(1, 2, Some(1)), r(3, 4, Some(1))]));
    }

    #[test]
    fn reads_must_not_go_back_in_time() {
        // Both reads overlap the write, but the second starts after the first saw the new
        // value and still sees the old one.
        assert!(!linearizable(&[w(0, 1, 1), w(2, 20, 2), r(3, 4, Some(2)), r(5, 6, Some(1))]));
    }

    #[test]
    fn a_value_nobody_wrote_is_caught() {
        assert!(!linearizable(&[w(0, 1, 1), r(2, 3, Some(7))]));
    }

    #[test]
    fn unknown_write_may_or_may_not_take_effect() {
        // Taken effect, observed later.
        assert!(linearizable(&[w(0, 1, 1), w_unknown(2, 2), r(10, 11, Some(2))]));
        // Never took effect.
        assert!(linearizable(&[w(0, 1, 1), w_unknown(2, 2), r(10, 11, Some(1))]));
        // Took effect late: after one read saw the old value.
        assert!(linearizable(&[w(0, 1, 1), w_unknown(2, 2), r(10, 11, Some(1)), r(12, 13, Some(2))]));
        // But a write cannot take effect before it was invoked.
        assert!(!linearizable(&[w(0, 1, 1), r(2, 3, Some(2)), w_unknown(4, 2)]));
    }

    #[test]
    fn unknown_write_cannot_be_undone() {
        // Once a read saw the unknown write, the register cannot go back to the old value.
        assert!(!linearizable(&[w(0, 1, 1), w_unknown(2, 2), r(10, 11, Some(2)), r(12, 13, Some(1))]));
    }

    #[test]
    fn cas_semantics() {
        assert!(linearizable(&[cas(0, 1, None, 1, Some(true)), cas(2, 3, Some(1), 2, Some(true)), r(4, 5, Some(2))]));
        // Create-if-absent on a present register must be rejected.
        assert!(linearizable(&[w(0, 1, 1), cas(2, 3, None, 2, Some(false)), r(4, 5, Some(1))]));
        assert!(!linearizable(&[w(0, 1, 1), cas(2, 3, None, 2, Some(true))]));
        // A rejected cas when the version matched is a violation…
        assert!(!linearizable(&[w(0, 1, 1), cas(2, 3, Some(1), 2, Some(false))]));
        // …unless a concurrent write explains the mismatch.
        assert!(linearizable(&[w(0, 1, 1), w(2, 6, 3), cas(3, 4, Some(1), 2, Some(false))]));
        // Two cas from the same version cannot both apply.
        assert!(!linearizable(&[w(0, 1, 1), cas(2, 5, Some(1), 2, Some(true)), cas(2, 5, Some(1), 3, Some(true))]));
    }

    #[test]
    fn unknown_cas_applies_only_when_it_matches() {
        // An unknown cas from the current version may apply…
        assert!(linearizable(&[w(0, 1, 1), cas(2, 0, Some(1), 2, None), r(10, 11, Some(2))]));
        // …but not from a version the register never held at the time.
        assert!(!linearizable(&[w(0, 1, 1), w(2, 3, 3), cas(4, 0, Some(1), 2, None), r(10, 11, Some(2))]));
    }

    #[test]
    fn a_rejected_cas_can_be_explained_by_an_unknown_write() {
        assert!(linearizable(&[w(0, 1, 1), w_unknown(2, 2), cas(5, 6, Some(1), 3, Some(false)), r(7, 8, Some(2))]));
        assert!(linearizable(&[w(0, 1, 1), w_unknown(2, 2), cas(5, 6, Some(1), 3, Some(false))]));
        assert!(!linearizable(&[w(0, 1, 1), cas(5, 6, Some(1), 3, Some(false))]));
    }

    #[test]
    fn many_unobserved_unknown_writes_stay_tractable() {
        // 40 timed-out writes nobody observed, interleaved with acknowledged writes and
        // reads: exponential without the dominance rule in the cache.
        let mut h = Vec::new();
        let mut t = 0;
        for i in 0..40u64 {
            h.push(w(t, t + 1, 1000 + i));
            h.push(w_unknown(t + 2, 2000 + i));
            h.push(r(t + 3, t + 4, Some(1000 + i)));
            t += 10;
        }
        // Finally a read that no order explains, so the search has to exhaust.
        h.push(r(t, t + 1, Some(5)));
        assert!(matches!(check(&Register, &h, 5_000_000), Verdict::NotLinearizable { .. }));
        h.pop();
        assert!(linearizable(&h));
    }

    #[test]
    fn budget_exhaustion_is_inconclusive_not_a_pass() {
        let h = [w(0, 10, 1), w(0, 10, 2), w(0, 10, 3), r(11, 12, Some(9))];
        assert!(matches!(check(&Register, &h, 3), Verdict::Inconclusive { .. }));
    }

    /// Reference: every subset of the unknown ops, in every order that respects real
    /// time (a completed op that returned before another was called comes first).
    fn brute_force(h: &[Event<RegInput, RegOutput>]) -> bool {
        fn go(h: &[Event<RegInput, RegOutput>], used: &mut Vec<bool>, state: Option<u64>, left_known: usize) -> bool {
            if left_known == 0 {
                return true;
            }
            for i in 0..h.len() {
                if used[i] {
                    continue;
                }
                // Every op that must precede i (returned before i was called) is placed.
                let blocked = (0..h.len()).any(|j| j != i && !used[j] && h[j].output.is_some() && h[j].ret < h[i].call);
                if blocked {
                    continue;
                }
                if let Some(s) = Register.step(&state, &h[i].input, h[i].output.as_ref()) {
                    used[i] = true;
                    let ok = go(h, used, s, left_known - usize::from(h[i].output.is_some()));
                    used[i] = false;
                    if ok {
                        return true;
                    }
                }
            }
            false
        }
        let known = h.iter().filter(|e| e.output.is_some()).count();
        go(h, &mut vec![false; h.len()], None, known)
    }

    /// A random history from a simulated register (each op takes effect at a random point
    /// inside its interval; unknown ops may not take effect at all), sometimes with one
    /// output corrupted.
    fn random_history(rng: &mut rand::rngs::StdRng) -> Vec<Event<RegInput, RegOutput>> {
        use rand::Rng;
        let n = rng.random_range(1..=7);
        let mut ops: Vec<(u64, u64, u64, RegInput, bool)> = Vec::new(); // call, point, ret, input, applied
        for i in 0..n {
            let call = rng.random_range(0..20u64);
            let ret = call + rng.random_range(0..8u64);
            let point = rng.random_range(call..=ret);
            let value = 100 + i as u64;
            let input = match rng.random_range(0..3) {
                0 => RegInput::Read,
                1 => RegInput::Write(value),
                _ => RegInput::Cas { expected: if rng.random_bool(0.3) { None } else { Some(100 + rng.random_range(0..n as u64)) }, value },
            };
            ops.push((call, point, ret, input, true));
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| ops[i].1);
        let mut outputs: Vec<Option<RegOutput>> = vec![None; n];
        let mut state = None;
        for &i in &order {
            let unknown = rng.random_bool(0.25);
            if unknown && rng.random_bool(0.5) {
                continue; // never took effect
            }
            let out = match &ops[i].3 {
                RegInput::Read => RegOutput::Value(state),
                RegInput::Write(v) => {
                    state = Some(*v);
                    RegOutput::Done
                }
                RegInput::Cas { expected, value } => {
                    let m = *expected == state;
                    if m {
                        state = Some(*value);
                    }
                    RegOutput::Cas(m)
                }
            };
            outputs[i] = if unknown { None } else { Some(out) };
        }
        let mut h: Vec<Event<RegInput, RegOutput>> = (0..n)
            .map(|i| Event { input: ops[i].3.clone(), output: outputs[i].clone(), call: ops[i].0, ret: ops[i].2 })
            .filter(|e| !(e.input == RegInput::Read && e.output.is_none()))
            .collect();
        if !h.is_empty() && rng.random_bool(0.4) {
            let i = rng.random_range(0..h.len());
            h[i].output = match &h[i].input {
                RegInput::Read => Some(RegOutput::Value(if rng.random_bool(0.2) { None } else { Some(100 + rng.random_range(0..n as u64)) })),
                RegInput::Write(_) => None,
                RegInput::Cas { .. } => Some(RegOutput::Cas(rng.random_bool(0.5))),
            };
        }
        h
    }

    #[test]
    fn agrees_with_brute_force_on_random_histories() {
        use rand::SeedableRng;
        let seed = 0x5eed_c4a0;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (mut yes, mut no) = (0, 0);
        for case in 0..20_000 {
            let h = random_history(&mut rng);
            let expected = brute_force(&h);
            let got = linearizable(&h);
            assert_eq!(got, expected, "case {case} (seed {seed:#x}): checker says {got}, brute force {expected}: {h:#?}");
            if expected { yes += 1 } else { no += 1 }
        }
        assert!(yes > 1000 && no > 1000, "unbalanced sample: {yes} linearizable, {no} not");
    }
}

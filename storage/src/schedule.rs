//! Reset schedules and tournament windows: pure functions of (definition, time) that the
//! proposer calls to stamp a command's [`Window`]; never called inside apply.
//!
//! Semantics follow Nakama's `calculateTournamentDeadlines` and `cronexpr`: `next(t)` is
//! the first tick strictly after `t`, `last(t)` the last tick strictly before `t`.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use croner::Cron;

use crate::leaderboard::{Leaderboard, TournamentFields, Window};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid reset schedule {0:?}")]
    InvalidCron(String),
    #[error("reset schedule {0:?} has no tick after {1}")]
    NoTick(String, i64),
}

/// A parsed reset schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: Cron,
}

fn to_time(t: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(t, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Schedule {
    /// Parses a CRON expression (5 fields, or 6 with seconds); `Ok(None)` for an empty one.
    pub fn parse(text: &str) -> Result<Option<Schedule>, ScheduleError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let cron = Cron::from_str(text).map_err(|_| ScheduleError::InvalidCron(text.into()))?;
        Ok(Some(Schedule { text: text.into(), cron }))
    }

    /// The first tick strictly after `t` (unix s).
    pub fn next(&self, t: i64) -> Result<i64, ScheduleError> {
        self.cron
            .find_next_occurrence(&to_time(t), false)
            .map(|d| d.timestamp())
            .map_err(|_| ScheduleError::NoTick(self.text.clone(), t))
    }

    /// The last tick strictly before `t`, if any.
    pub fn last(&self, t: i64) -> Option<i64> {
        self.cron.find_previous_occurrence(&to_time(t), false).ok().map(|d| d.timestamp())
    }

    /// The last tick at or before `t`, if any.
    fn last_inclusive(&self, t: i64) -> Option<i64> {
        self.cron.find_previous_occurrence(&to_time(t), true).ok().map(|d| d.timestamp())
    }
}

/// Nakama's `prev_reset` of a board: the last tick strictly before `now`, or 0 when the
/// board (or tournament, from `start_time`) has not started yet or never resets.
pub fn prev_reset(schedule: Option<&Schedule>, start_time: i64, now: i64) -> i64 {
    match schedule {
        Some(s) if start_time <= now => s.last(now).unwrap_or(0),
        _ => 0,
    }
}

/// The partition a plain leaderboard writes to at `now`: the next reset, or 0.
pub fn leaderboard_expiry(schedule: Option<&Schedule>, now: i64) -> Result<i64, ScheduleError> {
    schedule.map_or(Ok(0), |s| s.next(now))
}

/// A tournament's (start_active, end_active, expiry) at `now` (Nakama's
/// `calculateTournamentDeadlines`).
///
/// With a schedule: the active period starts at the last tick at or before `now` (or, before
/// `start_time`, at the first tick after `start_time`), lasts `duration` capped at the next
/// tick, which is the expiry; `start_time` moves the start later, or to the next period if
/// it falls after the current one ends; `end_time` caps the expiry and the end.
/// Without one: active from `start_time` for `duration` (capped at `end_time`), expiry
/// `end_time` (0 = never).
pub fn tournament_window(
    t: &TournamentFields,
    schedule: Option<&Schedule>,
    now: i64,
) -> Result<Window, ScheduleError> {
    let Some(s) = schedule else {
        let mut end_active = t.start_time.saturating_add(t.duration);
        if t.end_time > 0 && end_active > t.end_time {
            end_active = t.end_time;
        }
        return Ok(Window { start_active: t.start_time, end_active, expiry: t.end_time });
    };
    let mut start_active = if now < t.start_time {
        s.next(t.start_time)?
    } else {
        match s.last_inclusive(now) {
            Some(v) => v,
            // No tick before now at all: the first period is the next one.
            None => s.next(now)?,
        }
    };
    let mut end_active = start_active.saturating_add(t.duration);
    let mut expiry = s.next(start_active)?;
    end_active = end_active.min(expiry);
    if t.start_time > end_active {
        start_active = s.next(t.start_time)?;
        expiry = s.next(start_active)?;
        end_active = start_active.saturating_add(t.duration).min(expiry);
    } else if t.start_time > start_active {
        start_active = t.start_time;
    }
    if t.end_time > 0 && expiry > t.end_time {
        expiry = t.end_time;
        end_active = end_active.min(expiry);
    }
    Ok(Window { start_active, end_active, expiry })
}

/// The window of any board at `now`: [`tournament_window`] for tournaments, otherwise
/// `{0, 0, leaderboard_expiry}`.
pub fn window(board: &Leaderboard, now: i64) -> Result<Window, ScheduleError> {
    let schedule = Schedule::parse(&board.reset_schedule)?;
    match &board.tournament {
        Some(t) => tournament_window(t, schedule.as_ref(), now),
        None => Ok(Window { start_active: 0, end_active: 0, expiry: leaderboard_expiry(schedule.as_ref(), now)? }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    // 2024-01-01T00:00:00Z, a Monday.
    const T0: i64 = 1_704_067_200;

    fn t(start_time: i64, end_time: i64, duration: i64) -> TournamentFields {
        TournamentFields { start_time, end_time, duration, ..Default::default() }
    }

    fn w(start_active: i64, end_active: i64, expiry: i64) -> Window {
        Window { start_active, end_active, expiry }
    }

    #[test]
    fn next_and_last_are_strict() {
        let daily = Schedule::parse("0 0 * * *").unwrap().unwrap();
        assert_eq!(daily.next(T0), Ok(T0 + DAY));
        assert_eq!(daily.next(T0 - 1), Ok(T0));
        assert_eq!(daily.last(T0), Some(T0 - DAY));
        assert_eq!(daily.last(T0 + 1), Some(T0));
        assert!(Schedule::parse("").unwrap().is_none());
        assert!(Schedule::parse("not a cron").is_err());
        assert_eq!(leaderboard_expiry(Some(&daily), T0 + 5), Ok(T0 + DAY));
        assert_eq!(leaderboard_expiry(None, T0), Ok(0));
        assert_eq!(prev_reset(Some(&daily), 0, T0 + 5), T0);
        assert_eq!(prev_reset(Some(&daily), T0 + 10, T0 + 5), 0);
    }

    #[test]
    fn window_without_schedule() {
        // Active from start for duration, never expires.
        assert_eq!(tournament_window(&t(T0, 0, 3600), None, T0 + 10), Ok(w(T0, T0 + 3600, 0)));
        // Duration capped at the end time, which is the expiry.
        assert_eq!(tournament_window(&t(T0, T0 + 60, 3600), None, T0), Ok(w(T0, T0 + 60, T0 + 60)));
    }

    #[test]
    fn window_with_daily_schedule() {
        let daily = Schedule::parse("0 0 * * *").unwrap().unwrap();
        let s = Some(&daily);
        // Mid-day: started at midnight, one hour long, expires next midnight.
        assert_eq!(tournament_window(&t(0, 0, 3600), s, T0 + 100), Ok(w(T0, T0 + 3600, T0 + DAY)));
        // Exactly on a tick: that tick starts the period.
        assert_eq!(tournament_window(&t(0, 0, 3600), s, T0), Ok(w(T0, T0 + 3600, T0 + DAY)));
        // Duration longer than the period is capped at the next reset.
        assert_eq!(tournament_window(&t(0, 0, 3 * DAY), s, T0 + 5), Ok(w(T0, T0 + DAY, T0 + DAY)));
        // Before the start time: the first tick after the start.
        assert_eq!(
            tournament_window(&t(T0 + 10, 0, 3600), s, T0 - 5),
            Ok(w(T0 + DAY, T0 + DAY + 3600, T0 + 2 * DAY))
        );
        // Start time inside the current period moves the start later.
        assert_eq!(
            tournament_window(&t(T0 + 600, 0, 3600), s, T0 + 700),
            Ok(w(T0 + 600, T0 + 3600, T0 + DAY))
        );
        // Start time after the current active part: the next period.
        assert_eq!(
            tournament_window(&t(T0 + 7200, 0, 3600), s, T0 + 7300),
            Ok(w(T0 + DAY, T0 + DAY + 3600, T0 + 2 * DAY))
        );
        // End time caps the expiry and the end of the active period.
        assert_eq!(
            tournament_window(&t(0, T0 + 1800, 3600), s, T0 + 100),
            Ok(w(T0, T0 + 1800, T0 + 1800))
        );
        // After the active part of today: inactive until the next tick.
        let late = tournament_window(&t(0, 0, 3600), s, T0 + 5000).unwrap();
        assert!(!late.is_active(T0 + 5000));
        assert!(late.is_active(T0 + 3599) && !late.is_active(T0 + 3600));
    }
}

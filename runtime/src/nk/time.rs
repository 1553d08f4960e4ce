//! `nk.time` and the CRON helpers.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use croner::Cron;
use mlua::Table;

use super::Installer;
use super::args::{Args, NkResult, field_int};

fn cron_args(args: &Args) -> NkResult<(Cron, DateTime<Utc>)> {
    let expression = args.nonempty(1, "expects cron string")?;
    let ts = args.int(2)?;
    if ts == 0 {
        return Err(args.error(2, "expects timestamp in seconds"));
    }
    let cron =
        Cron::from_str(&expression).map_err(|_| args.error(1, "expects a valid cron string"))?;
    let t = Utc
        .timestamp_opt(ts, 0)
        .single()
        .ok_or_else(|| args.error(2, "expects timestamp in seconds"))?;
    Ok((cron, t))
}

/// `nk.time({year=…, month=…, …})`: UTC milliseconds of a calendar date, as Nakama's.
fn time_of(args: &Args, t: &Table) -> NkResult<i64> {
    let get = |k: &str, default: i64| -> NkResult<i64> { Ok(field_int(t, k)?.unwrap_or(default)) };
    let (year, month, day) = (get("year", -1)?, get("month", -1)?, get("day", -1)?);
    let (hour, min, sec, msec) = (
        get("hour", 12)?,
        get("min", 0)?,
        get("sec", 0)?,
        get("msec", 0)?,
    );
    let date = i32::try_from(year)
        .ok()
        .and_then(|y| {
            NaiveDate::from_ymd_opt(y, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
        })
        .ok_or_else(|| args.error(1, "expects year, month and day fields of a valid date"))?;
    let midnight = date
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc().timestamp_millis())
        .unwrap_or(0);
    Ok(midnight + ((hour * 60 + min) * 60 + sec) * 1000 + msec)
}

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    i.add("time", |_, args| match args.opt_table(1)? {
        None => Ok(Utc::now().timestamp_millis()),
        Some(t) => time_of(&args, &t),
    })?;
    i.add("cron_next", |_, args| {
        let (cron, t) = cron_args(&args)?;
        let next = cron.find_next_occurrence(&t, false);
        next.map(|n| n.timestamp())
            .map_err(|_| args.error(1, "expects a valid cron string"))
    })?;
    i.add("cron_prev", |_, args| {
        let (cron, t) = cron_args(&args)?;
        let prev = cron.find_previous_occurrence(&t, false);
        prev.map(|n| n.timestamp())
            .map_err(|_| args.error(1, "expects a valid cron string"))
    })
}

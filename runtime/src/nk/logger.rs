//! `nk.logger_*`: one string each, logged through `tracing`, and returned. And `nk.event`:
//! Nakama hands events to Go `RegisterEvent` handlers; Shoal runs no Go code, so an event
//! has no consumer but the debug log (as a Nakama server without event handlers).

use super::Installer;

pub(super) fn install(i: &Installer) -> mlua::Result<()> {
    i.add("logger_debug", |_, args| {
        let m = args.nonempty(1, "expects message string")?;
        tracing::debug!(target: "shoal_runtime::lua", runtime = "lua", "{m}");
        Ok(m)
    })?;
    i.add("logger_info", |_, args| {
        let m = args.nonempty(1, "expects message string")?;
        tracing::info!(target: "shoal_runtime::lua", runtime = "lua", "{m}");
        Ok(m)
    })?;
    i.add("logger_warn", |_, args| {
        let m = args.nonempty(1, "expects message string")?;
        tracing::warn!(target: "shoal_runtime::lua", runtime = "lua", "{m}");
        Ok(m)
    })?;
    i.add("logger_error", |_, args| {
        let m = args.nonempty(1, "expects message string")?;
        tracing::error!(target: "shoal_runtime::lua", runtime = "lua", "{m}");
        Ok(m)
    })?;
    i.add("event", |_, args| {
        let name = args.nonempty(1, "expects name string")?;
        let properties = if args.get(2).is_nil() { Default::default() } else { args.string_map(2, "properties")? };
        let timestamp = args.opt_int(3)?;
        let external = args.opt_bool(4, false)?;
        tracing::debug!(target: "shoal_runtime::lua", runtime = "lua", event = %name, ?properties, ?timestamp, external, "event");
        Ok(())
    })
}

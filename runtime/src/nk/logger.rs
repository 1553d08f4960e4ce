//! `nk.logger_*`: one string each, logged through `tracing`, and returned.

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
    })
}

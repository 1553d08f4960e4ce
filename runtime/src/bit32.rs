//! Lua 5.2's `bit32` library, which Nakama's gopher-lua also loads: 32-bit unsigned
//! operations on Lua numbers.

use mlua::{Lua, Table, Variadic};

fn u32_of(n: f64) -> u32 {
    // Lua 5.2: numbers are taken modulo 2^32.
    (n.trunc().rem_euclid(4_294_967_296.0)) as u32
}

fn field(lua: &Lua, t: &Table, name: &str, f: fn(&[u32]) -> mlua::Result<f64>) -> mlua::Result<()> {
    t.raw_set(
        name,
        lua.create_function(move |_, args: Variadic<f64>| {
            let xs: Vec<u32> = args.iter().map(|n| u32_of(*n)).collect();
            f(&xs)
        })?,
    )
}

fn arg(xs: &[u32], i: usize) -> mlua::Result<u32> {
    xs.get(i).copied().ok_or_else(|| {
        mlua::Error::RuntimeError(format!(
            "bad argument #{} to bit32 (number expected)",
            i + 1
        ))
    })
}

/// A field width and offset for `extract`/`replace`.
fn span(xs: &[u32], at: usize) -> mlua::Result<(u32, u32)> {
    let field = arg(xs, at)?;
    let width = xs.get(at + 1).copied().unwrap_or(1);
    if field > 31 || width == 0 || field + width > 32 {
        return Err(mlua::Error::RuntimeError(
            "trying to access non-existent bits".into(),
        ));
    }
    Ok((field, width))
}

fn shift(x: u32, disp: i64) -> u32 {
    match disp {
        d if d <= -32 || d >= 32 => 0,
        d if d >= 0 => x << d,
        d => x >> -d,
    }
}

fn mask(width: u32) -> u32 {
    if width == 32 {
        u32::MAX
    } else {
        (1 << width) - 1
    }
}

/// Installs `bit32` as a global.
pub(crate) fn install(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    field(lua, &t, "band", |xs| {
        Ok(xs.iter().fold(u32::MAX, |a, b| a & b) as f64)
    })?;
    field(lua, &t, "bor", |xs| {
        Ok(xs.iter().fold(0, |a, b| a | b) as f64)
    })?;
    field(lua, &t, "bxor", |xs| {
        Ok(xs.iter().fold(0, |a, b| a ^ b) as f64)
    })?;
    field(lua, &t, "btest", |xs| {
        Ok(if xs.iter().fold(u32::MAX, |a, b| a & b) != 0 {
            1.0
        } else {
            0.0
        })
    })?;
    field(lua, &t, "bnot", |xs| Ok(!arg(xs, 0)? as f64))?;
    // Displacements are signed; they were converted mod 2^32 above, so convert back.
    field(lua, &t, "lshift", |xs| {
        Ok(shift(arg(xs, 0)?, arg(xs, 1)? as i32 as i64) as f64)
    })?;
    field(lua, &t, "rshift", |xs| {
        Ok(shift(arg(xs, 0)?, -(arg(xs, 1)? as i32 as i64)) as f64)
    })?;
    field(lua, &t, "arshift", |xs| {
        let (x, d) = (arg(xs, 0)?, arg(xs, 1)? as i32 as i64);
        if d < 0 || x & 0x8000_0000 == 0 {
            return Ok(shift(x, -d) as f64);
        }
        Ok(if d >= 32 {
            u32::MAX
        } else {
            ((x as i32) >> d) as u32
        } as f64)
    })?;
    field(lua, &t, "lrotate", |xs| {
        Ok(arg(xs, 0)?.rotate_left((arg(xs, 1)? as i32).rem_euclid(32) as u32) as f64)
    })?;
    field(lua, &t, "rrotate", |xs| {
        Ok(arg(xs, 0)?.rotate_right((arg(xs, 1)? as i32).rem_euclid(32) as u32) as f64)
    })?;
    field(lua, &t, "extract", |xs| {
        let (f, w) = span(xs, 1)?;
        Ok(((arg(xs, 0)? >> f) & mask(w)) as f64)
    })?;
    field(lua, &t, "replace", |xs| {
        let (f, w) = span(xs, 2)?;
        let m = mask(w);
        Ok(((arg(xs, 0)? & !(m << f)) | ((arg(xs, 1)? & m) << f)) as f64)
    })?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn operations() {
        let lua = mlua::Lua::new();
        lua.globals()
            .set("bit32", super::install(&lua).unwrap())
            .unwrap();
        let check = |expr: &str, expected: f64| {
            let v: f64 = lua.load(format!("return {expr}")).eval().unwrap();
            assert_eq!(v, expected, "{expr}");
        };
        check("bit32.band(0xff, 0x0f)", 15.0);
        check("bit32.bor(1, 2, 4)", 7.0);
        check("bit32.bxor(3, 1)", 2.0);
        check("bit32.bnot(0)", 4_294_967_295.0);
        check("bit32.lshift(1, 4)", 16.0);
        check("bit32.rshift(256, 4)", 16.0);
        check("bit32.rshift(1, -4)", 16.0);
        check("bit32.arshift(0x80000000, 1)", 3_221_225_472.0);
        check("bit32.lrotate(0x80000000, 1)", 1.0);
        check("bit32.extract(0xf0, 4, 4)", 15.0);
        check("bit32.replace(0, 3, 4, 2)", 48.0);
        check("bit32.band(-1)", 4_294_967_295.0);
    }
}

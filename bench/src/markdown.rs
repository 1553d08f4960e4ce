//! Tables as aligned text and as markdown, and the generated part of BENCHMARKS.md.

use std::path::Path;

pub const BEGIN: &str = "<!-- bench:all:begin -->";
pub const END: &str = "<!-- bench:all:end -->";

/// Columns padded to their widest cell.
pub fn text_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([headers[c].chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(s, w)| format!("{s:<w$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let mut out = vec![line(&headers), line(&rule)];
    out.extend(rows.iter().map(|r| line(r)));
    out.join("\n")
}

pub fn markdown_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = vec![format!("| {} |", headers.join(" | ")), format!("|{}|", vec!["---"; headers.len()].join("|"))];
    out.extend(rows.iter().map(|r| format!("| {} |", r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "))));
    out.join("\n")
}

/// Replaces what lies between [`BEGIN`] and [`END`] in `path` with `generated`.
pub fn rewrite(path: &Path, generated: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        anyhow::bail!("{} has no {BEGIN} … {END} markers", path.display());
    };
    anyhow::ensure!(b < e, "{}: {END} comes before {BEGIN}", path.display());
    let new = format!("{}{BEGIN}\n{}\n{}", &text[..b], generated.trim_end(), &text[e..]);
    std::fs::write(path, new)?;
    Ok(())
}

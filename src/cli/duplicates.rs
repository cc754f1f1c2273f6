//! `sonica duplicates`: the library's duplicate groups, from the links
//! stored when duplicates were added (under `flag` or `keep`).

use std::io::Write;
use std::process::ExitCode;

use sonica_index::FingerprintIndex;

pub fn run(index: &FingerprintIndex, json: bool) -> anyhow::Result<ExitCode> {
    let groups = index.duplicate_groups()?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::json!({ "groups": groups }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if groups.is_empty() {
        writeln!(out, "no duplicates")?;
    }
    for (n, g) in groups.iter().enumerate() {
        writeln!(out, "group {} ({} tracks)", n + 1, g.tracks.len())?;
        for id in &g.tracks {
            let path = index.get(*id)?.map(|r| r.path).unwrap_or_default();
            writeln!(out, "  {id}\t{path}")?;
        }
        for l in &g.links {
            let d = &l.duplicate;
            writeln!(
                out,
                "  {} is {} {} ({:.1} s shared, score {:.2})",
                l.track, d.kind, d.of, d.overlap_s, d.score
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

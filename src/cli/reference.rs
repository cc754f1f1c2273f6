//! `sonica reference add|remove|list|build-target`: the mastering
//! assistant's reference library from the command line, and how the
//! built-in genre targets are made.

use std::path::Path;
use std::process::ExitCode;

use sonica::mastering::assistant::{self, genre};
use sonica::mastering::builtin::{BuiltIn, Source};
use sonica::mastering::compare::target_of;
use sonica::mastering::measure_file;
use sonica::Library;

use super::args::ReferenceCommand;

/// Exit 0 on success, 1 when the track or mark is unknown or a file cannot
/// be measured, 2 on a bad genre.
pub fn run(library: &Library, cmd: ReferenceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ReferenceCommand::Add { id, genre: g } => {
            match assistant::mark_reference(library.index(), library.mastering(), id, &g) {
                Ok(r) => {
                    println!(
                        "track {id} is a {} reference ({:.1} LUFS, LRA {:.1} LU, crest {:.1} dB)",
                        r.genre, r.profile.lufs, r.profile.lra_lu, r.profile.crest_db
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("sonica: {e}");
                    let usage = e.code() == sonica::error::ErrorCode::InvalidParameter;
                    Ok(ExitCode::from(if usage { 2 } else { 1 }))
                }
            }
        }
        ReferenceCommand::Remove { id } => {
            if library.mastering().unmark(id)? {
                println!("track {id} is no longer a reference");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("sonica: track {id} is not a reference");
                Ok(ExitCode::from(1))
            }
        }
        ReferenceCommand::List { genre: g, json } => {
            let g = match g.as_deref().map(genre).transpose() {
                Ok(g) => g,
                Err(e) => {
                    eprintln!("sonica: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let refs = library.mastering().references(g.as_deref())?;
            let genres = assistant::known_genres(library.mastering())?;
            if json {
                let v = serde_json::json!({
                    "references": refs.iter().map(|r| serde_json::json!({
                        "track_id": r.track_id, "genre": r.genre, "lufs": r.profile.lufs,
                        "lra_lu": r.profile.lra_lu, "crest_db": r.profile.crest_db, "width": r.profile.width,
                    })).collect::<Vec<_>>(),
                    "genres": genres.iter().map(|(g, n, b)| serde_json::json!({
                        "genre": g, "references": n, "built_in": b,
                    })).collect::<Vec<_>>(),
                });
                println!("{v}");
            } else {
                for r in &refs {
                    let title = library.get(r.track_id)?.map(|t| t.title).unwrap_or_default();
                    println!("{}\t{}\t{:.1} LUFS\t{}", r.track_id, r.genre, r.profile.lufs, title);
                }
                for (g, n, b) in &genres {
                    println!(
                        "genre {g}: {n} reference(s){}",
                        if *b { ", built-in target" } else { "" }
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        // Dispatched in `main` before any library is opened.
        ReferenceCommand::BuildTarget { .. } => Ok(ExitCode::from(2)),
    }
}

/// Measures `files` and prints the genre target they make, with each
/// file's origin and licence, as a built-in target file.
pub fn build_target(genre_name: &str, origin: &str, license: &str, files: &[String]) -> ExitCode {
    let g = match genre(genre_name) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("sonica: {e}");
            return ExitCode::from(2);
        }
    };
    let mut profiles = Vec::new();
    let mut sources = Vec::new();
    for f in files {
        match measure_file(Path::new(f)) {
            Ok(p) => {
                profiles.push(p);
                let name = Path::new(f)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                sources.push(Source {
                    file: name,
                    origin: origin.to_string(),
                    license: license.to_string(),
                });
            }
            Err(e) => {
                eprintln!("sonica: {f}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let b = BuiltIn {
        genre: g,
        sources,
        target: target_of(&profiles.iter().collect::<Vec<_>>()),
    };
    match serde_json::to_string_pretty(&b) {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sonica: {e}");
            ExitCode::from(1)
        }
    }
}

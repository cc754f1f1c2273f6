//! Sonica as a library: open a library, ingest files, identify a clip.
//!
//!     cargo run --example identify -- LIBRARY_DIR CLIP [FILES_TO_INGEST...]
//!
//! With files after the clip they are ingested first (fingerprinted and
//! analysed on every core, duplicates flagged); then the clip is decoded,
//! fingerprinted and looked up, and the answer is printed in the same JSON
//! shape as `sonica identify --json` and `POST /recognize`.

use std::path::Path;
use std::process::ExitCode;

use sonica::answer::RecognizeAnswer;
use sonica::ingest::{collect_inputs, ingest, IngestOptions, Outcome};
use sonica::{Identifier, Library, OpenOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, clip, files @ ..] = args.as_slice() else {
        eprintln!("usage: identify LIBRARY_DIR CLIP [FILES_TO_INGEST...]");
        return ExitCode::from(2);
    };
    match run(Path::new(dir), Path::new(clip), files) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("identify: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(dir: &Path, clip: &Path, files: &[String]) -> Result<(), sonica::SonicaError> {
    // The store and its search indexes, wired together.
    let library = Library::open(dir, &OpenOptions::default())?;
    if !files.is_empty() {
        let (files, problems) = collect_inputs(files);
        for p in &problems {
            if let Outcome::Failed { path, error } = p {
                eprintln!("{path}: {error}");
            }
        }
        let summary = ingest(&library, files, &IngestOptions::default(), &mut |o| match o {
            Outcome::Added { record, .. } => eprintln!("added {}: {}", record.id, record.path),
            Outcome::Failed { path, error } => eprintln!("{path}: {error}"),
            _ => {}
        })?;
        eprintln!("{} added, {} failed", summary.added, summary.failed);
    }
    let (found, verdict) = sonica::identify::identify_file(&Identifier::new(&library), clip)?;
    let answer = RecognizeAnswer::new(found.as_ref(), verdict.as_ref());
    println!("{}", serde_json::to_string(&answer).unwrap_or_default());
    library.sync()?;
    Ok(())
}

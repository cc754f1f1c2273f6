//! `sonica similar` and `sonica search`: the similarity and text queries of
//! the service, from the command line, printing the same JSON shapes.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use sonica::decode::MAX_DURATION_S;
use sonica::error::ErrorCode;
use sonica::pipeline::analyse_music;
use sonica::search::params::{parse_count, RawFilter, MAX_OFFSET};
use sonica::search::{similar, text_search, RawSimilar, SimilarTo, TrackHit};
use sonica::SonicaError;
use sonica_index::TextQuery;
use sonica_index::{FingerprintIndex, MusicIndex};

/// Filter flags shared by both commands.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only this genre (whole, case-insensitive).
    #[arg(long)]
    pub genre: Option<String>,
    /// Only this key, e.g. "A minor", "Eb major", "F#m".
    #[arg(long)]
    pub key: Option<String>,
    /// Lowest tempo, BPM.
    #[arg(long)]
    pub tempo_min: Option<String>,
    /// Highest tempo, BPM.
    #[arg(long)]
    pub tempo_max: Option<String>,
}

impl FilterArgs {
    fn raw(&self) -> RawFilter {
        RawFilter {
            genre: self.genre.clone(),
            key: self.key.clone(),
            tempo_min: self.tempo_min.clone(),
            tempo_max: self.tempo_max.clone(),
        }
    }
}

/// Exit code for a failed query: 2 for a bad parameter (usage), 1 for an
/// unknown id or unusable file, 3 for the store.
fn fail(what: &str, e: &SonicaError, json: bool) -> ExitCode {
    if json {
        println!(
            "{}",
            serde_json::json!({"query": what, "error": {"code": e.code(), "message": e.to_string()}})
        );
    } else {
        eprintln!("sonica: {what}: {e}");
    }
    ExitCode::from(match e.code() {
        ErrorCode::InvalidParameter | ErrorCode::BadRange => 2,
        ErrorCode::StoreLocked | ErrorCode::StoreError | ErrorCode::StoreCorrupt | ErrorCode::IoError => 3,
        _ => 1,
    })
}

fn print_hits(hits: &[TrackHit], score: impl Fn(&TrackHit) -> String) {
    let mut out = std::io::stdout().lock();
    if hits.is_empty() {
        let _ = writeln!(out, "no results");
    }
    for h in hits {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            h.id,
            score(h),
            h.title,
            h.artist.as_deref().unwrap_or("-"),
            h.path
        );
    }
}

/// `sonica similar (ID|FILE)`.
pub fn run_similar(
    index: &FingerprintIndex,
    music: &MusicIndex,
    target: &str,
    raw: RawSimilar,
    json: bool,
) -> ExitCode {
    let params = match raw.parse() {
        Ok(p) => p,
        Err(e) => return fail(target, &e.into(), json),
    };
    // A number is a track id unless a file of that name exists.
    let (query, what) = match target.parse::<u32>() {
        Ok(id) if !Path::new(target).exists() => (SimilarTo::Track(id), serde_json::json!({"id": id})),
        _ => match analyse_music(Path::new(target), None, None, MAX_DURATION_S, Default::default()) {
            Ok(a) => (SimilarTo::Clip(Box::new(a)), serde_json::json!({"file": target})),
            Err(e) => return fail(target, &e, json),
        },
    };
    match similar(index, music, &query, &params) {
        Ok(results) => {
            if json {
                println!("{}", serde_json::json!({"query": what, "results": results}));
            } else {
                print_hits(&results, |h| format!("{:.3}", h.similarity.unwrap_or(0.0)));
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(target, &e, json),
    }
}

/// `sonica search TEXT`.
pub fn run_search(
    index: &FingerprintIndex,
    music: &MusicIndex,
    text: &str,
    filter: &FilterArgs,
    limit: Option<String>,
    offset: Option<String>,
    json: bool,
) -> ExitCode {
    let parsed = (|| -> Result<TextQuery, SonicaError> {
        Ok(TextQuery {
            text: Some(text.to_string()).filter(|t| !t.trim().is_empty()),
            filter: filter.raw().parse()?,
            limit: parse_count("limit", &limit, 1, 1000)?.unwrap_or(20),
            offset: parse_count("offset", &offset, 0, MAX_OFFSET)?.unwrap_or(0),
        })
    })();
    let q = match parsed {
        Ok(q) => q,
        Err(e) => return fail(text, &e, json),
    };
    match text_search(index, music, &q) {
        Ok(answer) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"query": text, "total": answer.total, "results": answer.results, "facets": answer.facets})
                );
            } else {
                print_hits(&answer.results, |h| format!("{:.2}", h.text_score.unwrap_or(0.0)));
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(text, &e, json),
    }
}

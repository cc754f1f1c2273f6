//! `sonica identify`: clips in, one answer a line out, in input order, with
//! the clips recognised on every core. `--json` prints the one answer shape
//! of [`sonica::answer`] (what `POST /recognize` answers) with the query's
//! path, and the evidence with `--explain`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;
use sonica::answer::{MatchView, RecognizeAnswer};
use sonica::{Identifier, Match, SonicaError, Verdict};
use sonica_index::FingerprintIndex;

/// One line of `--json` output.
#[derive(Serialize)]
struct Line<'a> {
    query: &'a str,
    #[serde(flatten)]
    answer: RecognizeAnswer,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<serde_json::Value>,
}

type Answer = Result<(Option<Match>, Option<Verdict>), SonicaError>;

pub fn run(index: &FingerprintIndex, json: bool, explain: bool, jobs: Option<usize>, files: &[String]) -> ExitCode {
    let jobs = jobs
        .unwrap_or_else(sonica::pipeline::bulk::default_jobs)
        .clamp(1, files.len().max(1));
    let identifier = Identifier::new(index);
    let next = AtomicUsize::new(0);
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Answer)>();
    let mut failed = 0usize;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, identifier) = (&next, &identifier);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(f) = files.get(i) else { break };
                let r = sonica::identify::identify_file(identifier, Path::new(f));
                if tx.send((i, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Print in input order as results arrive.
        let mut pending = std::collections::BTreeMap::new();
        let mut want = 0usize;
        let mut out = std::io::stdout().lock();
        for (i, r) in rx.iter() {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&want) {
                let f = &files[want];
                if r.is_err() {
                    failed += 1;
                }
                if let Some(l) = line(f, r, json, explain) {
                    let _ = writeln!(out, "{l}");
                }
                want += 1;
            }
        }
    });
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The output line for one clip (errors go to stderr, and as a line only
/// in JSON).
fn line(f: &str, r: Answer, json: bool, explain: bool) -> Option<String> {
    match r {
        Err(e) => {
            eprintln!("sonica: {f}: {e}");
            let error = serde_json::json!({"code": e.code(), "message": e.to_string()});
            let l = Line {
                query: f,
                answer: RecognizeAnswer { matched: None },
                evidence: None,
                error: Some(error),
            };
            json.then(|| serde_json::to_string(&l).unwrap_or_default())
        }
        Ok((m, verdict)) if json => {
            let evidence = explain.then(|| match &verdict {
                Some(e) => serde_json::json!({
                    "id": e.best.track, "hits": e.best.count, "total": e.best.total,
                    "runner_up": e.runner_up, "speed": e.speed,
                    "queried": e.queried, "span": e.best.last - e.best.first,
                }),
                None => serde_json::Value::Null,
            });
            let l = Line {
                query: f,
                answer: RecognizeAnswer::new(m.as_ref(), verdict.as_ref()),
                evidence,
                error: None,
            };
            Some(serde_json::to_string(&l).unwrap_or_default())
        }
        Ok((m, verdict)) => Some(match m.map(|m| sonica::answer::view(&m, verdict.as_ref())) {
            Some(MatchView {
                id,
                title,
                artist,
                score,
                offset_s,
                ..
            }) => format!(
                "{f}: {title} — {} (id {id}, score {score}, at {offset_s:.1} s)",
                artist.as_deref().unwrap_or("unknown artist"),
            ),
            None => format!("{f}: no match"),
        }),
    }
}

//! Latency of the text index: searches, filters and allow-lists over a
//! synthetic library on disk, one query at a time, as one HTTP worker sees it.
//!
//! Issue 4 asks for text search with filters over 100k tracks at p99 ≤ 5 ms.
//! This builds such a library (word-list titles with a skewed word
//! frequency, ~2000 artists, ~5000 albums, skewed genres, uniform tempo,
//! key, duration and loudness) in an mmap folder under /tmp like production,
//! then times each query shape and prints a markdown table.
//!
//! `cargo bench -p sonica-index --bench text`
//! Knobs: `SONICA_TEXT_N` (tracks, default 100000), `SONICA_TEXT_QUERIES`
//! (timed queries per shape, default 2000).

use std::path::Path;
use std::time::{Duration, Instant};

use sonica_index::{Filter, TextDoc, TextIndex, TextQuery};
use sonica_schema::{Key, Mode};

/// Real words, most frequent first: the head of the title vocabulary.
const WORDS: &str = "love night heart time light dream fire rain home blue summer dance river golden shadow midnight harbor ocean city stars wild silver morning winter echo highway storm paradise forever angel thunder garden mirror velvet crystal electric memory whisper horizon desert island candle window machine signal satellite journey kingdom lonely broken sweet secret little road moon sun sky sea girl boy baby again tonight without believe running falling burning waiting dancing calling rising yesterday tomorrow together alone northern southern wonder gravity mountain valley canyon meadow thunderbird lighthouse wanderer stranger traveller daydream nightfall sunrise sunset twilight neon paper glass stone iron honey sugar cherry lemon orange violet scarlet emerald sapphire diamond feather thousand million hundred seven eleven heaven hollow distant frozen restless endless fearless gentle quiet loud slow fast rhythm melody harmony symphony ballad anthem lullaby serenade carnival circus parade festival";

/// Syllables for the tail of the vocabulary and for artist names.
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ven", "tor", "sa", "el", "an", "dri", "qu", "mon", "bel", "ti", "zor", "na", "shi", "ro",
    "la", "vin", "cor", "da", "mer", "phi", "os", "ul", "gra", "ne", "fa", "lu", "ber", "sol",
];

const GENRES: &[(&str, u64)] = &[
    ("Rock", 30),
    ("Pop", 22),
    ("Electronic", 14),
    ("Hip Hop", 10),
    ("Jazz", 7),
    ("Classical", 6),
    ("Folk", 4),
    ("Metal", 3),
    ("Ambient", 2),
    ("Reggae", 2),
];

/// splitmix64: a tiny, good-enough PRNG so the library is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Log-uniform rank in [0, n): rank r is drawn about 1/(r+1) as often
    /// as rank 0, like word frequencies.
    fn zipf(&mut self, n: usize) -> usize {
        ((n as f64 + 1.0).powf(self.unit()) as usize)
            .saturating_sub(1)
            .min(n - 1)
    }
    fn weighted<'a>(&mut self, items: &[(&'a str, u64)]) -> &'a str {
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut pick = self.next() % total;
        for (item, w) in items {
            if pick < *w {
                return item;
            }
            pick -= w;
        }
        items[0].0
    }
}

/// The synthetic library's word lists.
struct Corpus {
    vocabulary: Vec<String>,
    artists: Vec<String>,
    albums: Vec<String>,
}

impl Corpus {
    fn new(rng: &mut Rng) -> Corpus {
        let word = |rng: &mut Rng, syllables: usize| -> String {
            (0..syllables).map(|_| SYLLABLES[rng.below(SYLLABLES.len())]).collect()
        };
        let mut vocabulary: Vec<String> = WORDS.split_whitespace().map(String::from).collect();
        while vocabulary.len() < 3000 {
            let n = 2 + rng.below(3);
            vocabulary.push(word(rng, n));
        }
        let artists = (0..2000)
            .map(|_| {
                let (a, b) = (2 + rng.below(2), 2 + rng.below(2));
                capitalise(&format!("{} {}", word(rng, a), word(rng, b)))
            })
            .collect();
        let mut corpus = Corpus {
            vocabulary,
            artists,
            albums: Vec::new(),
        };
        corpus.albums = (0..5000)
            .map(|_| {
                let words = 1 + rng.below(3);
                corpus.phrase(rng, words)
            })
            .collect();
        corpus
    }

    fn word(&self, rng: &mut Rng) -> &str {
        &self.vocabulary[rng.zipf(self.vocabulary.len())]
    }

    fn phrase(&self, rng: &mut Rng, words: usize) -> String {
        let ws: Vec<String> = (0..words).map(|_| capitalise(self.word(rng))).collect();
        ws.join(" ")
    }

    fn track(&self, rng: &mut Rng, id: u32) -> TextDoc {
        TextDoc {
            id,
            title: {
                let words = 2 + rng.below(2);
                self.phrase(rng, words)
            },
            artist: Some(self.artists[rng.zipf(self.artists.len())].clone()),
            album: Some(self.albums[rng.below(self.albums.len())].clone()),
            genre: Some(rng.weighted(GENRES).to_string()),
            key: Some(random_key(rng)),
            tempo_bpm: Some(rng.range(60.0, 190.0)),
            duration_s: rng.range(60.0, 600.0),
            loudness_lufs: Some(rng.range(-30.0, -5.0)),
        }
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

fn random_key(rng: &mut Rng) -> Key {
    let mode = if rng.below(2) == 0 { Mode::Major } else { Mode::Minor };
    Key {
        tonic: rng.below(12) as u8,
        mode,
    }
}

/// `word` with one letter (not the first) replaced: a one-typo query.
fn typo(rng: &mut Rng, word: &str) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    let at = 1 + rng.below(chars.len() - 1);
    let old = chars[at];
    chars[at] = loop {
        let c = (b'a' + rng.below(26) as u8) as char;
        if c != old {
            break c;
        }
    };
    chars.into_iter().collect()
}

/// The kinds of request timed, one table row each.
#[derive(Clone, Copy)]
enum Shape {
    FullWord,
    Prefix,
    OneTypo,
    TwoWords,
    WordGenre,
    WordTempo,
    WordKey,
    FiltersOnly,
    Ids(f64),
}

impl Shape {
    const ALL: [Shape; 11] = [
        Shape::FullWord,
        Shape::Prefix,
        Shape::OneTypo,
        Shape::TwoWords,
        Shape::WordGenre,
        Shape::WordTempo,
        Shape::WordKey,
        Shape::FiltersOnly,
        Shape::Ids(0.50),
        Shape::Ids(0.10),
        Shape::Ids(0.01),
    ];

    fn name(self) -> String {
        match self {
            Shape::FullWord => "full word".into(),
            Shape::Prefix => "prefix (3–4 letters)".into(),
            Shape::OneTypo => "one typo (word of 5+ letters)".into(),
            Shape::TwoWords => "two words of one title".into(),
            Shape::WordGenre => "word + genre".into(),
            Shape::WordTempo => "word + tempo range (20 BPM)".into(),
            Shape::WordKey => "word + key".into(),
            Shape::FiltersOnly => "filters only (genre + 20 BPM), by id".into(),
            Shape::Ids(share) => format!("matching_ids, tempo filter ~{:.0}%", share * 100.0),
        }
    }
}

/// A word as users would search it: frequent words more often.
fn any_word(corpus: &Corpus, rng: &mut Rng) -> String {
    corpus.word(rng).to_string()
}

/// A 20 BPM window somewhere in the 60–190 range.
fn tempo_window(rng: &mut Rng) -> Filter {
    let lo = rng.range(60.0, 170.0);
    Filter {
        tempo_min: Some(lo),
        tempo_max: Some(lo + 20.0),
        ..Filter::default()
    }
}

/// One request of `shape`: a search, or (for `Ids`) a filter for `matching_ids`.
fn request(shape: Shape, corpus: &Corpus, rng: &mut Rng) -> (TextQuery, bool) {
    let text = |t: String, filter: Filter| TextQuery {
        text: Some(t),
        filter,
        limit: 20,
        offset: 0,
    };
    let q = match shape {
        Shape::FullWord => text(any_word(corpus, rng), Filter::default()),
        Shape::Prefix => {
            let w = any_word(corpus, rng);
            let cut = w.char_indices().nth(3 + rng.below(2)).map_or(w.len(), |(i, _)| i);
            text(w[..cut].to_string(), Filter::default())
        }
        Shape::OneTypo => {
            let w = loop {
                let w = any_word(corpus, rng);
                if w.chars().count() >= 5 {
                    break w;
                }
            };
            text(typo(rng, &w), Filter::default())
        }
        Shape::TwoWords => {
            let title = corpus.track(rng, 0).title;
            text(
                title.split(' ').take(2).collect::<Vec<_>>().join(" "),
                Filter::default(),
            )
        }
        Shape::WordGenre => {
            let genre = Some(rng.weighted(GENRES).to_string());
            text(
                any_word(corpus, rng),
                Filter {
                    genre,
                    ..Filter::default()
                },
            )
        }
        Shape::WordTempo => {
            let filter = tempo_window(rng);
            text(any_word(corpus, rng), filter)
        }
        Shape::WordKey => {
            let key = Some(random_key(rng));
            text(
                any_word(corpus, rng),
                Filter {
                    key,
                    ..Filter::default()
                },
            )
        }
        Shape::FiltersOnly => {
            let genre = Some(rng.weighted(GENRES).to_string());
            TextQuery {
                filter: Filter {
                    genre,
                    ..tempo_window(rng)
                },
                ..TextQuery::default()
            }
        }
        Shape::Ids(share) => {
            // Tempo is uniform over 60–190: a window of share × 130 BPM.
            let lo = rng.range(60.0, 190.0 - 130.0 * share);
            let filter = Filter {
                tempo_min: Some(lo),
                tempo_max: Some(lo + 130.0 * share),
                ..Filter::default()
            };
            return (
                TextQuery {
                    filter,
                    ..TextQuery::default()
                },
                true,
            );
        }
    };
    (q, false)
}

/// CPU time this thread has used. On a shared machine the wall-clock tail is
/// mostly time spent waiting for a core; this shows what a query costs when
/// it has one. `None` where the clock is not available.
#[cfg(target_os = "linux")]
fn thread_cpu_time() -> Option<Duration> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the struct it is given, laid out as
    // the C `struct timespec` of 64-bit Linux.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    (rc == 0).then(|| Duration::new(t.tv_sec as u64, t.tv_nsec as u32))
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_time() -> Option<Duration> {
    None
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let n = env_usize("SONICA_TEXT_N", 100_000);
    let queries = env_usize("SONICA_TEXT_QUERIES", 2000).max(1);
    let mut rng = Rng(0x5eed);
    let corpus = Corpus::new(&mut rng);

    let tmp = tempfile::Builder::new()
        .prefix("sonica-text-bench")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let docs: Vec<TextDoc> = (0..n as u32).map(|id| corpus.track(&mut rng, id)).collect();
    let started = Instant::now();
    let index = TextIndex::open(tmp.path()).expect("open index");
    for doc in &docs {
        index.upsert(doc).expect("upsert");
    }
    index.commit().expect("commit");
    let build = started.elapsed();
    let segments = index.tantivy().searchable_segment_ids().map(|s| s.len()).unwrap_or(0);
    println!(
        "{n} tracks indexed in {:.2} s ({:.1} MB on disk, {segments} segments); {queries} queries per shape, one thread\n",
        build.as_secs_f64(),
        dir_size(tmp.path()) as f64 / 1e6,
    );

    println!("| shape | p50 ms | p99 ms | mean ms | CPU p50 ms | CPU p99 ms | mean matches (share) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for shape in Shape::ALL {
        let name = shape.name();
        let mut qrng = Rng(0xbe_0c4 ^ name.len() as u64);
        let run = |q: &TextQuery, ids: bool| -> usize {
            if ids {
                index.matching_ids(&q.filter, None).expect("matching_ids").len()
            } else {
                index.search(q).expect("search").total
            }
        };
        for _ in 0..queries.min(200) {
            let (q, ids) = request(shape, &corpus, &mut qrng);
            run(&q, ids); // warm the page cache and the allocator
        }
        let mut wall = Vec::with_capacity(queries);
        let mut cpu = Vec::with_capacity(queries);
        let mut matches = 0usize;
        for _ in 0..queries {
            let (q, ids) = request(shape, &corpus, &mut qrng);
            let c = thread_cpu_time();
            let t = Instant::now();
            matches += run(&q, ids);
            wall.push(t.elapsed());
            if let (Some(before), Some(after)) = (c, thread_cpu_time()) {
                cpu.push(after.saturating_sub(before));
            }
        }
        let mean = ms(wall.iter().sum::<Duration>()) / wall.len() as f64;
        let mean_matches = matches as f64 / queries as f64;
        println!(
            "| {name} | {} | {} | {mean:.3} | {} | {} | {mean_matches:.0} ({:.1}%) |",
            percentile(&mut wall, 0.50),
            percentile(&mut wall, 0.99),
            percentile(&mut cpu, 0.50),
            percentile(&mut cpu, 0.99),
            100.0 * mean_matches / n.max(1) as f64
        );
    }
}

/// The `p` quantile in milliseconds, "n/a" for no samples.
fn percentile(samples: &mut [Duration], p: f64) -> String {
    if samples.is_empty() {
        return "n/a".into();
    }
    samples.sort_unstable();
    let at = ((samples.len() as f64 * p) as usize).min(samples.len() - 1);
    format!("{:.3}", ms(samples[at]))
}

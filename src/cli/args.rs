//! The command line's flags and subcommands (clap), in one place.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sonica",
    version,
    about = "Self-hosted audio search: recognition, similarity, duplicates, text"
)]
pub struct Cli {
    /// `--data-dir` and `--config`, resolved alike by every command.
    #[command(flatten)]
    pub library: sonica::options::LibraryArgs,
    /// With no command, `serve` runs with its defaults.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP/WebSocket service (the default command).
    Serve(Box<ServeArgs>),
    /// Add audio files (and folders, recursively) to the library.
    Ingest {
        /// Worker threads for decoding and fingerprinting (default: all cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// One JSON line per file instead of text.
        #[arg(long)]
        json: bool,
        /// What to do with a file that duplicates a stored track: reject
        /// (do not add), flag (add and mark) or keep (add as usual).
        #[arg(long, default_value = "flag", value_parser = parse_policy)]
        on_duplicate: sonica_schema::OnDuplicate,
        /// Store only the fingerprints (the tracks are recognisable at
        /// once); the music analysis is left pending, for `sonica-reindex`
        /// or the next `sonica serve` to fill in.
        #[arg(long)]
        fingerprint_only: bool,
        /// Mark every file added (or already there) as a mastering
        /// reference of this genre.
        #[arg(long)]
        reference_genre: Option<String>,
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// List the library's duplicate groups.
    Duplicates {
        #[arg(long)]
        json: bool,
    },
    /// Recognise clips against the library.
    Identify {
        #[arg(long)]
        json: bool,
        /// Add the strongest evidence (even when rejected) to JSON output,
        /// for threshold calibration.
        #[arg(long)]
        explain: bool,
        #[arg(long, short)]
        jobs: Option<usize>,
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Scan recordings (files of any length) or live http(s) streams and
    /// print one line per play: which track, from when to when, and from
    /// where in it.
    Monitor {
        /// One JSON object a line: {source, track, title, artist, path,
        /// start_s, end_s, offset_in_track_s, confidence, speed, score}.
        #[arg(long)]
        json: bool,
        /// Identification threads (default: all cores).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Seconds of audio in each identified window.
        #[arg(long, default_value = "10")]
        window: f64,
        /// Seconds between window starts.
        #[arg(long, default_value = "5")]
        hop: f64,
        /// Files or http(s) stream URLs.
        #[arg(required = true)]
        inputs: Vec<String>,
    },
    /// List the tracks in the library.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a track by id.
    Remove { id: u32 },
    /// Tracks, hours of audio, postings and bytes per tier.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Merge the fresh tier into the compacted buckets and purge deletions.
    Compact,
    /// Measure tempo, key, loudness, bands and more of audio files (no library needed).
    Analyze(AnalyzeArgs),
    /// Compare a mix with references (files or library tracks) or a genre:
    /// band by band and overall, what to change, the EQ curve, and
    /// optionally the mix rendered with it.
    Master(MasterArgs),
    /// Mastering references: mark library tracks with a genre, list them,
    /// or build a genre target from files.
    #[command(subcommand)]
    Reference(ReferenceCommand),
    /// API keys with a tier: add one (printed once), list them, revoke one.
    #[command(subcommand)]
    Keys(super::keys::KeysCommand),
    /// Tracks that sound like a library track (by id) or an audio file.
    Similar {
        #[arg(long)]
        json: bool,
        /// A track id, or an audio file to analyse and compare.
        target: String,
        /// How many results (1–1000).
        #[arg(long, default_value = "10")]
        top_k: String,
        /// timbre, rhythm or mixed.
        #[arg(long, default_value = "mixed")]
        kind: String,
        /// Drop results less similar than this (−1 to 1).
        #[arg(long)]
        min_similarity: Option<String>,
        #[command(flatten)]
        filter: super::similar::FilterArgs,
    },
    /// Search titles, artists, albums and genres, with filters.
    Search {
        #[arg(long)]
        json: bool,
        /// Words to find (prefix and typo tolerant); "" lists by filters alone.
        text: String,
        #[arg(long)]
        limit: Option<String>,
        #[arg(long)]
        offset: Option<String>,
        #[command(flatten)]
        filter: super::similar::FilterArgs,
    },
}

/// `sonica master` flags.
#[derive(clap::Args)]
pub struct MasterArgs {
    /// The mix to check.
    pub mix: String,
    /// A reference: an audio file, or the id of a library track marked
    /// as a reference (repeat for several; their range is the target).
    #[arg(long = "reference")]
    pub references: Vec<String>,
    /// Compare with this genre: the library's references of it, else
    /// Sonica's built-in target. Stores the analysis in the library.
    #[arg(long)]
    pub genre: Option<String>,
    /// informative, suggestive or prescriptive.
    #[arg(long, default_value = "prescriptive")]
    pub level: String,
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write the mix with the suggested curve and loudness change (and
    /// a true-peak limiter at −1 dBTP) to this WAV file.
    #[arg(long)]
    pub apply: Option<String>,
    /// Render only the first this many seconds with --apply (0 = all).
    #[arg(long, default_value = "0")]
    pub apply_s: f64,
}

/// `sonica reference …`.
#[derive(Subcommand)]
pub enum ReferenceCommand {
    /// Mark a library track as a reference of a genre (again: change it).
    Add {
        id: u32,
        #[arg(long)]
        genre: String,
    },
    /// Remove a track's reference mark (the track stays).
    Remove { id: u32 },
    /// List references, and the genres with targets.
    List {
        #[arg(long)]
        genre: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Build a genre target from audio files and print it as JSON (how
    /// the built-in targets are made; no library needed).
    BuildTarget {
        #[arg(long)]
        genre: String,
        /// Where the files came from, recorded per file.
        #[arg(long, default_value = "")]
        origin: String,
        /// Their licence, recorded per file.
        #[arg(long, default_value = "")]
        license: String,
        #[arg(required = true)]
        files: Vec<String>,
    },
}

/// `sonica serve` settings. Each also reads `SONICA_<NAME>` and the
/// `--config` TOML file (same names, snake_case); flags and environment win.
#[derive(clap::Args, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:7700]; port 0 picks a free one.
    #[arg(long, env = "SONICA_BIND")]
    pub bind: Option<String>,
    /// Watched folder; uploads are stored here too [default: ./songs].
    #[arg(long, env = "SONICA_SONGS_DIR")]
    pub songs_dir: Option<PathBuf>,
    /// HTTP worker threads [default: cores].
    #[arg(long, env = "SONICA_HTTP_WORKERS")]
    pub http_workers: Option<usize>,
    /// Fingerprinting workers [default: cores / 2, at least 1]; 0 queues without processing.
    #[arg(long, env = "SONICA_JOB_WORKERS")]
    pub job_workers: Option<usize>,
    /// Attempts per job before it is marked FAILED [default: 3].
    #[arg(long, env = "SONICA_JOB_ATTEMPTS")]
    pub job_attempts: Option<u32>,
    /// First retry delay in ms, doubling per attempt [default: 500].
    #[arg(long, env = "SONICA_JOB_BACKOFF_MS")]
    pub job_backoff_ms: Option<u64>,
    /// Upload size limit in MB [default: 50].
    #[arg(long, env = "SONICA_MAX_UPLOAD_MB")]
    pub max_upload_mb: Option<f64>,
    /// Longest clip accepted for recognition, in seconds [default: 60].
    #[arg(long, env = "SONICA_MAX_CLIP_S")]
    pub max_clip_s: Option<f64>,
    /// Longest PCM stream one WebSocket may send, in seconds [default: 14400].
    #[arg(long, env = "SONICA_MAX_STREAM_S")]
    pub max_stream_s: Option<f64>,
    /// Close a WebSocket that sends nothing for this long, in seconds [default: 30].
    #[arg(long, env = "SONICA_WS_IDLE_S")]
    pub ws_idle_s: Option<f64>,
    /// API keys (comma-separated); when set, POST and DELETE need one.
    #[arg(long, env = "SONICA_API_KEYS", value_delimiter = ',')]
    pub api_keys: Option<Vec<String>>,
    /// Require a key for reads and recognition too [default: false].
    #[arg(long, env = "SONICA_PROTECT_READS", value_name = "BOOL")]
    pub protect_reads: Option<bool>,
    /// Serve a non-loopback --bind without API keys on purpose [default: false].
    #[arg(long, env = "SONICA_OPEN", value_name = "BOOL")]
    pub open: Option<bool>,
    /// Webhook delivery threads, 1–16 [default: 4].
    #[arg(long, env = "SONICA_WEBHOOK_WORKERS")]
    pub webhook_workers: Option<usize>,
    /// Attempts per webhook delivery before it is given up, 1–100 [default: 12].
    #[arg(long, env = "SONICA_WEBHOOK_ATTEMPTS")]
    pub webhook_attempts: Option<u32>,
    /// First webhook retry delay in ms, doubling per attempt up to 10 minutes [default: 1000].
    #[arg(long, env = "SONICA_WEBHOOK_BACKOFF_MS")]
    pub webhook_backoff_ms: Option<u64>,
    /// Recognitions/uploads per second per client; 0 = unlimited [default: 50].
    #[arg(long, env = "SONICA_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
    /// Burst allowance above the rate [default: 100].
    #[arg(long, env = "SONICA_RATE_BURST")]
    pub rate_burst: Option<u32>,
    /// Watch the songs folder [default: true].
    #[arg(long, env = "SONICA_WATCH", value_name = "BOOL")]
    pub watch: Option<bool>,
    /// Remove tracks whose file leaves the songs folder [default: true].
    #[arg(long, env = "SONICA_WATCH_REMOVE", value_name = "BOOL")]
    pub watch_remove: Option<bool>,
    /// Quiet time before a changed file counts as complete, ms [default: 1000].
    #[arg(long, env = "SONICA_SETTLE_MS")]
    pub settle_ms: Option<u64>,
    /// Log JSON lines instead of text [default: false].
    #[arg(long, env = "SONICA_LOG_JSON", value_name = "BOOL")]
    pub log_json: Option<bool>,
    /// Let monitor streams and webhook URLs reach private, loopback and
    /// link-local addresses [default: false].
    #[arg(long, env = "SONICA_ALLOW_PRIVATE_URLS", value_name = "BOOL")]
    pub allow_private_urls: Option<bool>,
    /// The only hosts monitor streams and webhook URLs may name, comma
    /// separated [default: any public host].
    #[arg(long, env = "SONICA_ALLOW_HOSTS", value_delimiter = ',')]
    pub allow_hosts: Option<Vec<String>>,
    /// Live monitors that may be registered at once [default: 16].
    #[arg(long, env = "SONICA_MAX_MONITORS")]
    pub max_monitors: Option<usize>,
    /// Cache memory in MB (store pages and parsed index blocks) [default: 256].
    #[arg(long, env = "SONICA_CACHE_MB")]
    pub cache_mb: Option<u64>,
    /// Duplicate policy for uploads and watched files: reject, flag or keep [default: flag].
    #[arg(long, env = "SONICA_ON_DUPLICATE", value_parser = parse_policy)]
    pub on_duplicate: Option<sonica_schema::OnDuplicate>,
    /// Mastering analyses kept, with their previews (~5 MB each); the oldest go first [default: 100].
    #[arg(long, env = "SONICA_ANALYSES_KEEP")]
    pub analyses_keep: Option<usize>,
    /// Sections kept per analysed track, 1–32 [default: 8].
    #[arg(long, env = "SONICA_MAX_SECTIONS")]
    pub max_sections: Option<usize>,
}

pub fn parse_policy(s: &str) -> Result<sonica_schema::OnDuplicate, String> {
    s.parse()
}

/// `sonica analyze`: one struct, read by main and `cli/analyze.rs` alike.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// One JSON line per file.
    #[arg(long)]
    pub json: bool,
    /// Include the timbre and rhythm vectors in the JSON.
    #[arg(long)]
    pub vectors: bool,
    /// Include every drum hit (`[seconds, voice]`) in the JSON.
    #[arg(long)]
    pub hits: bool,
    /// Read the snare band through the harmonic/percussive separation (off
    /// by default: measured, it costs snare and hi-hat precision; see the README).
    #[arg(long, conflicts_with = "no_hpss")]
    pub hpss: bool,
    /// Read the drum bands as they are (the default; kept for scripts).
    #[arg(long)]
    pub no_hpss: bool,
    /// Sections kept (1–32).
    #[arg(long, default_value_t = sonica_schema::DEFAULT_SECTIONS, value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u16).range(1..=32), usize::from))]
    pub max_sections: usize,
    /// Analyse from this second on.
    #[arg(long)]
    pub start_s: Option<f64>,
    /// Analyse up to this second.
    #[arg(long)]
    pub end_s: Option<f64>,
    #[arg(required = true)]
    pub files: Vec<String>,
}

//! The service's settings, merged from three places: built-in defaults, an
//! optional TOML file, then environment variables and flags (clap reads
//! `SONICA_*` and the flags together; either beats the file).
//!
//! Every setting has a default that works on a fresh machine, so
//! `sonica serve` (or `cargo run --release` with no arguments) needs nothing
//! set up first.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sonica_schema::OnDuplicate;

use crate::service::tiers::{Overrides, Tier, TierTable};

/// Settings as the service uses them, every field resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Redis Cluster seeds: the library lives there, shared with every
    /// node opened on it (issue 18); `None`: the embedded store.
    pub cluster: Option<String>,
    pub bind: SocketAddr,
    pub songs_dir: PathBuf,
    /// HTTP worker threads (actix workers).
    pub http_workers: usize,
    /// Fingerprinting workers. 0 accepts uploads but processes none (a
    /// maintenance mode; jobs wait in the store).
    pub job_workers: usize,
    /// Attempts before a job is marked failed.
    pub job_attempts: u32,
    /// First retry delay; it doubles with every further attempt.
    pub job_backoff_ms: u64,
    pub max_upload_bytes: u64,
    /// Longest clip `POST /recognize` and a stream's whole-file frame accept.
    pub max_clip_s: f64,
    /// Longest PCM stream one WebSocket may send, in seconds of audio.
    pub max_stream_s: f64,
    /// A WebSocket silent this long (no frame at all) is closed.
    pub ws_idle_s: f64,
    /// Keys accepted for write routes (and reads when `protect_reads`).
    /// Empty: no auth.
    pub api_keys: Vec<String>,
    pub protect_reads: bool,
    /// Serve a non-loopback address without API keys: the operator says
    /// the open door is meant (otherwise the service refuses to start).
    pub open: bool,
    /// Webhook delivery threads (1–16).
    pub webhook_workers: usize,
    /// Attempts per webhook delivery before it is given up (1–100).
    pub webhook_attempts: u32,
    /// First webhook retry delay; it doubles per attempt, up to 10 minutes.
    pub webhook_backoff_ms: u64,
    /// Recognitions and uploads per second per client; 0 switches it off.
    pub rate_limit: u32,
    pub rate_burst: u32,
    /// What each tier of stored API key allows: the default table with
    /// the file's `[tiers.NAME]` changes.
    pub tiers: TierTable,
    pub watch: bool,
    /// Whether deleting a file from the songs folder removes its track.
    pub watch_remove: bool,
    /// How long a file must stay unchanged before it is taken as complete.
    pub settle_ms: u64,
    pub log_json: bool,
    /// Memory for caches, in MB: a quarter for the store's pages, the rest
    /// for parsed compacted blocks.
    pub cache_mb: u64,
    /// Duplicate policy for uploads and watched files that do not ask for
    /// one.
    pub on_duplicate: OnDuplicate,
    /// Mastering analyses kept (each with its 30 s preview audio, about
    /// 5 MB); the oldest go first.
    pub analyses_keep: usize,
    /// Sections kept per analysed track (1–32).
    pub max_sections: usize,
    /// What monitor streams and webhook URLs may reach.
    pub net: crate::net::NetPolicy,
    /// Live monitors that may be registered at once.
    pub max_monitors: usize,
}

impl Default for Config {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Config {
            data_dir: PathBuf::from(crate::library::DEFAULT_DATA_DIR),
            cluster: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 7700)),
            songs_dir: PathBuf::from("songs"),
            http_workers: cores,
            job_workers: (cores / 2).max(1),
            job_attempts: 3,
            job_backoff_ms: 500,
            max_upload_bytes: 50 * 1024 * 1024,
            max_clip_s: 60.0,
            max_stream_s: 4.0 * 3600.0,
            ws_idle_s: 30.0,
            api_keys: Vec::new(),
            protect_reads: false,
            open: false,
            webhook_workers: 4,
            webhook_attempts: 12,
            webhook_backoff_ms: 1000,
            rate_limit: 50,
            rate_burst: 100,
            tiers: TierTable::default(),
            watch: true,
            watch_remove: true,
            settle_ms: 1000,
            log_json: false,
            cache_mb: 256,
            on_duplicate: OnDuplicate::default(),
            analyses_keep: crate::mastering::assistant::DEFAULT_KEEP,
            max_sections: sonica_schema::DEFAULT_SECTIONS,
            net: crate::net::NetPolicy::default(),
            max_monitors: 16,
        }
    }
}

/// The optional TOML file: any subset of the settings, same names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub cluster: Option<String>,
    pub bind: Option<String>,
    pub songs_dir: Option<PathBuf>,
    pub http_workers: Option<usize>,
    pub job_workers: Option<usize>,
    pub job_attempts: Option<u32>,
    pub job_backoff_ms: Option<u64>,
    pub max_upload_mb: Option<f64>,
    pub max_clip_s: Option<f64>,
    pub max_stream_s: Option<f64>,
    pub ws_idle_s: Option<f64>,
    pub api_keys: Option<Vec<String>>,
    pub protect_reads: Option<bool>,
    pub open: Option<bool>,
    pub webhook_workers: Option<usize>,
    pub webhook_attempts: Option<u32>,
    pub webhook_backoff_ms: Option<u64>,
    pub rate_limit: Option<u32>,
    pub rate_burst: Option<u32>,
    /// `[tiers.free]`, `[tiers.starter]`, …: limits changed from the
    /// defaults (only in the file; unknown tiers and fields are refused).
    pub tiers: Option<BTreeMap<Tier, Overrides>>,
    pub watch: Option<bool>,
    pub watch_remove: Option<bool>,
    pub settle_ms: Option<u64>,
    pub log_json: Option<bool>,
    pub cache_mb: Option<u64>,
    pub on_duplicate: Option<OnDuplicate>,
    pub analyses_keep: Option<usize>,
    pub max_sections: Option<usize>,
    /// Let monitor streams and webhooks reach private, loopback and
    /// link-local addresses.
    pub allow_private_urls: Option<bool>,
    /// When set, the only hosts monitor streams and webhooks may name.
    pub allow_hosts: Option<Vec<String>>,
    pub max_monitors: Option<usize>,
}

/// A setting that could not be used; the message names it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid {setting}: {message}")]
    Invalid { setting: &'static str, message: String },
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.message().to_string(),
        })
    }
}

/// Layers `file` then `over` (flags and environment) onto the defaults.
pub fn resolve(file: FileConfig, over: FileConfig) -> Result<Config, ConfigError> {
    let d = Config::default();
    macro_rules! pick {
        ($f:ident, $default:expr) => {
            over.$f.clone().or(file.$f.clone()).unwrap_or($default)
        };
    }
    let bind_s = pick!(bind, d.bind.to_string());
    let bind: SocketAddr = bind_s.parse().map_err(|_| ConfigError::Invalid {
        setting: "bind",
        message: format!("{bind_s:?} is not an address like 127.0.0.1:7700"),
    })?;
    let max_upload_mb = pick!(max_upload_mb, d.max_upload_bytes as f64 / (1024.0 * 1024.0));
    if !(max_upload_mb > 0.0 && max_upload_mb <= 4096.0) {
        return Err(ConfigError::Invalid {
            setting: "max_upload_mb",
            message: format!("{max_upload_mb} is not between 0 and 4096"),
        });
    }
    let max_clip_s = pick!(max_clip_s, d.max_clip_s);
    if !(1.0..=3600.0).contains(&max_clip_s) {
        return Err(ConfigError::Invalid {
            setting: "max_clip_s",
            message: format!("{max_clip_s} is not between 1 and 3600"),
        });
    }
    let max_stream_s = pick!(max_stream_s, d.max_stream_s);
    if !(1.0..=7.0 * 24.0 * 3600.0).contains(&max_stream_s) {
        return Err(ConfigError::Invalid {
            setting: "max_stream_s",
            message: format!("{max_stream_s} is not between 1 and 604800 (a week)"),
        });
    }
    let ws_idle_s = pick!(ws_idle_s, d.ws_idle_s);
    if !(1.0..=3600.0).contains(&ws_idle_s) {
        return Err(ConfigError::Invalid {
            setting: "ws_idle_s",
            message: format!("{ws_idle_s} is not between 1 and 3600"),
        });
    }
    let http_workers = pick!(http_workers, d.http_workers);
    if http_workers == 0 {
        return Err(ConfigError::Invalid {
            setting: "http_workers",
            message: "must be at least 1".into(),
        });
    }
    let api_keys: Vec<String> = pick!(api_keys, d.api_keys)
        .into_iter()
        .map(|k| k.trim().to_string())
        .collect();
    if api_keys.iter().any(String::is_empty) {
        // `SONICA_API_KEYS=` or a stray comma would otherwise leave the
        // write routes open while the operator believes them closed.
        return Err(ConfigError::Invalid {
            setting: "api_keys",
            message: "a key is blank; remove the empty entry or the setting".into(),
        });
    }
    let open = pick!(open, d.open);
    if api_keys.is_empty() && !bind.ip().is_loopback() && !open {
        return Err(ConfigError::Invalid {
            setting: "bind",
            message: format!(
                "{bind} is reachable from other machines and no API keys are set; set api_keys \
                 (--api-keys / SONICA_API_KEYS), or pass --open true to serve it without keys on purpose"
            ),
        });
    }
    let rate_limit = pick!(rate_limit, d.rate_limit);
    let webhook_workers = pick!(webhook_workers, d.webhook_workers);
    if !(1..=16).contains(&webhook_workers) {
        return Err(ConfigError::Invalid {
            setting: "webhook_workers",
            message: format!("{webhook_workers} is not between 1 and 16"),
        });
    }
    let webhook_attempts = pick!(webhook_attempts, d.webhook_attempts);
    if !(1..=100).contains(&webhook_attempts) {
        return Err(ConfigError::Invalid {
            setting: "webhook_attempts",
            message: format!("{webhook_attempts} is not between 1 and 100"),
        });
    }
    let webhook_backoff_ms = pick!(webhook_backoff_ms, d.webhook_backoff_ms);
    if !(10..=600_000).contains(&webhook_backoff_ms) {
        return Err(ConfigError::Invalid {
            setting: "webhook_backoff_ms",
            message: format!("{webhook_backoff_ms} is not between 10 and 600000"),
        });
    }
    let analyses_keep = pick!(analyses_keep, d.analyses_keep);
    if !(1..=100_000).contains(&analyses_keep) {
        return Err(ConfigError::Invalid {
            setting: "analyses_keep",
            message: format!("{analyses_keep} is not between 1 and 100000"),
        });
    }
    let max_sections = pick!(max_sections, d.max_sections);
    if !(1..=sonica_schema::MAX_SECTIONS).contains(&max_sections) {
        return Err(ConfigError::Invalid {
            setting: "max_sections",
            message: format!("{max_sections} is not between 1 and {}", sonica_schema::MAX_SECTIONS),
        });
    }
    Ok(Config {
        data_dir: pick!(data_dir, d.data_dir),
        cluster: over.cluster.clone().or(file.cluster.clone()),
        bind,
        songs_dir: pick!(songs_dir, d.songs_dir),
        http_workers,
        job_workers: pick!(job_workers, d.job_workers),
        job_attempts: pick!(job_attempts, d.job_attempts).max(1),
        job_backoff_ms: pick!(job_backoff_ms, d.job_backoff_ms),
        max_upload_bytes: (max_upload_mb * 1024.0 * 1024.0) as u64,
        max_clip_s,
        max_stream_s,
        ws_idle_s,
        api_keys,
        protect_reads: pick!(protect_reads, d.protect_reads),
        open,
        webhook_workers,
        webhook_attempts,
        webhook_backoff_ms,
        rate_limit,
        rate_burst: pick!(rate_burst, d.rate_burst.max(rate_limit)).max(1),
        tiers: TierTable::with(&pick!(tiers, BTreeMap::new())),
        watch: pick!(watch, d.watch),
        watch_remove: pick!(watch_remove, d.watch_remove),
        settle_ms: pick!(settle_ms, d.settle_ms),
        log_json: pick!(log_json, d.log_json),
        cache_mb: pick!(cache_mb, d.cache_mb).max(1),
        on_duplicate: pick!(on_duplicate, d.on_duplicate),
        analyses_keep,
        max_sections,
        net: crate::net::NetPolicy {
            allow_private: pick!(allow_private_urls, d.net.allow_private),
            allow_hosts: pick!(allow_hosts, d.net.allow_hosts)
                .into_iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        },
        max_monitors: pick!(max_monitors, d.max_monitors).min(1000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let file: FileConfig =
            toml::from_str("bind = \"127.0.0.1:9000\"\nrate_limit = 5\non_duplicate = \"reject\"\napi_keys = [\"a \"]\nmax_upload_mb = 1")
                .unwrap();
        let over = FileConfig {
            rate_limit: Some(7),
            ..FileConfig::default()
        };
        let c = resolve(file, over).unwrap();
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.rate_limit, 7);
        assert_eq!(c.api_keys, vec!["a".to_string()]);
        assert_eq!(c.max_upload_bytes, 1024 * 1024);
        assert_eq!(c.songs_dir, PathBuf::from("songs"));
        assert_eq!(c.on_duplicate, OnDuplicate::Reject);
        assert!(toml::from_str::<FileConfig>("on_duplicate = \"drop\"").is_err());
    }

    #[test]
    fn tiers_change_single_limits_and_unknown_ones_are_named() {
        use crate::service::tiers::Limit;
        let file: FileConfig =
            toml::from_str("[tiers.free]\nrequests_per_hour = 20\n[tiers.studio]\nuploads_per_day = \"unlimited\"")
                .unwrap();
        let c = resolve(file, FileConfig::default()).unwrap();
        assert_eq!(c.tiers.limits(Tier::Free).requests_per_hour, Limit::Finite(20));
        assert_eq!(c.tiers.limits(Tier::Free).uploads_per_day, Limit::Finite(3));
        assert_eq!(c.tiers.limits(Tier::Studio).uploads_per_day, Limit::Unlimited);
        let e = toml::from_str::<FileConfig>("[tiers.gold]\nrequests_per_hour = 1").unwrap_err();
        assert!(e.message().contains("gold"), "{e}");
        let e = toml::from_str::<FileConfig>("[tiers.free]\nrequests_per_day = 1").unwrap_err();
        assert!(e.message().contains("requests_per_day"), "{e}");
        let e = toml::from_str::<FileConfig>("[tiers.free]\nrequests_per_hour = -1").unwrap_err();
        assert!(e.message().contains("unlimited"), "{e}");
    }

    #[test]
    fn bad_settings_are_named() {
        let e = toml::from_str::<FileConfig>("bindd = 1").unwrap_err();
        assert!(e.message().contains("bindd"), "{e}");
        let bad = FileConfig {
            bind: Some("nowhere".into()),
            ..FileConfig::default()
        };
        let e = resolve(FileConfig::default(), bad).unwrap_err();
        assert!(e.to_string().contains("bind"), "{e}");
    }

    #[test]
    fn webhook_settings_are_bounded() {
        let c = resolve(FileConfig::default(), FileConfig::default()).unwrap();
        assert_eq!(
            (c.webhook_workers, c.webhook_attempts, c.webhook_backoff_ms),
            (4, 12, 1000)
        );
        let file: FileConfig = toml::from_str("webhook_attempts = 3").unwrap();
        let c = resolve(file, FileConfig::default()).unwrap();
        assert_eq!(c.webhook_attempts, 3);
        for (bad, name) in [
            ("webhook_workers = 0", "webhook_workers"),
            ("webhook_workers = 17", "webhook_workers"),
            ("webhook_attempts = 0", "webhook_attempts"),
            ("webhook_backoff_ms = 1", "webhook_backoff_ms"),
        ] {
            let e = resolve(toml::from_str(bad).unwrap(), FileConfig::default()).unwrap_err();
            assert!(e.to_string().contains(name), "{bad}: {e}");
        }
    }

    #[test]
    fn a_blank_key_is_an_error_not_an_open_door() {
        for keys in [vec!["".to_string()], vec!["good".into(), "  ".into()]] {
            let over = FileConfig {
                api_keys: Some(keys),
                ..FileConfig::default()
            };
            let e = resolve(FileConfig::default(), over).unwrap_err();
            assert!(e.to_string().contains("blank"), "{e}");
        }
    }

    #[test]
    fn a_public_address_needs_keys_or_an_explicit_open() {
        let public = |keys: Option<Vec<String>>, open: Option<bool>| FileConfig {
            bind: Some("0.0.0.0:7700".into()),
            api_keys: keys,
            open,
            ..FileConfig::default()
        };
        let e = resolve(FileConfig::default(), public(None, None)).unwrap_err();
        assert!(e.to_string().contains("--open"), "{e}");
        assert!(resolve(FileConfig::default(), public(Some(vec!["k".into()]), None)).is_ok());
        assert!(resolve(FileConfig::default(), public(None, Some(true))).is_ok());
        let v6 = FileConfig {
            bind: Some("[::1]:7700".into()),
            ..FileConfig::default()
        };
        assert!(resolve(FileConfig::default(), v6).is_ok(), "loopback needs nothing");
    }
}

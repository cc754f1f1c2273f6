//! Whole-flow tests, built as one binary: generated audio in, the CLI and
//! the library out. They never need the network or the corpus.

#[path = "integration/audio.rs"]
mod audio;
#[path = "integration/bad_input.rs"]
mod bad_input;
#[path = "integration/browser.rs"]
mod browser;
#[path = "integration/cli.rs"]
mod cli;
#[path = "integration/cli_music.rs"]
mod cli_music;
#[path = "integration/cluster.rs"]
mod cluster;
#[path = "integration/cluster_jobs.rs"]
mod cluster_jobs;
#[path = "integration/common.rs"]
mod common;
#[path = "integration/duplicates.rs"]
mod duplicates;
#[path = "integration/fingerprint_first.rs"]
mod fingerprint_first;
#[path = "integration/fixtures.rs"]
mod fixtures;
#[path = "integration/hostile.rs"]
mod hostile;
#[path = "integration/hostile_files.rs"]
mod hostile_files;
#[path = "integration/kill.rs"]
mod kill;
#[path = "integration/layering.rs"]
mod layering;
#[path = "integration/mastering.rs"]
mod mastering;
#[path = "integration/monitor.rs"]
mod monitor;
#[path = "integration/pinned.rs"]
mod pinned;
#[path = "integration/recognition.rs"]
mod recognition;
#[path = "support/redis_cluster.rs"]
mod redis_cluster;
#[path = "integration/reindex.rs"]
mod reindex;
#[path = "integration/server.rs"]
mod server;
#[path = "integration/service_auth.rs"]
mod service_auth;
#[path = "integration/service_bad_input.rs"]
mod service_bad_input;
#[path = "integration/service_flow.rs"]
mod service_flow;
#[path = "integration/service_mastering.rs"]
mod service_mastering;
#[path = "integration/service_monitors.rs"]
mod service_monitors;
#[path = "integration/service_music.rs"]
mod service_music;
#[path = "integration/service_patterns.rs"]
mod service_patterns;
#[path = "integration/service_restart.rs"]
mod service_restart;
#[path = "integration/service_spec.rs"]
mod service_spec;
#[path = "integration/service_stream.rs"]
mod service_stream;
#[path = "integration/service_tiers.rs"]
mod service_tiers;
#[path = "integration/service_watch.rs"]
mod service_watch;
#[path = "integration/service_web.rs"]
mod service_web;
#[path = "integration/service_webhooks.rs"]
mod service_webhooks;
#[path = "integration/styles.rs"]
mod styles;

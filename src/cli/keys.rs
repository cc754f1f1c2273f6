//! `sonica keys add|list|revoke`: the stored API keys, managed on a
//! stopped server's library (a running one holds the store; use its
//! `/admin/keys` routes then). `add` prints the new key once: only its
//! sha256 is kept.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use sonica::service::keys::{self, KeyError};
use sonica::service::tiers::{Limit, Overrides, Tier};
use sonica::Library;
use sonica_index::KeyStore;
use sonica_schema::api_key::KeyRecord;

/// `sonica keys …`.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a key of a tier; the key is printed this once (only its sha256
    /// is stored).
    Add {
        /// What the key is for (1–100 characters).
        #[arg(long)]
        name: String,
        /// free, starter, producer or studio.
        #[arg(long, default_value = "free", value_parser = parse_tier)]
        tier: Tier,
        /// This key's own requests per hour (a number or "unlimited"),
        /// instead of its tier's.
        #[arg(long, value_parser = parse_limit)]
        requests_per_hour: Option<Limit>,
        /// This key's own analyses per month.
        #[arg(long, value_parser = parse_limit)]
        analyses_per_month: Option<Limit>,
        /// This key's own uploads per day.
        #[arg(long, value_parser = parse_limit)]
        uploads_per_day: Option<Limit>,
        /// This key's own cap on similar-pattern results.
        #[arg(long, value_parser = parse_limit)]
        pattern_results: Option<Limit>,
        /// One JSON object (with the key) instead of the bare key.
        #[arg(long)]
        json: bool,
    },
    /// Every stored key (revoked ones too), never the keys themselves.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Refuse a key from now on (its counters go with it).
    Revoke { id: u64 },
}

fn parse_tier(s: &str) -> Result<Tier, String> {
    s.parse()
}

fn parse_limit(s: &str) -> Result<Limit, String> {
    match s.trim() {
        "unlimited" => Ok(Limit::Unlimited),
        n => n
            .parse::<u64>()
            .map(Limit::Finite)
            .map_err(|_| format!("{n:?} is not a whole number from 0 or \"unlimited\"")),
    }
}

/// A record as the command prints it: everything but the hash.
fn view(r: &KeyRecord) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": r.id,
        "name": r.name,
        "tier": r.tier,
        "overrides": r.overrides,
        "created_unix": r.created_unix,
    });
    if let Some(t) = r.revoked_unix {
        v["revoked_unix"] = t.into();
    }
    v
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs one `keys` command on the library's store.
pub fn run(library: &Library, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let store = KeyStore::open(library.index().store().clone())?;
    match command {
        KeysCommand::Add {
            name,
            tier,
            requests_per_hour,
            analyses_per_month,
            uploads_per_day,
            pattern_results,
            json,
        } => {
            let overrides = Overrides {
                requests_per_hour,
                analyses_per_month,
                uploads_per_day,
                pattern_results,
            };
            let (secret, r) = match keys::create(&store, &name, tier, overrides, now()) {
                Ok(made) => made,
                Err(KeyError::Name(m)) => {
                    eprintln!("sonica: invalid --name: {m}");
                    return Ok(ExitCode::from(2));
                }
                Err(e) => return Err(e.into()),
            };
            if json {
                let mut v = view(&r);
                v["key"] = secret.into();
                println!("{v}");
            } else {
                println!("{secret}");
                eprintln!(
                    "key {} ({:?}, {} tier) added; it is shown only this once",
                    r.id, r.name, r.tier
                );
            }
        }
        KeysCommand::List { json } => {
            let all = store.list();
            let mut out = std::io::stdout().lock();
            if json {
                let keys: Vec<_> = all.iter().map(view).collect();
                writeln!(out, "{}", serde_json::json!({ "keys": keys }))?;
            }
            for r in all.iter().filter(|_| !json) {
                let state = if r.is_active() { "active" } else { "revoked" };
                writeln!(out, "{}\t{}\t{}\t{}", r.id, r.tier, state, r.name)?;
            }
        }
        KeysCommand::Revoke { id } => match store.revoke(id, now())? {
            Some(_) => println!("key {id} revoked"),
            None => {
                eprintln!("sonica: no API key with id {id}");
                return Ok(ExitCode::from(1));
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_as_numbers_or_unlimited() {
        assert_eq!(parse_limit("7"), Ok(Limit::Finite(7)));
        assert_eq!(parse_limit("unlimited"), Ok(Limit::Unlimited));
        assert!(parse_limit("-1").is_err() && parse_limit("lots").is_err());
        assert!(parse_tier("gold").unwrap_err().contains("gold"));
    }
}

//! Making an API key: the secret drawn from the operating system's CSPRNG,
//! only its sha256 stored. One path for `sonica keys add` and
//! `POST /admin/keys`, so both check names and tiers alike.

use sha2::{Digest, Sha256};
use sonica_index::{IndexError, KeyStore, NewKey};
use sonica_schema::api_key::{check_name, KeyRecord, Overrides, Tier};

/// Every key starts with this, so a leaked one is easy to recognise.
pub const KEY_PREFIX: &str = "sk_";

/// Why a key was not made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid key name: {0}")]
    Name(String),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// A new secret: `sk_` and 32 random bytes in hex (256 bits).
pub fn generate() -> Result<String, KeyError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(format!("{KEY_PREFIX}{}", sonica_schema::api_key::to_hex(&bytes)))
}

/// The sha256 of a key, as stored and looked up.
pub fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Makes and stores a key; the secret is returned once and kept nowhere.
pub fn create(
    store: &KeyStore,
    name: &str,
    tier: Tier,
    overrides: Overrides,
    now_unix: u64,
) -> Result<(String, KeyRecord), KeyError> {
    let name = check_name(name).map_err(KeyError::Name)?;
    let secret = generate()?;
    let record = store.add(NewKey {
        sha256: hash(&secret),
        name,
        tier,
        overrides,
        created_unix: now_unix,
    })?;
    Ok((secret, record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn keys_are_random_and_only_their_hash_is_kept() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 64, "{a}");
        let store = KeyStore::open(Arc::new(sonica_index::MemStore::new())).unwrap();
        let (secret, r) = create(&store, " ci ", Tier::Starter, Overrides::default(), 5).unwrap();
        assert_eq!(r.name, "ci");
        assert!(!r.encode().windows(secret.len()).any(|w| w == secret.as_bytes()));
        assert_eq!(store.by_hash(&hash(&secret)).unwrap().id, r.id);
        assert!(matches!(
            create(&store, "", Tier::Free, Overrides::default(), 5),
            Err(KeyError::Name(_))
        ));
    }
}

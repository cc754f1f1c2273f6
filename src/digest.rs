//! The sha256 of a file: the identity of its exact bytes, for exact
//! duplicates and for the reindex tool's "has this file changed?".

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Streams the file through sha256 (64 KiB at a time, so memory stays flat
/// for any size).
pub fn file_sha256(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_known_digest_of_abc() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sonica_schema::duplicate::hex(&file_sha256(&p).unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(file_sha256(&dir.path().join("missing")).is_err());
    }
}

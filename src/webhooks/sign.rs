//! Signing a delivery, and checking a signature as a receiver does.
//!
//! A receiver must be able to tell that a POST came from this Sonica and
//! is not an old one sent again. Each attempt carries
//! `Sonica-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`:
//! the timestamp is inside what is signed, so it cannot be changed, and a
//! receiver refuses one too far from its clock (replay protection); the
//! signature is made again at every attempt, so a retry an hour later is
//! fresh. `Sonica-Event-Id` is the event's id, the same at every attempt
//! and for every subscription, so a receiver can drop repeats (delivery is
//! at least once), and `Sonica-Event` names its kind.
//!
//! [`verify`] is the receiver's side (the tests and the bench use it);
//! the comparison is in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Sonica-Signature";
/// The event's id (unique per store, the same at every attempt).
pub const EVENT_ID_HEADER: &str = "Sonica-Event-Id";
/// The event's kind, e.g. `track.ready`.
pub const EVENT_HEADER: &str = "Sonica-Event";

/// How far a receiver should accept a timestamp from its own clock, in
/// seconds, unless it has reason to choose otherwise.
pub const DEFAULT_TOLERANCE_S: u64 = 300;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length (a long one is hashed first).
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut m = mac(key);
    m.update(message);
    m.finalize().into_bytes().into()
}

fn signed_message(mut m: HmacSha256, t: u64, body: &[u8]) -> HmacSha256 {
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// The `Sonica-Signature` value of `body` sent at `t` (Unix seconds).
pub fn sign(secret: &str, t: u64, body: &[u8]) -> String {
    let m = signed_message(mac(secret.as_bytes()), t, body);
    format!("t={t},v1={}", hex(&m.finalize().into_bytes()))
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed Sonica-Signature header: {0}")]
    Malformed(&'static str),
    #[error("the signature's timestamp is {age_s} s from now, beyond the {tolerance_s} s tolerance (a replay?)")]
    Stale { age_s: i64, tolerance_s: u64 },
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// Checks a `Sonica-Signature` header against the raw body: the
/// timestamp must be within `tolerance_s` of `now` (Unix seconds) and one
/// of its `v1` values must be the body's HMAC under `secret`. Unknown
/// fields (a future `v2`) are ignored.
pub fn verify(header: &str, body: &[u8], secret: &str, now: u64, tolerance_s: u64) -> Result<(), VerifyError> {
    if header.len() > 4096 {
        return Err(VerifyError::Malformed("longer than 4096 bytes"));
    }
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            return Err(VerifyError::Malformed("a part is not key=value"));
        };
        match k {
            "t" => {
                if t.is_some() {
                    return Err(VerifyError::Malformed("two timestamps"));
                }
                let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
                t = Some(
                    v.parse::<u64>()
                        .ok()
                        .filter(|_| digits)
                        .ok_or(VerifyError::Malformed("t is not a whole number of seconds"))?,
                );
            }
            "v1" => sigs.push(unhex(v).ok_or(VerifyError::Malformed("v1 is not hex"))?),
            _ => {}
        }
    }
    let t = t.ok_or(VerifyError::Malformed("no timestamp (t=)"))?;
    if sigs.is_empty() {
        return Err(VerifyError::Malformed("no v1 signature"));
    }
    let age_s = now as i128 - t as i128;
    if age_s.unsigned_abs() > tolerance_s as u128 {
        return Err(VerifyError::Stale {
            age_s: age_s.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
            tolerance_s,
        });
    }
    let expected = signed_message(mac(secret.as_bytes()), t, body);
    for s in &sigs {
        // verify_slice compares in constant time.
        if expected.clone().verify_slice(s).is_ok() {
            return Ok(());
        }
    }
    Err(VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        unhex(s).unwrap()
    }

    /// RFC 4231, test cases 1–4, 6 and 7 (5 is truncated output).
    #[test]
    fn rfc_4231_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                (1..=25).collect(),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hmac_sha256(&key, &data).to_vec(), h(want));
        }
    }

    #[test]
    fn the_header_signs_timestamp_dot_body() {
        let header = sign("Jefe", 1_700_000_000, b"{\"id\":1}");
        let want = hex(&hmac_sha256(b"Jefe", b"1700000000.{\"id\":1}"));
        assert_eq!(header, format!("t=1700000000,v1={want}"));
    }

    #[test]
    fn verify_accepts_fresh_and_refuses_stale_forged_and_malformed() {
        let body = br#"{"id":7,"kind":"ping"}"#;
        let header = sign("whsec_abc", 1_000, body);
        assert_eq!(verify(&header, body, "whsec_abc", 1_000, 300), Ok(()));
        assert_eq!(verify(&header, body, "whsec_abc", 1_300, 300), Ok(()));
        assert_eq!(
            verify(&header, body, "whsec_abc", 700, 300),
            Ok(()),
            "a receiver's clock may lag"
        );
        assert!(matches!(
            verify(&header, body, "whsec_abc", 1_301, 300),
            Err(VerifyError::Stale { age_s: 301, .. })
        ));
        assert!(matches!(
            verify(&header, body, "whsec_abc", 0, 300),
            Err(VerifyError::Stale { age_s: -1000, .. })
        ));
        assert_eq!(verify(&header, body, "other", 1_000, 300), Err(VerifyError::Mismatch));
        assert_eq!(
            verify(&header, br#"{"id":8,"kind":"ping"}"#, "whsec_abc", 1_000, 300),
            Err(VerifyError::Mismatch)
        );
        // The timestamp is signed: moving it forward breaks the signature.
        let moved = header.replacen("t=1000", "t=1200", 1);
        assert_eq!(
            verify(&moved, body, "whsec_abc", 1_200, 300),
            Err(VerifyError::Mismatch)
        );
        // A second, rotated signature and unknown fields are fine.
        let rotated = format!("{header},v1={},v9=zz", "00".repeat(32));
        assert_eq!(verify(&rotated, body, "whsec_abc", 1_000, 300), Ok(()));
        for bad in [
            "",
            "t=1000",
            "v1=00",
            "t=abc,v1=00",
            "t=-5,v1=00",
            "t=+5,v1=00",
            "t=1000,v1=0g",
            "t=1000,v1=abc",
            "t=1,t=2,v1=00",
            "garbage",
            "t=99999999999999999999999,v1=00",
        ] {
            assert!(
                matches!(
                    verify(bad, body, "whsec_abc", 1_000, 300),
                    Err(VerifyError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        assert!(verify(&"t=1,".repeat(2000), body, "k", 1, 300).is_err());
        // Far-off timestamps do not overflow.
        let future = sign("k", u64::MAX, body);
        assert!(matches!(
            verify(&future, body, "k", 0, 300),
            Err(VerifyError::Stale { .. })
        ));
    }
}

//! Posting blocks and peak lists are read back from disk on every lookup,
//! reindex and rebuild; a torn write, a disk error or a foreign file puts
//! arbitrary bytes in front of these decoders, and they must answer
//! `SchemaError::Corrupt` rather than panic, loop or allocate what a bad
//! varint claims. This target decodes arbitrary bytes with
//! `postings::decode`, `postings::BlockReader` and `peaks::decode`, and
//! checks the codecs' round trips:
//!
//! - whatever decodes re-encodes to something that decodes to the same
//!   values (decoded output is always sorted, the encoders' precondition);
//! - `BlockReader::postings_of` agrees with `decode` hash by hash;
//! - postings and peaks built from the bytes (sorted, with value ranges
//!   narrowed by a mode byte so that hashes repeat, deltas are small and
//!   blocks are big enough to be zstd-compressed) survive
//!   encode → decode unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sonica_schema::{peaks, postings, Peak, Posting};

fn u32_at(b: &[u8], i: usize) -> u32 {
    let mut w = [0u8; 4];
    for (k, x) in w.iter_mut().enumerate() {
        *x = b.get(i + k).copied().unwrap_or(0);
    }
    u32::from_le_bytes(w)
}

/// Narrows a value: all bits, 16, 8 or 4 of them.
fn narrow(v: u32, mode: u8) -> u32 {
    match mode & 3 {
        0 => v,
        1 => v & 0xffff,
        2 => v & 0xff,
        _ => v & 0xf,
    }
}

fn check_postings_block(block: &[u8]) {
    let decoded = postings::decode(block);
    let mut reader = postings::BlockReader::new();
    let loaded = reader.load(block);
    match (&decoded, &loaded) {
        (Ok(v), Ok(())) => {
            // Every hash the block holds, as the reader sees it.
            let mut hashes: Vec<u32> = v.iter().map(|p| p.hash).collect();
            hashes.dedup();
            assert!(hashes.len() <= reader.hashes());
            for &h in &hashes {
                let mut got = Vec::new();
                reader.postings_of(h, &mut got).expect("decode read this group");
                let want: Vec<(u32, u32)> = v.iter().filter(|p| p.hash == h).map(|p| (p.track, p.time)).collect();
                assert_eq!(got, want, "BlockReader and decode disagree on hash {h}");
            }
            assert!(v.windows(2).all(|w| w[0] <= w[1]), "decoded postings are not sorted");
            let again = postings::decode(&postings::encode(v)).expect("re-encoded block decodes");
            assert_eq!(&again, v, "postings decode → encode → decode changed them");
        }
        (Err(_), _) => {
            // A block the reader loads may still hold a bad group: decode
            // reads every group, load only the directory. Reading any hash
            // must then give an error, never a panic.
            if loaded.is_ok() {
                let mut out = Vec::new();
                for h in [0u32, 1, 2, 255, 65_535, u32::MAX] {
                    let _ = reader.postings_of(h, &mut out);
                }
            }
        }
        (Ok(_), Err(e)) => panic!("decode accepted a block that BlockReader::load refused: {e}"),
    }
    let _ = reader.heap_bytes();
}

fn check_peak_list(block: &[u8]) {
    if let Ok(v) = peaks::decode(block) {
        assert!(v.windows(2).all(|w| w[0].time <= w[1].time), "decoded peaks are not in time order");
        let again = peaks::decode(&peaks::encode(&v)).expect("re-encoded peaks decode");
        assert_eq!(again, v, "peaks decode → encode → decode changed them");
    }
}

fuzz_target!(|data: &[u8]| {
    check_postings_block(data);
    check_peak_list(data);

    // Values built from the bytes: byte 0 narrows hash, track and time.
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut ps: Vec<Posting> = rest
        .chunks(12)
        .map(|c| Posting {
            hash: narrow(u32_at(c, 0), mode),
            track: narrow(u32_at(c, 4), mode >> 2),
            time: narrow(u32_at(c, 8), mode >> 4),
        })
        .collect();
    ps.sort();
    let block = postings::encode(&ps);
    assert_eq!(postings::decode(&block).expect("encoded postings decode"), ps);
    check_postings_block(&block);

    let mut pk: Vec<Peak> = rest
        .chunks(6)
        .map(|c| Peak {
            time: narrow(u32_at(c, 0), mode >> 6),
            freq16: u16::from_le_bytes([c.get(4).copied().unwrap_or(0), c.get(5).copied().unwrap_or(0)]),
        })
        .collect();
    pk.sort();
    let list = peaks::encode(&pk);
    assert_eq!(peaks::decode(&list).expect("encoded peaks decode"), pk);
});

//! Stored data must not change by accident: the peaks and hashes Sonica
//! stores for the fixture files, and the query peaks it looks up with, are
//! pinned here as digests. A refactor of the decode, resample or spectrum
//! code that moves a single peak fails this test; a deliberate change of
//! the fingerprint bumps `FORMAT_VERSION` and these digests together.

use std::path::Path;

use sonica::fingerprint::FingerprintParams;

use crate::common::fixture;

/// FNV-1a over 32-bit words: small, stable, no dependency.
fn fnv(words: impl Iterator<Item = u32>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for w in words {
        for b in w.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Counts and digests: stored peaks, stored hashes, query peaks.
type Digests = (usize, u64, usize, u64, usize, u64);

/// (stored peaks, digest of peaks, stored hashes, digest of hashes, query
/// peaks, digest of query peaks) of a fixture, or of a generated song
/// written as 16-bit WAV (`song-SEED-RATE`: other source rates exercise
/// the resampler).
fn digests(name: &str, tmp: &Path) -> Digests {
    use sonica::fingerprint::triplets::is_tolerant;
    let path = match name.strip_prefix("song-") {
        Some(spec) => {
            let (seed, rate) = spec.split_once('-').expect("song-SEED-RATE");
            let (seed, rate): (u32, u32) = (seed.parse().unwrap(), rate.parse().unwrap());
            let p = tmp.join(format!("{name}.wav"));
            crate::audio::wav(&p, &crate::audio::song(seed, 30.0, rate), rate);
            p
        }
        None => fixture(name),
    };
    let a = sonica::pipeline::analyse_file(Path::new(&path), &FingerprintParams::index()).expect("fixture ingests");
    let peaks = fnv(a.print.peaks.iter().flat_map(|p| [p.time, u32::from(p.freq16)]));
    // The exact family, pinned since before the tolerant family (format 2)
    // joined it in the same list; that one has its own tests.
    let exact: Vec<(u32, u32)> = a
        .print
        .hashes
        .iter()
        .copied()
        .filter(|&(h, _)| !is_tolerant(h))
        .collect();
    let hashes = fnv(exact.iter().flat_map(|&(h, t)| [h, t]));
    let (pcm, _) = sonica::decode::load_clip(&path).expect("fixture decodes");
    let q = sonica::fingerprint::ClipSpectrum::new(&pcm).peaks(&FingerprintParams::query().peaks);
    let query = fnv(q.iter().flat_map(|p| [p.time, u32::from(p.freq16)]));
    (a.print.peaks.len(), peaks, exact.len(), hashes, q.len(), query)
}

#[test]
fn fixture_peaks_and_hashes_are_pinned() {
    // Recorded from the code before the DSP layer was unified (b7bf60e).
    let want: &[(&str, Digests)] = &[
        (
            "melody.ogg",
            (
                632,
                8237579279780033352,
                3576,
                17301858247871778634,
                1108,
                15449250876666986066,
            ),
        ),
        (
            "melody_5s.flac",
            (
                59,
                8900245563366164345,
                306,
                8094618107941939355,
                71,
                12628774689608667467,
            ),
        ),
        (
            "melody_clip_32k.mp3",
            (
                251,
                1445213813230683915,
                1393,
                14732605495131718246,
                437,
                1178626961144767978,
            ),
        ),
        (
            "melody_clip.m4a",
            (
                238,
                13723589335142808354,
                1334,
                11708243657575194795,
                416,
                958416856256346382,
            ),
        ),
        (
            "song-7-44100",
            (
                893,
                9266097492556834529,
                4962,
                3515579804375638286,
                1268,
                3177408287930648984,
            ),
        ),
        (
            "song-8-48000",
            (
                949,
                1092104023185609792,
                5566,
                6783486337786795987,
                1387,
                5632841083990363411,
            ),
        ),
        (
            "song-9-8000",
            (
                944,
                6637937242212698759,
                5528,
                1150267517993757968,
                1350,
                7094860337213110276,
            ),
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let mut got = Vec::new();
    for name in [
        "melody.ogg",
        "melody_5s.flac",
        "melody_clip_32k.mp3",
        "melody_clip.m4a",
        "song-7-44100",
        "song-8-48000",
        "song-9-8000",
    ] {
        got.push((name, digests(name, tmp.path())));
    }
    let text: Vec<String> = got.iter().map(|(n, d)| format!("(\"{n}\", {d:?}),")).collect();
    assert_eq!(got.len(), want.len(), "pinned values:\n{}", text.join("\n"));
    for ((n, g), (wn, w)) in got.iter().zip(want) {
        assert_eq!(n, wn);
        assert_eq!(g, w, "{n} changed; all now:\n{}", text.join("\n"));
    }
}

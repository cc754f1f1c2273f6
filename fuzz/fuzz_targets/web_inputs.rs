//! What the web app's routes read from a stranger: the `Range` header of
//! `GET /tracks/{id}/audio` (src/service/range.rs) and a stored waveform's
//! bytes (schema/src/waveform.rs) pooled to any width. A range the parser
//! accepts must lie inside the file and be non-empty; a waveform decodes
//! or is refused, and pooling always gives exactly the bins asked for.
//!
//! Input layout: 8 bytes of file length (little-endian), 2 bytes of bins,
//! then the rest, read as the header text and as waveform bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sonica::service::range::{byte_range, ByteRange};
use sonica_schema::waveform::{EnvelopeBuilder, Waveform};

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let len = u64::from_le_bytes(data[..8].try_into().unwrap());
    let bins = usize::from(u16::from_le_bytes([data[8], data[9]])) % 5000;
    let rest = &data[10..];
    let text = String::from_utf8_lossy(rest);
    match byte_range(Some(&text), len) {
        ByteRange::Whole => {}
        ByteRange::Unsatisfiable => {}
        ByteRange::Part { from, to } => {
            assert!(from < to && to <= len, "range {from}..{to} of {len}");
        }
    }
    if let Ok(w) = Waveform::decode(rest) {
        assert_eq!(w.pooled(bins).len(), bins);
        assert_eq!(Waveform::decode(&w.encode()).unwrap(), w);
    }
    let mut b = EnvelopeBuilder::new(u32::from(data[8]) * 100 + 1);
    let samples: Vec<f32> = rest
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    b.push(&samples);
    let w = b.finish();
    assert!(w.peaks.len() <= samples.len());
});

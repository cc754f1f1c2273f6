use std::time::Instant;
fn main() {
    let db = std::env::args().nth(1).unwrap();
    let clip = std::env::args().nth(2).unwrap();
    let index = sonica::open_library(std::path::Path::new(&db)).unwrap();
    let (pcm, _) = sonica::decode::load_clip(std::path::Path::new(&clip)).unwrap();
    let id = sonica::Identifier::new(&index);
    for _ in 0..3 {
        let t = Instant::now();
        let ip = sonica::fingerprint::FingerprintParams::index();
        let qp = sonica::fingerprint::FingerprintParams::query();
        let pk = sonica::fingerprint::extract_peaks_multi(&pcm, &[&ip.peaks, &qp.peaks]);
        let t1 = t.elapsed();
        let hashes = sonica::fingerprint::hashes::index_hashes(&pk[0], &ip.pairs);
        let mut hs: Vec<u32> = hashes.iter().map(|h| h.0).collect();
        hs.sort();
        hs.dedup();
        let t2 = Instant::now();
        let mut n = 0usize;
        index.lookup_hashes(&hs, &mut |_, _, _| n += 1).unwrap();
        let t3 = t2.elapsed();
        let t5 = Instant::now();
        let mut bytes = 0usize;
        let mut blocks = Vec::new();
        let mut last = u32::MAX;
        for &h in &hs {
            let b = sonica_schema::layout::bucket_of(h);
            if b == last {
                continue;
            }
            last = b;
            if let Some(v) = index
                .store()
                .get(sonica_schema::Tree::Buckets, &sonica_schema::layout::bucket_key(b))
                .unwrap()
            {
                bytes += v.len();
                blocks.push(v);
            }
        }
        let t6 = t5.elapsed();
        let t7 = Instant::now();
        let mut np = 0;
        for b in &blocks {
            np += sonica_schema::postings::decode(b).unwrap().len();
        }
        eprintln!(
            "gets {} blocks {bytes} bytes in {:?}; decode {np} postings in {:?}",
            blocks.len(),
            t6,
            t7.elapsed()
        );
        let t4 = Instant::now();
        let (m, v) = id.explain_pcm(&pcm).unwrap();
        eprintln!(
            "peaks {:?} ({} / {}), {} hashes lookup {:?} hits {n}; full explain {:?} {:?}",
            t1,
            pk[0].len(),
            pk[1].len(),
            hs.len(),
            t3,
            t4.elapsed(),
            v.map(|v| (v.best.count, v.runner_up, v.speed))
        );
        let _ = m;
    }
}
#[allow(dead_code)]
fn unused() {}

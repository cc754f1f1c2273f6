//! The scan: audio in (pushed chunk by chunk at the fingerprint rate),
//! windows identified on worker threads, answers merged in window order by
//! the [`Tracker`], and each play's start and end placed by [`refine`] on
//! the recent audio. The caller's thread only produces audio; a bounded
//! queue between it and the workers holds memory flat whatever the length.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::bounded;

use super::recent::Recent;
use super::refine::{first_dense, last_dense};
use super::tracker::{Event, Found, PlayDraft, Rules, Tracker, WindowAnswer};
use super::{MonitorError, MonitorParams, Play};
use crate::decode::DecodeError;
use crate::fingerprint::FINGERPRINT_RATE;
use crate::{Identifier, SonicaError};

/// Shortest final window identified (a stream's last partial window).
const MIN_TAIL_S: f64 = 3.0;

/// What a scan reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A play was confirmed; its end is not known yet (`end_s` is the end
    /// of the audio heard so far).
    Started(Play),
    /// A play ended: its final form.
    Ended(Play),
}

/// What a scan went through.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScanSummary {
    /// Seconds of audio scanned.
    pub seconds: f64,
    pub windows: u64,
    pub plays: usize,
}

/// A pusher of audio into a running scan: `Err` once the scan has failed
/// and wants no more.
pub type Push<'p> = dyn FnMut(&[f32]) -> Result<(), DecodeError> + 'p;

/// Scans the audio `produce` pushes (mono, [`FINGERPRINT_RATE`]),
/// reporting plays to `report` as they are confirmed and as they end.
/// Stream times count from `origin_s`.
pub fn scan(
    ident: &Identifier<'_>,
    params: &MonitorParams,
    origin_s: f64,
    produce: impl FnOnce(&mut Push<'_>) -> Result<(), SonicaError>,
    report: &mut (dyn FnMut(Report) + Send),
) -> Result<ScanSummary, SonicaError> {
    params.check().map_err(MonitorError::Params)?;
    let rate = f64::from(FINGERPRINT_RATE);
    let win = (params.window_s * rate) as usize;
    let hop = (params.hop_s * rate) as usize;
    let failed = AtomicBool::new(false);
    let error: Mutex<Option<SonicaError>> = Mutex::new(None);
    let fail = |e: SonicaError| {
        failed.store(true, Ordering::SeqCst);
        let mut slot = error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    };
    let (win_tx, win_rx) = bounded::<(u64, Arc<[f32]>)>(params.jobs * 2);
    let (ans_tx, ans_rx) = bounded::<(u64, Arc<[f32]>, Option<Found>)>(params.jobs * 2);
    let mut summary = ScanSummary::default();
    let mut produced = 0u64;
    std::thread::scope(|scope| {
        for _ in 0..params.jobs {
            let (win_rx, ans_tx, fail, failed) = (win_rx.clone(), ans_tx.clone(), &fail, &failed);
            scope.spawn(move || {
                for (index, pcm) in win_rx.iter() {
                    if failed.load(Ordering::SeqCst) {
                        continue;
                    }
                    match ident.explain_pcm(&pcm) {
                        Ok((m, v)) => {
                            let found = m.map(|m| Found {
                                rate: f64::from(m.speed * m.tempo),
                                offset_s: m.offset_s,
                                score: m.score,
                                copies: v.map(|v| v.duplicates).unwrap_or_default(),
                                track: m.track,
                            });
                            if ans_tx.send((index, pcm, found)).is_err() {
                                break;
                            }
                        }
                        Err(e) => fail(e.into()),
                    }
                }
            });
        }
        drop((win_rx, ans_tx));
        let merger = scope.spawn(|| {
            let mut merge = Merge::new(ident, params, origin_s, hop, win, report);
            let mut waiting = BTreeMap::new();
            for (index, pcm, found) in ans_rx.iter() {
                waiting.insert(index, (pcm, found));
                while let Some((pcm, found)) = waiting.remove(&merge.next) {
                    if let Err(e) = merge.answer(pcm, found) {
                        fail(e);
                    }
                }
            }
            if let Err(e) = merge.finish() {
                fail(e);
            }
            merge.plays
        });
        // This thread produces: cut the pushed audio into windows.
        let mut buf: Vec<f32> = Vec::with_capacity(win * 2);
        let mut buf_start = 0u64; // stream sample number of buf[0]
        let mut next = 0u64; // next window's number
        let mut push = |s: &[f32]| -> Result<(), DecodeError> {
            if failed.load(Ordering::SeqCst) {
                return Err(DecodeError::Io(std::io::Error::other("the scan stopped")));
            }
            produced += s.len() as u64;
            buf.extend_from_slice(s);
            while buf.len() >= win + (next * hop as u64 - buf_start) as usize {
                let at = (next * hop as u64 - buf_start) as usize;
                let window: Arc<[f32]> = buf[at..at + win].into();
                if win_tx.send((next, window)).is_err() {
                    return Err(DecodeError::Io(std::io::Error::other("the scan stopped")));
                }
                next += 1;
                let drop_to = ((next * hop as u64 - buf_start) as usize).min(buf.len());
                buf.drain(..drop_to);
                buf_start += drop_to as u64;
            }
            Ok(())
        };
        let produced_ok = produce(&mut push);
        // The last, partial window.
        let at = (next * hop as u64).saturating_sub(buf_start) as usize;
        if produced_ok.is_ok() && buf.len() > at && (buf.len() - at) as f64 >= MIN_TAIL_S * rate {
            let _ = win_tx.send((next, buf[at..].into()));
            next += 1;
        }
        drop(win_tx);
        if let Err(e) = produced_ok {
            if !failed.load(Ordering::SeqCst) {
                fail(e);
            }
        }
        summary.windows = next;
        summary.plays = merger.join().unwrap_or(0);
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    summary.seconds = produced as f64 / rate;
    Ok(summary)
}

/// The merging side of a scan: answers in window order, plays out.
struct Merge<'a, 'r> {
    ident: &'a Identifier<'a>,
    params: &'a MonitorParams,
    origin_s: f64,
    hop: usize,
    win: usize,
    tracker: Tracker,
    recent: Recent,
    /// Refined starts of the open play, by its first window.
    starts: BTreeMap<u64, f64>,
    report: &'r mut (dyn FnMut(Report) + Send),
    next: u64,
    /// End of the audio answered so far, in stream seconds.
    heard_s: f64,
    plays: usize,
}

impl<'a, 'r> Merge<'a, 'r> {
    fn new(
        ident: &'a Identifier<'a>,
        params: &'a MonitorParams,
        origin_s: f64,
        hop: usize,
        win: usize,
        report: &'r mut (dyn FnMut(Report) + Send),
    ) -> Self {
        let rules = Rules {
            confirm_windows: params.confirm_windows,
            max_missed: params.max_missed,
            align_tolerance_s: params.align_tolerance_s,
        };
        // Enough windows to reach back past a pending play's first window
        // and a closing play's last one.
        let keep = (params.max_missed + params.confirm_windows) as usize + 4 + win.div_ceil(hop.max(1));
        Merge {
            ident,
            params,
            origin_s,
            hop,
            win,
            tracker: Tracker::new(rules),
            recent: Recent::new(hop, keep),
            starts: BTreeMap::new(),
            report,
            next: 0,
            heard_s: 0.0,
            plays: 0,
        }
    }

    fn secs(&self, sample: u64) -> f64 {
        sample as f64 / f64::from(FINGERPRINT_RATE)
    }

    fn answer(&mut self, pcm: Arc<[f32]>, found: Option<Found>) -> Result<(), SonicaError> {
        let index = self.next;
        self.next += 1;
        let start = index * self.hop as u64;
        self.heard_s = self.secs(start + pcm.len() as u64);
        self.recent.push(index, pcm);
        let a = WindowAnswer {
            index,
            start_s: self.secs(start),
            found,
        };
        for e in self.tracker.push(&a) {
            self.event(e)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SonicaError> {
        for e in self.tracker.finish() {
            self.event(e)?;
        }
        Ok(())
    }

    fn event(&mut self, e: Event) -> Result<(), SonicaError> {
        match e {
            Event::Confirmed(d) => {
                let start = self.place_start(&d)?;
                self.starts.insert(d.first_window, start);
                let play = self.play(&d, start, self.heard_s);
                (self.report)(Report::Started(play));
            }
            Event::Closed(d) => {
                let start = match self.starts.remove(&d.first_window) {
                    Some(s) => s,
                    None => self.place_start(&d)?,
                };
                let end = self.place_end(&d)?.max(start);
                self.plays += 1;
                let play = self.play(&d, start, end);
                (self.report)(Report::Ended(play));
            }
        }
        Ok(())
    }

    /// Stream seconds where `d`'s track is first heard densely, searched
    /// from two hops before its first window to that window's end.
    fn place_start(&self, d: &PlayDraft) -> Result<f64, SonicaError> {
        let hop_s = self.secs(self.hop as u64);
        let from = (d.first_start_s - 2.0 * hop_s).max(0.0);
        let to = d.first_start_s + self.secs(self.win as u64);
        let times = self.aligned(d, d.first_anchor_s, from, to)?;
        let p = self.params;
        let placed = match first_dense(&times.1, p.density_hits, p.density_span_s) {
            Some(t) => times.0 + t,
            None => d.first_start_s,
        };
        // A play from the track's opening cannot start before it.
        Ok(placed.max(d.first_anchor_s.min(d.first_start_s)))
    }

    /// Stream seconds where `d`'s track is last heard densely, searched
    /// from its last window's start to two hops past that window's end.
    fn place_end(&self, d: &PlayDraft) -> Result<f64, SonicaError> {
        let hop_s = self.secs(self.hop as u64);
        let from = d.last_start_s;
        let to = (d.last_start_s + self.secs(self.win as u64) + 2.0 * hop_s).min(self.heard_s);
        let times = self.aligned(d, d.anchor_s, from, to)?;
        let p = self.params;
        let placed = match last_dense(&times.1, p.density_hits, p.density_span_s) {
            Some(t) => times.0 + t,
            None => (d.last_start_s + self.secs(self.win as u64)).min(self.heard_s),
        };
        // Nor end after the track does.
        let track_end = d.anchor_s + d.track.duration_s / d.rate.max(1e-3);
        Ok(placed.min(track_end.max(d.last_start_s)))
    }

    /// (stream seconds of the stretch's start, hit times into it) for the
    /// held audio between `from_s` and `to_s`.
    fn aligned(&self, d: &PlayDraft, anchor_s: f64, from_s: f64, to_s: f64) -> Result<(f64, Vec<f64>), SonicaError> {
        let rate = f64::from(FINGERPRINT_RATE);
        let (start, pcm) = self
            .recent
            .region((from_s * rate) as u64, (to_s * rate).max(0.0) as u64);
        let start_s = self.secs(start);
        let offset = (start_s - anchor_s) * d.rate;
        let times = self.ident.aligned_times(&pcm, d.track.id, offset, d.rate as f32)?;
        Ok((start_s, times))
    }

    fn play(&self, d: &PlayDraft, start: f64, end: f64) -> Play {
        let r = &d.track;
        Play {
            track: r.id,
            title: r.title.clone(),
            artist: r.artist.clone(),
            path: r.path.clone(),
            start_s: self.origin_s + start,
            end_s: self.origin_s + end,
            offset_in_track_s: ((start - d.first_anchor_s) * d.rate).max(0.0),
            confidence: d.confidence(),
            speed: d.rate,
            score: d.score,
        }
    }
}

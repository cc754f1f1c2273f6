//! Window answers in, plays out: the merging rules of a play log, as pure
//! logic over a sequence of answers (no audio, no index), so each rule has
//! a test of its own.
//!
//! - Answers agree when they name the same track (or a copy of it) at the
//!   same alignment: the stream time at which the track's own time 0 is
//!   heard. Alignments are chained window to window, so a slight speed
//!   error drifting over a long play does not break it.
//! - A play exists once `confirm_windows` answers agree; a lone answer is
//!   pending and forgotten if nothing agrees with it in time.
//! - A play survives `max_missed` windows that do not agree (talk or a
//!   jingle over the music) and ends at the next one, or as soon as another
//!   play is confirmed (a crossfade into the next track).
//! - The same track at another alignment is another play (played twice),
//!   unless it continues the open play: looped music matches its repeats.
//! - Windows agreeing with a play that just ended do not start a new one:
//!   the tail of a crossfade is not a second play.

use sonica_schema::{TrackId, TrackRecord};

/// What one window's identification found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub track: TrackRecord,
    /// Other tracks that are copies of the same recording.
    pub copies: Vec<TrackId>,
    /// Track time heard at the window's start, in seconds.
    pub offset_s: f64,
    /// Track seconds per second of the stream.
    pub rate: f64,
    /// Time-consistent hits behind the answer.
    pub score: u32,
}

impl Found {
    /// The stream time at which the track's own time 0 is heard.
    pub fn anchor(&self, window_start_s: f64) -> f64 {
        window_start_s - self.offset_s / self.rate
    }
}

/// One window's answer, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowAnswer {
    /// Window number from the start of the stream.
    pub index: u64,
    pub start_s: f64,
    pub found: Option<Found>,
}

/// A play being built: the windows that agreed on it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayDraft {
    pub track: TrackRecord,
    /// Alignment of the first and of the latest agreeing window.
    pub first_anchor_s: f64,
    pub anchor_s: f64,
    pub rate: f64,
    pub first_window: u64,
    pub first_start_s: f64,
    pub last_window: u64,
    pub last_start_s: f64,
    /// Windows that agreed.
    pub matched: u32,
    pub score: u64,
}

impl PlayDraft {
    fn new(a: &WindowAnswer, f: &Found) -> PlayDraft {
        let anchor = f.anchor(a.start_s);
        PlayDraft {
            track: f.track.clone(),
            first_anchor_s: anchor,
            anchor_s: anchor,
            rate: f.rate,
            first_window: a.index,
            first_start_s: a.start_s,
            last_window: a.index,
            last_start_s: a.start_s,
            matched: 1,
            score: u64::from(f.score),
        }
    }

    fn agrees(&self, a: &WindowAnswer, f: &Found, tolerance_s: f64) -> bool {
        self.same_track(f) && (f.anchor(a.start_s) - self.anchor_s).abs() <= tolerance_s
    }

    fn same_track(&self, f: &Found) -> bool {
        f.track.id == self.track.id || f.copies.contains(&self.track.id)
    }

    fn extend(&mut self, a: &WindowAnswer, f: &Found) {
        self.anchor_s = f.anchor(a.start_s);
        self.rate = f.rate;
        self.last_window = a.index;
        self.last_start_s = a.start_s;
        self.matched += 1;
        self.score += u64::from(f.score);
    }

    /// Share of the windows from the first to the last agreeing one that
    /// agreed.
    pub fn confidence(&self) -> f64 {
        let spanned = (self.last_window - self.first_window + 1) as f64;
        f64::from(self.matched) / spanned
    }

    /// Track time heard at stream time `t`, by the latest alignment.
    pub fn track_time_at(&self, t: f64) -> f64 {
        (t - self.anchor_s) * self.rate
    }
}

/// What the tracker decided on one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A play now exists (its start is known, its end is not).
    Confirmed(PlayDraft),
    /// A play ended.
    Closed(PlayDraft),
}

/// The merging rules' parameters (see [`crate::monitor::MonitorParams`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    pub confirm_windows: u32,
    pub max_missed: u32,
    pub align_tolerance_s: f64,
}

/// The merging state between answers.
#[derive(Debug)]
pub struct Tracker {
    rules: Rules,
    open: Option<PlayDraft>,
    pending: Option<PlayDraft>,
    /// Plays that ended recently, ignored until the window given.
    ended: Vec<(PlayDraft, u64)>,
    next_index: u64,
}

impl Tracker {
    pub fn new(rules: Rules) -> Tracker {
        Tracker {
            rules,
            open: None,
            pending: None,
            ended: Vec::new(),
            next_index: 0,
        }
    }

    /// The play in progress, once confirmed.
    pub fn open(&self) -> Option<&PlayDraft> {
        self.open.as_ref()
    }

    /// Takes the next answer (answers must come in window order).
    pub fn push(&mut self, a: &WindowAnswer) -> Vec<Event> {
        debug_assert!(a.index >= self.next_index, "answers out of order");
        self.next_index = a.index + 1;
        let mut events = Vec::new();
        let tol = self.rules.align_tolerance_s;
        self.ended.retain(|(_, until)| *until >= a.index);
        if let Some(f) = &a.found {
            // The open play's track at another alignment is the same play
            // too: music built of repeated bars matches a repeat as well as
            // the place itself (a track restarted right after it ended is
            // merged with it; after any other play it is a new play).
            if let Some(open) = self.open.as_mut().filter(|o| o.same_track(f)) {
                open.extend(a, f);
            } else if let Some(p) = self.pending.as_mut().filter(|p| p.agrees(a, f, tol)) {
                p.extend(a, f);
                if p.matched >= self.rules.confirm_windows {
                    self.confirm_pending(&mut events);
                }
            } else if !self.ended.iter().any(|(e, _)| e.agrees(a, f, tol)) {
                self.pending = Some(PlayDraft::new(a, f));
                if self.rules.confirm_windows <= 1 {
                    self.confirm_pending(&mut events);
                }
            }
        }
        let gap = u64::from(self.rules.max_missed);
        if self.open.as_ref().is_some_and(|o| a.index - o.last_window > gap) {
            self.close(&mut events);
        }
        if self.pending.as_ref().is_some_and(|p| a.index - p.last_window > gap) {
            self.pending = None;
        }
        events
    }

    /// The stream ended: the open play ends with it.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        self.close(&mut events);
        self.pending = None;
        events
    }

    fn confirm_pending(&mut self, events: &mut Vec<Event>) {
        self.close(events);
        if let Some(p) = self.pending.take() {
            events.push(Event::Confirmed(p.clone()));
            self.open = Some(p);
        }
    }

    fn close(&mut self, events: &mut Vec<Event>) {
        if let Some(o) = self.open.take() {
            let until = o.last_window + u64::from(self.rules.max_missed + self.rules.confirm_windows);
            self.ended.push((o.clone(), until));
            events.push(Event::Closed(o));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            confirm_windows: 2,
            max_missed: 2,
            align_tolerance_s: 1.5,
        }
    }

    fn track(id: TrackId) -> TrackRecord {
        TrackRecord {
            id,
            path: format!("t{id}.wav"),
            title: format!("T{id}"),
            artist: None,
            album: None,
            genre: None,
            duration_s: 200.0,
            sample_rate: 8000,
            channels: 1,
            codec: "pcm".into(),
            peaks: 0,
            hashes: 0,
            tier: sonica_schema::Tier::Fresh,
            created_at: 0,
            file_len: None,
            file_mtime_ms: None,
            sha256: None,
            duplicate_of: None,
            analysis_pending: false,
        }
    }

    /// Window `k` (hop 5 s) hearing track `id` whose time 0 is at `anchor`.
    fn hears(k: u64, id: TrackId, anchor: f64) -> WindowAnswer {
        let start = k as f64 * 5.0;
        WindowAnswer {
            index: k,
            start_s: start,
            found: Some(Found {
                track: track(id),
                copies: vec![],
                offset_s: start - anchor,
                rate: 1.0,
                score: 30,
            }),
        }
    }

    fn silence(k: u64) -> WindowAnswer {
        WindowAnswer {
            index: k,
            start_s: k as f64 * 5.0,
            found: None,
        }
    }

    /// Runs the answers and returns the closed plays as (track, first
    /// window, last window).
    fn plays(answers: &[WindowAnswer]) -> Vec<(TrackId, u64, u64)> {
        let mut t = Tracker::new(rules());
        let mut out = Vec::new();
        for a in answers {
            for e in t.push(a) {
                if let Event::Closed(p) = e {
                    out.push((p.track.id, p.first_window, p.last_window));
                }
            }
        }
        for e in t.finish() {
            if let Event::Closed(p) = e {
                out.push((p.track.id, p.first_window, p.last_window));
            }
        }
        out
    }

    #[test]
    fn agreeing_windows_merge_into_one_play() {
        let a: Vec<_> = (0..10).map(|k| hears(k, 1, 0.0)).collect();
        assert_eq!(plays(&a), vec![(1, 0, 9)]);
    }

    #[test]
    fn a_lone_answer_invents_nothing() {
        let a = vec![
            silence(0),
            hears(1, 7, 3.0),
            silence(2),
            silence(3),
            silence(4),
            silence(5),
        ];
        assert_eq!(plays(&a), vec![]);
    }

    #[test]
    fn talk_over_the_music_does_not_split_a_play() {
        let a = vec![
            hears(0, 1, 0.0),
            hears(1, 1, 0.0),
            silence(2),
            hears(3, 9, 40.0), // a chance answer over the talk
            hears(4, 1, 0.0),
            hears(5, 1, 0.0),
        ];
        assert_eq!(plays(&a), vec![(1, 0, 5)]);
    }

    #[test]
    fn a_long_gap_ends_a_play_and_the_same_alignment_later_is_a_new_one() {
        let mut a: Vec<_> = (0..3).map(|k| hears(k, 1, 0.0)).collect();
        a.extend((3..10).map(silence));
        a.extend((10..13).map(|k| hears(k, 1, 0.0)));
        assert_eq!(plays(&a), vec![(1, 0, 2), (1, 10, 12)]);
    }

    #[test]
    fn a_track_played_twice_is_two_plays() {
        let mut a: Vec<_> = (0..4).map(|k| hears(k, 1, 0.0)).collect();
        a.extend((4..8).map(|k| hears(k, 2, 20.0)));
        a.extend((8..12).map(|k| hears(k, 1, 40.0)));
        assert_eq!(plays(&a), vec![(1, 0, 3), (2, 4, 7), (1, 8, 11)]);
    }

    #[test]
    fn a_crossfade_hands_over_without_a_second_play_of_the_tail() {
        // Windows 4–6 hear both; the answers alternate.
        let mut a: Vec<_> = (0..4).map(|k| hears(k, 1, 0.0)).collect();
        a.push(hears(4, 2, 22.0));
        a.push(hears(5, 2, 22.0));
        a.push(hears(6, 1, 0.0)); // the outgoing track's tail
        a.push(hears(7, 1, 0.0));
        a.extend((8..12).map(|k| hears(k, 2, 22.0)));
        assert_eq!(plays(&a), vec![(1, 0, 3), (2, 4, 11)]);
    }

    #[test]
    fn a_repeat_inside_looped_music_does_not_split_the_play() {
        let mut a: Vec<_> = (0..3).map(|k| hears(k, 1, 0.0)).collect();
        a.push(hears(3, 1, 8.0)); // the same bars, 8 s further into the track
        a.push(hears(4, 1, 8.0));
        a.push(hears(5, 1, 0.0));
        assert_eq!(plays(&a), vec![(1, 0, 5)]);
    }

    #[test]
    fn a_slow_drift_of_the_alignment_is_followed() {
        // 0.1 s per window: 3 s over the play, past the tolerance from the
        // first window but never between neighbours.
        let a: Vec<_> = (0..30).map(|k| hears(k, 1, k as f64 * 0.1)).collect();
        assert_eq!(plays(&a), vec![(1, 0, 29)]);
    }

    #[test]
    fn a_copy_of_the_recording_continues_the_play() {
        let mut a: Vec<_> = (0..3).map(|k| hears(k, 1, 0.0)).collect();
        let mut copy = hears(3, 5, 0.0);
        if let Some(f) = copy.found.as_mut() {
            f.copies = vec![1];
        }
        a.push(copy);
        a.push(hears(4, 1, 0.0));
        assert_eq!(plays(&a), vec![(1, 0, 4)]);
    }

    #[test]
    fn confidence_is_the_share_of_windows_that_agreed() {
        let mut t = Tracker::new(rules());
        for a in [hears(0, 1, 0.0), silence(1), hears(2, 1, 0.0), hears(3, 1, 0.0)] {
            t.push(&a);
        }
        let open = t.open().expect("confirmed");
        assert!((open.confidence() - 0.75).abs() < 1e-9);
    }
}

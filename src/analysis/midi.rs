//! Drum hits of a section as a Standard MIDI File, to drop into a DAW.
//!
//! One track on channel 10 (index 9) with General MIDI drum notes: kick 36,
//! snare 38, closed hi-hat 42. The file runs at the track's tempo with its
//! metre; every hit is quantised to the nearest sixteenth of the analysed
//! beat grid, and tick 0 is the first bar line at or before the section start,
//! so the loop lines up with bars in the DAW. Velocity follows hit strength.

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use sonica_schema::{Drum, TrackAnalysis};

use super::drums::{bar_phase, beat_position};
use super::error::AnalysisError;

/// Ticks per quarter note (one beat).
pub const TICKS_PER_BEAT: u16 = 480;
const TICKS_PER_STEP: i64 = TICKS_PER_BEAT as i64 / 4;
/// Note length: a 32nd, so repeated sixteenths never overlap.
const NOTE_TICKS: i64 = TICKS_PER_BEAT as i64 / 8;
const DRUM_CHANNEL: u8 = 9;
/// Used when the analysis found no tempo.
const FALLBACK_BPM: f64 = 120.0;

/// General MIDI drum note of a voice.
pub fn gm_note(d: Drum) -> u8 {
    match d {
        Drum::Kick => 36,
        Drum::Snare => 38,
        Drum::Hihat => 42,
    }
}

/// The drum hits between `start_s` and `end_s` (file seconds; `None` = the
/// analysed range's ends) as a Standard MIDI File.
pub fn pattern_midi(a: &TrackAnalysis, start_s: Option<f64>, end_s: Option<f64>) -> Result<Vec<u8>, AnalysisError> {
    let from = start_s.unwrap_or(a.start_s);
    let to = end_s.unwrap_or(a.end_s);
    if !(from.is_finite() && to.is_finite() && from < to && to > a.start_s && from < a.end_s) {
        return Err(AnalysisError::BadSection {
            start: from,
            end: to,
            from: a.start_s,
            to: a.end_s,
        });
    }
    let (rel_from, rel_to) = ((from - a.start_s).max(0.0), to - a.start_s);
    let bpm = if a.tempo.bpm > 0.0 && a.tempo.bpm.is_finite() {
        a.tempo.bpm
    } else {
        FALLBACK_BPM
    };
    let mut beats: Vec<f64> = a.tempo.beats.iter().map(|&b| f64::from(b)).collect();
    if beats.len() < 2 {
        // No grid: a straight one at the tempo from the range start.
        beats = vec![0.0, 60.0 / bpm];
    }
    let bpb = a.tempo.time_signature.map_or(4, |t| t.numerator.clamp(2, 12)) as usize;
    let phase = bar_phase(&beats, &a.rhythm.hits, bpb) as f64;
    // The section on the sixteenth grid: a hit a few ms before the start
    // still belongs to the first step.
    let start_q = (beat_position(&beats, rel_from).unwrap_or(0.0) * 4.0).round() as i64;
    let end_q = (beat_position(&beats, rel_to).unwrap_or(0.0) * 4.0).round() as i64;
    let start_pos = start_q as f64 / 4.0;
    let origin_beat = phase + ((start_pos - phase + 1e-9) / bpb as f64).floor() * bpb as f64;
    let origin_step = (origin_beat * 4.0).round() as i64;

    // (tick, note, velocity), one per note and step: the loudest.
    let mut notes: Vec<(i64, u8, u8)> = Vec::new();
    for h in &a.rhythm.hits {
        let Some(pos) = beat_position(&beats, f64::from(h.t)) else {
            continue;
        };
        let q = (pos * 4.0).round() as i64;
        if q < start_q || q >= end_q {
            continue;
        }
        let step = (q - origin_step).max(0);
        let vel = (1.0 + 126.0 * f64::from(h.strength).clamp(0.0, 1.0)).round() as u8;
        let tick = step * TICKS_PER_STEP;
        let note = gm_note(h.drum);
        match notes.iter_mut().find(|n| n.0 == tick && n.1 == note) {
            Some(n) => n.2 = n.2.max(vel),
            None => notes.push((tick, note, vel)),
        }
    }
    if notes.is_empty() {
        return Err(AnalysisError::NoHits { start: from, end: to });
    }
    // (tick, is_on, note, velocity); offs before ons at the same tick.
    let mut events: Vec<(i64, bool, u8, u8)> = Vec::with_capacity(notes.len() * 2);
    for &(tick, note, vel) in &notes {
        events.push((tick, true, note, vel));
        events.push((tick + NOTE_TICKS, false, note, 0));
    }
    events.sort_by_key(|e| (e.0, e.1, e.2));
    let last = events.last().map_or(0, |e| e.0);
    let bar_ticks = bpb as i64 * i64::from(TICKS_PER_BEAT);
    let end_tick = ((last + bar_ticks - 1) / bar_ticks).max(1) * bar_ticks;

    let micros = (60_000_000.0 / bpm).round().clamp(1.0, f64::from(0x00ff_ffffu32)) as u32;
    let mut track: Vec<TrackEvent<'static>> = vec![
        meta(0, MetaMessage::TrackName(b"Sonica drums")),
        meta(0, MetaMessage::Tempo(u24::new(micros))),
        meta(0, MetaMessage::TimeSignature(bpb as u8, 2, 24, 8)),
    ];
    let mut now = 0i64;
    for (tick, on, note, vel) in events {
        let delta = (tick - now).max(0);
        now = tick;
        let message = if on {
            MidiMessage::NoteOn {
                key: u7::new(note),
                vel: u7::new(vel.min(127)),
            }
        } else {
            MidiMessage::NoteOff {
                key: u7::new(note),
                vel: u7::new(0),
            }
        };
        track.push(TrackEvent {
            delta: u28::new(delta.min(0x0fff_ffff) as u32),
            kind: TrackEventKind::Midi {
                channel: u4::new(DRUM_CHANNEL),
                message,
            },
        });
    }
    track.push(meta((end_tick - now).max(0), MetaMessage::EndOfTrack));
    let mut smf = Smf::new(Header::new(
        Format::SingleTrack,
        Timing::Metrical(u15::new(TICKS_PER_BEAT)),
    ));
    smf.tracks.push(track);
    let mut out = Vec::new();
    smf.write_std(&mut out)
        .map_err(|e| AnalysisError::internal("midi", e))?;
    Ok(out)
}

fn meta(delta: i64, m: MetaMessage<'static>) -> TrackEvent<'static> {
    TrackEvent {
        delta: u28::new(delta.clamp(0, 0x0fff_ffff) as u32),
        kind: TrackEventKind::Meta(m),
    }
}

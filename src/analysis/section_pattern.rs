//! The drum pattern of one section: its hits in beats (what a MIDI export
//! and the seed's `midi_data` carry), its typical bar, its tempo, a quality
//! score and the pattern vector that pattern search compares.
//!
//! Everything here is computed from what the analysis record already holds
//! (beats, hits, metre, key), so a section merged or re-cut later gets its
//! pattern again without the audio.

use sonica_schema::{BeatHit, Drum, DrumHit, DrumPattern, Section, SectionPattern, TrackAnalysis, PATTERN_DIM};

use super::drums::{beat_position, pattern};

/// A section needs this many beats for a pattern (two bars of 4/4).
const MIN_BEATS: usize = 8;
/// And at least this many hits per bar on average.
const MIN_HITS_PER_BAR: f32 = 1.0;
/// Voice weights in the vector: hi-hats are the least characteristic of
/// a groove and the most often mis-detected.
const VOICE_WEIGHT: [f32; 3] = [1.0, 1.0, 0.6];

/// The pattern of `start..end` (seconds, the analysis' time base), or `None`
/// when the section has too few beats or hits.
pub fn section_pattern(a: &TrackAnalysis, start: f32, end: f32) -> Option<SectionPattern> {
    let beats: Vec<f64> = a
        .tempo
        .beats
        .iter()
        .filter(|&&b| b >= start - 0.05 && b < end)
        .map(|&b| f64::from(b))
        .collect();
    if beats.len() < MIN_BEATS {
        return None;
    }
    let bpb = a
        .tempo
        .time_signature
        .map_or(4, |t| usize::from(t.numerator))
        .clamp(2, 4);
    let first = beats[0];
    let hits: Vec<DrumHit> = a
        .rhythm
        .hits
        .iter()
        .filter(|h| f64::from(h.t) >= first - 0.05 && h.t < end)
        .copied()
        .collect();
    let bars = beats.len() as f32 / bpb as f32;
    if (hits.len() as f32) < MIN_HITS_PER_BAR * bars {
        return None;
    }
    let grid = pattern(&beats, &hits, bpb);
    let beat_hits: Vec<BeatHit> = hits
        .iter()
        .filter_map(|h| {
            let pos = beat_position(&beats, f64::from(h.t))?;
            Some(BeatHit {
                beat: ((pos * 100.0).round() / 100.0) as f32,
                drum: h.drum,
                strength: h.strength,
            })
        })
        .collect();
    let intervals: Vec<f64> = beats.windows(2).map(|w| w[1] - w[0]).collect();
    let tempo_bpm = median(intervals).map_or(0.0, |p| (6000.0 / p).round() / 100.0);
    let quality = quality(&beat_hits, &grid, bpb, bars);
    let vector = vector(&grid);
    Some(SectionPattern {
        tempo_bpm,
        key: Some(a.key.key),
        time_signature: a.tempo.time_signature,
        grid,
        hits: beat_hits,
        quality,
        vector,
    })
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// 0–1: the share of hits on the sixteenth grid, times how alike the bars
/// are (each bar's steps against the typical bar), times how full the
/// pattern is (a bar of four hits or more counts as full).
fn quality(hits: &[BeatHit], grid: &DrumPattern, bpb: usize, bars: f32) -> f32 {
    if hits.is_empty() {
        return 0.0;
    }
    let on_grid = hits
        .iter()
        .filter(|h| ((h.beat * 4.0) - (h.beat * 4.0).round()).abs() <= 0.2)
        .count() as f32
        / hits.len() as f32;
    let steps = 4 * bpb;
    let n_bars = bars.ceil().max(1.0) as usize;
    let mut per_bar = vec![vec![0.0f32; 3 * steps]; n_bars];
    for h in hits {
        let q = (h.beat * 4.0).round() as i64;
        if q < 0 {
            continue;
        }
        let bar = (q as usize / steps).min(n_bars - 1);
        let v = voice(h.drum);
        per_bar[bar][v * steps + q as usize % steps] = 1.0;
    }
    let typical: Vec<f32> = [&grid.kick, &grid.snare, &grid.hihat]
        .iter()
        .flat_map(|g| {
            let mut g: Vec<f32> = g.iter().map(|&x| if x >= 0.3 { 1.0 } else { 0.0 }).collect();
            g.resize(steps, 0.0);
            g
        })
        .collect();
    let alike: f32 = per_bar.iter().map(|b| cosine(b, &typical)).sum::<f32>() / n_bars as f32;
    let fullness = (hits.len() as f32 / bars / 4.0).min(1.0);
    ((on_grid * alike * fullness) * 100.0).round() / 100.0
}

fn voice(d: Drum) -> usize {
    match d {
        Drum::Kick => 0,
        Drum::Snare => 1,
        Drum::Hihat => 2,
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na > 0.0 && nb > 0.0 {
        dot / (na * nb)
    } else {
        0.0
    }
}

/// The pattern vector ([`PATTERN_DIM`]): each voice's 16 steps (a 3/4
/// bar's 12 padded), each voice folded onto a half bar (so a pattern
/// whose bar start was put on the wrong beat still lands near itself),
/// and each voice's density; weighted by voice, L2-normalised. Empty when
/// the grid is empty.
pub fn vector(grid: &DrumPattern) -> Vec<f32> {
    let mut v = Vec::with_capacity(PATTERN_DIM);
    let voices = [&grid.kick, &grid.snare, &grid.hihat];
    for (g, w) in voices.iter().zip(VOICE_WEIGHT) {
        v.extend((0..16).map(|s| g.get(s).copied().unwrap_or(0.0) * w));
    }
    for (g, w) in voices.iter().zip(VOICE_WEIGHT) {
        let half = (g.len() / 2).max(1);
        v.extend((0..8).map(|s| {
            let i = s * half / 8;
            0.5 * (g.get(i).copied().unwrap_or(0.0) + g.get(i + half).copied().unwrap_or(0.0)) * w
        }));
    }
    for (g, w) in voices.iter().zip(VOICE_WEIGHT) {
        v.push(g.iter().sum::<f32>() / g.len().max(1) as f32 * w);
    }
    debug_assert_eq!(v.len(), PATTERN_DIM);
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n <= 0.0 {
        return Vec::new();
    }
    v.iter().map(|x| x / n).collect()
}

/// The pattern of `start..end` read at the beat grid found, at half its
/// tempo (every other beat, both phases) and at double (a beat between
/// each two): a query's readings, so that a pattern whose tempo was
/// taken an octave off (on either side) still meets its stored self.
pub fn tempo_readings(a: &TrackAnalysis, start: f32, end: f32) -> Vec<SectionPattern> {
    let beats = &a.tempo.beats;
    let mut grids: Vec<Vec<f32>> = vec![beats.clone()];
    for phase in 0..2 {
        grids.push(beats.iter().skip(phase).step_by(2).copied().collect());
    }
    let mut double = Vec::with_capacity(beats.len() * 2);
    for w in beats.windows(2) {
        double.push(w[0]);
        double.push(0.5 * (w[0] + w[1]));
    }
    double.extend(beats.last());
    grids.push(double);
    let mut reading = a.clone();
    let mut out = Vec::new();
    for g in grids {
        reading.tempo.beats = g;
        out.extend(section_pattern(&reading, start, end).filter(|p| !p.vector.is_empty()));
    }
    out
}

/// Fills every section's pattern.
pub fn add_patterns(a: &mut TrackAnalysis) {
    let spans: Vec<(f32, f32)> = a.sections.iter().map(|s| (s.start_s, s.end_s)).collect();
    for (i, (s, e)) in spans.into_iter().enumerate() {
        let p = section_pattern(a, s, e);
        a.sections[i].pattern = p;
    }
}

/// Merges sections at their weakest boundaries until at most `n` are left
/// (`n` at least 1): the merged section keeps the label and function of
/// its longer part, and gets its pattern again.
pub fn keep_at_most(a: &mut TrackAnalysis, n: usize) {
    let n = n.max(1);
    let mut changed = false;
    while a.sections.len() > n {
        let Some(i) = (1..a.sections.len()).min_by(|&x, &y| {
            a.sections[x]
                .boundary_strength
                .total_cmp(&a.sections[y].boundary_strength)
        }) else {
            break;
        };
        let next: Section = a.sections.remove(i);
        let prev = &mut a.sections[i - 1];
        if next.duration_s() > prev.duration_s() {
            prev.label = next.label;
            prev.function = next.function;
            prev.function_confidence = next.function_confidence;
        }
        prev.energy_db = prev.energy_db.max(next.energy_db);
        prev.end_s = next.end_s;
        changed = true;
    }
    if changed {
        relabel(&mut a.sections);
        if a.sections.iter().any(|s| s.pattern.is_some()) {
            add_patterns(a);
        }
    }
}

/// Labels renamed in order of first appearance (A, B, C…) after a merge.
fn relabel(sections: &mut [Section]) {
    let mut seen: Vec<String> = Vec::new();
    for s in sections.iter_mut() {
        let i = match seen.iter().position(|l| *l == s.label) {
            Some(i) => i,
            None => {
                seen.push(s.label.clone());
                seen.len() - 1
            }
        };
        s.label = super::sections::label_name(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(kick: &[usize], snare: &[usize], hat: &[usize]) -> DrumPattern {
        let g = |on: &[usize]| (0..16).map(|i| if on.contains(&i) { 1.0 } else { 0.0 }).collect();
        DrumPattern {
            steps_per_bar: 16,
            kick: g(kick),
            snare: g(snare),
            hihat: g(hat),
        }
    }

    #[test]
    fn the_vector_tells_grooves_apart_and_forgives_a_half_bar_shift() {
        let hats: Vec<usize> = (0..16).step_by(2).collect();
        let rock = vector(&grid(&[0, 8], &[4, 12], &hats));
        let four = vector(&grid(&[0, 4, 8, 12], &[], &hats));
        let rock_shifted = vector(&grid(&[8, 0], &[12, 4], &hats));
        let half_time = vector(&grid(&[0, 10], &[8], &hats));
        assert_eq!(rock.len(), PATTERN_DIM);
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!((dot(&rock, &rock_shifted) - 1.0).abs() < 1e-5);
        assert!(dot(&rock, &four) < 0.9, "{}", dot(&rock, &four));
        assert!(dot(&rock, &half_time) < dot(&rock, &rock_shifted));
        assert!(vector(&grid(&[], &[], &[])).is_empty());
    }
}

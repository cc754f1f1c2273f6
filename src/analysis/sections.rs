//! Sections: where the music changes (novelty on a beat-synchronous
//! self-similarity), which parts repeat (labels A, B, C…), and a guess at
//! what each part does (intro, verse, chorus, bridge, outro).
//!
//! The unit of time is the beat (half a second when there is no beat
//! grid). Each unit gets the mean chroma (harmony) and the mean MFCCs
//! (timbre, z-scored over the track) of the frames inside it. Boundaries
//! are the peaks of Foote's checkerboard novelty over the units' similarity,
//! with a kernel of two bars a side, taken strongest first, at least two
//! bars apart, and moved to a nearby bar line when one is as novel. Parts
//! are compared along their aligned diagonals (the same bar of each), so a
//! chorus matches its repeat and not merely a part of the same average
//! sound. Functions come from position, repetition and loudness; MSAF does
//! not do this and learned models are far too slow here, so the confidence
//! is honest about being a rule of thumb.

use sonica_schema::{Section, SectionFunction, MAX_SECTIONS};

use super::key::{self, Chroma};
use super::timbre::TimbreAccumulator;

/// Novelty kernel half-width, in bars. Measured on the generated songs
/// (benches/sections-eval.py, tuned on one seed and reported on another):
/// 2 bars found every fill and chord change (F@3 s 0.42), 4 gave 0.86, 6
/// gave 0.89; sections are rarely shorter than 4 bars, and the kernel
/// shrinks near the ends so a short intro is still seen.
const KERNEL_BARS: usize = 6;
/// Shortest section, in bars.
const MIN_SECTION_BARS: usize = 2;
/// A novelty peak below this share of the strongest is no boundary.
const MIN_PEAK: f32 = 0.3;
/// Weight of harmony (chroma) against timbre in a unit's similarity.
/// Parts differ more by arrangement than by chords in most songs: 0.3
/// beat 0.5 (F@3 s 0.89 against 0.85) and 0.7 (0.74).
const CHROMA_WEIGHT: f32 = 0.3;
/// Two parts are repeats when their aligned similarity is at least this
/// share of the way from the track's typical unit similarity to 1.
const REPEAT_SHARE: f32 = 0.6;
/// Most units the similarity works on: longer tracks use bars or groups
/// of beats as units (a 20-minute cap of beats fits comfortably).
const MAX_UNITS: usize = 1600;
/// Without a beat grid, units are this long (seconds), bars four units.
const FALLBACK_UNIT_S: f64 = 0.5;

/// What the sections need of the analysis, all on the working stream's time base.
pub struct SectionInputs<'a> {
    /// Beat times, seconds.
    pub beats: &'a [f64],
    pub beats_per_bar: usize,
    /// Which beat of the grid starts a bar (0..beats_per_bar).
    pub bar_phase: usize,
    pub chroma: &'a Chroma,
    pub timbre: &'a TimbreAccumulator,
    /// Seconds between timbre frames, and the first one's centre.
    pub timbre_hop_s: f64,
    pub timbre_first_s: f64,
    pub duration_s: f64,
}

/// One unit of time and its features.
struct Unit {
    start: f64,
    end: f64,
    chroma: [f32; 12],
    mfcc: [f32; 12],
    level_db: f32,
    downbeat: bool,
}

/// The sections of a range, without patterns (the caller adds those).
pub fn segment(x: &SectionInputs) -> Vec<Section> {
    let units = units(x);
    if units.len() < 2 {
        return vec![whole(x.duration_s)];
    }
    let bar = unit_bar(x, &units);
    let sim = Similarity::new(&units);
    let novelty = sim.novelty(KERNEL_BARS * bar);
    let bounds = pick_boundaries(&novelty, &units, bar);
    let mut cuts: Vec<(usize, f32)> = vec![(0, 1.0)];
    cuts.extend(bounds);
    let spans: Vec<(usize, usize)> = cuts
        .iter()
        .enumerate()
        .map(|(i, &(a, _))| (a, cuts.get(i + 1).map_or(units.len(), |c| c.0)))
        .collect();
    let labels = label(&sim, &spans, bar);
    let energy: Vec<f32> = spans.iter().map(|&(a, b)| mean_level(&units[a..b])).collect();
    let loudest = energy.iter().cloned().fold(f32::MIN, f32::max);
    let functions = functions(&labels, &energy, &spans, units.len());
    spans
        .iter()
        .enumerate()
        .map(|(i, &(a, b))| Section {
            start_s: if i == 0 { 0.0 } else { units[a].start as f32 },
            end_s: if b == units.len() {
                x.duration_s as f32
            } else {
                units[b].start as f32
            },
            label: label_name(labels[i]),
            function: functions[i].0,
            function_confidence: functions[i].1,
            energy_db: energy[i] - loudest,
            boundary_strength: cuts[i].1,
            pattern: None,
        })
        .collect()
}

fn whole(duration_s: f64) -> Section {
    Section {
        start_s: 0.0,
        end_s: duration_s as f32,
        label: "A".into(),
        function: SectionFunction::Verse,
        function_confidence: 0.0,
        energy_db: 0.0,
        boundary_strength: 1.0,
        pattern: None,
    }
}

pub(crate) fn label_name(i: usize) -> String {
    let mut s = String::new();
    let mut n = i;
    loop {
        s.insert(0, (b'A' + (n % 26) as u8) as char);
        if n < 26 {
            return s;
        }
        n = n / 26 - 1;
    }
}

/// The unit grid: beats (grouped when there are too many), or fixed
/// half-seconds, covering 0..duration.
fn units(x: &SectionInputs) -> Vec<Unit> {
    let dur = x.duration_s.max(0.0);
    let bpb = x.beats_per_bar.max(1);
    let mut edges: Vec<(f64, bool)> = Vec::new();
    let beats: Vec<(usize, f64)> = x
        .beats
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, t)| t > 0.0 && t < dur)
        .collect();
    if beats.len() >= 4 * bpb {
        let group = beats.len().div_ceil(MAX_UNITS).max(1);
        edges.push((0.0, false));
        for (n, &(i, t)) in beats.iter().enumerate() {
            if n % group == 0 {
                edges.push((t, (i + bpb - x.bar_phase % bpb) % bpb == 0));
            }
        }
    } else {
        let n = ((dur / FALLBACK_UNIT_S) as usize).min(MAX_UNITS);
        edges.extend((0..n).map(|i| (i as f64 * dur / n as f64, i % 4 == 0)));
    }
    edges.dedup_by(|b, a| b.0 - a.0 < 1e-3);
    let mut units: Vec<Unit> = edges
        .iter()
        .enumerate()
        .map(|(i, &(start, downbeat))| Unit {
            start,
            end: edges.get(i + 1).map_or(dur, |e| e.0),
            chroma: [0.0; 12],
            mfcc: [0.0; 12],
            level_db: -100.0,
            downbeat,
        })
        .filter(|u| u.end > u.start)
        .collect();
    fill_features(x, &mut units);
    units
}

fn fill_features(x: &SectionInputs, units: &mut [Unit]) {
    // Chroma frames are long (0.37 s): each goes to the unit holding its centre.
    let mut counts = vec![0usize; units.len()];
    for (k, c) in x.chroma.series.iter().enumerate() {
        if let Some(u) = unit_at(units, key::frame_time(k)) {
            for (a, v) in units[u].chroma.iter_mut().zip(c) {
                *a += v;
            }
            counts[u] += 1;
        }
    }
    // A unit between two chroma frames takes its nearest frame.
    for u in 0..units.len() {
        if counts[u] == 0 && !x.chroma.series.is_empty() {
            let mid = 0.5 * (units[u].start + units[u].end);
            let k = nearest_frame(mid, x.chroma.series.len(), key::frame_time);
            units[u].chroma = x.chroma.series[k];
        }
    }
    let frames = &x.timbre.frames;
    let mut mf = vec![[0.0f64; 12]; units.len()];
    let mut power = vec![0.0f64; units.len()];
    let mut n = vec![0usize; units.len()];
    for (k, (c, level)) in frames.iter().enumerate() {
        let t = x.timbre_first_s + k as f64 * x.timbre_hop_s;
        if let Some(u) = unit_at(units, t) {
            for (a, v) in mf[u].iter_mut().zip(c) {
                *a += f64::from(*v);
            }
            power[u] += 10f64.powf(f64::from(*level) / 10.0);
            n[u] += 1;
        }
    }
    // z-score each coefficient over the track, so every one counts alike.
    let mut mean = [0.0f64; 12];
    let mut sq = [0.0f64; 12];
    let mut used = 0.0;
    for u in 0..units.len() {
        if n[u] > 0 {
            for j in 0..12 {
                let v = mf[u][j] / n[u] as f64;
                mf[u][j] = v;
                mean[j] += v;
                sq[j] += v * v;
            }
            used += 1.0;
            units[u].level_db = (10.0 * (power[u] / n[u] as f64).max(1e-12).log10()) as f32;
        }
    }
    if used > 0.0 {
        for j in 0..12 {
            mean[j] /= used;
            sq[j] = (sq[j] / used - mean[j] * mean[j]).max(1e-9).sqrt();
        }
    }
    for u in 0..units.len() {
        if n[u] > 0 {
            for j in 0..12 {
                units[u].mfcc[j] = ((mf[u][j] - mean[j]) / sq[j]) as f32;
            }
        }
    }
}

fn unit_at(units: &[Unit], t: f64) -> Option<usize> {
    let i = units.partition_point(|u| u.start <= t);
    (i > 0 && t < units[i - 1].end).then(|| i - 1)
}

fn nearest_frame(t: f64, n: usize, time: fn(usize) -> f64) -> usize {
    (0..n)
        .min_by(|&a, &b| (time(a) - t).abs().total_cmp(&(time(b) - t).abs()))
        .unwrap_or(0)
}

/// Units per bar.
fn unit_bar(x: &SectionInputs, units: &[Unit]) -> usize {
    let downbeats: Vec<usize> = (0..units.len()).filter(|&i| units[i].downbeat).collect();
    if downbeats.len() >= 2 {
        let span = downbeats[downbeats.len() - 1] - downbeats[0];
        return (span as f64 / (downbeats.len() - 1) as f64).round().max(1.0) as usize;
    }
    x.beats_per_bar.max(1)
}

fn mean_level(units: &[Unit]) -> f32 {
    let p: f64 = units.iter().map(|u| 10f64.powf(f64::from(u.level_db) / 10.0)).sum();
    (10.0 * (p / units.len().max(1) as f64).max(1e-12).log10()) as f32
}

/// Unit-to-unit similarity, 0–1, computed on demand (the novelty needs
/// only the band near the diagonal, the labels a few diagonals).
struct Similarity {
    chroma: Vec<[f32; 12]>,
    mfcc: Vec<[f32; 12]>,
}

impl Similarity {
    fn new(units: &[Unit]) -> Self {
        let unit_len = |v: &[f32; 12]| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n > 0.0 {
                v.map(|x| x / n)
            } else {
                *v
            }
        };
        Similarity {
            chroma: units.iter().map(|u| unit_len(&u.chroma)).collect(),
            mfcc: units.iter().map(|u| unit_len(&u.mfcc)).collect(),
        }
    }

    fn len(&self) -> usize {
        self.chroma.len()
    }

    fn at(&self, i: usize, j: usize) -> f32 {
        let dot = |a: &[f32; 12], b: &[f32; 12]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let c = dot(&self.chroma[i], &self.chroma[j]).clamp(0.0, 1.0);
        let t = 0.5 * (1.0 + dot(&self.mfcc[i], &self.mfcc[j]).clamp(-1.0, 1.0));
        CHROMA_WEIGHT * c + (1.0 - CHROMA_WEIGHT) * t
    }

    /// Foote's novelty with a Gaussian-tapered checkerboard kernel of
    /// `half` units a side, scaled to 0–1.
    fn novelty(&self, half: usize) -> Vec<f32> {
        let n = self.len();
        let half = half.max(1);
        let sigma = half as f32 * 0.5;
        let g: Vec<f32> = (0..half)
            .map(|k| (-(k as f32 + 0.5).powi(2) / (2.0 * sigma * sigma)).exp())
            .collect();
        let mut out = vec![0.0f32; n];
        let mut max = 0.0f32;
        for (i, o) in out.iter_mut().enumerate() {
            // The same extent on both sides, so the track's ends (where
            // one side is missing) do not look like changes.
            let h = half.min(i).min(n - i);
            let mut sum = 0.0f32;
            let mut weight = 0.0f32;
            for a in 0..h {
                for b in 0..h {
                    let w = g[a] * g[b];
                    sum +=
                        w * (self.at(i - a - 1, i - b - 1) + self.at(i + a, i + b) - 2.0 * self.at(i - a - 1, i + b));
                    weight += 4.0 * w;
                }
            }
            *o = if weight > 0.0 { (sum / weight).max(0.0) } else { 0.0 };
            // Scaled by the strongest change seen with the whole kernel:
            // a truncated kernel near an end is noisier.
            if h == half {
                max = max.max(*o);
            }
        }
        if max <= 0.0 {
            max = out.iter().cloned().fold(0.0f32, f32::max);
        }
        if max > 0.0 {
            out.iter_mut().for_each(|v| *v = (*v / max).min(1.0));
        }
        out
    }

    /// Mean similarity of two spans along their aligned diagonal, the best
    /// of a few shifts of up to a bar either way.
    fn aligned(&self, (a0, a1): (usize, usize), (b0, b1): (usize, usize), bar: usize) -> f32 {
        let mut best = 0.0f32;
        for shift in -(bar as i64)..=bar as i64 {
            let mut sum = 0.0;
            let mut n = 0;
            for k in 0..(a1 - a0) {
                let j = b0 as i64 + k as i64 + shift;
                if j < b0 as i64 || j >= b1 as i64 {
                    continue;
                }
                sum += self.at(a0 + k, j as usize);
                n += 1;
            }
            // Spans overlapping by less than a bar say nothing.
            if n >= bar.max(2) {
                best = best.max(sum / n as f32);
            }
        }
        best
    }
}

/// Boundaries (unit index, strength), strongest first chosen, returned in
/// time order.
fn pick_boundaries(novelty: &[f32], units: &[Unit], bar: usize) -> Vec<(usize, f32)> {
    let n = novelty.len();
    let min_gap = MIN_SECTION_BARS * bar;
    let mut peaks: Vec<(usize, f32)> = (1..n)
        .filter(|&i| {
            let lo = i.saturating_sub(bar);
            let hi = (i + bar + 1).min(n);
            novelty[i] >= MIN_PEAK
                && novelty[lo..i].iter().all(|&v| v < novelty[i])
                && novelty[i + 1..hi].iter().all(|&v| v <= novelty[i])
        })
        .map(|i| (snap_to_bar(i, novelty, units), novelty[i]))
        .collect();
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut chosen: Vec<(usize, f32)> = Vec::new();
    for (i, v) in peaks {
        if chosen.len() + 1 >= MAX_SECTIONS {
            break;
        }
        if i < min_gap || n - i < min_gap || chosen.iter().any(|c| c.0.abs_diff(i) < min_gap) {
            continue;
        }
        chosen.push((i, v));
    }
    chosen.sort_by_key(|c| c.0);
    chosen
}

/// A peak a beat off a bar line moves to the bar line when the line is
/// nearly as novel: sections start on bars far more often than not.
fn snap_to_bar(i: usize, novelty: &[f32], units: &[Unit]) -> usize {
    if units[i].downbeat {
        return i;
    }
    [i.wrapping_sub(1), i + 1]
        .into_iter()
        .filter(|&j| j < units.len() && units[j].downbeat && novelty[j] >= 0.7 * novelty[i])
        .max_by(|&a, &b| novelty[a].total_cmp(&novelty[b]))
        .unwrap_or(i)
}

/// A label per span: a span repeats the earlier span it is most like, when
/// that likeness stands out from the track's typical similarity.
fn label(sim: &Similarity, spans: &[(usize, usize)], bar: usize) -> Vec<usize> {
    let n = spans.len();
    let mut pair = vec![vec![0.0f32; n]; n];
    let mut all = Vec::new();
    for p in 0..n {
        for q in p + 1..n {
            let s = sim
                .aligned(spans[p], spans[q], bar)
                .max(sim.aligned(spans[q], spans[p], bar));
            pair[p][q] = s;
            pair[q][p] = s;
            all.push(s);
        }
    }
    all.sort_by(f32::total_cmp);
    let typical = all.get(all.len() / 2).copied().unwrap_or(0.5);
    let threshold = typical + REPEAT_SHARE * (1.0 - typical);
    let mut labels: Vec<usize> = Vec::with_capacity(n);
    let mut next = 0;
    for (p, row) in pair.iter().enumerate() {
        let best = (0..p).max_by(|&a, &b| row[a].total_cmp(&row[b]));
        match best {
            Some(q) if row[q] >= threshold => labels.push(labels[q]),
            _ => {
                labels.push(next);
                next += 1;
            }
        }
    }
    labels
}

/// The function of each span and a confidence.
fn functions(labels: &[usize], energy: &[f32], spans: &[(usize, usize)], total: usize) -> Vec<(SectionFunction, f32)> {
    let n = labels.len();
    let count = |l: usize| labels.iter().filter(|&&x| x == l).count();
    let mut by_label: Vec<(usize, f32, usize)> = Vec::new(); // label, mean energy, count
    for &l in labels {
        if by_label.iter().any(|b| b.0 == l) {
            continue;
        }
        let e: Vec<f32> = (0..n).filter(|&i| labels[i] == l).map(|i| energy[i]).collect();
        by_label.push((l, e.iter().sum::<f32>() / e.len() as f32, e.len()));
    }
    let repeated: Vec<&(usize, f32, usize)> = by_label.iter().filter(|b| b.2 >= 2).collect();
    let chorus = repeated.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|b| b.0);
    let loudest = energy.iter().cloned().fold(f32::MIN, f32::max);
    let quietest = energy.iter().cloned().fold(f32::MAX, f32::min);
    let range = (loudest - quietest).max(1.0);
    (0..n)
        .map(|i| {
            let l = labels[i];
            let rel = (energy[i] - quietest) / range; // 0 quiet … 1 loud
            let short = (spans[i].1 - spans[i].0) as f32 / total.max(1) as f32 <= 0.15;
            if n == 1 {
                return (SectionFunction::Verse, 0.2);
            }
            if i == 0 && Some(l) != chorus && (count(l) == 1 || rel < 0.5) {
                return (
                    SectionFunction::Intro,
                    0.5 + 0.3 * (1.0 - rel) + if short { 0.1 } else { 0.0 },
                );
            }
            if i == n - 1 && Some(l) != chorus && (count(l) == 1 || rel < 0.5) {
                return (
                    SectionFunction::Outro,
                    0.5 + 0.3 * (1.0 - rel) + if short { 0.1 } else { 0.0 },
                );
            }
            if Some(l) == chorus {
                let gap = repeated
                    .iter()
                    .filter(|b| Some(b.0) != chorus)
                    .map(|b| by_label.iter().find(|x| x.0 == l).map_or(0.0, |c| c.1) - b.1)
                    .fold(f32::MAX, f32::min);
                let sure = if gap == f32::MAX {
                    0.5
                } else {
                    (0.5 + gap / 6.0).clamp(0.3, 0.9)
                };
                return (SectionFunction::Chorus, sure);
            }
            if count(l) >= 2 {
                return (SectionFunction::Verse, 0.4 + 0.3 * (1.0 - rel));
            }
            (SectionFunction::Bridge, if i > 0 && i < n - 1 { 0.5 } else { 0.3 })
        })
        // Without any repeat (through-composed music, most film and game
        // scores) the names rest on position and loudness alone.
        .map(|(f, c)| (f, if repeated.is_empty() { c * 0.4 } else { c }))
        .map(|(f, c)| (f, (c * 100.0).round().clamp(0.0, 100.0) / 100.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_run_past_z() {
        assert_eq!(label_name(0), "A");
        assert_eq!(label_name(25), "Z");
        assert_eq!(label_name(26), "AA");
    }

    #[test]
    fn functions_follow_position_repetition_and_energy() {
        // intro A, verse B, chorus C, verse B, chorus C, bridge D, chorus C, outro E
        let labels = [0, 1, 2, 1, 2, 3, 2, 4];
        let energy = [-12.0, -6.0, 0.0, -6.0, 0.0, -4.0, 0.0, -12.0];
        let spans: Vec<(usize, usize)> = (0..8).map(|i| (i * 16, i * 16 + 16)).collect();
        let f: Vec<SectionFunction> = functions(&labels, &energy, &spans, 128)
            .into_iter()
            .map(|x| x.0)
            .collect();
        use SectionFunction::*;
        assert_eq!(f, [Intro, Verse, Chorus, Verse, Chorus, Bridge, Chorus, Outro]);
    }
}

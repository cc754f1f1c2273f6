//! Test audio made on the spot: melodies, noise, degradations and WAV files
//! in every sample format. Nothing here needs the network or the corpus.

use std::path::Path;

/// A small deterministic PRNG (xorshift32), so songs are reproducible.
pub struct Rng(u32);

impl Rng {
    pub fn new(seed: u32) -> Self {
        Rng(seed.wrapping_mul(2_654_435_761).max(1))
    }
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u32() as f32 / u32::MAX as f32) * 2.0 - 1.0
    }
}

/// A generated song: a lead melody with harmonics, a bass line, chords and
/// noise-burst percussion, `secs` long at `rate`, mono.
pub fn song(seed: u32, secs: f32, rate: u32) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let n = (secs * rate as f32) as usize;
    let mut out = vec![0.0f32; n];
    let tempo = 90.0 + (rng.next_u32() % 60) as f32; // bpm
    let beat = 60.0 / tempo;
    let root = 45 + (rng.next_u32() % 12) as i32; // MIDI note of the key
    let scale = [0, 2, 4, 5, 7, 9, 11, 12, 14, 16];
    let midi = |m: i32| 440.0 * 2f32.powf((m - 69) as f32 / 12.0);
    let mut t = 0.0f32;
    // Lead: notes of 1/2 or 1 beat.
    while t < secs {
        let dur = beat * if rng.next_u32() % 2 == 0 { 0.5 } else { 1.0 };
        let note = root + 12 + scale[(rng.next_u32() % scale.len() as u32) as usize];
        add_note(&mut out, rate, t, dur, midi(note), 0.22, 4);
        t += dur;
    }
    // Bass: one note per beat pair; chords every 4 beats.
    let mut t = 0.0f32;
    while t < secs {
        let deg = scale[(rng.next_u32() % 5) as usize];
        add_note(&mut out, rate, t, beat * 2.0, midi(root - 12 + deg), 0.18, 3);
        if (t / beat).round() as i32 % 4 == 0 {
            for k in [0, 4, 7] {
                add_note(&mut out, rate, t, beat * 4.0, midi(root + deg + k), 0.06, 2);
            }
        }
        t += beat * 2.0;
    }
    // Percussion: short noise bursts on beats.
    let mut t = 0.0f32;
    while t < secs {
        let start = (t * rate as f32) as usize;
        let len = (0.05 * rate as f32) as usize;
        for i in 0..len {
            if let Some(o) = out.get_mut(start + i) {
                *o += rng.unit() * 0.12 * (-(i as f32) / (len as f32 / 4.0)).exp();
            }
        }
        t += beat;
    }
    normalise(&mut out, 0.8);
    out
}

fn add_note(out: &mut [f32], rate: u32, start: f32, dur: f32, freq: f32, amp: f32, harmonics: usize) {
    let s0 = (start * rate as f32) as usize;
    let len = (dur * rate as f32) as usize;
    for i in 0..len {
        let Some(o) = out.get_mut(s0 + i) else { break };
        let t = i as f32 / rate as f32;
        let env = (t / 0.01).min(1.0) * (-t * 3.0).exp();
        let mut v = 0.0;
        for h in 1..=harmonics {
            let f = freq * h as f32;
            if f < rate as f32 / 2.0 {
                v += (2.0 * std::f32::consts::PI * f * t).sin() / h as f32;
            }
        }
        *o += amp * env * v;
    }
}

pub fn normalise(x: &mut [f32], peak: f32) {
    let m = x.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    if m > 0.0 {
        for v in x.iter_mut() {
            *v *= peak / m;
        }
    }
}

/// Adds white noise at the given SNR in dB.
pub fn add_noise(x: &[f32], snr_db: f32, seed: u32) -> Vec<f32> {
    let p_sig = x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32;
    let p_noise = p_sig / 10f32.powf(snr_db / 10.0);
    let amp = (3.0 * p_noise).sqrt(); // uniform noise in [-a, a] has power a²/3
    let mut rng = Rng::new(seed);
    let mut y: Vec<f32> = x.iter().map(|v| v + rng.unit() * amp).collect();
    normalise(&mut y, 0.9);
    y
}

/// Changes speed (pitch and tempo together) by linear interpolation.
pub fn change_speed(x: &[f32], speed: f32) -> Vec<f32> {
    let n = (x.len() as f32 / speed) as usize;
    (0..n)
        .map(|i| {
            let p = i as f32 * speed;
            let k = p as usize;
            let f = p - k as f32;
            let a = x.get(k).copied().unwrap_or(0.0);
            let b = x.get(k + 1).copied().unwrap_or(a);
            a + (b - a) * f
        })
        .collect()
}

/// A crude "codec": one-pole low-pass around 3 kHz and 8-bit quantisation.
pub fn degrade(x: &[f32], rate: u32) -> Vec<f32> {
    let a = (-2.0 * std::f32::consts::PI * 3000.0 / rate as f32).exp();
    let mut y = 0.0f32;
    x.iter()
        .map(|&v| {
            y = (1.0 - a) * v + a * y;
            (y * 127.0).round() / 127.0
        })
        .collect()
}

/// Resamples by linear interpolation (to make clips at other rates).
pub fn to_rate(x: &[f32], from: u32, to: u32) -> Vec<f32> {
    change_speed(x, from as f32 / to as f32)
}

pub fn slice(x: &[f32], rate: u32, start_s: f32, len_s: f32) -> Vec<f32> {
    let a = (start_s * rate as f32) as usize;
    let b = ((start_s + len_s) * rate as f32) as usize;
    x[a.min(x.len())..b.min(x.len())].to_vec()
}

/// WAV sample formats.
#[derive(Clone, Copy, Debug)]
pub enum Fmt {
    U8,
    I16,
    I24,
    I32,
    F32,
}

/// Writes interleaved `channels` copies of `x` (each slightly scaled, so a
/// downmix is non-trivial) as a WAV file.
pub fn write_wav(path: &Path, x: &[f32], rate: u32, channels: u16, fmt: Fmt) {
    let (bits, tag): (u16, u16) = match fmt {
        Fmt::U8 => (8, 1),
        Fmt::I16 => (16, 1),
        Fmt::I24 => (24, 1),
        Fmt::I32 => (32, 1),
        Fmt::F32 => (32, 3),
    };
    let bps = bits as usize / 8;
    let data_len = x.len() * channels as usize * bps;
    let mut b = Vec::with_capacity(44 + data_len);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&((36 + data_len) as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * channels as u32 * bps as u32).to_le_bytes());
    b.extend_from_slice(&(channels * bps as u16).to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data_len as u32).to_le_bytes());
    for &v in x {
        for c in 0..channels {
            let s = (v * (1.0 - 0.1 * c as f32)).clamp(-1.0, 1.0);
            match fmt {
                Fmt::U8 => b.push(((s * 127.0) + 128.0) as u8),
                Fmt::I16 => b.extend_from_slice(&((s * 32767.0) as i16).to_le_bytes()),
                Fmt::I24 => b.extend_from_slice(&((s * 8_388_607.0) as i32).to_le_bytes()[..3]),
                Fmt::I32 => b.extend_from_slice(&((s as f64 * 2_147_483_647.0) as i32).to_le_bytes()),
                Fmt::F32 => b.extend_from_slice(&s.to_le_bytes()),
            }
        }
    }
    std::fs::write(path, b).expect("write wav");
}

/// Writes a mono 16-bit WAV.
pub fn wav(path: &Path, x: &[f32], rate: u32) {
    write_wav(path, x, rate, 1, Fmt::I16);
}

/// An interleaved stereo copy of `x` at `gain`, the right channel lightly
/// decorrelated (a 7-sample echo) so the side signal is not empty.
pub fn stereo(x: &[f32], gain: f32) -> Vec<f32> {
    x.iter()
        .enumerate()
        .flat_map(|(i, &s)| {
            let r = if i > 7 { x[i - 7] } else { 0.0 };
            [s * gain, (0.8 * s + 0.2 * r) * gain]
        })
        .collect()
}

// charts.js — why it exists: every picture in the app is drawn here on <canvas>, by hand
// (no chart library): waveform with beat grid and playhead, spectrogram with fingerprint
// peaks, bar charts, the drum step grid, the "why this match" peak overlay, vote
// histograms and a mix's tonal balance against its mastering target. All draw at devicePixelRatio and always paint a frame and axes, so a
// canvas is never blank even when the data is empty.

export const C = {
  bg: "#ffffff", panel: "#f4f6f9", axis: "#4a5160", grid: "#dde2ea", text: "#2b3140",
  data: "#1f5fa8", soft: "#9fb7d6", accent: "#c0510a", beat: "rgba(192,81,10,0.35)",
  dot: "#8a8f99", good: "#1d7a3c",
};

/** A canvas with an accessible name. */
export function makeCanvas(id, label, height) {
  const c = document.createElement("canvas");
  if (id) c.id = id;
  c.setAttribute("role", "img");
  c.setAttribute("aria-label", label);
  c.dataset.height = String(height || 160);
  c.style.height = (height || 160) + "px";
  c.textContent = label;
  return c;
}

/** Sizes the canvas for its CSS box at devicePixelRatio; returns a context in CSS pixels. */
export function prep(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const h = Number(canvas.dataset.height) || canvas.clientHeight || 160;
  const w = Math.max(100, Math.round(canvas.clientWidth || (canvas.parentElement && canvas.parentElement.clientWidth) || 600));
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = C.bg;
  ctx.fillRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "alphabetic";
  return { ctx, w, h };
}

/** Plot area with a frame; returns mappers. */
function area(ctx, w, h, m = { l: 40, r: 8, t: 8, b: 20 }) {
  const box = { x: m.l, y: m.t, w: Math.max(10, w - m.l - m.r), h: Math.max(10, h - m.t - m.b) };
  ctx.fillStyle = C.panel;
  ctx.fillRect(box.x, box.y, box.w, box.h);
  ctx.strokeStyle = C.axis;
  ctx.lineWidth = 1;
  ctx.strokeRect(box.x + 0.5, box.y + 0.5, box.w - 1, box.h - 1);
  return box;
}

function niceStep(span, target) {
  const raw = span / Math.max(1, target);
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1)));
  for (const f of [1, 2, 5, 10]) if (f * p >= raw) return f * p;
  return 10 * p;
}

/** Time ticks along the bottom and value ticks on the left. */
function axes(ctx, box, x0, x1, y0, y1, xUnit, yUnit) {
  ctx.fillStyle = C.text;
  ctx.strokeStyle = C.grid;
  const xs = niceStep(x1 - x0, Math.max(2, box.w / 80));
  ctx.textAlign = "center";
  for (let v = Math.ceil(x0 / xs) * xs; v <= x1 + 1e-9; v += xs) {
    const x = box.x + ((v - x0) / (x1 - x0 || 1)) * box.w;
    ctx.beginPath(); ctx.moveTo(x + 0.5, box.y + box.h); ctx.lineTo(x + 0.5, box.y + box.h + 4); ctx.stroke();
    const label = fmt(v) + xUnit;
    const half = ctx.measureText(label).width / 2;
    const cw = ctx.canvas.width / (window.devicePixelRatio || 1);
    ctx.fillText(label, Math.max(half + 1, Math.min(cw - half - 1, x)), box.y + box.h + 15);
  }
  if (y1 > y0) {
    const ys = niceStep(y1 - y0, Math.max(2, box.h / 30));
    ctx.textAlign = "right";
    for (let v = Math.ceil(y0 / ys) * ys; v <= y1 + 1e-9; v += ys) {
      const y = box.y + box.h - ((v - y0) / (y1 - y0)) * box.h;
      ctx.beginPath(); ctx.moveTo(box.x - 4, y + 0.5); ctx.lineTo(box.x, y + 0.5); ctx.stroke();
      ctx.fillText(fmt(v) + yUnit, box.x - 6, y + 4);
    }
  }
  ctx.textAlign = "left";
}

function fmt(v) {
  const a = Math.abs(v);
  if (a >= 1000) return (v / 1000).toFixed(a % 1000 === 0 ? 0 : 1) + "k";
  return a < 10 && a % 1 !== 0 ? v.toFixed(1) : String(Math.round(v));
}

function message(ctx, box, text) {
  ctx.fillStyle = C.text;
  ctx.textAlign = "center";
  ctx.fillText(text, box.x + box.w / 2, box.y + box.h / 2);
  ctx.textAlign = "left";
}

/**
 * Waveform: peaks 0..255 per bin, beat lines, optional playhead (s) and selection [a,b] (s).
 * Returns the plot box so callers can map clicks to time.
 */
export function waveform(canvas, o) {
  const { ctx, w, h } = prep(canvas);
  const box = area(ctx, w, h, { l: 8, r: 8, t: 6, b: 20 });
  const dur = Number(o.duration_s) > 0 ? Number(o.duration_s) : 1;
  axes(ctx, box, 0, dur, 0, 0, " s", "");
  if (o.selection) {
    const [a, b] = o.selection;
    ctx.fillStyle = "rgba(31,95,168,0.15)";
    ctx.fillRect(box.x + (Math.min(a, b) / dur) * box.w, box.y, (Math.abs(b - a) / dur) * box.w, box.h);
  }
  const peaks = Array.isArray(o.peaks) ? o.peaks : [];
  const mid = box.y + box.h / 2;
  ctx.fillStyle = C.data;
  if (peaks.length) {
    const bw = box.w / peaks.length;
    for (let i = 0; i < peaks.length; i++) {
      const v = Math.max(1, (Number(peaks[i]) || 0) / 255 * (box.h / 2 - 1));
      ctx.fillRect(box.x + i * bw, mid - v, Math.max(1, bw - (bw > 3 ? 1 : 0)), v * 2);
    }
  } else {
    message(ctx, box, o.empty || "no waveform");
  }
  const beats = Array.isArray(o.beats) ? o.beats : [];
  const off = Number(o.beatOffset) || 0;
  if (beats.length && beats.length < box.w / 2) {
    // The beat grid: a thin line per beat over the whole height, every fourth stronger.
    beats.forEach((b, i) => {
      const x = Math.round(box.x + ((Number(b) + off) / dur) * box.w);
      if (x < box.x || x > box.x + box.w) return;
      ctx.fillStyle = i % 4 === 0 ? "rgba(192,81,10,0.75)" : C.beat;
      ctx.fillRect(x, box.y + 1, 1, box.h - 2);
    });
  }
  if (typeof o.playhead === "number" && isFinite(o.playhead)) {
    const x = box.x + Math.min(1, Math.max(0, o.playhead / dur)) * box.w;
    ctx.fillStyle = C.accent;
    ctx.fillRect(x - 1, box.y, 2, box.h);
  }
  return box;
}

function b64bytes(s) {
  try {
    const bin = atob(String(s || "").replace(/-/g, "+").replace(/_/g, "/"));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch { return new Uint8Array(0); }
}

/** Spectrogram of a section: frame-major bytes, bin 0 = 0 Hz; fingerprint peaks as dots. */
export function spectrogram(canvas, s, maxHz = 5000) {
  const { ctx, w, h } = prep(canvas);
  const box = area(ctx, w, h, { l: 44, r: 8, t: 6, b: 20 });
  const start = Number(s && s.start_s) || 0;
  const dur = Number(s && s.duration_s) || 1;
  const frames = Number(s && s.frames) || 0;
  const bins = Number(s && s.bins) || 0;
  const hzBin = Number(s && s.hz_per_bin) || 1;
  const top = Math.min(maxHz, bins * hzBin || maxHz);
  const data = b64bytes(s && s.data);
  if (frames > 0 && bins > 0 && data.length >= frames * bins) {
    const shown = Math.max(1, Math.min(bins, Math.ceil(top / hzBin)));
    const off = document.createElement("canvas");
    off.width = frames; off.height = shown;
    const octx = off.getContext("2d");
    const img = octx.createImageData(frames, shown);
    for (let f = 0; f < frames; f++) {
      for (let b = 0; b < shown; b++) {
        const v = data[f * bins + b];
        const p = ((shown - 1 - b) * frames + f) * 4;
        // dark blue (quiet) → white (loud)
        img.data[p] = Math.min(255, v * 1.2);
        img.data[p + 1] = Math.min(255, v * 1.05);
        img.data[p + 2] = 80 + (v * 175) / 255;
        img.data[p + 3] = 255;
      }
    }
    octx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, box.x, box.y, box.w, box.h);
  } else {
    message(ctx, box, "no spectrogram data");
  }
  axes(ctx, box, start, start + dur, 0, top, " s", "");
  const peaks = s && Array.isArray(s.peaks) ? s.peaks : [];
  ctx.fillStyle = "#ffb000";
  ctx.strokeStyle = "#000000";
  for (const p of peaks) {
    if (!Array.isArray(p)) continue;
    const t = Number(p[0]), hz = Number(p[1]);
    if (!(hz <= top) || t < start || t > start + dur) continue;
    const x = box.x + ((t - start) / dur) * box.w;
    const y = box.y + box.h - (hz / top) * box.h;
    ctx.beginPath(); ctx.arc(x, y, 2.5, 0, Math.PI * 2); ctx.fill(); ctx.stroke();
  }
}

/** Horizontal bars: items [{label, value, text}], value in [min,max]. */
export function bars(canvas, items, min, max) {
  const { ctx, w, h } = prep(canvas);
  const box = area(ctx, w, h, { l: 72, r: 118, t: 6, b: 6 });
  const list = Array.isArray(items) ? items : [];
  if (!list.length) { message(ctx, box, "no data"); return; }
  const rh = box.h / list.length;
  list.forEach((it, i) => {
    const v = Number(it.value);
    const frac = isFinite(v) ? Math.max(0, Math.min(1, (v - min) / (max - min || 1))) : 0;
    const y = box.y + i * rh;
    ctx.fillStyle = C.data;
    ctx.fillRect(box.x, y + rh * 0.2, Math.max(1, frac * box.w), rh * 0.6);
    ctx.fillStyle = C.text;
    ctx.textAlign = "right";
    ctx.fillText(String(it.label), box.x - 6, y + rh / 2 + 4);
    ctx.textAlign = "left";
    ctx.fillText(String(it.text ?? ""), box.x + box.w + 4, y + rh / 2 + 4);
  });
}

/** Drum pattern: rows kick/snare/hihat, one cell per step, darker = stronger. */
export function stepGrid(canvas, pattern) {
  const { ctx, w, h } = prep(canvas);
  const box = area(ctx, w, h, { l: 52, r: 6, t: 6, b: 18 });
  const p = pattern || {};
  const rows = [["kick", p.kick], ["snare", p.snare], ["hi-hat", p.hihat]];
  const steps = Number(p.steps_per_bar) || Math.max(16, ...rows.map((r) => (Array.isArray(r[1]) ? r[1].length : 0)));
  const cw = box.w / steps, rh = box.h / rows.length;
  rows.forEach(([name, vals], r) => {
    ctx.fillStyle = C.text;
    ctx.textAlign = "right";
    ctx.fillText(name, box.x - 6, box.y + r * rh + rh / 2 + 4);
    for (let s = 0; s < steps; s++) {
      const v = Array.isArray(vals) ? Math.max(0, Math.min(1, Number(vals[s]) || 0)) : 0;
      const x = box.x + s * cw, y = box.y + r * rh;
      ctx.fillStyle = s % 4 === 0 ? "#e6eaf0" : C.bg;
      ctx.fillRect(x + 1, y + 1, cw - 2, rh - 2);
      if (v > 0.02) {
        ctx.fillStyle = "rgba(31,95,168," + (0.15 + 0.85 * v).toFixed(3) + ")";
        ctx.fillRect(x + 2, y + 2, cw - 4, rh - 4);
      }
    }
  });
  ctx.textAlign = "center";
  ctx.fillStyle = C.text;
  for (let s = 0; s < steps; s += 4) ctx.fillText(String(s / 4 + 1), box.x + s * cw + cw / 2, box.y + box.h + 13);
  ctx.textAlign = "left";
}

/** "Why this match": track peaks (grey dots), clip peaks (hollow blue), agreeing pairs (orange). */
export function peaksOverlay(canvas, ex, maxHz = 4000) {
  const { ctx, w, h } = prep(canvas);
  const box = area(ctx, w, h, { l: 48, r: 8, t: 8, b: 22 });
  const tp = Array.isArray(ex && ex.track_peaks) ? ex.track_peaks : [];
  const cp = Array.isArray(ex && ex.clip_peaks) ? ex.clip_peaks : [];
  const ag = Array.isArray(ex && ex.agreeing) ? ex.agreeing : [];
  let t0 = Infinity, t1 = -Infinity;
  for (const p of tp.concat(cp)) {
    if (Array.isArray(p) && isFinite(p[0])) { t0 = Math.min(t0, p[0]); t1 = Math.max(t1, p[0]); }
  }
  if (!isFinite(t0)) { t0 = Number(ex && ex.offset_s) || 0; t1 = t0 + (Number(ex && ex.clip_s) || 10); }
  if (t1 - t0 < 0.5) t1 = t0 + 0.5;
  axes(ctx, box, t0, t1, 0, maxHz, " s", "");
  const X = (t) => box.x + ((t - t0) / (t1 - t0)) * box.w;
  const Y = (hz) => box.y + box.h - (Math.min(maxHz, Math.max(0, hz)) / maxHz) * box.h;
  ctx.fillStyle = C.dot;
  for (const p of tp) if (Array.isArray(p)) ctx.fillRect(X(p[0]) - 1.5, Y(p[1]) - 1.5, 3, 3);
  ctx.strokeStyle = C.accent;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  for (const a of ag) {
    if (!Array.isArray(a) || a.length < 4) continue;
    ctx.moveTo(X(a[0]), Y(a[1])); ctx.lineTo(X(a[2]), Y(a[3]));
  }
  ctx.stroke();
  ctx.strokeStyle = C.data;
  ctx.lineWidth = 1.2;
  for (const p of cp) {
    if (!Array.isArray(p)) continue;
    ctx.beginPath(); ctx.arc(X(p[0]), Y(p[1]), 3.5, 0, Math.PI * 2); ctx.stroke();
  }
  ctx.lineWidth = 1;
  ctx.fillStyle = C.text;
  ctx.save(); ctx.translate(11, box.y + box.h / 2); ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center"; ctx.fillText("Hz", 0, 0); ctx.restore();
  if (!tp.length && !cp.length) message(ctx, box, "no peaks in the answer");
}

/** Vote histograms of the candidates, one row each, all on one scale (so the winner's lead shows); the best (first) highlighted. */
export function histogram(canvas, candidates) {
  const { ctx, w, h } = prep(canvas);
  const list = Array.isArray(candidates) ? candidates.slice(0, 6) : [];
  const box = area(ctx, w, h, { l: 8, r: 8, t: 6, b: 6 });
  if (!list.length) { message(ctx, box, "no candidates"); return; }
  const rh = box.h / list.length;
  const countsOf = (c) => (c && c.histogram && Array.isArray(c.histogram.counts) ? c.histogram.counts : []);
  let peak = 1;
  for (const c of list) for (const v of countsOf(c)) peak = Math.max(peak, Number(v) || 0);
  list.forEach((c, i) => {
    const counts = countsOf(c);
    const y = box.y + i * rh;
    if (i > 0) { ctx.strokeStyle = C.grid; ctx.beginPath(); ctx.moveTo(box.x, y + 0.5); ctx.lineTo(box.x + box.w, y + 0.5); ctx.stroke(); }
    ctx.fillStyle = i === 0 ? C.accent : C.soft;
    const bw = box.w / Math.max(1, counts.length);
    counts.forEach((v, j) => {
      const bh = ((Number(v) || 0) / peak) * (rh - 18);
      if (bh > 0) ctx.fillRect(box.x + j * bw, y + rh - 2 - bh, Math.max(1, bw - (bw > 3 ? 1 : 0)), bh);
    });
    ctx.fillStyle = C.text;
    const title = String((c && c.title) || "#" + (c && c.id));
    ctx.fillText((i === 0 ? "★ " : "") + title.slice(0, 60) + " — " + (Number(c && c.votes) || 0) + " votes", box.x + 4, y + 13);
  });
}

/**
 * Tonal balance of a mix against its target, per third-octave band of comparison.bands
 * ({low_hz, high_hz, mix_db, target{median,p10,p90}, meaningful}), on a log-frequency axis
 * from 20 Hz to 20 kHz: the target's 10th–90th percentile range shaded, its median dashed,
 * the mix as a solid line; bands with too little energy to judge are drawn faded.
 */
export function balance(canvas, bands) {
  const { ctx, w, h } = prep(canvas);
  const box = area(ctx, w, h, { l: 48, r: 12, t: 8, b: 22 });
  const fin = (v) => (typeof v === "number" && isFinite(v) ? v : null);
  const list = (Array.isArray(bands) ? bands : []).map((x) => {
    const b = x || {}, t = b.target || {};
    const lo = Number(b.low_hz), hi = Number(b.high_hz);
    return { lo, hi, hz: Math.sqrt(lo * hi), mix: fin(b.mix_db), med: fin(t.median), p10: fin(t.p10), p90: fin(t.p90), on: !!b.meaningful };
  }).filter((b) => b.hz > 0 && isFinite(b.hz));
  let y0 = Infinity, y1 = -Infinity;
  for (const judged of [true, false]) {
    for (const b of list) {
      if (b.on !== judged) continue;
      for (const v of [b.mix, b.p10, b.p90]) if (v !== null) { y0 = Math.min(y0, v); y1 = Math.max(y1, v); }
    }
    if (isFinite(y0)) break;
  }
  if (!isFinite(y0)) { y0 = -30; y1 = 0; }
  y0 = Math.floor(y0 - 3); y1 = Math.ceil(y1 + 3);
  const L0 = Math.log10(20), L1 = Math.log10(20000);
  const X = (hz) => box.x + ((Math.log10(Math.min(20000, Math.max(20, hz))) - L0) / (L1 - L0)) * box.w;
  const Y = (db) => box.y + box.h - ((db - y0) / (y1 - y0)) * box.h;
  ctx.strokeStyle = C.grid;
  ctx.fillStyle = C.text;
  const cw = ctx.canvas.width / (window.devicePixelRatio || 1);
  ctx.textAlign = "center";
  for (const hz of [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]) {
    const x = Math.round(X(hz)) + 0.5;
    ctx.beginPath(); ctx.moveTo(x, box.y + 1); ctx.lineTo(x, box.y + box.h + 4); ctx.stroke();
    const label = hz === 20000 ? "20 kHz" : fmt(hz);
    const half = ctx.measureText(label).width / 2;
    ctx.fillText(label, Math.max(half + 1, Math.min(cw - half - 1, x)), box.y + box.h + 15);
  }
  ctx.textAlign = "right";
  const ys = niceStep(y1 - y0, Math.max(2, box.h / 30));
  for (let v = Math.ceil(y0 / ys) * ys; v <= y1 + 1e-9; v += ys) {
    const y = Math.round(Y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(box.x - 4, y); ctx.lineTo(box.x + box.w - 1, y); ctx.stroke();
    ctx.fillText(fmt(v) + " dB", box.x - 6, y + 4);
  }
  ctx.textAlign = "left";
  if (!list.length) { message(ctx, box, "no bands in the answer"); return; }
  ctx.save();
  ctx.beginPath(); ctx.rect(box.x + 1, box.y + 1, box.w - 2, box.h - 2); ctx.clip();
  ctx.fillStyle = "rgba(31,95,168,0.22)";
  for (const b of list) {
    if (b.p10 === null || b.p90 === null) continue;
    ctx.globalAlpha = b.on ? 1 : 0.35;
    ctx.fillRect(X(b.lo), Y(b.p90), Math.max(1, X(b.hi) - X(b.lo)), Math.max(1, Y(b.p10) - Y(b.p90)));
  }
  const line = (key, color, dash) => {
    ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.setLineDash(dash);
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1], b = list[i];
      if (a[key] === null || b[key] === null) continue;
      ctx.globalAlpha = a.on && b.on ? 1 : 0.3;
      ctx.beginPath(); ctx.moveTo(X(a.hz), Y(a[key])); ctx.lineTo(X(b.hz), Y(b[key])); ctx.stroke();
    }
    ctx.setLineDash([]);
  };
  line("med", C.data, [6, 4]);
  line("mix", C.accent, []);
  ctx.fillStyle = C.accent;
  for (const b of list) {
    if (b.mix === null) continue;
    ctx.globalAlpha = b.on ? 1 : 0.3;
    ctx.beginPath(); ctx.arc(X(b.hz), Y(b.mix), 2.5, 0, Math.PI * 2); ctx.fill();
  }
  ctx.restore();
  ctx.lineWidth = 1;
}

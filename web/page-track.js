// page-track.js — why it exists: the Track page (#/track/<id>). Metadata, playback with a
// seekable waveform (beat grid, playhead, shift-drag to pick a section), the spectrogram of
// any section with the fingerprint peaks, loudness, the five bands, tempo/key/metre, the
// drum pattern with its MIDI download, the sections (a bar under the waveform that seeks,
// and a list with each section's drum pattern, preview, MIDI and "similar patterns"),
// similar tracks, duplicates and the chromaprint.
// The analysis may still be pending (409): the page says so and retries every 2 s.

import { api, el, fill, str, num, duration, date, describe, withKey, keyName, download, searchPatterns, ApiError } from "./api.js";
import { makeCanvas, waveform, spectrogram, bars, stepGrid } from "./charts.js";

const BANDS = [["low", "Low"], ["low_mid", "Low-mid"], ["mid", "Mid"], ["high_mid", "High-mid"], ["high", "High"]];

export async function render(main, params, ctx) {
  const raw = str(params[0]);
  const id = /^\d+$/.test(raw) ? Number(raw) : NaN;
  document.title = "Track " + raw + " — Sonica";
  const base = "/tracks/" + encodeURIComponent(raw);
  let timers = [];
  let dead = false;
  const later = (f, ms) => { const t = setTimeout(() => { if (!dead) f(); }, ms); timers.push(t); };

  let t;
  try {
    if (!(id > 0)) throw new ApiError(404, "not_found", "no such track");
    t = await api(base);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 400)) {
      document.title = "No track " + raw + " — Sonica";
      main.append(el("h1", {}, "No track " + raw), el("p", {}, "There is no track " + raw + " in the library. ", el("a", { href: "#/library" }, "Back to the library")));
    } else {
      main.append(el("h1", {}, "Track " + raw), el("p", { class: "error" }, "Could not load the track: " + describe(e)));
    }
    ctx.ready();
    return;
  }
  t = t || {};
  const title = str(t.title) || str(t.path) || "Track " + id;
  document.title = title + " — Sonica";

  // ---------- metadata ----------
  const meta = el("dl", { class: "kv" });
  const add = (k, v) => { if (v !== undefined && v !== null && v !== "") meta.append(el("dt", {}, k), el("dd", {}, v)); };
  add("Artist", str(t.artist)); add("Album", str(t.album)); add("Genre", str(t.genre));
  add("Length", typeof t.duration_s === "number" ? duration(t.duration_s) + " (" + t.duration_s.toFixed(1) + " s)" : "");
  add("Status", str(t.status)); add("Analysis", str(t.analysis)); add("Added", date(t.created_at));
  add("File", str(t.path)); add("SHA-256", t.sha256 ? el("code", { class: "wrap" }, str(t.sha256)) : "");
  if (t.error) add("Error", str(t.error.message) + " (" + str(t.error.code) + ")");

  // ---------- playback + waveform ----------
  const player = el("audio", { id: "player", controls: true, preload: "metadata", src: withKey(base + "/audio") });
  const wave = makeCanvas("waveform", "Waveform of " + title + " with the beat grid; click to seek, shift-drag to pick a section for the spectrogram", 120);
  const waveState = { peaks: [], duration_s: Number(t.duration_s) || 0, beats: [], beatOffset: 0, selection: null, box: null, empty: "loading the waveform…" };
  const drawWave = () => {
    waveState.playhead = player.currentTime || 0;
    waveState.box = waveform(wave, waveState);
    placeSections();
  };
  const timeAt = (ev) => {
    const r = wave.getBoundingClientRect();
    const box = waveState.box || { x: 0, w: r.width };
    const frac = Math.max(0, Math.min(1, (ev.clientX - r.left - box.x) / (box.w || 1)));
    return frac * (waveState.duration_s || player.duration || 0);
  };
  let drag = null;
  wave.addEventListener("pointerdown", (ev) => {
    if (ev.shiftKey) { drag = timeAt(ev); waveState.selection = [drag, drag]; wave.setPointerCapture?.(ev.pointerId); ev.preventDefault(); }
  });
  wave.addEventListener("pointermove", (ev) => { if (drag !== null) { waveState.selection = [drag, timeAt(ev)]; drawWave(); } });
  wave.addEventListener("pointerup", (ev) => {
    const at = timeAt(ev);
    if (drag !== null) {
      const a = Math.min(drag, at), b = Math.max(drag, at);
      drag = null;
      if (b - a > 0.2) {
        specStart.value = a.toFixed(1);
        specDur.value = Math.min(30, b - a).toFixed(1);
        loadSpec();
      }
      drawWave();
      return;
    }
    if (isFinite(at)) { try { player.currentTime = at; } catch { /* not seekable yet */ } drawWave(); }
  });
  player.addEventListener("timeupdate", drawWave);
  player.addEventListener("loadedmetadata", () => { if (!waveState.duration_s && isFinite(player.duration)) { waveState.duration_s = player.duration; drawWave(); } });
  const waveMsg = el("p", { class: "muted small", id: "waveform-message" }, "Click the waveform or a section below it to seek; shift-drag to pick a stretch for the spectrogram.");

  async function loadWave() {
    const bins = Math.max(16, Math.min(4096, Math.round(wave.clientWidth || 800)));
    try {
      const w = await api(base + "/waveform?bins=" + bins);
      if (dead) return;
      waveState.peaks = Array.isArray(w && w.peaks) ? w.peaks : [];
      if (Number(w && w.duration_s) > 0) waveState.duration_s = Number(w.duration_s);
      waveState.empty = "no waveform";
    } catch (e) {
      if (dead) return;
      waveState.empty = "no waveform yet";
      waveMsg.textContent = "Waveform: " + describe(e);
      if (e instanceof ApiError && e.status === 409) later(loadWave, 2000);
    }
    drawWave();
  }

  // ---------- spectrogram ----------
  const spec = makeCanvas("spectrogram", "Spectrogram of a section of " + title + " with the fingerprint peaks as dots", 220);
  const specStart = el("input", { id: "spec-start", type: "number", min: "0", step: "0.5", value: "0" });
  const specDur = el("input", { id: "spec-duration", type: "number", min: "0.5", max: "30", step: "0.5", value: "10" });
  const specGo = el("button", { type: "button", id: "spec-go" }, "Show section");
  const specMsg = el("p", { class: "muted small", id: "spec-message" });
  let lastSpec = null;
  async function loadSpec() {
    const s = Math.max(0, Number(specStart.value) || 0);
    const d = Math.max(0.5, Math.min(30, Number(specDur.value) || 10));
    specMsg.textContent = "Loading " + s.toFixed(1) + "–" + (s + d).toFixed(1) + " s…";
    try {
      const sp = await api(base + "/spectrogram?start_s=" + s + "&duration_s=" + d);
      if (dead) return;
      lastSpec = sp;
      spectrogram(spec, sp);
      const n = Array.isArray(sp && sp.peaks) ? sp.peaks.length : 0;
      specMsg.textContent = num(Number(sp && sp.start_s)) + "–" + num(Number(sp && sp.start_s) + Number(sp && sp.duration_s)) + " s: " + n + " fingerprint peaks (yellow dots).";
    } catch (e) {
      if (dead) return;
      spectrogram(spec, { start_s: s, duration_s: d });
      specMsg.textContent = "Spectrogram: " + describe(e);
      if (e instanceof ApiError && e.status === 409) later(loadSpec, 2000);
    }
  }
  specGo.addEventListener("click", loadSpec);

  // ---------- sections: a bar that seeks, a list with each section's drum pattern ----------
  const secBar = el("div", { id: "sections-bar", class: "sections-bar", role: "group", "aria-label": "Sections of the track: choose one to play from its start" });
  const secList = el("ol", { id: "sections-list", class: "sections" });
  const secMsg = el("p", { id: "sections-message", class: "muted" }, "Waiting for the analysis…");
  const secSection = el("section", { id: "sections", "aria-labelledby": "sections-h" }, el("h2", { id: "sections-h" }, "Sections"), secMsg, secList);
  // One sound at a time: a preview that starts pauses the player and the other previews.
  secSection.addEventListener("play", (ev) => {
    for (const a of secSection.querySelectorAll("audio")) if (a !== ev.target) a.pause();
    player.pause();
  }, true);
  player.addEventListener("play", () => { for (const a of secSection.querySelectorAll("audio")) a.pause(); });
  let sections = [], grids = [];
  function placeSections() {
    const dur = waveState.duration_s || player.duration || Math.max(1, ...sections.map((s) => Number(s.end_s) || 0));
    const now = player.currentTime || 0;
    secBar.querySelectorAll("button.sec-block").forEach((b, i) => {
      const s = sections[i] || {};
      const a = Math.max(0, Number(s.start_s) || 0), e = Math.min(dur, Number(s.end_s) || 0);
      b.style.left = (100 * a / dur).toFixed(3) + "%";
      b.style.width = (100 * Math.max(0, e - a) / dur).toFixed(3) + "%";
      if (now >= a && now < e) b.setAttribute("aria-current", "true"); else b.removeAttribute("aria-current");
    });
  }
  function showSections(list) {
    sections = list;
    grids = [];
    fill(secBar, list.map((s) => el("button", {
      type: "button", class: "sec-block " + hue(s.label), title: secName(s) + " (" + span(s) + ")",
      "aria-label": secName(s) + ", " + span(s) + ": play from here",
      onclick: () => { try { player.currentTime = Number(s.start_s) || 0; } catch { /* not seekable yet */ } drawWave(); },
    }, secName(s))));
    secMsg.textContent = list.length ? list.length + " section" + (list.length === 1 ? "" : "s") + "; repeats share a letter and a colour." : "No sections found.";
    fill(secList, list.map(sectionItem));
    placeSections();
  }
  function sectionItem(s) {
    const name = secName(s);
    const p = s.pattern && typeof s.pattern === "object" ? s.pattern : null;
    const conf = typeof s.function_confidence === "number" ? " (confidence " + s.function_confidence.toFixed(2) + ")" : "";
    const li = el("li", { class: "section-item", dataset: { index: str(s.index) } },
      el("h3", {}, el("span", { class: "swatch " + hue(s.label), "aria-hidden": "true" }), "Section " + str(s.label) + " · " + str(s.function) + conf),
      el("p", { class: "small" }, span(s) + (typeof s.energy_db === "number" ? " · " + num(s.energy_db) + " dB" : "")));
    if (!p || !p.id) { li.append(el("p", { class: "muted small" }, "No steady drum pattern in this section.")); return li; }
    const pid = encodeURIComponent(p.id);
    const g = p.grid_text || {};
    const grid = makeCanvas("pattern-grid-" + pid, "Drum pattern of section " + name + ": kick " + str(g.kick) + ", snare " + str(g.snare) + ", hi-hat " + str(g.hihat), 80);
    grid.classList.add("pattern-grid");
    grids.push([grid, Object.assign({ steps_per_bar: p.steps_per_bar }, p.grid)]);
    const msg = el("p", { class: "small", role: "status" });
    const out = el("div", { class: "pattern-results", id: "pattern-results-" + pid });
    const find = el("button", { type: "button", class: "similar-patterns quiet", dataset: { patternId: str(p.id) } }, "Similar patterns", el("span", { class: "sr-only" }, " to section " + name));
    find.addEventListener("click", () => similarPatterns(p.id, name, out, find));
    li.append(grid,
      el("p", { class: "small" }, num(p.tempo_bpm) + " BPM · " + str(p.key, "key not clear") + (p.time_signature ? " · " + p.time_signature : "") + " · quality " + num(p.quality, 2)),
      el("div", { class: "row" }, preview(p.id), midiLink(p.id, name, msg), find), msg, out);
    return li;
  }
  function midiLink(pid, name, msg) {
    const path = "/patterns/" + encodeURIComponent(pid) + "/midi";
    const file = "pattern-" + pid + ".mid";
    return el("a", { class: "pattern-midi", href: withKey(path), download: file, onclick: async (ev) => {
      ev.preventDefault();
      msg.className = "small";
      msg.textContent = "Downloading the MIDI…";
      try { await download(path, file); msg.textContent = "MIDI downloaded."; }
      catch (e) { msg.className = "small error"; msg.textContent = "MIDI: " + describe(e); }
    } }, "Download MIDI", el("span", { class: "sr-only" }, " of section " + name));
  }
  async function similarPatterns(pid, name, out, btn) {
    btn.disabled = true;
    out.dataset.state = "loading";
    fill(out, el("p", { class: "muted", role: "status" }, "Looking for patterns like " + name + "…"));
    try {
      const r = await searchPatterns(pid);
      if (dead) return;
      const list = Array.isArray(r && r.results) ? r.results : [];
      const qi = (r && r.query_info) || {};
      const note = el("p", { class: "small", role: "status" });
      fill(out, el("h4", {}, "Patterns like " + name),
        el("p", { class: "muted small" }, str(r && r.total_matches, "0") + " matching sections" + (typeof qi.patterns_indexed === "number" ? " among " + qi.patterns_indexed + " patterns" : "") + "."),
        list.length ? el("ol", { class: "results pattern-matches" }, list.map((t) => matchTrack(t, note))) : el("p", { class: "muted" }, "No similar patterns."), note);
      out.dataset.state = "done";
    } catch (e) {
      if (dead) return;
      fill(out, el("p", { class: "error" }, "Similar patterns: " + describe(e)));
      out.dataset.state = "error";
    }
    btn.disabled = false;
  }

  function matchTrack(t, note) {
    const title = str(t.title) || "track #" + str(t.track_id);
    return el("li", { class: "result", dataset: { trackId: str(t.track_id) } },
      el("a", { class: "result-title", href: "#/track/" + encodeURIComponent(t.track_id) }, title),
      t.artist ? " — " + str(t.artist) : "", t.genre ? " (" + str(t.genre) + ")" : "", " · best similarity " + num(t.best_score, 2),
      el("ul", { class: "pattern-sections" }, (Array.isArray(t.sections) ? t.sections : []).map((m) => el("li", { dataset: { patternId: str(m.pattern_id) } },
        secName(m) + ", " + span(m) + ": similarity " + num(m.similarity_score, 2) + ", " + num(m.tempo_bpm) + " BPM" + (m.key ? ", " + str(m.key) : ""),
        el("div", { class: "row" }, preview(m.pattern_id), m.midi_available === false
          ? el("span", { class: "muted small" }, "MIDI is not open to this key's tier.")
          : midiLink(m.pattern_id, secName(m) + " of " + title, note))))));
  }

  // ---------- analysis ----------
  const anState = el("p", { id: "analysis-state", class: "muted", "aria-live": "polite" }, "Loading the analysis…");
  const tempoKey = el("dl", { id: "tempo-key", class: "kv" });
  const loud = el("dl", { id: "loudness", class: "kv" });
  const bandsCanvas = makeCanvas("bands", "Energy of the five frequency bands", 150);
  const drum = makeCanvas("drum-canvas", "Drum pattern of one bar: kick, snare and hi-hat per step", 110);
  const midi = el("a", { id: "midi-link", href: withKey(base + "/pattern.mid"), download: "track-" + id + "-pattern.mid" }, "Download the drum pattern as MIDI");
  let analysis = null;
  const drawAnalysis = () => {
    const a = normAnalysis(analysis);
    const b = a.bands;
    bars(bandsCanvas, BANDS.map(([k, label]) => {
      const band = b[k] || {};
      return { label, value: band.energy_db, text: num(band.energy_db) + " dB · " + (typeof band.energy_share === "number" ? Math.round(band.energy_share * 100) + "%" : "–") };
    }), -90, 0);
    stepGrid(drum, a.pattern);
    for (const [c, p] of grids) stepGrid(c, p);
  };
  async function loadAnalysis() {
    try {
      analysis = await api(base + "/analysis");
      if (dead) return;
    } catch (e) {
      if (dead) return;
      if (e instanceof ApiError && e.status === 409) {
        anState.textContent = "analysis pending: " + (e.code === "analysis_pending" ? "the music analysis has not been stored yet" : describe(e)) + "; retrying every 2 s.";
        anState.dataset.state = "pending";
        later(loadAnalysis, 2000);
      } else {
        anState.textContent = "No analysis: " + describe(e);
        anState.dataset.state = "error";
        secMsg.textContent = "No sections: there is no analysis.";
        loadSimilar();
      }
      drawAnalysis();
      return;
    }
    const a = normAnalysis(analysis);
    anState.textContent = "Analysed " + num(a.start_s) + "–" + num(a.end_s) + " s" + (a.sample_rate ? " at " + a.sample_rate + " Hz." : ".");
    anState.dataset.state = "done";
    fill(tempoKey,
      el("dt", {}, "Tempo"), el("dd", {}, num(a.bpm) + " BPM" + (typeof a.tempoConf === "number" ? " (confidence " + a.tempoConf.toFixed(2) + ")" : "")),
      el("dt", {}, "Key"), el("dd", {}, a.key + (typeof a.keyStrength === "number" ? " (strength " + a.keyStrength.toFixed(2) + ")" : "")),
      el("dt", {}, "Time signature"), el("dd", {}, a.timeSig || "not clear"));
    fill(loud,
      el("dt", {}, "Integrated"), el("dd", {}, num(a.lufs) + " LUFS"),
      el("dt", {}, "Loudness range"), el("dd", {}, num(a.lra) + " LU"),
      el("dt", {}, "True peak"), el("dd", {}, num(a.truePeak) + " dBTP"),
      el("dt", {}, "Sample peak"), el("dd", {}, num(a.samplePeak) + " dBFS"));
    if (typeof a.crest === "number") loud.append(el("dt", {}, "Crest factor"), el("dd", {}, num(a.crest) + " dB"));
    if (typeof a.width === "number") loud.append(el("dt", {}, "Stereo width"), el("dd", {}, num(a.width, 2)));
    waveState.beats = a.beats;
    waveState.beatOffset = a.beats === a.rawBeats ? Number(a.start_s) || 0 : 0;
    showSections(a.sections);
    drawWave();
    drawAnalysis();
    loadSimilar();
  }

  // ---------- similar, duplicates, chromaprint ----------
  const similar = el("section", { id: "similar", "aria-labelledby": "sim-h" }, el("h2", { id: "sim-h" }, "Similar tracks"), el("p", { class: "muted" }, "Waiting for the analysis…"));
  async function loadSimilar() {
    try {
      const s = await api(base + "/similar");
      if (dead) return;
      const list = Array.isArray(s && s.results) ? s.results : [];
      fill(similar, el("h2", { id: "sim-h" }, "Similar tracks"), list.length
        ? el("ol", {}, list.map((h) => el("li", {}, el("a", { href: "#/track/" + encodeURIComponent(h.id) }, str(h.title) || "#" + h.id),
          h.artist ? " — " + str(h.artist) : "", typeof h.similarity === "number" ? " (similarity " + h.similarity.toFixed(3) + ")" : "")))
        : el("p", { class: "muted" }, "No similar tracks."));
    } catch (e) {
      if (dead) return;
      fill(similar, el("h2", { id: "sim-h" }, "Similar tracks"), el("p", { class: "muted" }, describe(e)));
    }
  }
  const dups = el("section", { id: "duplicates", "aria-labelledby": "dups-h" }, el("h2", { id: "dups-h" }, "Duplicates"));
  async function loadDups() {
    const items = [];
    if (t.duplicate_of) items.push(linkLine(t.id, t.duplicate_of));
    for (const d of Array.isArray(t.duplicates) ? t.duplicates : []) items.push(linkLine(t.id, d));
    try {
      const d = await api("/duplicates");
      for (const g of (d && Array.isArray(d.groups) ? d.groups : [])) {
        if (!Array.isArray(g.tracks) || !g.tracks.includes(id)) continue;
        for (const l of Array.isArray(g.links) ? g.links : []) {
          if (l.track === id && t.duplicate_of && t.duplicate_of.of === l.of) continue;
          items.push(linkLine(l.track, l));
        }
      }
    } catch (e) {
      items.push(el("li", { class: "muted" }, "Duplicate groups: " + describe(e)));
    }
    if (dead) return;
    fill(dups, el("h2", { id: "dups-h" }, "Duplicates"), items.length ? el("ul", {}, items) : el("p", { class: "muted" }, "No known duplicates."));
  }
  const cp = str(t.chromaprint);
  const copy = el("button", { type: "button", id: "copy-chromaprint", class: "quiet" }, "Copy");
  copy.addEventListener("click", async () => {
    try { await navigator.clipboard.writeText(cp); ctx.notice("Chromaprint copied."); }
    catch { ctx.notice("Copying is not allowed here; select the text instead."); }
  });
  const chroma = el("section", { id: "chromaprint", "aria-labelledby": "cp-h" }, el("h2", { id: "cp-h" }, "Chromaprint"),
    cp ? [el("code", { class: "wrap chromaprint" }, cp), el("div", {}, copy)] : el("p", { class: "muted" }, "No chromaprint for this track (yet)."));

  main.append(
    el("h1", {}, title), meta,
    el("section", { "aria-labelledby": "play-h" }, el("h2", { id: "play-h" }, "Listen"), player, wave, secBar, waveMsg),
    el("section", { "aria-labelledby": "spec-h" }, el("h2", { id: "spec-h" }, "Spectrogram"),
      el("div", { class: "row" }, el("label", { for: "spec-start" }, "Start (s)"), specStart,
        el("label", { for: "spec-duration" }, "Length (s)"), specDur, specGo), spec, specMsg),
    el("section", { "aria-labelledby": "an-h" }, el("h2", { id: "an-h" }, "Analysis"), anState,
      el("div", { class: "cols" },
        el("div", {}, el("h3", {}, "Tempo and key"), tempoKey),
        el("div", {}, el("h3", {}, "Loudness"), loud)),
      el("h3", {}, "Frequency bands"), bandsCanvas,
      el("div", { id: "drum-grid" }, el("h3", {}, "Drum pattern"), drum, el("p", {}, midi))),
    secSection, similar, dups, chroma);

  drawWave();
  spectrogram(spec, { start_s: 0, duration_s: 10 });
  drawAnalysis();
  const onResize = () => { drawWave(); drawAnalysis(); if (lastSpec) spectrogram(spec, lastSpec); };
  window.addEventListener("resize", onResize);
  await Promise.all([loadWave(), loadSpec(), loadAnalysis(), loadDups()]);
  ctx.ready();
  return () => {
    dead = true;
    timers.forEach(clearTimeout);
    timers = [];
    window.removeEventListener("resize", onResize);
    try { player.pause(); player.removeAttribute("src"); player.load(); } catch { /* gone */ }
    for (const a of secSection.querySelectorAll("audio")) a.pause();
  };
}

/**
 * The analysis as the page reads it. GET /tracks/{id}/analysis answers the flat summary of
 * `sonica analyze --json` (tempo_bpm, key "A minor", loudness_lufs, drums.pattern, ...);
 * the stored record's nested shape (tempo.bpm, key.key, loudness.*, rhythm.pattern) is
 * read too. Missing fields stay undefined; nothing here throws.
 */
export function normAnalysis(x) {
  const a = x && typeof x === "object" ? x : {};
  const o = (v) => (v && typeof v === "object" ? v : {});
  const n = (...vs) => vs.find((v) => typeof v === "number" && isFinite(v));
  const tempo = o(a.tempo), loud = o(a.loudness), drums = o(a.drums), rhythm = o(a.rhythm);
  const ts = a.time_signature !== undefined ? a.time_signature : tempo.time_signature;
  const rawBeats = Array.isArray(tempo.beats) ? tempo.beats : null;
  const flatBeats = Array.isArray(a.beats) ? a.beats : Array.isArray(a.beat_times) ? a.beat_times : null;
  const start = n(a.start_s) || 0;
  const bpm = n(a.tempo_bpm, tempo.bpm);
  let beats = rawBeats || flatBeats;
  if (!beats && bpm > 0 && n(a.end_s) > start) {
    // No beat times in the answer: an even grid at the tempo, from the analysed start.
    beats = [];
    for (let t = start; t < a.end_s && beats.length < 4000; t += 60 / bpm) beats.push(t);
  }
  const pattern = drums.pattern ? Object.assign({ steps_per_bar: drums.steps_per_bar }, drums.pattern) : rhythm.pattern;
  return {
    start_s: start, end_s: n(a.end_s), sample_rate: n(a.sample_rate),
    bpm, tempoConf: n(a.tempo_confidence, tempo.confidence),
    timeSig: typeof ts === "string" ? ts : ts && ts.numerator ? ts.numerator + "/" + (ts.denominator || 4) : "",
    key: typeof a.key === "string" ? a.key : keyName(a.key),
    keyStrength: n(a.key_strength, o(a.key).strength),
    lufs: n(a.loudness_lufs, loud.integrated_lufs), lra: n(a.loudness_range_lu, loud.range_lu),
    truePeak: n(a.true_peak_dbtp, loud.true_peak_dbtp), samplePeak: n(a.sample_peak_dbfs, loud.sample_peak_dbfs),
    crest: n(o(a.dynamics).crest_factor_db), width: n(o(a.stereo).width),
    bands: o(a.bands), pattern: pattern || null, beats: beats || [], rawBeats,
    sections: Array.isArray(a.sections) ? a.sections.filter((s) => s && typeof s === "object") : [],
  };
}

/** "B · chorus" */
function secName(s) {
  return str(s.label, "?") + " · " + str(s.function, "section");
}

/** "0:32–1:04" of a section or a match (file seconds). */
function span(s) {
  return duration(Math.round(Number(s.start_s))) + "–" + duration(Math.round(Number(s.end_s)));
}

/** The colour class of a section label: "A" → c0, "B" → c1 …, repeats share it. */
function hue(label) {
  let n = 0;
  for (const ch of str(label)) n = n * 26 + Math.max(0, ch.charCodeAt(0) - 64);
  return "c" + (Math.max(0, n - 1) % 8);
}

/** An <audio> of a pattern's ≤ 15 s preview (the key as ?key=, as for the player). */
function preview(pid) {
  return el("audio", { class: "pattern-preview", controls: true, preload: "none", src: withKey("/patterns/" + encodeURIComponent(pid) + "/preview") });
}

function linkLine(track, d) {
  return el("li", {}, el("a", { href: "#/track/" + encodeURIComponent(track) }, "track #" + str(track)),
    " is " + str(d && d.kind, "a duplicate").replace(/_/g, " ") + " of ",
    el("a", { href: "#/track/" + encodeURIComponent(d && d.of) }, "track #" + str(d && d.of)),
    d && d.of_path ? " (" + str(d.of_path) + ")" : "",
    typeof (d && d.overlap_s) === "number" ? ", " + d.overlap_s.toFixed(1) + " s shared" : "",
    typeof (d && d.score) === "number" ? ", score " + d.score.toFixed(2) : "");
}

// page-recognize.js — why it exists: the Recognize page (#/recognize). Live microphone
// recognition (AudioWorklet at the device's rate → 16-bit mono PCM chunks → /ws/stream,
// answers shown the moment they arrive and whenever they change), with a level meter and
// the seconds streamed; and recognition of a dropped file (POST /recognize?explain=true),
// whose explanation is kept for the "Why this match" page.

import { api, el, fill, str, num, describe, showError, wsUrl, ApiError } from "./api.js";

export const EXPLAIN_KEY = "sonica.lastRecognition";

export async function render(main, _params, ctx) {
  document.title = "Recognize — Sonica";
  const start = el("button", { type: "button", id: "mic-start" }, "Start listening");
  const stop = el("button", { type: "button", id: "mic-stop", disabled: true }, "Stop");
  const level = el("meter", { id: "mic-level", min: "0", max: "1", value: "0", low: "0.05", high: "0.9", optimum: "0.5" });
  const elapsed = el("span", { id: "mic-elapsed" }, "0.0 s");
  const micState = el("p", { class: "muted", id: "mic-state", "aria-live": "polite" }, "The microphone is off.");
  const answer = el("div", { id: "answer", class: "answer", "aria-live": "polite" }, el("p", { class: "muted" }, "No answer yet."));
  const noMatch = el("p", { id: "no-match", class: "no-match", hidden: true }, "No match in the library for this clip.");
  const fileInput = el("input", { id: "recognize-file", type: "file", accept: "audio/*" });
  const drop = el("div", { id: "recognize-drop", class: "dropzone" },
    el("p", {}, "Drop an audio clip here, or choose one:"),
    el("label", { for: "recognize-file", class: "sr-only" }, "Audio clip to recognise"), fileInput);

  let session = null;

  /** Shows an answer's match (or none) in #answer. */
  function show(m, extra, final) {
    if (m && typeof m === "object" && m.id !== undefined) {
      noMatch.hidden = true;
      answer.dataset.trackId = String(m.id);
      const link = el("a", { href: "#/track/" + encodeURIComponent(m.id), class: "match-title" }, str(m.title, "#" + m.id));
      const facts = [];
      if (m.artist) facts.push("by " + str(m.artist));
      if (m.album) facts.push("from " + str(m.album));
      const details = el("p", { class: "muted" },
        "at " + num(m.offset_s) + " s in the track · confidence " + num(m.confidence, 2) +
        " · " + str(m.score, "?") + " matching hashes" + (m.speed && Math.abs(m.speed - 1) > 0.005 ? " · speed " + num(m.speed, 3) : ""));
      fill(answer, el("p", { class: "answer-head" }, final ? "Match: " : "Matching: ", link, facts.length ? " " + facts.join(" ") : ""), details, extra || null);
    } else {
      delete answer.dataset.trackId;
      if (final) {
        noMatch.hidden = false;
        fill(answer, el("p", { class: "muted" }, "No match."));
      } else {
        fill(answer, el("p", { class: "muted" }, "Listening… no match yet."));
      }
    }
  }

  // ---------- microphone ----------
  async function startMic() {
    if (session) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      micState.textContent = "This browser cannot use a microphone here (it needs https or localhost).";
      return;
    }
    start.disabled = true;
    noMatch.hidden = true;
    fill(answer, el("p", { class: "muted" }, "Listening…"));
    const s = { ws: null, ctx: null, stream: null, node: null, frames: 0, rate: 0, pending: [], open: false, ended: false, finalTimer: 0 };
    session = s;
    try {
      s.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
      const AC = window.AudioContext || window.webkitAudioContext;
      s.ctx = new AC();
      await s.ctx.audioWorklet.addModule("/app/mic-worklet.js");
      if (s.ctx.state === "suspended") await s.ctx.resume();
      s.rate = s.ctx.sampleRate;
      const src = s.ctx.createMediaStreamSource(s.stream);
      s.node = new AudioWorkletNode(s.ctx, "mic-chunker", { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
      const mute = s.ctx.createGain();
      mute.gain.value = 0;
      src.connect(s.node);
      s.node.connect(mute).connect(s.ctx.destination);
    } catch (e) {
      micState.textContent = "Cannot use the microphone: " + (e && e.message ? e.message : String(e));
      teardown(s);
      session = null;
      start.disabled = false;
      return;
    }
    openSocket(s);
    s.node.port.onmessage = (ev) => {
      const d = ev.data || {};
      if (!(d.pcm instanceof ArrayBuffer) || s.ended) return;
      level.value = Math.min(1, Number(d.level) || 0);
      s.frames += Number(d.frames) || d.pcm.byteLength / 2;
      elapsed.textContent = (s.frames / s.rate).toFixed(1) + " s";
      if (s.open) s.ws.send(d.pcm); else s.pending.push(d.pcm);
    };
    stop.disabled = false;
    micState.textContent = "Listening at " + s.rate + " Hz…";
  }

  function openSocket(s) {
    let ws;
    try { ws = new WebSocket(wsUrl("/ws/stream")); } catch (e) { micState.textContent = "Cannot open the stream: " + e.message; return; }
    ws.binaryType = "arraybuffer";
    s.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ format: "pcm_s16le", sample_rate: s.rate, channels: 1 }));
      s.open = true;
      for (const b of s.pending) ws.send(b);
      s.pending = [];
      if (s.ended) ws.send(JSON.stringify({ event: "end" }));
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg && msg.error) {
        micState.textContent = "The server stopped the stream: " + str(msg.error.message, "error") + (msg.error.code ? " (" + msg.error.code + ")" : "");
        return;
      }
      if (!ctx.alive()) return;
      show(msg && msg.match, null, !!(msg && msg.final));
      if (msg && msg.final) {
        clearTimeout(s.finalTimer);
        micState.textContent = "Final answer after " + num(msg.stream_s) + " s of audio.";
        ws.close();
      }
    };
    ws.onerror = () => { if (!s.ended) micState.textContent = "The stream connection failed (is an API key needed?)."; };
    ws.onclose = (ev) => {
      s.open = false;
      if (!s.ended && ctx.alive()) {
        stopMic();
        micState.textContent = "The stream closed" + (ev.reason ? ": " + ev.reason : "") + ".";
      }
    };
  }

  function teardown(s) {
    try { if (s.node) { s.node.port.postMessage("stop"); s.node.disconnect(); } } catch { /* gone */ }
    try { if (s.stream) s.stream.getTracks().forEach((t) => t.stop()); } catch { /* gone */ }
    try { if (s.ctx && s.ctx.state !== "closed") s.ctx.close(); } catch { /* gone */ }
  }

  function stopMic() {
    const s = session;
    if (!s) return;
    session = null;
    s.ended = true;
    teardown(s);
    if (s.ws && s.open) {
      try { s.ws.send(JSON.stringify({ event: "end" })); } catch { /* closed */ }
      // The final answer follows the end; close anyway if it never comes.
      s.finalTimer = setTimeout(() => { try { s.ws.close(); } catch { /* closed */ } }, 15000);
    } else if (s.ws && s.ws.readyState === WebSocket.CONNECTING) {
      // onopen sends the header, the queued audio and the end.
      s.open = false;
    }
    level.value = 0;
    start.disabled = false;
    stop.disabled = true;
    micState.textContent = "Stopped after " + elapsed.textContent + "; waiting for the final answer…";
  }

  start.addEventListener("click", startMic);
  stop.addEventListener("click", stopMic);

  // ---------- file ----------
  async function recognizeFile(f) {
    if (!f) return;
    noMatch.hidden = true;
    fill(answer, el("p", { class: "muted" }, "Recognising " + f.name + "…"));
    const form = new FormData();
    form.append("audio", f, f.name);
    try {
      const a = await api("/recognize?explain=true", { method: "POST", body: form });
      if (!ctx.alive()) return;
      try {
        sessionStorage.setItem(EXPLAIN_KEY, JSON.stringify({ clip: f.name, at: Date.now(), answer: a }));
      } catch { /* too big or private mode: the match page says so */ }
      window.sonicaLastRecognition = { clip: f.name, at: Date.now(), answer: a };
      const m = a && a.match;
      show(m, m ? el("p", {}, el("a", { id: "why-link", href: "#/match" }, "Why this match?")) : null, true);
    } catch (e) {
      if (!ctx.alive()) return;
      fill(answer, el("p", { class: "error" }, "Could not recognise " + f.name + ": " + describe(e)));
      if (!(e instanceof ApiError)) showError(e);
    }
  }
  fileInput.addEventListener("change", () => { recognizeFile(fileInput.files && fileInput.files[0]); fileInput.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    recognizeFile(f);
  });

  main.append(
    el("h1", {}, "Recognize"),
    el("section", { "aria-labelledby": "mic-h" },
      el("h2", { id: "mic-h" }, "Listen with the microphone"),
      el("div", { class: "row" }, start, stop),
      el("div", { class: "row" }, el("label", { for: "mic-level" }, "Input level"), level,
        el("span", {}, "Streamed: "), elapsed),
      micState),
    el("section", { "aria-labelledby": "file-h" },
      el("h2", { id: "file-h" }, "Or recognise a file"), drop),
    el("section", { "aria-labelledby": "ans-h" },
      el("h2", { id: "ans-h" }, "Answer"), answer, noMatch));

  ctx.ready();
  return () => {
    const s = session;
    if (s) { session = null; s.ended = true; teardown(s); try { if (s.ws) s.ws.close(); } catch { /* closed */ } }
  };
}

// page-monitors.js — why it exists: the Monitors page (#/monitors). The live streams the
// server listens to (GET /monitors): each one's state (connecting, up, down, with the last
// error and the lag), what is playing now, and a timeline of its plays over the last hour,
// 6 h or 24 h (GET /monitors/{id}/plays): one coloured bar per play (the colour follows the
// track), gaps hatched, hour ticks, each bar a link to the track's page, and the same plays
// as a table under it. It follows each monitor live (an EventSource on
// /monitors/{id}/events) and polls the list every 10 s besides (lag, new monitors, and the
// fallback where the event stream cannot be opened); a 3 s clock moves "now" along. Adding and removing a monitor need the
// admin key.

import { api, el, fill, str, num, qs, describe, ApiError } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
const MIN = 60_000;
const HOUR = 60 * MIN;
/** Spans of the timeline: value (ms), label, tick step (ms), label every n ticks. */
const SPANS = [
  [15 * MIN, "15 min", 5 * MIN, 1],
  [HOUR, "1 h", 10 * MIN, 1],
  [6 * HOUR, "6 h", HOUR, 1],
  [24 * HOUR, "24 h", HOUR, 3],
];
/** Entries are selected by start time: look this far before the span for ones reaching into it. */
const LOOKBACK = 6 * HOUR;
const POLL_MS = 10_000;
/**
 * Event streams open at once: a browser holds at most 6 HTTP/1.1 connections to a host, and
 * each EventSource keeps one, so monitors past these few are followed by polling instead.
 */
const MAX_STREAMS = 3;
const CLOCK_MS = 3_000;
const PAGE_LIMIT = 1000;
const MAX_PAGES = 20;

// Remembered between visits (coming back from a track keeps the span and the draft).
const state = { span: 6 * HOUR, url: "", name: "" };

export async function render(main, _params, ctx) {
  document.title = "Monitors — Sonica";
  let dead = false;
  let timer = 0;
  /** id → {view, entries, node, parts, es, refresh timer, loading} */
  const mons = new Map();

  // ---------- add form ----------
  const url = el("input", { id: "monitor-url", name: "url", type: "url", required: true, autocomplete: "off", spellcheck: "false", placeholder: "https://radio.example.com/live.mp3", value: state.url });
  const name = el("input", { id: "monitor-name", name: "name", type: "text", maxlength: "100", autocomplete: "off", value: state.name });
  const add = el("button", { type: "submit", id: "add-monitor" }, "Add monitor");
  const formMsg = el("p", { id: "monitor-form-message", class: "small", "aria-live": "polite" });
  const form = el("form", { id: "monitor-form", class: "monitor-form" },
    el("div", { class: "row" },
      el("label", { for: "monitor-url" }, "Stream URL"), url,
      el("label", { for: "monitor-name" }, "Name (optional)"), name, add),
    formMsg);
  url.addEventListener("input", () => { state.url = url.value; });
  name.addEventListener("input", () => { state.name = name.value; });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { url: url.value.trim() };
    if (name.value.trim()) body.name = name.value.trim();
    add.disabled = true;
    formMsg.className = "small";
    formMsg.textContent = "Adding…";
    try {
      const v = await api("/monitors", { method: "POST", body });
      if (dead) return;
      state.url = ""; state.name = "";
      url.value = ""; name.value = "";
      formMsg.textContent = "Added monitor #" + str(v && v.id) + ": " + label(v) + ".";
      if (v && v.id) upsert(v);
      load();
    } catch (e) {
      if (dead) return;
      formMsg.className = "small error";
      formMsg.textContent = "Could not add the monitor: " + describe(e);
    } finally {
      add.disabled = false;
    }
  });

  // ---------- span ----------
  const span = el("select", { id: "timeline-span" },
    SPANS.map(([ms, text]) => el("option", { value: String(ms), selected: ms === state.span }, "last " + text)));
  span.addEventListener("change", () => {
    state.span = Number(span.value) || 6 * HOUR;
    for (const m of mons.values()) loadPlays(m);
  });

  const listMsg = el("p", { id: "monitors-message", class: "muted" }, "Loading…");
  const list = el("div", { id: "monitors", class: "monitors" });

  main.append(
    el("h1", {}, "Monitors"),
    el("p", { class: "muted" }, "Live streams this server listens to, and what they played."),
    el("section", { "aria-labelledby": "add-monitor-h" },
      el("h2", { id: "add-monitor-h" }, "Add a monitor"),
      el("p", { class: "small muted" }, "An http(s) stream (MP3, AAC, Ogg). Adding and removing monitors needs an admin key (the API key button at the top)."),
      form),
    el("section", { "aria-labelledby": "sources-h" },
      el("h2", { id: "sources-h" }, "Sources"),
      el("div", { class: "row" }, el("label", { for: "timeline-span" }, "Timeline"), span),
      listMsg, list));

  // ---------- one monitor ----------
  function upsert(v) {
    const id = Number(v.id);
    let m = mons.get(id);
    if (!m) {
      m = { id, view: v, entries: [], es: null, refresh: 0, seq: 0 };
      m.parts = build(m);
      mons.set(id, m);
      list.append(m.parts.node);
      m.first = loadPlays(m);
    }
    m.view = v;
    showStatus(m);
    draw(m);
    return m;
  }

  function drop(m) {
    if (m.es) m.es.close();
    clearTimeout(m.refresh);
    m.parts.node.remove();
    mons.delete(m.id);
  }

  function build(m) {
    const id = m.id;
    const h = el("h3", { id: "monitor-" + id + "-h" });
    const badge = el("span", { class: "badge", dataset: { state: "connecting" } });
    const remove = el("button", { type: "button", class: "delete remove-monitor" }, "Remove");
    const confirm = el("span", { class: "confirm-remove", hidden: true },
      el("span", { class: "small" }, "Remove this monitor and its play log?"),
      el("button", { type: "button", class: "danger confirm-remove-yes" }, "Remove"),
      el("button", { type: "button", class: "quiet confirm-remove-no" }, "Keep"));
    const yes = confirm.querySelector(".confirm-remove-yes");
    const no = confirm.querySelector(".confirm-remove-no");
    const removeMsg = el("p", { class: "small error remove-message", "aria-live": "polite" });
    remove.addEventListener("click", () => { remove.hidden = true; confirm.hidden = false; no.focus(); });
    no.addEventListener("click", () => { confirm.hidden = true; remove.hidden = false; remove.focus(); });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      removeMsg.textContent = "";
      try {
        await api("/monitors/" + encodeURIComponent(id), { method: "DELETE" });
        if (dead) return;
        ctx.notice("Removed monitor #" + id + ": " + label(m.view) + ".");
        drop(m);
        showEmpty();
      } catch (e) {
        if (dead) return;
        if (e instanceof ApiError && e.status === 404) { drop(m); showEmpty(); return; }
        removeMsg.textContent = "Could not remove the monitor: " + describe(e);
        confirm.hidden = true; remove.hidden = false;
      } finally {
        yes.disabled = false;
      }
    });
    const urlLine = el("p", { class: "small monitor-url wrap" });
    const status = el("dl", { class: "kv monitor-status" });
    const timeline = el("div", { class: "timeline-wrap" });
    const legend = el("ul", { class: "legend", "aria-hidden": "true" },
      el("li", {}, el("span", { class: "swatch play" }), "a play (colour by track)"),
      el("li", {}, el("span", { class: "swatch now" }), "playing now"),
      el("li", {}, el("span", { class: "swatch gap" }), "not heard"));
    const summary = el("summary", {}, "Plays as a table");
    const tbody = el("tbody");
    const table = el("details", { class: "plays-table" }, summary,
      el("div", { class: "table-wrap" },
        el("table", { id: "plays-" + id },
          el("caption", { class: "sr-only" }, "Plays and gaps of monitor " + id + ", oldest first"),
          el("thead", {}, el("tr", {},
            el("th", { scope: "col" }, "From"), el("th", { scope: "col" }, "To"), el("th", { scope: "col" }, "Length"),
            el("th", { scope: "col" }, "What"), el("th", { scope: "col" }, "Confidence"))),
          tbody)));
    const timelineMsg = el("p", { class: "small muted timeline-message" });
    const node = el("article", { class: "monitor", id: "monitor-" + id, dataset: { monitorId: String(id) }, "aria-labelledby": "monitor-" + id + "-h" },
      el("div", { class: "monitor-head" }, h, badge, el("span", { class: "spacer" }), remove, confirm),
      urlLine, removeMsg, status, timeline, legend, timelineMsg, table);
    return { node, h, badge, urlLine, status, timeline, timelineMsg, summary, tbody, remove };
  }

  function showStatus(m) {
    const v = m.view || {};
    const s = v.status && typeof v.status === "object" ? v.status : {};
    const p = m.parts;
    const st = ["connecting", "up", "down"].includes(s.state) ? s.state : "connecting";
    if (p.h.textContent !== label(v)) p.h.textContent = label(v);
    p.badge.textContent = st;
    p.badge.dataset.state = st;
    p.node.dataset.state = st;
    p.remove.setAttribute("aria-label", "Remove monitor " + label(v));
    if (!p.urlLine.firstChild) fill(p.urlLine, "#" + m.id + " · ", el("code", {}, str(v.url)), v.created_unix ? " · added " + clock(v.created_unix * 1000, true) : "");
    // Rows are made once and updated in place, so a focused link survives the clock.
    if (!p.rows) {
      p.rows = {};
      for (const [k, dt, cls] of [["state", "State", "monitor-state"], ["error", "Last error", "monitor-error"],
        ["lag", "Lag", "monitor-lag"], ["heard", "Heard until", "monitor-heard"], ["now", "Now playing", "monitor-now"],
        ["plays", "Plays logged", "monitor-plays"], ["delay", "Recognised after", "monitor-delay"]]) {
        const t = el("dt", {}, dt), d = el("dd", { class: cls });
        p.status.append(t, d);
        p.rows[k] = { t, d, show(on) { t.hidden = !on; d.hidden = !on; } };
      }
    }
    const r = p.rows;
    const set = (row, text) => { if (row.d.textContent !== text) row.d.textContent = text; row.show(!!text); };
    set(r.state, st + (s.since_ms ? " since " + clock(s.since_ms, true) + " (" + ago(s.since_ms) + ")" : ""));
    set(r.error, s.last_error ? str(s.last_error) : "");
    r.error.t.textContent = st === "down" ? "Error" : "Last error";
    r.error.d.classList.toggle("error", st === "down");
    set(r.lag, st === "up" && typeof s.lag_s === "number" ? num(s.lag_s) + " s behind the clock" : "");
    set(r.heard, typeof s.heard_until_ms === "number" ? clock(s.heard_until_ms, true) : "");
    const np = s.now_playing && typeof s.now_playing === "object" ? s.now_playing : null;
    const npKey = np ? np.start_ms + ":" + np.track : st === "up" ? "nothing" : "";
    if (r.now.key !== npKey) {
      r.now.key = npKey;
      if (np) fill(r.now.d, trackLink(np, "now-playing-link"), " since " + clock(np.start_ms));
      else fill(r.now.d, npKey ? "nothing recognised" : "");
      r.now.d.classList.toggle("muted", !np);
      r.now.show(!!npKey);
    }
    set(r.plays, str(s.plays_logged, "0") + " since the server started");
    set(r.delay, typeof s.detection_delay_s === "number" ? num(s.detection_delay_s) + " s from its start (latest play)" : "");
  }

  // ---------- the timeline ----------
  function window_() {
    const t1 = Date.now();
    return [t1 - state.span, t1];
  }

  /** Bars to draw: logged entries, the play in progress, and the time not heard while down. */
  function items(m, t0, t1) {
    const out = [];
    const s = (m.view && m.view.status) || {};
    const starts = new Set();
    for (const e of m.entries) {
      if (!(e.end_ms > t0 && e.start_ms < t1)) continue;
      starts.add(e.kind + ":" + e.start_ms);
      out.push({ e, key: e.kind + ":" + e.start_ms, live: false });
    }
    const np = s.now_playing;
    if (np && typeof np === "object" && typeof np.start_ms === "number" && !starts.has("play:" + np.start_ms)) {
      const end = Math.max(Number(np.end_ms) || 0, Number(s.heard_until_ms) || 0, np.start_ms + 1000);
      out.push({ e: Object.assign({}, np, { kind: "play", end_ms: Math.min(end, t1) }), key: "now:" + np.start_ms, live: true });
    }
    if (s.state === "down") {
      let from = Number(s.heard_until_ms) || Number(s.since_ms) || t1;
      for (const x of out) if (x.e.end_ms > from && x.e.start_ms < t1) from = Math.max(from, x.e.end_ms);
      if (from < t1 - 1000) {
        out.push({ e: { kind: "gap", start_ms: from, end_ms: t1, reason: s.last_error }, key: "down", live: true });
      }
    }
    return out;
  }

  function draw(m) {
    const p = m.parts;
    const [t0, t1] = window_();
    const W = Math.max(320, Math.round(p.timeline.clientWidth || list.clientWidth || 800));
    const H = 64, L = 6, R = 6, top = 4, laneH = 34;
    const x = (t) => L + ((Math.min(t1, Math.max(t0, t)) - t0) / (t1 - t0)) * (W - L - R);
    let svg = p.svg;
    if (!svg) {
      svg = p.svg = svgEl("svg", { class: "timeline", id: "timeline-" + m.id, role: "group", focusable: "false" });
      const hatch = "hatch-" + m.id;
      svg.append(
        svgEl("defs", {}, svgEl("pattern", { id: hatch, width: "6", height: "6", patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
          svgEl("rect", { width: "6", height: "6", fill: "#e4e7ec" }),
          svgEl("line", { x1: "0", y1: "0", x2: "0", y2: "6", stroke: "#6b7280", "stroke-width": "2" }))),
        svgEl("rect", { class: "lane", x: String(L), y: String(top), width: "0", height: String(laneH), fill: "#f4f6f9", stroke: "#cfd6e0" }),
        p.ticks = svgEl("g", { class: "ticks", "aria-hidden": "true" }),
        p.bars = svgEl("g", { class: "bars" }));
      p.hatch = hatch;
      p.byKey = new Map();
      p.timeline.append(svg);
    }
    const spanText = (SPANS.find(([ms]) => ms === state.span) || SPANS[2])[1];
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("aria-label", "Timeline of " + label(m.view) + ", the last " + spanText + " up to " + clock(t1) + ": each play is a link to its track");
    const lane = svg.querySelector("rect.lane");
    lane.setAttribute("width", String(W - L - R));

    // Ticks: at whole steps of local time, a label on every n-th.
    const [, , step, every] = SPANS.find(([ms]) => ms === state.span) || SPANS[2];
    const off = -new Date(t1).getTimezoneOffset() * MIN;
    const ticks = [];
    for (let t = Math.ceil((t0 + off) / step) * step - off, i = 0; t <= t1 && i < 200; t += step, i++) {
      const tx = x(t);
      const major = Math.round((t + off) / step) % every === 0;
      ticks.push(svgEl("line", { x1: tx, x2: tx, y1: top + laneH, y2: top + laneH + (major ? 7 : 4), stroke: "#4a5160" }));
      if (major && tx > 16 && tx < W - 16) {
        ticks.push(svgEl("text", { x: tx, y: H - 6, "text-anchor": "middle", fill: "#2b3140", "font-size": "11" }, clock(t, false, false)));
      }
    }
    ticks.push(svgEl("text", { x: W - R, y: H - 6, "text-anchor": "end", fill: "#2b3140", "font-size": "11" }, "now"));
    p.ticks.replaceChildren(...ticks);

    // Bars, kept by key so focus and WebDriver references survive a redraw.
    const keep = new Set();
    const focused = document.activeElement;
    for (const it of items(m, t0, t1)) {
      const e = it.e;
      const x0 = x(e.start_ms), x1 = x(e.end_ms);
      const w = Math.max(4, x1 - x0);
      const bx = Math.min(x0, W - R - w);
      let g = p.byKey.get(it.key);
      const what = e.kind === "play" ? playName(e) : "not heard" + (e.reason ? ": " + str(e.reason) : "");
      const when = clock(e.start_ms) + " to " + (it.live ? "now" : clock(e.end_ms)) + " (" + length(e.end_ms - e.start_ms) + ")";
      if (!g) {
        if (e.kind === "play" && e.track !== undefined && e.track !== null) {
          g = svgEl("a", { href: "#/track/" + encodeURIComponent(e.track), class: "play" + (it.live ? " now" : "") });
        } else {
          g = svgEl("g", { class: e.kind === "play" ? "play unknown" : "gap" + (it.live ? " live" : ""), "aria-hidden": "true" });
        }
        g.append(svgEl("title"), svgEl("rect", { y: top + 1, height: laneH - 2, rx: "2" }), svgEl("text", { y: top + laneH / 2 + 4, "font-size": "11", fill: "#1d2330" }));
        p.byKey.set(it.key, g);
      }
      keep.add(g);
      const [title, rect, text] = g.children;
      g.dataset.kind = e.kind;
      g.dataset.startMs = String(e.start_ms);
      g.dataset.endMs = String(e.end_ms);
      if (e.kind === "play") {
        g.dataset.trackId = str(e.track);
        g.dataset.title = str(e.title);
        g.setAttribute("aria-label", what + ", " + when + (it.live ? ", playing now" : ""));
      }
      title.textContent = what + "\n" + when + (e.kind === "play" && typeof e.confidence === "number" ? "\nconfidence " + num(e.confidence, 2) : "");
      const [fillC, strokeC] = e.kind === "play" ? colours(e.track) : ["url(#" + p.hatch + ")", "#6b7280"];
      attrs(rect, { x: bx.toFixed(1), width: w.toFixed(1), fill: fillC, stroke: strokeC, "stroke-width": it.live ? "2" : "1", "stroke-dasharray": it.live && e.kind === "play" ? "4 3" : null });
      // A label inside the bar when it fits.
      const room = Math.floor((w - 8) / 6.2);
      const lbl = e.kind === "play" && room >= 4 ? clip(str(e.title, "track " + str(e.track)), room) : "";
      attrs(text, { x: (bx + 4).toFixed(1) });
      if (text.textContent !== lbl) text.textContent = lbl;
      if (g.parentNode !== p.bars) p.bars.append(g);
    }
    for (const [k, g] of p.byKey) {
      if (!keep.has(g)) { g.remove(); p.byKey.delete(k); }
    }
    if (focused && p.bars.contains(focused) && document.activeElement !== focused) focused.focus();

    // The table under it, and a line in words.
    const all = items(m, t0, t1).sort((a, b) => a.e.start_ms - b.e.start_ms);
    const plays = all.filter((it) => it.e.kind === "play").length;
    const gaps = all.length - plays;
    p.summary.textContent = "Plays as a table (" + plays + " play" + (plays === 1 ? "" : "s") + ", " + gaps + " gap" + (gaps === 1 ? "" : "s") + ")";
    p.timelineMsg.textContent = m.error ? "Could not load the play log: " + m.error
      : all.length ? "" : "Nothing logged in the last " + spanText + ".";
    // Rebuilt only when it changes (the clock redraws the timeline every few seconds).
    const sig = JSON.stringify(all.map(({ e, live }) => [e.kind, e.start_ms, live ? 0 : e.end_ms, e.track, e.title, e.reason]));
    if (sig === p.tableSig) return;
    p.tableSig = sig;
    fill(p.tbody, all.map(({ e, live }) => el("tr", { class: e.kind + (live ? " live" : ""), dataset: { kind: e.kind, startMs: String(e.start_ms) } },
      el("td", {}, clock(e.start_ms, true)),
      el("td", {}, live ? "now" : clock(e.end_ms, true)),
      el("td", {}, live ? "" : length(e.end_ms - e.start_ms)),
      el("td", {}, e.kind === "play" ? [trackLink(e), live ? " (playing now)" : ""] : "not heard" + (e.reason ? ": " + str(e.reason) : "")),
      el("td", {}, e.kind === "play" && typeof e.confidence === "number" ? num(e.confidence, 2) : ""))));
  }

  // ---------- loading ----------
  async function loadPlays(m) {
    const my = ++m.seq;
    const [t0, t1] = window_();
    let from = Math.max(0, t0 - LOOKBACK);
    const to = t1 + MIN;
    const out = [];
    try {
      for (let page = 0; page < MAX_PAGES; page++) {
        const r = await api("/monitors/" + encodeURIComponent(m.id) + "/plays" + qs({ from, to, limit: PAGE_LIMIT }));
        const entries = r && Array.isArray(r.entries) ? r.entries : [];
        for (const e of entries) {
          if (e && typeof e.start_ms === "number" && typeof e.end_ms === "number") out.push(e);
        }
        const next = r && Number(r.next_from);
        if (!(next > from)) break;
        from = next;
      }
      m.error = "";
    } catch (e) {
      if (dead || my !== m.seq) return;
      if (e instanceof ApiError && e.status === 404) { drop(m); showEmpty(); return; }
      m.error = describe(e);
      draw(m);
      return;
    }
    if (dead || my !== m.seq || !mons.has(m.id)) return;
    m.entries = out;
    draw(m);
  }

  async function loadOne(m) {
    try {
      const v = await api("/monitors/" + encodeURIComponent(m.id));
      if (dead || !mons.has(m.id)) return;
      m.view = v;
      showStatus(m);
      draw(m);
    } catch (e) {
      if (dead) return;
      if (e instanceof ApiError && e.status === 404) { drop(m); showEmpty(); }
    }
  }

  function showEmpty() {
    listMsg.textContent = mons.size ? "" : "No monitors yet: add a stream above.";
  }

  let loading = false;
  async function load() {
    if (dead || loading) return;
    loading = true;
    try {
      const r = await api("/monitors");
      if (dead) return;
      const views = r && Array.isArray(r.monitors) ? r.monitors : [];
      const seen = new Set();
      const fresh = new Set();
      for (const v of views) {
        if (!v || !(Number(v.id) > 0)) continue;
        seen.add(Number(v.id));
        if (!mons.has(Number(v.id))) fresh.add(Number(v.id));
        upsert(v);
      }
      for (const m of Array.from(mons.values())) if (!seen.has(m.id)) drop(m);
      // In the order of ids, moving only what is out of place (a move would drop the focus).
      Array.from(mons.values()).sort((a, b) => a.id - b.id).forEach((m, i) => {
        if (list.children[i] !== m.parts.node) list.insertBefore(m.parts.node, list.children[i] || null);
      });
      showEmpty();
      // Where no event stream is open, poll the log too.
      streams();
      for (const m of mons.values()) if (!fresh.has(m.id) && (!m.es || m.es.readyState === 2)) loadPlays(m);
    } catch (e) {
      if (dead) return;
      listMsg.textContent = "Could not load the monitors: " + describe(e);
    } finally {
      loading = false;
      clearTimeout(timer);
      if (!dead) timer = setTimeout(load, POLL_MS);
    }
  }

  // ---------- live ----------
  /** Opens event streams for the first monitors (by id) that have none, up to MAX_STREAMS. */
  function streams() {
    let open = 0;
    for (const m of mons.values()) if (m.es && m.es.readyState !== 2) open++;
    for (const m of Array.from(mons.values()).sort((a, b) => a.id - b.id)) {
      if (open >= MAX_STREAMS) break;
      if (m.es && m.es.readyState !== 2) continue;
      if (m.es && m.es.failed) continue; // refused (a 401 where reads need a key): poll instead
      subscribe(m);
      open++;
    }
  }

  function subscribe(m) {
    if (typeof EventSource !== "function") return;
    let es;
    try { es = new EventSource("/monitors/" + encodeURIComponent(m.id) + "/events"); } catch { return; }
    m.es = es;
    es.addEventListener("error", () => { if (es.readyState === 2) es.failed = true; });
    // Events close together make one refresh, which reloads the log if any of them asked.
    const later = (what) => {
      clearTimeout(m.refresh);
      if (what === "plays") m.wantPlays = true;
      m.refresh = setTimeout(() => {
        if (dead || !mons.has(m.id)) return;
        loadOne(m);
        if (m.wantPlays) { m.wantPlays = false; loadPlays(m); }
      }, 150);
    };
    const data = (ev) => { try { return JSON.parse(ev.data); } catch { return null; } };
    es.addEventListener("status", (ev) => {
      const v = data(ev);
      if (dead || !v || !mons.has(m.id)) return;
      m.view = v;
      showStatus(m);
      draw(m);
    });
    es.addEventListener("play.started", (ev) => {
      const d = data(ev);
      if (dead || !mons.has(m.id)) return;
      if (d && d.play && m.view && m.view.status) { m.view.status.now_playing = d.play; showStatus(m); draw(m); }
      later("status");
    });
    for (const kind of ["play.ended", "gap"]) es.addEventListener(kind, () => later("plays"));
    for (const kind of ["monitor.up", "monitor.down"]) es.addEventListener(kind, () => later("status"));
  }

  function redrawAll() { for (const m of mons.values()) { showStatus(m); draw(m); } }
  // The clock: "now" moves, a play in progress grows, time down shows as a gap.
  const clockTimer = setInterval(() => { if (!dead) redrawAll(); }, CLOCK_MS);
  let resizeTimer = 0;
  const onResize = () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(redrawAll, 150); };
  window.addEventListener("resize", onResize);

  await load();
  // The first plays of every monitor, so the page is ready with its timelines drawn.
  await Promise.all(Array.from(mons.values()).map((m) => m.first));
  ctx.ready();
  return () => {
    dead = true;
    clearTimeout(timer);
    clearTimeout(resizeTimer);
    clearInterval(clockTimer);
    window.removeEventListener("resize", onResize);
    for (const m of mons.values()) { if (m.es) m.es.close(); clearTimeout(m.refresh); }
  };
}

// ---------- helpers ----------

function svgEl(tag, a, ...children) {
  const n = document.createElementNS(SVG, tag);
  if (a) attrs(n, a);
  for (const c of children) n.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return n;
}

function attrs(n, a) {
  for (const [k, v] of Object.entries(a)) {
    if (v === null || v === undefined) n.removeAttribute(k);
    else if (n.getAttribute(k) !== String(v)) n.setAttribute(k, String(v));
  }
}

/** A monitor's name, or its URL. */
function label(v) {
  return str(v && v.name) || str(v && v.url) || "monitor #" + str(v && v.id);
}

function playName(e) {
  const t = str(e.title) || "track " + str(e.track, "?");
  return e.artist ? t + " — " + str(e.artist) : t;
}

function trackLink(e, cls) {
  if (e.track === undefined || e.track === null) return playName(e);
  return el("a", { href: "#/track/" + encodeURIComponent(e.track), class: cls, dataset: { trackId: str(e.track) } }, playName(e));
}

/** A pastel fill and a dark outline of one hue per track (dark text reads on the fill). */
function colours(track) {
  const n = Number(track);
  if (!isFinite(n)) return ["#e4e7ec", "#6b7280"];
  const h = Math.round((n * 137.508) % 360);
  return ["hsl(" + h + ", 70%, 82%)", "hsl(" + h + ", 60%, 30%)"];
}

function clip(s, n) {
  return s.length <= n ? s : s.slice(0, Math.max(1, n - 1)) + "…";
}

const pad = (n) => String(n).padStart(2, "0");

/** Local time: HH:MM(:SS); with the date when `withDate` and not today. */
function clock(ms, withDate = false, seconds = true) {
  if (typeof ms !== "number" || !isFinite(ms)) return "–";
  const d = new Date(ms);
  const t = pad(d.getHours()) + ":" + pad(d.getMinutes()) + (seconds ? ":" + pad(d.getSeconds()) : "");
  if (!withDate || d.toDateString() === new Date().toDateString()) return t;
  return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + t;
}

function length(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 3600) return Math.floor(s / 60) + ":" + pad(s % 60);
  return Math.floor(s / 3600) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
}

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago";
}

// page-search.js — why it exists: the Search page (#/search). Text search with genre/key
// facets and tempo/key/genre filters (GET /search), "more like this" from any result
// (GET /tracks/{id}/similar), and text + an audio clip together (POST /search), where each
// result shows the reasons it was ranked.

import { api, el, fill, str, num, describe, qs } from "./api.js";

const state = { q: "", genre: "", key: "", tempoMin: "", tempoMax: "" };

export async function render(main, _params, ctx) {
  document.title = "Search — Sonica";
  const q = el("input", { id: "q", type: "search", value: state.q, autocomplete: "off", placeholder: "title, artist, album, genre" });
  const genre = el("select", { id: "genre" }, el("option", { value: "" }, "Any genre"));
  const key = el("select", { id: "key" }, el("option", { value: "" }, "Any key"));
  const tmin = el("input", { id: "tempo-min", type: "number", min: "0", max: "1000", step: "any", value: state.tempoMin, inputmode: "decimal" });
  const tmax = el("input", { id: "tempo-max", type: "number", min: "0", max: "1000", step: "any", value: state.tempoMax, inputmode: "decimal" });
  const clip = el("input", { id: "search-clip", type: "file", accept: "audio/*" });
  const go = el("button", { type: "submit", id: "search-go" }, "Search");
  const clearClip = el("button", { type: "button", class: "quiet", id: "clear-clip", hidden: true }, "Forget the clip");
  const facets = el("div", { id: "facets", class: "facets" });
  const heading = el("h2", { id: "results-h", "aria-live": "polite" }, "Results");
  const results = el("ol", { id: "results", class: "results" });
  const msg = el("p", { class: "muted", id: "search-message" });

  function setOptions(select, values, current, anyText) {
    const seen = new Set();
    const opts = [el("option", { value: "" }, anyText)];
    for (const f of values) {
      const v = str(f && f.value);
      if (!v || seen.has(v)) continue;
      seen.add(v);
      opts.push(el("option", { value: v }, v + (typeof f.count === "number" ? " (" + f.count + ")" : "")));
    }
    if (current && !seen.has(current)) opts.push(el("option", { value: current }, current));
    fill(select, opts);
    select.value = current || "";
  }

  function showFacets(f) {
    const groups = [["genre", "Genre"], ["key", "Key"]];
    fill(facets, groups.map(([name, label]) => {
      const list = f && Array.isArray(f[name]) ? f[name] : [];
      if (!list.length) return null;
      return el("div", { class: "facet-group" }, el("span", { class: "facet-label" }, label + ":"),
        list.map((x) => el("button", {
          type: "button", class: "facet", dataset: { facet: name, value: str(x.value) },
          "aria-pressed": (name === "genre" ? state.genre : state.key) === str(x.value) ? "true" : "false",
          onclick: () => {
            const cur = name === "genre" ? state.genre : state.key;
            const v = cur === str(x.value) ? "" : str(x.value);
            (name === "genre" ? genre : key).value = v;
            run();
          },
        }, str(x.value) + " (" + str(x.count, "0") + ")")));
    }));
    setOptions(genre, f && Array.isArray(f.genre) ? f.genre : [], state.genre, "Any genre");
    setOptions(key, f && Array.isArray(f.key) ? f.key : [], state.key, "Any key");
  }

  function reasonText(r) {
    if (!r || typeof r !== "object") return "";
    switch (r.kind) {
      case "identified": return "the clip is this recording (confidence " + num(r.confidence, 2) + ", at " + num(r.offset_s) + " s)";
      case "text": return "the text matched (relevance " + num(r.score, 2) + ")";
      case "similarity": return "sounds like the clip (similarity " + num(r.similarity, 3) + ")";
      default: return Object.entries(r).map(([k, v]) => k + " " + str(typeof v === "object" ? JSON.stringify(v) : v)).join(", ");
    }
  }

  function item(t) {
    const name = str(t.title) || str(t.path) || "#" + t.id;
    const facts = [t.artist, t.album, t.genre].filter((x) => typeof x === "string" && x).join(" · ");
    const scores = [];
    if (typeof t.similarity === "number") scores.push("similarity " + t.similarity.toFixed(3));
    if (typeof t.text_score === "number") scores.push("text " + t.text_score.toFixed(2));
    const li = el("li", { class: "result", dataset: { trackId: String(t.id) } },
      el("a", { href: "#/track/" + encodeURIComponent(t.id), class: "result-title" }, name),
      facts ? el("span", { class: "muted" }, " — " + facts) : null,
      scores.length ? el("div", { class: "muted small" }, scores.join(" · ")) : null);
    if (Array.isArray(t.reasons)) {
      li.append(el("ul", { class: "reasons", "aria-label": "Why " + name + " is here" },
        t.reasons.map((r) => el("li", {}, reasonText(r)))));
    }
    li.append(el("button", { type: "button", class: "more-like", "aria-label": "More like " + name, onclick: () => moreLike(t.id, name) }, "More like this"));
    return li;
  }

  function showResults(list, title, empty) {
    heading.textContent = title;
    fill(results, list.map(item));
    msg.textContent = list.length ? "" : empty;
  }

  async function moreLike(id, name) {
    heading.textContent = "Finding tracks like " + name + "…";
    try {
      const a = await api("/tracks/" + encodeURIComponent(id) + "/similar");
      if (!ctx.alive()) return;
      showResults(Array.isArray(a && a.results) ? a.results : [], "Tracks like " + name, "No similar tracks found.");
    } catch (e) {
      if (!ctx.alive()) return;
      heading.textContent = "Tracks like " + name;
      fill(results);
      msg.textContent = e && e.code === "analysis_pending" ? "The analysis of " + name + " is still pending; try again soon." : "Could not find similar tracks: " + describe(e);
    }
  }

  let seq = 0;
  async function run() {
    state.q = q.value.trim();
    state.genre = genre.value;
    state.key = key.value;
    state.tempoMin = tmin.value.trim();
    state.tempoMax = tmax.value.trim();
    const my = ++seq;
    const file = clip.files && clip.files[0];
    heading.textContent = "Searching…";
    try {
      if (file) {
        const form = new FormData();
        if (state.q) form.append("q", state.q);
        if (state.genre) form.append("genre", state.genre);
        if (state.key) form.append("key", state.key);
        if (state.tempoMin) form.append("tempo_min", state.tempoMin);
        if (state.tempoMax) form.append("tempo_max", state.tempoMax);
        form.append("file", file, file.name);
        const a = await api("/search", { method: "POST", body: form });
        if (my !== seq || !ctx.alive()) return;
        showResults(Array.isArray(a && a.results) ? a.results : [],
          (a && a.identified ? "The clip was recognised. " : "") + "Results for " + (state.q ? "“" + state.q + "” and " : "") + "the clip " + file.name,
          "Nothing matches the clip and these filters.");
      } else {
        const a = await api("/search" + qs({ q: state.q, genre: state.genre, key: state.key, tempo_min: state.tempoMin, tempo_max: state.tempoMax, limit: 50 }));
        if (my !== seq || !ctx.alive()) return;
        showFacets(a && a.facets);
        const list = Array.isArray(a && a.results) ? a.results : [];
        const total = typeof (a && a.total) === "number" ? a.total : list.length;
        const filters = [state.genre && "genre " + state.genre, state.key && "key " + state.key,
          (state.tempoMin || state.tempoMax) && "tempo " + (state.tempoMin || "0") + "–" + (state.tempoMax || "…") + " BPM"].filter(Boolean);
        showResults(list, (state.q ? "Results for “" + state.q + "”" : "All tracks") + (filters.length ? " with " + filters.join(", ") : "") + " (" + total + ")", "No track matches this search.");
      }
    } catch (e) {
      if (my !== seq || !ctx.alive()) return;
      heading.textContent = "Results";
      fill(results);
      msg.textContent = "The search failed: " + describe(e);
    }
  }

  const form = el("form", { class: "search-form", role: "search", novalidate: true, onsubmit: (e) => { e.preventDefault(); run(); } },
    el("div", { class: "row" }, el("label", { for: "q" }, "Words"), q, go),
    el("div", { class: "row" },
      el("label", { for: "genre" }, "Genre"), genre,
      el("label", { for: "key" }, "Key"), key),
    el("div", { class: "row" },
      el("label", { for: "tempo-min" }, "Tempo from (BPM)"), tmin,
      el("label", { for: "tempo-max" }, "to"), tmax),
    el("div", { class: "row" },
      el("label", { for: "search-clip" }, "Audio clip (optional)"), clip, clearClip));
  genre.addEventListener("change", run);
  key.addEventListener("change", run);
  clearClip.addEventListener("click", () => { clip.value = ""; clearClip.hidden = true; run(); });
  clip.addEventListener("change", () => { clearClip.hidden = !(clip.files && clip.files.length); });

  main.append(el("h1", {}, "Search"), form,
    el("section", { "aria-labelledby": "facets-h" }, el("h2", { id: "facets-h" }, "Facets"), facets),
    el("section", { "aria-labelledby": "results-h" }, heading, results, msg));
  await run();
  ctx.ready();
}

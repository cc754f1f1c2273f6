// page-match.js — why it exists: the "Why this match" page (#/match). It explains the last
// file recognition (POST /recognize?explain=true, kept in sessionStorage by the Recognize
// page): the clip's peaks laid over the matched track's peaks at the found offset and
// speed, the hash pairs that agreed, and each candidate's vote histogram by offset.

import { el, str, num } from "./api.js";
import { makeCanvas, peaksOverlay, histogram } from "./charts.js";
import { EXPLAIN_KEY } from "./page-recognize.js";

function last() {
  if (window.sonicaLastRecognition) return window.sonicaLastRecognition;
  try {
    const s = sessionStorage.getItem(EXPLAIN_KEY);
    return s ? JSON.parse(s) : null;
  } catch { return null; }
}

export async function render(main, _params, ctx) {
  document.title = "Why this match — Sonica";
  main.append(el("h1", {}, "Why this match"));
  const rec = last();
  const answer = rec && rec.answer;
  const m = answer && answer.match;
  const ex = answer && answer.explain;
  if (!rec || !answer) {
    main.append(el("p", { id: "match-empty" }, "There is no recognition to explain yet. ",
      el("a", { href: "#/recognize" }, "Recognise a clip from a file"), " first, then come back here."));
    ctx.ready();
    return;
  }
  if (!m) {
    main.append(el("p", { id: "no-match" }, "No match in the library for the last clip (" + str(rec.clip, "unnamed") + "), so there is nothing to explain."));
    ctx.ready();
    return;
  }
  main.append(el("p", {}, "The clip ", el("strong", {}, str(rec.clip, "unnamed")), " matched ",
    el("a", { href: "#/track/" + encodeURIComponent(m.id), class: "match-title" }, str(m.title, "#" + m.id)),
    m.artist ? " by " + str(m.artist) : "", "."));
  if (!ex || typeof ex !== "object") {
    main.append(el("p", { class: "muted" }, "The server sent no explanation with this answer."));
    ctx.ready();
    return;
  }
  const agreeing = Array.isArray(ex.agreeing) ? ex.agreeing.length : 0;
  const hashes = typeof ex.hashes === "number" ? ex.hashes : "?";
  const offset = typeof ex.offset_s === "number" ? ex.offset_s : m.offset_s;
  const speed = typeof ex.speed === "number" ? ex.speed : m.speed;
  main.append(el("p", { id: "why-summary" },
    agreeing + " of " + hashes + " clip hashes agreed at offset " + num(offset, 2) + " s, speed " + num(speed, 3) +
    (typeof ex.clip_s === "number" ? " (clip of " + ex.clip_s.toFixed(1) + " s)" : "") + "."));

  const peaks = makeCanvas("why-peaks", "Peaks of the clip (hollow blue circles) over the peaks of " + str(m.title, "the track") + " (grey dots); agreeing hash pairs as orange lines", 300);
  const votes = makeCanvas("why-votes", "Vote histograms by offset for each candidate track; the best is highlighted", 220);
  const legend = el("ul", { class: "legend" },
    el("li", {}, el("span", { class: "swatch grey", "aria-hidden": "true" }), "the track's stored peaks"),
    el("li", {}, el("span", { class: "swatch ring", "aria-hidden": "true" }), "the clip's peaks, moved to the track's time"),
    el("li", {}, el("span", { class: "swatch orange", "aria-hidden": "true" }), "hash pairs (anchor → target) that agreed"));
  const cands = Array.isArray(ex.candidates) ? ex.candidates : [];
  const table = el("table", { id: "candidates" },
    el("caption", {}, "Candidates, best first"),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Track"), el("th", { scope: "col" }, "Votes"), el("th", { scope: "col" }, "Best offset"))),
    el("tbody", {}, cands.map((c) => el("tr", { dataset: { trackId: str(c && c.id) } },
      el("th", { scope: "row" }, el("a", { href: "#/track/" + encodeURIComponent(c && c.id) }, str(c && c.title) || "#" + str(c && c.id))),
      el("td", {}, str(c && c.votes, "0")),
      el("td", {}, num(c && c.best_offset_s, 2) + " s")))));

  main.append(
    el("section", { "aria-labelledby": "peaks-h" }, el("h2", { id: "peaks-h" }, "Peaks of the clip over the track"), peaks, legend),
    el("div", { class: "cols" },
      el("section", { "aria-labelledby": "votes-h" }, el("h2", { id: "votes-h" }, "Votes by offset"), votes),
      el("section", { "aria-labelledby": "cand-h" }, el("h2", { id: "cand-h" }, "Candidates"),
        cands.length ? el("div", { class: "table-wrap" }, table) : el("p", { class: "muted" }, "No candidate list in the answer."))));

  const draw = () => { peaksOverlay(peaks, ex); histogram(votes, cands); };
  draw();
  window.addEventListener("resize", draw);
  ctx.ready();
  return () => window.removeEventListener("resize", draw);
}

// page-master.js — why it exists: the Master page (#/master, #/master/<id>), the mastering
// assistant. Upload a mix (POST /api/analyze, with progress) against a genre or chosen
// reference tracks (GET /api/references), then read the answer: the tonal balance per
// third octave against the references' range, the recommendations, the overall figures,
// the EQ preset, the preview with the suggested EQ, and the closest references
// (POST /api/similarity/<id>). A stored analysis opens at #/master/<id>.

import { api, upload, el, fill, str, num, describe, showError, withKey, ApiError } from "./api.js";
import { makeCanvas, balance } from "./charts.js";

const LEVELS = [["prescriptive", "Prescriptive: moves in dB, an EQ curve and a preview"],
  ["suggestive", "Suggestive: what lies outside the references' range"], ["informative", "Informative: the differences only"]];

const signed = (x, d = 1) => (typeof x === "number" && isFinite(x) ? (x > 0 ? "+" : "") + x.toFixed(d) : "–");
const spread = (s, d = 1) => (s && typeof s === "object" ? num(s.p10, d) + " to " + num(s.p90, d) : "–");
const hz = (x) => (typeof x !== "number" || !isFinite(x) ? "?" : x >= 1000 ? +(x / 1000).toFixed(1) + " kHz" : Math.round(x) + " Hz");

export async function render(main, params, ctx) {
  document.title = "Master — Sonica";
  let dead = false;
  let current = null;
  let file = null;

  // ---------- the form ----------
  const fileInput = el("input", { id: "master-file", type: "file", accept: "audio/*" });
  const fileName = el("p", { id: "master-file-name", class: "muted small" }, "No mix chosen yet.");
  const drop = el("div", { id: "master-drop", class: "dropzone" },
    el("p", {}, "Drop your mix here, or choose it:"),
    el("label", { for: "master-file", class: "sr-only" }, "Mix to analyse"), fileInput, fileName);
  const pick = (f) => { if (f) { file = f; fileName.textContent = "Mix: " + f.name; } };
  fileInput.addEventListener("change", () => pick(fileInput.files && fileInput.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    pick(e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0]);
  });

  const byGenre = el("input", { id: "target-genre", type: "radio", name: "target", value: "genre", checked: true });
  const byRefs = el("input", { id: "target-refs", type: "radio", name: "target", value: "references" });
  const genre = el("select", { id: "master-genre" });
  const refList = el("ul", { id: "master-refs", class: "ref-list" });
  const level = el("select", { id: "master-level" }, LEVELS.map(([v, t]) => el("option", { value: v }, t)));
  genre.addEventListener("change", () => { byGenre.checked = true; });
  const go = el("button", { type: "button", id: "master-analyse" }, "Analyse");
  const bar = el("progress", { id: "master-progress", max: "1", value: "0", "aria-label": "Upload of the mix", hidden: true });
  const status = el("p", { id: "master-status", class: "muted", "aria-live": "polite" });

  async function loadReferences() {
    try {
      const r = await api("/api/references");
      if (dead) return;
      const genres = r && Array.isArray(r.genres) ? r.genres : [];
      const refs = r && Array.isArray(r.references) ? r.references : [];
      fill(genre, genres.length ? genres.map((g) => {
        const n = Number(g.references) || 0;
        const what = [n ? n + (n === 1 ? " reference" : " references") : "", g.built_in ? "built-in target" : ""].filter(Boolean).join(", ");
        return el("option", { value: str(g.genre) }, str(g.genre) + (what ? " (" + what + ")" : ""));
      }) : el("option", { value: "" }, "No genres yet"));
      const first = genres.find((g) => Number(g.references) > 0);
      if (first) genre.value = str(first.genre);
      fill(refList, refs.length ? refs.map((t) => {
        const id = "ref-" + str(t.track_id);
        const box = el("input", { type: "checkbox", id, value: str(t.track_id) });
        box.addEventListener("change", () => { if (box.checked) byRefs.checked = true; });
        return el("li", {}, box, el("label", { for: id },
          (str(t.title) || "track #" + str(t.track_id)) + (t.artist ? " — " + str(t.artist) : ""),
          el("span", { class: "muted" }, " (" + str(t.genre) + ", " + num(t.lufs) + " LUFS)")));
      }) : el("li", { class: "muted" }, "No reference tracks yet: mark library tracks as references (POST /api/references)."));
    } catch (e) {
      if (dead) return;
      fill(refList, el("li", { class: "error" }, "Could not load the references: " + describe(e)));
      showError(e);
    }
  }

  go.addEventListener("click", async () => {
    if (!file) { ctx.notice("Choose a mix file first.", "error"); return; }
    const form = new FormData();
    form.append("recommendation_level", level.value);
    if (byRefs.checked) {
      const ids = Array.from(refList.querySelectorAll("input:checked")).map((b) => b.value);
      if (!ids.length) { ctx.notice("Tick at least one reference track.", "error"); return; }
      form.append("references", ids.join(","));
    } else {
      if (!genre.value) { ctx.notice("Choose a genre.", "error"); return; }
      form.append("genre", genre.value);
    }
    form.append("file", file, file.name);
    go.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    status.textContent = "Uploading " + file.name + "…";
    try {
      const a = await upload("/api/analyze", form, (p) => {
        bar.value = p;
        if (p >= 1) status.textContent = "Analysing " + file.name + "…";
      });
      if (dead) return;
      status.textContent = "Analysed " + file.name + ".";
      history.replaceState(null, "", "#/master/" + encodeURIComponent(str(a && a.id)));
      show(a);
    } catch (e) {
      if (dead) return;
      status.textContent = "The analysis failed: " + describe(e);
      showError(e);
    } finally {
      go.disabled = false;
      bar.hidden = true;
    }
  });

  // ---------- the answer ----------
  const result = el("section", { id: "master-result", "aria-labelledby": "result-h", hidden: true });
  const chart = makeCanvas("master-chart", "Tonal balance per third-octave band, 20 Hz to 20 kHz: the references' 10th to 90th percentile range shaded, their median dashed, your mix as a solid line; bands too quiet to judge are faded. The table below gives the numbers.", 260);
  const draw = () => { if (current) balance(chart, current.comparison && current.comparison.bands); };

  function show(a) {
    current = a || {};
    const c = current.comparison || {}, mix = current.mix || {}, t = current.target || {};
    const id = str(current.id);
    const bands = Array.isArray(c.bands) ? c.bands : [];
    const recs = Array.isArray(c.recommendations) ? c.recommendations : [];
    document.title = "Master: " + (str(current.name) || "analysis " + id) + " — Sonica";
    result.dataset.analysisId = id;

    const table = el("table", { id: "master-bands" },
      el("caption", {}, "Bands: your mix against the references (dB, loudness-normalised)"),
      el("thead", {}, el("tr", {}, ["Band", "Mix", "Target median", "Target 10th–90th", "Difference"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, bands.map((b) => el("tr", { class: b.meaningful ? (b.outside ? "outside" : "") : "faint" },
        el("th", { scope: "row" }, hz(b.low_hz) + "–" + hz(b.high_hz), b.meaningful ? "" : " (too quiet to judge)"),
        el("td", {}, num(b.mix_db)), el("td", {}, num(b.target && b.target.median)), el("td", {}, spread(b.target)),
        el("td", {}, signed(b.diff_db) + (b.outside ? " (outside)" : ""))))));

    const row = (name, v, s, unit, d = 1) => el("tr", {}, el("th", { scope: "row" }, name), el("td", {}, num(v, d) + unit),
      el("td", {}, s ? num(s.median, d) + unit : "–"), el("td", {}, s ? spread(s, d) : "–"));
    const overall = el("table", { id: "master-overall" },
      el("caption", {}, "Overall: your mix against the target"),
      el("thead", {}, el("tr", {}, ["Measure", "Your mix", "Target median", "Target 10th–90th"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {},
        row("Loudness", mix.lufs, t.lufs, " LUFS"),
        el("tr", {}, el("th", { scope: "row" }, "True peak"), el("td", {}, num(mix.true_peak_dbtp) + " dBTP"), el("td", {}, "at most −1.0 dBTP"), el("td", {}, "–")),
        row("Loudness range", mix.lra_lu, t.lra_lu, " LU"),
        row("Crest factor", mix.crest_db, t.crest_db, " dB"),
        row("Dynamic range (DR)", mix.dr, t.dr || null, ""),
        row("Stereo width", mix.width, t.width, "", 2)));

    const preset = str(current.preset);
    const copy = el("button", { type: "button", id: "master-copy", class: "quiet" }, "Copy the preset");
    copy.addEventListener("click", async () => {
      try { await navigator.clipboard.writeText(preset); ctx.notice("EQ preset copied."); }
      catch { ctx.notice("Copying is not allowed here; select the text instead."); }
    });
    const gain = typeof c.gain_db === "number" ? el("p", { id: "master-gain" }, "Gain to the target loudness: " + signed(c.gain_db) + " dB.") : null;
    const eq = c.level === "prescriptive" || current.recommendation_level === "prescriptive"
      ? [gain, preset ? [el("pre", { id: "master-preset", class: "preset" }, preset), copy] : el("p", { class: "muted" }, "No EQ move is needed.")]
      : el("p", { class: "muted" }, "Analyse at the prescriptive level for an EQ curve and a gain.");

    const url = str(current.preview_url);
    const simList = el("ol", { id: "master-similar-list" });
    const simBtn = el("button", { type: "button", id: "master-similar" }, "Find the closest references");
    simBtn.addEventListener("click", async () => {
      simBtn.disabled = true;
      try {
        const s = await api("/api/similarity/" + encodeURIComponent(id), { method: "POST" });
        if (dead) return;
        const list = s && Array.isArray(s.results) ? s.results : [];
        fill(simList, list.length ? list.map((r) => el("li", { dataset: { trackId: str(r.track_id) } },
          el("a", { href: "#/track/" + encodeURIComponent(str(r.track_id)) }, str(r.title) || "track #" + str(r.track_id)),
          " (" + str(r.genre) + ", similarity " + num(r.similarity, 3) + ")")) : el("li", { class: "muted" }, "No references to compare with."));
      } catch (e) {
        if (dead) return;
        fill(simList, el("li", { class: "error" }, describe(e)));
        showError(e);
      } finally { simBtn.disabled = false; }
    });

    fill(result,
      el("h2", { id: "result-h" }, "Analysis " + id + ": " + (str(current.name) || "mix")),
      el("p", { id: "master-source" }, sourceText(current.source, c.references), " Level: " + str(current.recommendation_level, "?") + "."),
      el("h3", {}, "Tonal balance"), chart,
      el("ul", { class: "legend" },
        el("li", {}, el("span", { class: "swatch band", "aria-hidden": "true" }), "the references' 10th–90th percentile range"),
        el("li", {}, el("span", { class: "swatch dash", "aria-hidden": "true" }), "their median"),
        el("li", {}, el("span", { class: "swatch orange", "aria-hidden": "true" }), "your mix"),
        el("li", {}, "faded: too quiet to judge")),
      el("details", {}, el("summary", {}, "The bands as a table"), el("div", { class: "table-wrap" }, table)),
      el("h3", {}, "Recommendations"),
      recs.length ? el("ul", { id: "master-recs" }, recs.map((r) => el("li", { dataset: { kind: str(r.kind) } }, str(r.message),
        typeof r.confidence === "number" ? el("span", { class: "muted" }, " (confidence " + Math.round(r.confidence * 100) + "%)") : null)))
        : el("p", { id: "master-nothing" }, "Nothing to change: the mix sits within the references' range."),
      el("h3", {}, "Overall"), el("div", { class: "table-wrap" }, overall),
      el("h3", {}, "EQ preset"), eq,
      el("h3", {}, "Preview"),
      url ? [el("audio", { id: "master-preview", controls: true, preload: "none", src: withKey(url), "aria-label": "Preview of the mix with the suggested changes" }),
        el("p", { class: "muted small" }, "The mix's first 30 s with the suggested EQ and gain, limited to −1 dBTP.")]
        : el("p", { class: "muted" }, "No preview for this analysis."),
      el("h3", {}, "Closest references"), simBtn, simList);
    result.hidden = false;
    draw();
  }

  main.append(el("h1", {}, "Master"),
    el("section", { "aria-labelledby": "mix-h" }, el("h2", { id: "mix-h" }, "Your mix"), drop,
      el("fieldset", { class: "target" }, el("legend", {}, "Compare with"),
        el("div", { class: "row" }, byGenre, el("label", { for: "target-genre" }, "A genre"), el("label", { for: "master-genre", class: "sr-only" }, "Genre"), genre),
        el("div", { class: "row" }, byRefs, el("label", { for: "target-refs" }, "These reference tracks:")), refList),
      el("div", { class: "row" }, el("label", { for: "master-level" }, "Recommendations"), level),
      el("div", { class: "row" }, go, bar), status),
    result);

  window.addEventListener("resize", draw);
  const loads = [loadReferences()];
  const raw = str(params[0]);
  if (raw) {
    loads.push((async () => {
      try {
        if (!/^\d+$/.test(raw)) throw new ApiError(404, "unknown_analysis", "no analysis " + raw);
        const a = await api("/api/analysis/" + encodeURIComponent(raw));
        if (!dead) show(a);
      } catch (e) {
        if (dead) return;
        status.textContent = "Could not open analysis " + raw + ": " + describe(e);
        showError(e);
      }
    })());
  }
  await Promise.all(loads);
  ctx.ready();
  return () => {
    dead = true;
    window.removeEventListener("resize", draw);
    const p = result.querySelector("audio");
    if (p) { try { p.pause(); p.removeAttribute("src"); p.load(); } catch { /* gone */ } }
  };
}

/** Where the target came from, in words. */
function sourceText(s, n) {
  const ids = s && Array.isArray(s.ids) ? s.ids : [];
  const refs = (k) => k + (k === 1 ? " reference" : " references");
  switch (s && s.kind) {
    case "genre": return "Compared with the library's " + refs(ids.length || Number(n) || 0) + " of the genre “" + str(s.genre) + "”.";
    case "built_in": return "Compared with Sonica's built-in target for “" + str(s.genre) + "”.";
    case "references": return "Compared with " + refs(ids.length) + ": " + ids.map((i) => "#" + i).join(", ") + ".";
    default: return "Compared with " + refs(Number(n) || 0) + ".";
  }
}

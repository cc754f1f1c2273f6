// page-library.js — why it exists: the Library page (#/library). One server page of tracks
// at a time (GET /songs, limit 50: stays quick with 10 000 tracks), sortable and filterable,
// with live status polling, drag-and-drop upload with a progress bar per file and the
// duplicate policy, delete behind a confirmation dialog, duplicate groups and the watched
// folder state.

import { api, upload, qs, el, fill, duration, date, str, describe, showError, ApiError } from "./api.js";

const LIMIT = 50;
const COLUMNS = [
  ["id", "#", "col-id"], ["title", "Title"], ["artist", "Artist", "col-artist"],
  ["duration_s", "Length"], [null, "Status"], ["created_at", "Added", "col-added"], [null, "Actions"],
];
// Remembered between visits, so coming back from a track keeps the page and sort.
const state = { offset: 0, sort: "id", desc: false, q: "", status: "" };

export async function render(main, _params, ctx) {
  document.title = "Library — Sonica";
  let timer = 0;
  let dead = false;
  let lastTotal = 0;
  let activeUploads = 0;

  const filter = el("input", { id: "track-filter", type: "search", value: state.q, autocomplete: "off" });
  const statusSel = el("select", { id: "status-filter" },
    ["", "QUEUED", "PROCESSING", "READY", "FAILED", "REJECTED"].map((s) =>
      el("option", { value: s, selected: s === state.status }, s || "All")));
  const tbody = el("tbody");
  const headRow = el("tr");
  const info = el("span", { id: "page-info", "aria-live": "polite" }, "…");
  const prev = el("button", { type: "button", id: "prev-page" }, "Previous");
  const next = el("button", { type: "button", id: "next-page" }, "Next");
  const listMsg = el("p", { class: "muted", id: "tracks-message" });
  const dupSection = el("section", { id: "duplicate-groups", "aria-labelledby": "dup-h" },
    el("h2", { id: "dup-h" }, "Duplicate groups"), el("p", { class: "muted" }, "Loading…"));
  const watched = el("section", { id: "watched", "aria-labelledby": "watch-h" },
    el("h2", { id: "watch-h" }, "Server and watched folder"), el("p", { class: "muted" }, "Loading…"));

  for (const [key, label, cls] of COLUMNS) {
    const th = el("th", { scope: "col", class: cls });
    if (key) {
      th.dataset.sort = key;
      th.append(el("button", { type: "button", class: "sort" }, label));
      th.addEventListener("click", () => {
        if (state.sort === key) state.desc = !state.desc; else { state.sort = key; state.desc = false; }
        state.offset = 0;
        load();
      });
    } else th.textContent = label;
    headRow.append(th);
  }

  // ---------- upload ----------
  const policy = el("select", { id: "on-duplicate" },
    el("option", { value: "flag" }, "Flag it (keep both, mark the duplicate)"),
    el("option", { value: "reject" }, "Reject it"),
    el("option", { value: "keep" }, "Keep it silently"));
  const fileInput = el("input", { id: "upload-input", type: "file", multiple: true, accept: "audio/*" });
  const uploads = el("ul", { id: "uploads", class: "uploads" });
  const drop = el("div", { id: "dropzone", class: "dropzone" },
    el("p", {}, "Drop audio files here (many at once), or choose them:"),
    el("label", { for: "upload-input", class: "sr-only" }, "Audio files to upload"), fileInput);

  const queue = [];
  let running = 0;
  function enqueue(files) {
    for (const f of files) {
      const bar = el("progress", { max: "1", value: "0", "aria-label": "Upload of " + f.name });
      const status = el("span", { class: "up-status" }, "waiting");
      uploads.append(el("li", {}, el("span", { class: "up-name" }, f.name), bar, status));
      queue.push({ f, bar, status });
    }
    pump();
  }
  function pump() {
    while (running < 2 && queue.length) {
      const job = queue.shift();
      running++;
      activeUploads++;
      job.status.textContent = "uploading";
      const form = new FormData();
      form.append("on_duplicate", policy.value);
      form.append("file", job.f, job.f.name);
      upload("/tracks", form, (p) => { job.bar.value = p; })
        .then((t) => {
          job.bar.value = 1;
          job.status.textContent = "uploaded as #" + str(t && t.id, "?") + ": " + str(t && t.status, "QUEUED");
        })
        .catch((e) => {
          job.status.textContent = "failed: " + describe(e);
          job.status.classList.add("error");
        })
        .finally(() => { running--; activeUploads--; pump(); if (!dead) load(); });
    }
  }
  fileInput.addEventListener("change", () => { enqueue(Array.from(fileInput.files || [])); fileInput.value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files) enqueue(Array.from(e.dataTransfer.files));
  });

  // ---------- delete ----------
  const dlg = document.getElementById("delete-dialog");
  function confirmDelete(t) {
    fill(document.getElementById("delete-text"), "Delete “" + str(t.title, "#" + t.id) + "” (#" + t.id + ") from the library? This cannot be undone.");
    const ok = document.getElementById("confirm-delete");
    const cancel = document.getElementById("cancel-delete");
    const close = () => { ok.onclick = null; cancel.onclick = null; if (dlg.open) dlg.close(); else dlg.removeAttribute("open"); };
    cancel.onclick = close;
    ok.onclick = async () => {
      close();
      try {
        await api("/tracks/" + encodeURIComponent(t.id), { method: "DELETE" });
        ctx.notice("Deleted #" + t.id + ".");
      } catch (e) { showError(e); }
      load();
    };
    if (typeof dlg.showModal === "function") dlg.showModal(); else dlg.setAttribute("open", "");
    cancel.focus();
  }

  // ---------- the table ----------
  function rowFor(t) {
    let tr = tbody.querySelector('tr[data-track-id="' + CSS.escape(String(t.id)) + '"]');
    if (!tr) {
      tr = el("tr", { dataset: { trackId: String(t.id) } },
        el("td", { class: "id col-id" }), el("td", { class: "title" }), el("td", { class: "artist col-artist" }),
        el("td", { class: "duration" }), el("td", { class: "status" }), el("td", { class: "added col-added" }),
        el("td", { class: "actions" }));
    }
    const [id, title, artist, dur, status, added, actions] = tr.children;
    id.textContent = String(t.id);
    const name = str(t.title) || str(t.path) || "#" + t.id;
    const link = title.firstChild;
    if (!link || link.textContent !== name) fill(title, el("a", { href: "#/track/" + encodeURIComponent(t.id) }, name));
    const tagText = t.duplicate_of ? str(t.duplicate_of.kind, "duplicate").replace(/_/g, " ") + " #" + str(t.duplicate_of.of)
      : Array.isArray(t.duplicates) && t.duplicates.length ? "duplicates #" + t.duplicates.map((d) => str(d && d.of)).join(", #") : "";
    const tag = title.querySelector(".tag");
    if (!tagText) { if (tag) tag.remove(); } else if (!tag) title.append(el("span", { class: "tag" }, tagText));
    else if (tag.textContent !== tagText) tag.textContent = tagText;
    artist.textContent = str(t.artist);
    dur.textContent = duration(t.duration_s);
    const st = str(t.status, "?");
    if (status.textContent !== st) { status.textContent = st; status.dataset.status = st; }
    status.title = t.error ? str(t.error.message) : "";
    added.textContent = date(t.created_at);
    tr.track = t;
    if (!actions.firstChild) {
      actions.append(el("button", { type: "button", class: "delete", onclick: () => confirmDelete(tr.track) }, "Delete"));
    }
    actions.firstChild.setAttribute("aria-label", "Delete " + name);
    return tr;
  }

  function schedule(fast) {
    clearTimeout(timer);
    if (!dead) timer = setTimeout(load, fast ? 1000 : 5000);
  }

  let seq = 0;
  async function load() {
    if (dead) return;
    const my = ++seq;
    for (const th of headRow.querySelectorAll("th[data-sort]")) {
      th.setAttribute("aria-sort", th.dataset.sort === state.sort ? (state.desc ? "descending" : "ascending") : "none");
    }
    let page;
    try {
      page = await api("/songs" + qs({ offset: state.offset, limit: LIMIT, sort: state.sort, desc: state.desc ? "true" : "false", q: state.q, status: state.status }));
    } catch (e) {
      if (my !== seq || dead) return;
      listMsg.textContent = "Could not load the library: " + describe(e);
      if (!(e instanceof ApiError && (e.status === 401 || e.status === 429))) showError(e);
      schedule(false);
      return;
    }
    if (my !== seq || dead) return;
    const songs = page && Array.isArray(page.songs) ? page.songs : [];
    const total = Number(page && page.total) || 0;
    if (state.offset > 0 && state.offset >= total) { state.offset = Math.max(0, Math.floor((total - 1) / LIMIT) * LIMIT); load(); return; }
    const rows = songs.map(rowFor);
    const keep = new Set(rows);
    for (const tr of Array.from(tbody.children)) if (!keep.has(tr)) tr.remove();
    rows.forEach((tr, i) => { if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null); });
    info.textContent = (total ? state.offset + 1 : 0) + "–" + (state.offset + songs.length) + " of " + total;
    prev.disabled = state.offset === 0;
    next.disabled = state.offset + songs.length >= total;
    listMsg.textContent = total ? "" : (state.q || state.status ? "No track matches this filter." : "The library is empty: upload some audio.");
    const pending = songs.some((t) => t.status === "QUEUED" || t.status === "PROCESSING");
    if (total !== lastTotal || !pending) loadSide();
    lastTotal = total;
    schedule(pending || activeUploads > 0);
  }

  async function loadSide() {
    try {
      const d = await api("/duplicates");
      const groups = d && Array.isArray(d.groups) ? d.groups : [];
      const items = groups.map((g) => {
        const ids = Array.isArray(g.tracks) ? g.tracks : [];
        const links = Array.isArray(g.links) ? g.links : [];
        return el("li", {},
          ids.map((id, i) => [i ? ", " : "", el("a", { href: "#/track/" + encodeURIComponent(id) }, "track #" + id)]),
          el("ul", {}, links.map((l) => el("li", { class: "muted" }, linkText(l)))));
      });
      fill(dupSection, el("h2", { id: "dup-h" }, "Duplicate groups"),
        items.length ? el("ul", { class: "groups" }, items) : el("p", { class: "muted" }, "No duplicates in the library."));
    } catch (e) {
      fill(dupSection, el("h2", { id: "dup-h" }, "Duplicate groups"), el("p", { class: "error" }, describe(e)));
    }
    try {
      const h = await api("/health");
      fill(watched, el("h2", { id: "watch-h" }, "Server and watched folder"), healthList(h));
    } catch (e) {
      fill(watched, el("h2", { id: "watch-h" }, "Server and watched folder"), el("p", { class: "error" }, describe(e)));
    }
  }

  prev.addEventListener("click", () => { state.offset = Math.max(0, state.offset - LIMIT); load(); });
  next.addEventListener("click", () => { state.offset += LIMIT; load(); });
  let debounce = 0;
  filter.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { state.q = filter.value.trim(); state.offset = 0; load(); }, 300);
  });
  statusSel.addEventListener("change", () => { state.status = statusSel.value; state.offset = 0; load(); });

  main.append(
    el("h1", {}, "Library"),
    el("section", { class: "upload", "aria-labelledby": "up-h" },
      el("h2", { id: "up-h" }, "Add tracks"),
      el("div", { class: "row" }, el("label", { for: "on-duplicate" }, "If a file is already in the library"), policy),
      drop, uploads),
    el("section", { "aria-labelledby": "list-h" },
      el("h2", { id: "list-h" }, "Tracks"),
      el("div", { class: "row filters" },
        el("label", { for: "track-filter" }, "Filter"), filter,
        el("label", { for: "status-filter" }, "Status"), statusSel),
      el("div", { class: "table-wrap" },
        el("table", { id: "tracks" }, el("caption", { class: "sr-only" }, "Tracks in the library"), el("thead", {}, headRow), tbody)),
      listMsg,
      el("div", { class: "row pager" }, prev, info, next)),
    dupSection, watched);

  await load();
  ctx.ready();
  return () => { dead = true; clearTimeout(timer); clearTimeout(debounce); };
}

/** One duplicate link in words. */
function linkText(l) {
  const parts = ["#" + str(l.track) + " is " + str(l.kind, "a duplicate").replace(/_/g, " ") + " of #" + str(l.of)];
  if (typeof l.overlap_s === "number") parts.push(l.overlap_s.toFixed(1) + " s shared");
  if (typeof l.score === "number") parts.push("score " + l.score.toFixed(2));
  return parts.join(", ");
}

/** /health as a definition list, whatever fields it carries. */
function healthList(h) {
  const dl = el("dl", { class: "kv" });
  const add = (k, v) => dl.append(el("dt", {}, k), el("dd", {}, v));
  if (!h || typeof h !== "object") { add("status", "unknown"); return dl; }
  for (const [k, v] of Object.entries(h)) {
    if (k === "watch") continue;
    add(k.replace(/_/g, " "), typeof v === "object" && v !== null ? JSON.stringify(v) : str(v));
  }
  const w = h.watch;
  if (w === undefined || w === null) add("watched folder", "not reported by this server");
  else if (typeof w === "boolean") add("watched folder", w ? "watching" : "off");
  else if (typeof w !== "object") add("watched folder", str(w));
  else for (const [k, v] of Object.entries(w)) {
    add("watch: " + k.replace(/_/g, " "), typeof v === "boolean" ? (v ? "yes" : "no") : typeof v === "object" && v !== null ? JSON.stringify(v) : str(v));
  }
  return dl;
}

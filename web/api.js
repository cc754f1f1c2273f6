// api.js — why it exists: the one place that talks to the Sonica server (fetch with the
// API key, XHR uploads with progress, key-bearing URLs for <audio>/<a>/WebSocket), turns
// error answers into readable sentences, and offers the small safe-DOM helpers every page
// uses (no innerHTML with server text anywhere).

const KEY = "sonica.key";

export function getKey() {
  try { return localStorage.getItem(KEY) || ""; } catch { return ""; }
}
export function setKey(k) {
  try { if (k) localStorage.setItem(KEY, k); else localStorage.removeItem(KEY); } catch { /* private mode */ }
}

/** An error answer from the server (or the network), with a sentence to show. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// Hooks the app installs: what to do on 401 and how to show a notice.
const hooks = { unauthorized: () => {}, notice: () => {} };
export function setHooks(h) { Object.assign(hooks, h); }

/** Shows an error in the notice area, in words. */
export function showError(err) {
  hooks.notice(describe(err), "error");
}

/** A sentence for an error. */
export function describe(err) {
  if (!err) return "";
  if (err instanceof ApiError) {
    if (err.status === 401) return "This server needs an API key" + (getKey() ? " (the saved key was refused)" : "") + ".";
    if (err.status === 429) {
      const s = err.retryAfter;
      return "Too many requests: try again in " + (s ? s : "a few") + " s.";
    }
    if (err.status === 0) return "Cannot reach the Sonica server: " + err.message;
    return err.message ? err.message + (err.code ? " (" + err.code + ")" : "") : "The server answered " + err.status + ".";
  }
  return String(err.message || err);
}

function errorOf(status, body, retryAfter) {
  const e = body && typeof body === "object" && body.error ? body.error : null;
  const code = e && typeof e.code === "string" ? e.code : "http_" + status;
  const msg = e && typeof e.message === "string" ? e.message : "The server answered " + status + ".";
  return new ApiError(status, code, msg, retryAfter);
}

function signal(err) {
  if (err.status === 401) hooks.unauthorized();
  if (err.status === 401 || err.status === 429) hooks.notice(describe(err), "error");
}

/** fetch + JSON with the key; throws ApiError. `opts.body` may be FormData or an object (sent as JSON). */
export async function api(path, opts = {}) {
  const headers = new Headers(opts.headers || {});
  const key = getKey();
  if (key) headers.set("X-API-Key", key);
  let body = opts.body;
  if (body && !(body instanceof FormData) && typeof body === "object") {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method: opts.method || "GET", headers, body, signal: opts.signal });
  } catch (e) {
    if (e && e.name === "AbortError") throw e;
    throw new ApiError(0, "network", String(e && e.message ? e.message : e));
  }
  const text = await res.text();
  let data = null;
  if (text) { try { data = JSON.parse(text); } catch { data = null; } }
  if (!res.ok) {
    const err = errorOf(res.status, data, res.headers.get("Retry-After"));
    signal(err);
    throw err;
  }
  return data;
}

/** POST /search/patterns: sections whose drum pattern is like pattern `id`, grouped by track. */
export function searchPatterns(id, more = {}) {
  return api("/search/patterns", { method: "POST", body: Object.assign({ pattern_id: Number(id), limit: 10, min_similarity: 0 }, more) });
}

/**
 * Downloads `path` (with the key header) as a file named `name`. An error answer (a 403 for
 * a tier without MIDI, say) throws ApiError with the server's sentence instead of saving it.
 */
export async function download(path, name) {
  const key = getKey();
  let res;
  try { res = await fetch(path, { headers: key ? { "X-API-Key": key } : {} }); }
  catch (e) { throw new ApiError(0, "network", String(e && e.message ? e.message : e)); }
  if (!res.ok) {
    let data = null;
    try { data = await res.json(); } catch { data = null; }
    const err = errorOf(res.status, data, res.headers.get("Retry-After"));
    signal(err);
    throw err;
  }
  const url = URL.createObjectURL(await res.blob());
  const a = el("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Query string from an object, skipping empty values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") u.set(k, String(v));
  }
  const s = u.toString();
  return s ? "?" + s : "";
}

/** A URL with `key=` appended, for routes where no header can be sent. */
export function withKey(path) {
  const key = getKey();
  if (!key) return path;
  return path + (path.includes("?") ? "&" : "?") + "key=" + encodeURIComponent(key);
}

/** ws(s)://host/ws/stream[?key=] */
export function wsUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return proto + "//" + location.host + withKey(path);
}

/** POST a FormData with upload progress. Resolves with the JSON answer; rejects with ApiError. */
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    const key = getKey();
    if (key) xhr.setRequestHeader("X-API-Key", key);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, "network", "the upload was interrupted"));
    xhr.onload = () => {
      let data = null;
      try { data = xhr.responseText ? JSON.parse(xhr.responseText) : null; } catch { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) { resolve(data); return; }
      const err = errorOf(xhr.status, data, xhr.getResponseHeader("Retry-After"));
      if (data && data.error && Array.isArray(data.error.duplicates)) err.duplicates = data.error.duplicates;
      signal(err);
      reject(err);
    };
    xhr.send(form);
  });
}

// ---------- safe DOM helpers ----------

/**
 * el("a", {href: "#/x", class: "c", dataset: {trackId: 3}, onclick: fn}, "text", child...)
 * Strings become text nodes, never HTML.
 */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else if (v === true) node.setAttribute(k, "");
      else node.setAttribute(k, String(v));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else if (c instanceof Node) node.appendChild(c);
    else node.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// ---------- formatting (never throws on missing fields) ----------

export function num(x, digits = 1) {
  return typeof x === "number" && isFinite(x) ? x.toFixed(digits) : "–";
}

export function duration(s) {
  if (typeof s !== "number" || !isFinite(s)) return "–";
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return m + ":" + String(sec).padStart(2, "0");
}

export function date(unix) {
  if (typeof unix !== "number" || !unix) return "–";
  try { return new Date(unix * 1000).toISOString().slice(0, 16).replace("T", " "); } catch { return "–"; }
}

export function str(x, fallback = "") {
  return typeof x === "string" ? x : x === undefined || x === null ? fallback : String(x);
}

export function keyName(k) {
  // analysis.key is {key:{tonic,mode},strength}; search answers may use strings.
  const names = ["C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
  if (!k) return "–";
  if (typeof k === "string") return k;
  const inner = k.key || k;
  if (typeof inner.tonic === "number") return names[inner.tonic % 12] + " " + str(inner.mode, "");
  return "–";
}

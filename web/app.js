// app.js — why it exists: the entry module of the Sonica page. It owns the hash router
// (#/library, #/recognize, #/search, #/track/<id>, #/match, #/master[/<id>], #/monitors), the notice area (#notice),
// the API-key dialog shown on a 401, and the ready flags the browser tests wait for.

import { setHooks, getKey, setKey, fill } from "./api.js";
import * as library from "./page-library.js";
import * as recognize from "./page-recognize.js";
import * as search from "./page-search.js";
import * as track from "./page-track.js";
import * as match from "./page-match.js";
import * as master from "./page-master.js";
import * as monitors from "./page-monitors.js";

const main = document.getElementById("page");
const noticeBox = document.getElementById("notice");
const keyDialog = document.getElementById("key-dialog");
const keyInput = document.getElementById("api-key");

let cleanup = null;
let generation = 0;
let noticeTimer = 0;

// ---------- notice ----------

function notice(text, kind = "info") {
  clearTimeout(noticeTimer);
  fill(noticeBox, text || "");
  noticeBox.dataset.kind = kind;
  noticeBox.hidden = !text;
  if (text && kind !== "error") noticeTimer = setTimeout(() => { noticeBox.hidden = true; }, 6000);
}

// ---------- API key dialog ----------

function askKey() {
  if (keyDialog.open || keyDialog.dataset.open === "1") return;
  keyInput.value = getKey();
  keyDialog.dataset.open = "1";
  if (typeof keyDialog.showModal === "function") {
    try { keyDialog.showModal(); } catch { keyDialog.setAttribute("open", ""); }
  } else {
    keyDialog.setAttribute("open", "");
  }
  keyInput.focus();
}

function closeKey() {
  keyDialog.dataset.open = "0";
  if (typeof keyDialog.close === "function" && keyDialog.open) keyDialog.close();
  else keyDialog.removeAttribute("open");
}

document.getElementById("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setKey(keyInput.value.trim());
  closeKey();
  notice(keyInput.value.trim() ? "API key saved." : "API key removed.");
  route();
});
document.getElementById("cancel-key").addEventListener("click", () => closeKey());
keyDialog.addEventListener("close", () => { keyDialog.dataset.open = "0"; });
document.getElementById("change-key").addEventListener("click", () => askKey());

setHooks({ unauthorized: askKey, notice });

// ---------- router ----------

const routes = [
  [/^#\/library\/?$/, library, "library"],
  [/^#\/recognize\/?$/, recognize, "recognize"],
  [/^#\/search\/?$/, search, "search"],
  [/^#\/track\/([^/]+)\/?$/, track, "track"],
  [/^#\/match\/?$/, match, "match"],
  [/^#\/master\/?$/, master, "master"],
  [/^#\/master\/([^/]+)\/?$/, master, "master"],
  [/^#\/monitors\/?$/, monitors, "monitors"],
];

function markNav(name) {
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === "#/" + name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function route() {
  const hash = location.hash || "#/library";
  let found = routes.find(([re]) => re.test(hash));
  if (!found) {
    found = routes[0];
    if (location.hash && location.hash !== "#/library") history.replaceState(null, "", "#/library");
  }
  const [re, mod, name] = found;
  const params = hash.match(re).slice(1).map(decodeURIComponent);
  const gen = ++generation;
  if (cleanup) { try { cleanup(); } catch { /* a page's cleanup must not stop navigation */ } }
  cleanup = null;
  document.body.dataset.ready = "0";
  document.body.dataset.page = name;
  markNav(name);
  main.replaceChildren();
  const ctx = {
    alive: () => gen === generation,
    notice,
    ready: () => {
      if (gen !== generation) return;
      document.body.dataset.page = name;
      document.body.dataset.ready = "1";
    },
  };
  try {
    const c = await mod.render(main, params, ctx);
    if (gen === generation) cleanup = typeof c === "function" ? c : null;
    else if (typeof c === "function") c();
  } catch (e) {
    if (gen === generation) {
      main.replaceChildren();
      const h = document.createElement("h1");
      h.textContent = "Something went wrong";
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = String(e && e.message ? e.message : e);
      main.append(h, p);
    }
  }
  ctx.ready();
}

window.addEventListener("hashchange", route);
route();

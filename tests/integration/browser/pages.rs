//! The web app as the tests see it: hash routes and the ready flag of the
//! contract (`body[data-page][data-ready="1"]`), canvas ink, axe-core,
//! screenshots and the `BROWSER-FIGURE` lines.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use super::webdriver::{Browser, Element, Options};

/// One Chromium on the app of the server at `base`.
pub struct App {
    pub b: Browser,
    pub base: String,
}

/// How much of a canvas is drawn: pixels that differ from its most common
/// colour, and how many colours there are.
#[derive(Debug, Clone, Copy)]
pub struct Ink {
    pub w: u64,
    pub h: u64,
    pub ink: u64,
    pub colors: u64,
}

impl Ink {
    /// Not blank: at least `frac` of the pixels drawn, in 2+ colours.
    pub fn drawn(&self, frac: f64) -> bool {
        self.w > 0 && self.h > 0 && self.colors >= 2 && self.ink as f64 >= frac * (self.w * self.h) as f64
    }
}

const INK_JS: &str = r#"
const c = document.querySelector(arguments[0]);
if (!c || !c.getContext) return null;
if (!c.width || !c.height) return {w: c.width, h: c.height, ink: 0, colors: 0};
const ctx = c.getContext('2d');
if (!ctx) return null;
const d = ctx.getImageData(0, 0, c.width, c.height).data;
const counts = new Map();
for (let i = 0; i < d.length; i += 4) {
  const k = ((d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3]) >>> 0;
  counts.set(k, (counts.get(k) || 0) + 1);
}
let best = 0;
for (const n of counts.values()) if (n > best) best = n;
return {w: c.width, h: c.height, ink: d.length / 4 - best, colors: counts.size};
"#;

/// Marks the moment the first page render sets `data-ready="1"` (time since
/// navigation start), installed before any script of the page runs.
const FIRST_READY_JS: &str = r#"
(function () {
  const mark = () => {
    if (window.__sonicaFirstReady === undefined && document.body && document.body.dataset.ready === '1') {
      window.__sonicaFirstReady = performance.now();
    }
  };
  new MutationObserver(mark).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-ready']});
})();
"#;

pub fn figure(name: &str, value: impl std::fmt::Display) {
    println!("BROWSER-FIGURE {name}: {value}");
}

impl App {
    pub fn new(base: &str, opts: Options) -> App {
        let b = Browser::start(opts);
        // Best effort: the time-to-first-render mark (Chromium only).
        if let Err(e) = b.cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": FIRST_READY_JS }),
        ) {
            eprintln!("note: no first-render mark ({e})");
        }
        App {
            b,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// Loads the app at `route` ("#/library") and waits for `page` to be ready.
    pub fn load(&self, route: &str, page: &str) {
        self.b.goto(&format!("{}/{route}", self.base));
        self.wait_ready(page);
    }

    /// Goes to `route` inside the loaded app (a hash change, as a link does).
    pub fn nav(&self, route: &str, page: &str) {
        self.b.execute("location.hash = arguments[0];", vec![json!(route)]);
        self.wait_ready(page);
    }

    /// `body[data-page=page][data-ready="1"]`.
    pub fn wait_ready(&self, page: &str) {
        let what = format!("body[data-page={page:?}][data-ready=\"1\"]");
        self.b.wait_until(&what, Duration::from_secs(20), || {
            let v = self
                .b
                .try_execute(
                    "return [document.body ? document.body.dataset.page : null, document.body ? document.body.dataset.ready : null];",
                    vec![],
                )
                .ok()?;
            (v[0] == page && v[1] == "1").then_some(())
        });
    }

    pub fn ink(&self, css: &str) -> Option<Ink> {
        let v = self.b.try_execute(INK_JS, vec![json!(css)]).ok()?;
        if v.is_null() {
            return None;
        }
        Some(Ink {
            w: v["w"].as_u64()?,
            h: v["h"].as_u64()?,
            ink: v["ink"].as_u64()?,
            colors: v["colors"].as_u64()?,
        })
    }

    /// Waits until canvas `css` has at least `frac` of its pixels drawn.
    pub fn wait_drawn(&self, css: &str, frac: f64, timeout: Duration) -> Ink {
        let mut last = None;
        let deadline = Instant::now() + timeout;
        loop {
            last = self.ink(css).or(last);
            if let Some(i) = last {
                if i.drawn(frac) {
                    return i;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{css} still blank after {:.0} s (last: {last:?}; None = no such 2D canvas)\n  console: {}",
                timeout.as_secs_f64(),
                self.b.console().join("\n  ")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls `f` until it equals `want`; the panic shows the last value.
    pub fn wait_eq<T: PartialEq + std::fmt::Debug>(
        &self,
        what: &str,
        timeout: Duration,
        want: &T,
        mut f: impl FnMut() -> T,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            let got = f();
            if &got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: want {want:?}, last saw {got:?}\n  console: {}",
                self.b.console().join("\n  ")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The `data-track-id`s of the elements matching `css`.
    pub fn ids(&self, css: &str) -> BTreeSet<u32> {
        self.b
            .try_execute(
                "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.dataset.trackId);",
                vec![json!(css)],
            )
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
            .collect()
    }

    /// Whether an element is shown: present, not hidden, a dialog open.
    pub fn shown(&self, css: &str) -> bool {
        self.b
            .try_execute(
                "const e = document.querySelector(arguments[0]);
                 if (!e) return false;
                 if (e.tagName === 'DIALOG' && !e.open) return false;
                 const s = getComputedStyle(e);
                 return !e.hidden && s.display !== 'none' && s.visibility !== 'hidden' && e.getClientRects().length > 0;",
                vec![json!(css)],
            )
            .map(|v| v == true)
            .unwrap_or(false)
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let el = self.b.wait_find(css, Duration::from_secs(10));
        self.b.clear(&el);
        if !text.is_empty() {
            self.b.send_keys(&el, text);
        }
    }

    /// Chooses the `<option>` of `select` whose value is `value`.
    pub fn select(&self, select: &str, value: &str) {
        let found = self.b.execute(
            "const s = document.querySelector(arguments[0]);
             if (!s) return 'no select';
             const o = Array.from(s.options).find(o => o.value === arguments[1]);
             if (!o) return 'no option: ' + Array.from(s.options).map(o => o.value).join(',');
             s.value = arguments[1];
             s.dispatchEvent(new Event('input', {bubbles: true}));
             s.dispatchEvent(new Event('change', {bubbles: true}));
             return 'ok';",
            vec![json!(select), json!(value)],
        );
        assert_eq!(found, "ok", "select {select} = {value:?}");
    }

    /// Fetches `url` inside the page (with its cookies, same origin) and
    /// returns the status and the first `n` bytes.
    pub fn fetch_head(&self, url: &str, n: usize) -> (u64, Vec<u8>) {
        let v = self.b.execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(async r => {
               const b = new Uint8Array(await r.arrayBuffer());
               done({status: r.status, len: b.length, head: Array.from(b.slice(0, arguments[1]))});
             }).catch(e => done({status: 0, error: String(e), head: []}));",
            vec![json!(url), json!(n)],
        );
        let head = v["head"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_u64().map(|b| b as u8)).collect())
            .unwrap_or_default();
        (v["status"].as_u64().unwrap_or(0), head)
    }

    /// Runs axe-core on the current page; returns (serious or critical,
    /// the others), one line each.
    pub fn axe(&self, label: &str) -> (Vec<String>, Vec<String>) {
        let loaded = self.b.execute("return typeof window.axe === 'object';", vec![]) == true;
        if !loaded {
            self.b.execute(&axe_source(), vec![]);
        }
        let v = self.b.execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
               .then(r => done({ok: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 4).map(n => n.target.join(' ') + (n.failureSummary ? ' — ' + n.failureSummary.split('\\n').slice(1, 2).join('').trim() : ''))}))}))
               .catch(e => done({err: String(e)}));",
            vec![],
        );
        assert!(v["err"].is_null(), "axe on {label}: {}", v["err"]);
        let (mut bad, mut other) = (Vec::new(), Vec::new());
        for x in v["ok"].as_array().cloned().unwrap_or_default() {
            let impact = x["impact"].as_str().unwrap_or("?").to_string();
            let nodes: Vec<String> = x["nodes"]
                .as_array()
                .map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let line = format!(
                "{label}: [{impact}] {} — {} ({})",
                x["id"].as_str().unwrap_or("?"),
                x["help"].as_str().unwrap_or(""),
                nodes.join(" | ")
            );
            if impact == "serious" || impact == "critical" {
                bad.push(line);
            } else {
                other.push(line);
            }
        }
        println!(
            "axe {label}: {} serious or critical, {} other violations",
            bad.len(),
            other.len()
        );
        for l in &other {
            println!("axe (minor): {l}");
        }
        for l in &bad {
            println!("axe (SERIOUS): {l}");
        }
        (bad, other)
    }

    /// Saves a PNG of the viewport as `<SONICA_SCREENSHOTS>/<name>.png`
    /// when that variable is set.
    pub fn shot(&self, name: &str) {
        if let Some(dir) = screenshot_dir() {
            std::fs::create_dir_all(&dir).unwrap();
            let p = dir.join(format!("{name}.png"));
            std::fs::write(&p, self.b.screenshot()).unwrap();
            println!("screenshot: {}", p.display());
        }
    }

    /// Milliseconds from navigation start to the first `data-ready="1"`.
    pub fn first_render_ms(&self) -> Option<f64> {
        self.b
            .try_execute(
                "return window.__sonicaFirstReady === undefined ? null : window.__sonicaFirstReady;",
                vec![],
            )
            .ok()
            .and_then(|v| v.as_f64())
    }

    /// The app's own files the page loaded (`/` and `/app/*`), as paths.
    pub fn app_files(&self) -> Vec<String> {
        let v = self.b.execute(
            "const out = new Set(['/']);
             for (const e of performance.getEntriesByType('resource')) {
               const u = new URL(e.name);
               if (u.origin === location.origin && u.pathname.startsWith('/app/')) out.add(u.pathname);
             }
             return Array.from(out);",
            vec![],
        );
        let mut files: Vec<String> = v
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
        files.sort();
        files
    }

    /// The element of `css`, waiting for it.
    pub fn el(&self, css: &str) -> Element {
        self.b.wait_find(css, Duration::from_secs(15))
    }
}

pub fn screenshot_dir() -> Option<PathBuf> {
    std::env::var_os("SONICA_SCREENSHOTS")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// axe-core's script from `tests/browser-deps` (installed by `npm ci`).
pub fn axe_source() -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser-deps/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "{} not readable ({e}): run npm ci --prefix tests/browser-deps (see .ci/run)",
            p.display()
        )
    })
}

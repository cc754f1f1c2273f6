//! A small WebDriver (W3C) client over ureq: starts `chromedriver` on a free
//! loopback port, opens one headless Chromium session, and offers what the
//! browser tests need — navigation, elements, scripts, screenshots and
//! polling waits. No crate beyond ureq and serde_json.

// A general client: not every call is used by every test.
#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Where Debian's `chromium` and `chromium-driver` put their binaries.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The W3C key of an element reference in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// True when the browser tests are to be skipped (`SONICA_SKIP_BROWSER=1`).
/// Otherwise a missing Chromium or chromedriver fails the test: a machine
/// without them must not pass green.
pub fn skip() -> bool {
    if std::env::var("SONICA_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("SONICA_SKIP_BROWSER=1: browser test skipped");
        return true;
    }
    for p in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(p).exists(),
            "{p} is missing: the browser tests need Debian's chromium and chromium-driver. \
             Run the install lines in .ci/run (apt-get install -y chromium chromium-driver; \
             npm ci --prefix tests/browser-deps), or set SONICA_SKIP_BROWSER=1 to skip them"
        );
    }
    false
}

/// How to start the browser.
#[derive(Clone, Debug)]
pub struct Options {
    pub width: u32,
    pub height: u32,
    /// Extra Chromium flags (e.g. the fake-microphone ones).
    pub args: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            width: 1280,
            height: 900,
            args: Vec::new(),
        }
    }
}

impl Options {
    /// Flags that feed `wav` to getUserMedia as the microphone, grant the
    /// permission without a prompt, and let audio start without a gesture.
    pub fn fake_microphone(mut self, wav: &Path) -> Self {
        self.args.extend([
            "--use-fake-device-for-media-stream".to_string(),
            "--use-fake-ui-for-media-stream".to_string(),
            format!("--use-file-for-fake-audio-capture={}", wav.display()),
            "--autoplay-policy=no-user-gesture-required".to_string(),
        ]);
        self
    }
}

/// An element reference of the current session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element(pub String);

/// One chromedriver process with one Chromium session; both end on drop.
pub struct Browser {
    driver: Child,
    url: String,
    session: String,
    agent: ureq::Agent,
    log: PathBuf,
    _profile: tempfile::TempDir,
}

/// A WebDriver error answer or a transport failure, in words.
#[derive(Debug)]
pub struct WdError(pub String);

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type WdResult<T> = Result<T, WdError>;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session. Panics with the
    /// driver's log when either does not come up.
    pub fn start(opts: Options) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let log = profile.path().join("chromedriver.log");
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e} (run the install lines in .ci/run)"));
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build();
        let mut b = Browser {
            driver,
            url: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent,
            log,
            _profile: profile,
        };
        // Ready when /status says so, not after a sleep.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = b
                .agent
                .get(&format!("{}/status", b.url))
                .timeout(Duration::from_secs(2))
                .call()
                .ok()
                .and_then(|r| r.into_json::<Value>().ok())
                .map(|v| v["value"]["ready"] == true)
                .unwrap_or(false);
            if ready {
                break;
            }
            if let Ok(Some(st)) = b.driver.try_wait() {
                panic!("chromedriver exited ({st}) before it was ready:\n{}", b.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready after 20 s:\n{}",
                b.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let user_data = b._profile.path().join("profile");
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--disable-default-apps",
            "--disable-extensions",
            "--mute-audio",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", user_data.display()));
        args.push(format!("--window-size={},{}", opts.width, opts.height));
        args.extend(opts.args);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"script": 60_000, "pageLoad": 60_000, "implicit": 0},
        }}});
        let v = b
            .raw("POST", "/session", Some(caps))
            .unwrap_or_else(|e| panic!("new Chromium session: {e}\n{}", b.log_tail()));
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {v}"))
            .to_string();
        b
    }

    /// The last lines of chromedriver's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// One WebDriver call; the answer's `value`.
    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> WdResult<Value> {
        let url = format!("{}{}", self.url, path);
        let req = self.agent.request(method, &url);
        let res = match body {
            Some(b) => req.send_json(b),
            None if method == "POST" => req.send_json(json!({})),
            None => req.call(),
        };
        let (status, text) = match res {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(s, r)) => (s, r.into_string().unwrap_or_default()),
            Err(e) => return Err(WdError(format!("{method} {path}: {e}"))),
        };
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| WdError(format!("{method} {path}: HTTP {status}, not JSON ({e}): {text:.300}")))?;
        if status >= 400 || v["value"]["error"].is_string() {
            let msg = v["value"]["message"].as_str().unwrap_or("");
            let first = msg.lines().next().unwrap_or("");
            return Err(WdError(format!(
                "{method} {path}: {} — {first}",
                v["value"]["error"].as_str().unwrap_or("error")
            )));
        }
        Ok(v["value"].clone())
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> WdResult<Value> {
        self.raw(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub fn current_url(&self) -> String {
        self.cmd("GET", "/url", None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    pub fn set_window_size(&self, width: u32, height: u32) {
        self.cmd("POST", "/window/rect", Some(json!({"width": width, "height": height})))
            .unwrap_or_else(|e| panic!("resize to {width}x{height}: {e}"));
    }

    /// Sizes the window so that the page's viewport (innerWidth ×
    /// innerHeight) is `width` × `height`.
    pub fn set_viewport(&self, width: u32, height: u32) {
        self.set_window_size(width, height);
        let v = self
            .cmd(
                "POST",
                "/execute/sync",
                Some(json!({"script": "return [innerWidth, innerHeight];", "args": []})),
            )
            .unwrap_or_else(|e| panic!("viewport size: {e}"));
        let (iw, ih) = (
            v[0].as_u64().unwrap_or(width as u64),
            v[1].as_u64().unwrap_or(height as u64),
        );
        if (iw, ih) != (width as u64, height as u64) {
            let w = (2 * width as u64).saturating_sub(iw) as u32;
            let h = (2 * height as u64).saturating_sub(ih) as u32;
            self.set_window_size(w, h);
        }
    }

    /// The first element matching `css`, if any (no waiting).
    pub fn try_find(&self, css: &str) -> Option<Element> {
        self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css})))
            .ok()
            .and_then(|v| v[ELEMENT_KEY].as_str().map(|s| Element(s.to_string())))
    }

    /// The first element matching `css`; panics when there is none.
    pub fn find(&self, css: &str) -> Element {
        self.try_find(css)
            .unwrap_or_else(|| panic!("no element matches {css:?} on {}", self.current_url()))
    }

    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .unwrap_or_else(|e| panic!("find_all {css:?}: {e}"))
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v[ELEMENT_KEY].as_str().map(|s| Element(s.to_string())))
        .collect()
    }

    /// Waits up to `timeout` for an element matching `css`.
    pub fn wait_find(&self, css: &str, timeout: Duration) -> Element {
        self.wait_until(&format!("an element {css:?}"), timeout, || self.try_find(css))
    }

    pub fn click(&self, el: &Element) {
        self.cmd("POST", &format!("/element/{}/click", el.0), None)
            .unwrap_or_else(|e| panic!("click: {e}"));
    }

    /// Clicks the first element matching `css` (waiting for it a little).
    pub fn click_css(&self, css: &str) {
        let el = self.wait_find(css, Duration::from_secs(10));
        self.click(&el);
    }

    pub fn clear(&self, el: &Element) {
        self.cmd("POST", &format!("/element/{}/clear", el.0), None)
            .unwrap_or_else(|e| panic!("clear: {e}"));
    }

    /// Types `text`; for a file input, `text` is an absolute path (several
    /// joined by '\n' for a `multiple` input).
    pub fn send_keys(&self, el: &Element, text: &str) {
        self.cmd(
            "POST",
            &format!("/element/{}/value", el.0),
            Some(json!({ "text": text })),
        )
        .unwrap_or_else(|e| panic!("send_keys: {e}"));
    }

    pub fn text(&self, el: &Element) -> String {
        self.cmd("GET", &format!("/element/{}/text", el.0), None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The text of the first element matching `css`, or None.
    pub fn text_of(&self, css: &str) -> Option<String> {
        self.try_find(css).map(|e| self.text(&e))
    }

    /// An attribute (or property, as WebDriver resolves it), or None.
    pub fn attr(&self, el: &Element, name: &str) -> Option<String> {
        self.cmd("GET", &format!("/element/{}/attribute/{name}", el.0), None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
    }

    pub fn displayed(&self, el: &Element) -> bool {
        self.cmd("GET", &format!("/element/{}/displayed", el.0), None)
            .map(|v| v == true)
            .unwrap_or(false)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns
    /// its value. Elements may be passed with [`Browser::el_arg`].
    pub fn try_execute(&self, script: &str, args: Vec<Value>) -> WdResult<Value> {
        self.cmd("POST", "/execute/sync", Some(json!({"script": script, "args": args})))
    }

    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.try_execute(script, args)
            .unwrap_or_else(|e| panic!("script failed: {e}\nscript: {script:.400}"))
    }

    /// Runs an async script: it ends by calling `arguments[arguments.length-1]`.
    pub fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd("POST", "/execute/async", Some(json!({"script": script, "args": args})))
            .unwrap_or_else(|e| panic!("async script failed: {e}\nscript: {script:.400}"))
    }

    /// An element as a script argument.
    pub fn el_arg(el: &Element) -> Value {
        json!({ ELEMENT_KEY: el.0 })
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let v = self
            .cmd("GET", "/screenshot", None)
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        let png = base64_decode(v.as_str().unwrap_or(""));
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        png
    }

    /// A Chrome DevTools command through chromedriver (`goog/cdp/execute`).
    pub fn cdp(&self, cmd: &str, params: Value) -> WdResult<Value> {
        self.cmd("POST", "/goog/cdp/execute", Some(json!({"cmd": cmd, "params": params})))
    }

    /// The page's console messages since the last call (best effort).
    pub fn console(&self) -> Vec<String> {
        self.cmd("POST", "/se/log", Some(json!({"type": "browser"})))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|e| {
                format!(
                    "[{}] {}",
                    e["level"].as_str().unwrap_or("?"),
                    e["message"].as_str().unwrap_or("")
                )
            })
            .collect()
    }

    /// Polls `f` every 75 ms until it gives Some, for up to `timeout`; the
    /// panic names `what`, the URL and the console.
    pub fn wait_until<T>(&self, what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if Instant::now() >= deadline {
                let console = self.console().join("\n  ");
                panic!(
                    "timed out after {:.1} s waiting for {what} on {}\n  console:\n  {console}",
                    timeout.as_secs_f64(),
                    self.current_url()
                );
            }
            std::thread::sleep(Duration::from_millis(75));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(&format!("{}/session/{}", self.url, self.session))
                .timeout(Duration::from_secs(10))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (with or without padding) to bytes.
pub fn base64_decode(s: &str) -> Vec<u8> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Reads a whole HTTP body (for callers that fetch with ureq themselves).
pub fn body_bytes(r: ureq::Response) -> Vec<u8> {
    let mut b = Vec::new();
    let _ = r.into_reader().read_to_end(&mut b);
    b
}

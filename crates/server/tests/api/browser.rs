//! A headless Chromium driven over the W3C WebDriver protocol (Debian's `chromedriver`), for
//! the tests of pages a customer or operator uses in a browser.
//!
//! Without `chromedriver` on the machine the browser tests are skipped with a message, unless
//! `VOUCHERD_REQUIRE_BROWSER` is set (CI sets it), when they fail instead.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine;
use serde_json::{Value, json};

const DRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How often, and how many times, a click waits for the next page (10 s in all).
const NAVIGATION_POLL_MILLIS: u64 = 50;
const NAVIGATION_POLLS_MAX: usize = 200;
/// The W3C WebDriver key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Runs axe on the whole page and calls back with each violation as text.
const AXE_RUN: &str = "const done = arguments[arguments.length - 1];
axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa'] } })
  .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' +
    v.nodes.map(n => n.target.join(' ') + ' ' + (n.failureSummary || '')).join('; '))))
  .catch(e => done(['axe failed: ' + e]));";

/// One browser session with its own driver process.
pub struct Browser {
    driver: Child,
    endpoint: String,
    http: reqwest::Client,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; `None` when this machine has no
    /// chromedriver and the browser is not required.
    pub async fn start() -> Option<Browser> {
        let driver_path = std::env::var("VOUCHERD_CHROMEDRIVER").unwrap_or_else(|_| DRIVER.into());
        if !std::path::Path::new(&driver_path).exists() {
            if std::env::var_os("VOUCHERD_REQUIRE_BROWSER").is_some() {
                panic!("VOUCHERD_REQUIRE_BROWSER is set but {driver_path} does not exist");
            }
            eprintln!(
                "skipped: no chromedriver at {driver_path} (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let mut driver = Command::new(&driver_path)
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let port = announced_port(&mut driver);
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let chromium = std::env::var("VOUCHERD_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--window-size=1024,900",
            ] },
        } } });
        let created: Value = http
            .post(format!("{endpoint}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("session request")
            .json()
            .await
            .expect("session answer");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"));
        Some(Browser {
            driver,
            endpoint: format!("{endpoint}/session/{session}"),
            http,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.endpoint));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("webdriver request")
            .json()
            .await
            .expect("webdriver answer");
        if answer["value"]["error"].is_string() {
            panic!("webdriver {method} {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    /// Opens a URL and waits until the page has loaded (WebDriver's default page-load strategy).
    pub async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn current_url(&self) -> String {
        let url = self.call(reqwest::Method::GET, "/url", None).await;
        url.as_str().unwrap_or_default().to_string()
    }

    pub async fn title(&self) -> String {
        let title = self.call(reqwest::Method::GET, "/title", None).await;
        title.as_str().unwrap_or_default().to_string()
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// Whether an element matches the selector now.
    pub async fn has(&self, css: &str) -> bool {
        let found = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found.as_array().is_some_and(|all| !all.is_empty())
    }

    /// The rendered text of the first element matching the selector.
    pub async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        let text = self
            .call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await;
        text.as_str().unwrap_or_default().to_string()
    }

    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let id = self.element(css).await;
        let value = self
            .call(
                reqwest::Method::GET,
                &format!("/element/{id}/attribute/{name}"),
                None,
            )
            .await;
        value.as_str().map(str::to_string)
    }

    /// Clears a field and types into it, as a user would.
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Chooses a local file in a file input.
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": path.display().to_string() })),
        )
        .await;
    }

    /// Runs a script in the page and answers its result.
    async fn script(&self, source: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": source, "args": [] })),
        )
        .await
    }

    /// Resizes the window so that the page's viewport is `width` × `height` CSS pixels (the
    /// headless window has no browser chrome around it).
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// The page's width beyond its viewport, in CSS pixels (0: no horizontal scrolling).
    pub async fn horizontal_overflow(&self) -> i64 {
        self.script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
        )
        .await
        .as_i64()
        .unwrap_or(i64::MAX)
    }

    /// The element that has the focus, as `tag#id`.
    pub async fn focused(&self) -> String {
        self.script("const e = document.activeElement; return e.tagName.toLowerCase() + '#' + e.id")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs axe-core (its source given) on the page at the WCAG 2.0 A and AA, 2.1 AA and 2.2 AA
    /// levels; each violation as `rule: targets`.
    pub async fn accessibility_violations(&self, axe_source: &str) -> Vec<String> {
        self.script(axe_source).await;
        let found = self
            .call(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({ "script": AXE_RUN, "args": [] })),
            )
            .await;
        found
            .as_array()
            .unwrap_or_else(|| panic!("axe answered {found}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Clicks a control that leaves the page (a submit button, a link) and returns once the
    /// next page has loaded: WebDriver's click does not always wait for that navigation.
    pub async fn click_and_wait(&self, css: &str) {
        const PAGE: &str =
            "return document.readyState === 'complete' ? performance.timeOrigin : null";
        let before = self.script(PAGE).await;
        self.click(css).await;
        for _ in 0..NAVIGATION_POLLS_MAX {
            let now = self.script(PAGE).await;
            if !now.is_null() && now != before {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(NAVIGATION_POLL_MILLIS)).await;
        }
        panic!("clicking {css} did not load another page");
    }

    /// Clicks an element (for controls that stay on the page; see [`Browser::click_and_wait`]).
    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Saves a PNG of the viewport under `target/browser-artifacts/` for a reviewer to look at.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let encoded = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-artifacts");
        std::fs::create_dir_all(&dir).expect("artifact directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// Ends the session (closing Chromium) and stops the driver.
    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.endpoint).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// Reads chromedriver's "was started successfully on port N" line.
fn announced_port(driver: &mut Child) -> u16 {
    let stdout = driver.stdout.take().expect("chromedriver stdout");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("chromedriver output");
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(port) = digits.parse() {
                // Keep draining its output so the driver never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return port;
            }
        }
    }
    panic!("chromedriver ended without announcing its port");
}

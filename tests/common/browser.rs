//! Debian's Chromium for the browser tests: chromedriver on a free port, a headless client,
//! signing in through the form, axe-core's verdict and screenshots at two widths.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

/// chromedriver on a free port, stopped with the test.
pub struct Driver {
    child: std::process::Child,
    pub port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver not found: run scripts/setup (chromium-driver)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Driver { child, port }
}

/// Headless Chromium through `driver`, an Italian browser (`Accept-Language: it-IT,it`), saving
/// downloads into `downloads`.
pub async fn chromium(driver: &Driver, downloads: &Path) -> fantoccini::Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--autoplay-policy=no-user-gesture-required", "--mute-audio",
                "--lang=it-IT", "--accept-lang=it-IT,it"],
            "prefs": { "download.default_directory": downloads, "download.prompt_for_download": false,
                "intl.accept_languages": "it-IT,it" },
        }),
    );
    fantoccini::ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("connecting to chromedriver")
}

/// The WCAG 2.1 A and AA violations axe-core (npm, web/vendor) finds in the page open in
/// `client`, one line per rule: its id and the elements it found.
pub async fn axe_violations(client: &fantoccini::Client) -> Vec<String> {
    let axe = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/web/vendor/node_modules/axe-core/axe.min.js"
    ))
    .expect("axe-core is not installed: run scripts/setup");
    client.execute(&axe, vec![]).await.unwrap();
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag',
                 values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
               .then((r) => done(r.violations.map((v) => v.id + ': ' +
                   v.nodes.map((n) => n.target.join(' ')).join(', '))),
                     (e) => done(['axe did not run: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    found
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_else(|| vec![format!("axe answered {found}")])
}

/// The folder the screenshots of the test binary `test` go to, under the target's tmp folder.
pub fn shots(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("screenshots")
        .join(test);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whole-page screenshots of the page at `url` at 1280 and 360 px, named `name-WIDTH.png` in
/// [`shots`]`(test)`; at each width the page must fit the window (no sideways scrolling) and
/// pass axe-core with no WCAG 2.1 A or AA violation.
pub async fn screenshots(client: &Client, test: &str, url: &str, name: &str) {
    for (width, height) in [(1280, 900), (360, 740)] {
        client.set_window_size(width, height).await.unwrap();
        client.goto(url).await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        // The whole page, as tall as it is (to a limit).
        let tall = client
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .unwrap()
            .as_u64()
            .unwrap_or(u64::from(height))
            .clamp(u64::from(height), 6000);
        client.set_window_size(width, tall as u32).await.unwrap();
        client
            .execute("window.scrollTo(0, 0)", vec![])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let png = client.screenshot().await.unwrap();
        std::fs::write(shots(test).join(format!("{name}-{width}.png")), png).unwrap();
        let wider = client
            .execute(
                "const e = document.documentElement; return e.scrollWidth - e.clientWidth",
                vec![],
            )
            .await
            .unwrap();
        assert!(
            wider.as_i64().is_some_and(|px| px <= 0),
            "{name} at {width} px is {wider} px wider than the window"
        );
        let violations = axe_violations(client).await;
        assert!(
            violations.is_empty(),
            "{name} at {width} px: {violations:#?}"
        );
    }
    client.set_window_size(1280, 900).await.unwrap();
}

/// Signs in through the real form as `name` and lands on `next`.
pub async fn sign_in(client: &Client, base: &str, name: &str, password: &str, next: &str) {
    client
        .goto(&format!("{base}/signin?next={next}"))
        .await
        .unwrap();
    let field = |id: &'static str| client.find(Locator::Id(id));
    field("name").await.unwrap().send_keys(name).await.unwrap();
    field("password")
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    client
        .find(Locator::Css("form.signin button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Id("signed-in"))
        .await
        .unwrap();
}

/// Waits until `script` (a string) returns `want`, for at most `secs`; the last value.
pub async fn wait_text(client: &Client, script: &str, want: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = client.execute(script, vec![]).await.unwrap();
        let text = v.as_str().unwrap_or("").to_owned();
        if text == want || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

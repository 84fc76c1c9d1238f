//! The pages in a real browser: Debian's Chromium driven through chromedriver (fantoccini) on a
//! generated, published session served by `aula serve`.

mod common;

use std::time::{Duration, Instant};

use common::serve::{fixture, http, start_server};

/// chromedriver on a free port, stopped with the test.
struct Driver {
    child: std::process::Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
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

async fn js_f64(client: &fantoccini::Client, script: &str) -> f64 {
    client
        .execute(script, vec![])
        .await
        .unwrap()
        .as_f64()
        .unwrap_or(f64::NAN)
}

/// Polls `script` (a number) until `ok` holds or `secs` pass; returns the last value.
async fn wait_for(
    client: &fantoccini::Client,
    script: &str,
    secs: u64,
    ok: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = js_f64(client, script).await;
        if ok(v) || Instant::now() > deadline {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_work_in_a_real_browser() {
    use fantoccini::Locator;
    let f = fixture();
    let server = start_server(&f.home(), None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--autoplay-policy=no-user-gesture-required", "--mute-audio"] }),
    );
    let client = fantoccini::ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("connecting to chromedriver");

    // The player plays: its time advances.
    client
        .goto(&format!("{base}/sessions/{}?lang=en", f.id))
        .await
        .unwrap();
    let t = wait_for(
        &client,
        "return document.getElementById('player').currentTime",
        30,
        |t| t > 1.0,
    )
    .await;
    assert!(t > 1.0, "the player did not play (currentTime {t})");

    // Clicking a transcript line seeks within 0.5 s of its time.
    let lines = client
        .find_all(Locator::Css("#transcript .line"))
        .await
        .unwrap();
    assert!(lines.len() >= 4, "{} transcript lines", lines.len());
    let line = &lines[lines.len() * 2 / 3];
    let target_ms: f64 = line
        .attr("data-ms")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    line.click().await.unwrap();
    let at = wait_for(&client, "const v = document.getElementById('player'); return (v.seeking || v.readyState < 2) ? -1e9 : window.aulaSessionMs()", 20, |ms| (ms - target_ms).abs() <= 500.0).await;
    let state = client
        .execute("const v = document.getElementById('player'); return JSON.stringify({src: v.currentSrc, t: v.currentTime, seeking: v.seeking, ready: v.readyState, error: v.error && v.error.message, paused: v.paused})", vec![])
        .await
        .unwrap();
    assert!(
        (at - target_ms).abs() <= 500.0,
        "clicked a line at {target_ms} ms, the player is at {at} ms ({state})"
    );
    let highlighted = client.find(Locator::Css("#transcript .line.playing")).await;
    assert!(highlighted.is_ok(), "no line is highlighted while playing");

    // Searching a spoken word finds the session, and the link opens the player at that second.
    let word: String = line
        .text()
        .await
        .unwrap()
        .split_whitespace()
        .skip(2)
        .find(|w| w.len() >= 6)
        .map(|w| w.chars().filter(|c| c.is_alphanumeric()).collect())
        .expect("a long word in the line");
    client
        .goto(&format!("{base}/search?lang=en"))
        .await
        .unwrap();
    client
        .find(Locator::Css("#q"))
        .await
        .unwrap()
        .send_keys(&word)
        .await
        .unwrap();
    client
        .find(Locator::Css("form[role=search] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let hit = client
        .wait()
        .for_element(Locator::Css("ol.hits a"))
        .await
        .unwrap();
    let href = hit.attr("href").await.unwrap().unwrap();
    let second: f64 = href
        .split("t=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    hit.click().await.unwrap();
    let at = wait_for(&client, "const v = document.getElementById('player'); return (!v || v.seeking || v.readyState < 2) ? -1e9 : window.aulaSessionMs()", 20, |ms| (ms / 1000.0 - second).abs() <= 1.5).await;
    assert!(
        (at / 1000.0 - second).abs() <= 1.5,
        "the hit at {second} s opened the player at {at} ms ({href})"
    );

    // The press page requests a clip, the job finishes, the download lasts as asked.
    client.goto(&format!("{base}/press?lang=en")).await.unwrap();
    client
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(&f.press)
        .await
        .unwrap();
    client
        .find(Locator::Css("input[value=range]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let from = client.find(Locator::Css("#from")).await.unwrap();
    from.clear().await.unwrap();
    from.send_keys("3").await.unwrap();
    let to = client.find(Locator::Css("#to")).await.unwrap();
    to.clear().await.unwrap();
    to.send_keys("9").await.unwrap();
    client
        .find(Locator::Css("#request"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let link = client
        .wait()
        .at_most(Duration::from_secs(180))
        .for_element(Locator::Css("#outputs a.output"))
        .await
        .expect("the clip job did not finish");
    let href = link.attr("href").await.unwrap().unwrap();
    client.close().await.unwrap();
    let (status, _) = http(server.port, "GET", &href, None, "");
    assert_eq!(status, 200, "{href}");
    let path = href
        .split('?')
        .next()
        .unwrap()
        .trim_start_matches(&format!("/files/{}/", f.id));
    let file = f.home().join("sessions").join(&f.id).join(path);
    let info = publisher::probe::info(&file).unwrap();
    // 3 s to 9 s of session time, with the default 300 ms of padding each side.
    assert!(
        (info.duration_ms as i64 - 6_600).abs() <= 100,
        "{href}: {info:?}"
    );
}

//! The pages in a real browser: Debian's Chromium driven through chromedriver (fantoccini) on a
//! generated, published session served by `aula serve`; and a session whose every text is markup,
//! whose pages must show that markup as text (parsed with html5ever, and run in Chromium).

mod common;

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::browser::{chromium, start_driver};
use common::serve::{fixture, http, start_server, Server};
use common::{read_json, Aula, Evidence, Spec};

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
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;

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
    assert!(
        !href.contains("token"),
        "the token is in the address {href}"
    );
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

    // Clicking the link downloads the unpublished clip (the script sends the token in the
    // header); the token was kept nowhere but in the page's memory.
    link.click().await.unwrap();
    let name = Path::new(path).file_name().unwrap();
    let saved = downloads.path().join(name);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&saved).map(|m| m.len()).ok()
        != std::fs::metadata(&file).map(|m| m.len()).ok()
    {
        assert!(
            Instant::now() < deadline,
            "{} was not downloaded",
            saved.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept = client
        .execute(
            "return localStorage.length + sessionStorage.length + document.cookie.length + document.getElementById('token').value.length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(kept.as_f64(), Some(0.0), "the token was kept in the page");
    client.close().await.unwrap();
    let (status, _) = http(server.port, "GET", &href, None, "");
    assert!(
        matches!(status, 401 | 403 | 404),
        "{href} without the token: {status}"
    );
    let (status, _) = http(server.port, "GET", &href, Some(&f.press), "");
    assert_eq!(status, 200, "{href} with the token");
}

/// A text made of markup: an element, an attribute breaking out of its quotes, a script, a
/// `javascript:` address, template syntax and an entity, labelled so each field is told apart.
fn markup(label: &str) -> String {
    format!(
        "{label} \"><img src=x onerror=alert('{label}')><script>alert('{label}')</script>' \
         javascript:alert(1) {{{{ 7*7 }}}} &amp; </title></textarea>"
    )
}

/// A published session (English, 30 s, 2 items, 2 speakers) whose title, body, agenda titles,
/// person names and groups are all markup, with `aula serve` on it.
struct MarkupSession {
    aula: Aula,
    id: String,
    session: serde_json::Value,
    server: OnceLock<Server>,
}

impl MarkupSession {
    fn title(&self) -> &str {
        self.session["title"].as_str().unwrap()
    }

    fn port(&self) -> u16 {
        self.server
            .get_or_init(|| start_server(&self.aula.path().join("data"), None))
            .port
    }

    fn get(&self, page: &str) -> String {
        let (status, html) = http(self.port(), "GET", page, None, "");
        assert_eq!(status, 200, "{page}: {html}");
        html
    }

    /// Every page, Italian and English: home, the session, a search with hits, a search for
    /// markup, the press office.
    fn pages(&self) -> Vec<String> {
        let word = self.spoken_word();
        let query = "%3Cscript%3Ealert(%27q%27)%3C%2Fscript%3E%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E";
        let mut pages = Vec::new();
        for (first, then) in [("", ""), ("?lang=en", "&lang=en")] {
            pages.push(format!("/{first}"));
            pages.push(format!("/sessions/{}{first}", self.id));
            pages.push(format!("/search?q={word}{then}"));
            pages.push(format!("/search?q={query}{then}"));
            pages.push(format!("/press{first}"));
        }
        pages
    }

    /// A word of the public transcript (as the session page shows it), to search for.
    fn spoken_word(&self) -> String {
        use scraper::{Html, Node, Selector};
        let html = Html::parse_document(&self.get(&format!("/sessions/{}", self.id)));
        let words = Selector::parse("#transcript .line .w").unwrap();
        let spoken: String = html
            .select(&words)
            .flat_map(|word| word.children())
            .filter_map(|node| match node.value() {
                Node::Text(text) => Some(format!("{} ", &**text)),
                _ => None,
            })
            .collect();
        spoken
            .split(|c: char| !c.is_ascii_alphabetic())
            .find(|w| w.len() >= 6)
            .expect("a long word in the transcript")
            .to_lowercase()
    }
}

fn markup_session() -> &'static MarkupSession {
    static SESSION: OnceLock<MarkupSession> = OnceLock::new();
    SESSION.get_or_init(|| {
        let aula = Aula::new();
        let sample = aula.sample(&Spec {
            lang: "en",
            seconds: 30,
            items: 2,
            speakers: 2,
            seed: 11,
            ..Spec::default()
        });
        let document = sample.document();
        let mut session = read_json(&document);
        session["title"] = markup("title").into();
        session["body"] = markup("body").into();
        for (k, item) in session["agenda"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            item["title"] = markup(&format!("item {}", k + 1)).into();
        }
        let mut groups = serde_json::Map::new();
        for (k, person) in session["roster"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            person["name"] = markup(&format!("name {}", k + 1)).into();
            if let Some(group) = person["group"].as_str().map(str::to_owned) {
                let renamed = groups
                    .entry(group)
                    .or_insert_with(|| markup(&format!("group {}", k + 1)).into());
                person["group"] = renamed.clone();
            }
        }
        // The groups that tabled items are renamed with their members.
        for item in session["agenda"].as_array_mut().unwrap() {
            if let Some(group) = item["proposer_group"].as_str() {
                item["proposer_group"] = groups[group].clone();
            }
        }
        std::fs::write(&document, session.to_string()).unwrap();
        let id = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
        aula.transcribed(&id, "tiny.en");
        aula.ok(&["publish", &id, "--presets", "web-720p"]);
        MarkupSession {
            aula,
            id,
            session,
            server: OnceLock::new(),
        }
    })
}

/// The texts of `page` that come from the data: every one must be on the page as text.
fn expected_texts(m: &MarkupSession, page: &str) -> Vec<String> {
    let s = &m.session;
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
    let (path, query) = page.split_once('?').unwrap_or((page, ""));
    match path {
        "/" => vec![text(&s["title"]), text(&s["body"])],
        "/search" if query.contains("%3Cscript%3E") => Vec::new(),
        "/search" | "/press" => vec![text(&s["title"])],
        _ => {
            let mut texts = vec![text(&s["title"]), text(&s["body"])];
            texts.extend(
                s["agenda"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| text(&i["title"])),
            );
            texts
        }
    }
}

#[test]
fn markup_in_a_sessions_texts_comes_back_as_text_on_every_page() {
    use scraper::{Html, Selector};
    let m = markup_session();
    let all = Selector::parse("*").unwrap();
    for page in m.pages() {
        let html = Html::parse_document(&m.get(&page));
        let text: String = html.root_element().text().collect();
        for expected in expected_texts(m, &page) {
            assert!(
                text.contains(&expected),
                "{page}: no text {expected:?} in {text}"
            );
        }
        if page.starts_with("/sessions/") {
            let speakers = html
                .select(&Selector::parse("#transcript .speaker").unwrap())
                .map(|s| s.text().collect::<String>())
                .filter(|name| !name.is_empty())
                .collect::<Vec<_>>();
            let names: Vec<_> = m.session["roster"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert!(
                !speakers.is_empty() && speakers.iter().all(|s| names.contains(&s.as_str())),
                "{page}: speakers {speakers:?}, roster {names:?}"
            );
        }
        let title: String = html
            .select(&Selector::parse("head > title").unwrap())
            .flat_map(|t| t.text())
            .collect();
        let h1: String = html
            .select(&Selector::parse("h1").unwrap())
            .flat_map(|t| t.text())
            .collect();
        assert_eq!(title, format!("{h1} · aula"), "{page}");
        if page.starts_with("/sessions/") {
            assert_eq!(h1, m.title(), "{page}");
        }
        let mut scripts = Vec::new();
        for element in html.select(&all) {
            let e = element.value();
            assert!(
                !["img", "textarea"].contains(&e.name()),
                "{page}: a <{}> came from the data",
                e.name()
            );
            for (name, value) in e.attrs() {
                assert!(
                    !name.starts_with("on"),
                    "{page}: attribute {name}={value:?}"
                );
                assert!(
                    !value.trim_start().to_lowercase().starts_with("javascript:"),
                    "{page}: attribute {name}={value:?}"
                );
                if name == "href" || name == "src" {
                    assert!(
                        value.starts_with('/') || value.starts_with('?'),
                        "{page}: {name}={value:?} leaves the site"
                    );
                }
            }
            if e.name() == "script" {
                scripts.push(
                    e.attr("src")
                        .or(e.attr("type"))
                        .unwrap_or("inline")
                        .to_owned(),
                );
                if e.attr("type") == Some("application/json") {
                    let data: String = element.text().collect();
                    serde_json::from_str::<serde_json::Value>(&data).unwrap_or_else(|e| {
                        panic!("{page}: the page's data is not JSON ({e}): {data}")
                    });
                }
            }
        }
        let mut expected_scripts = vec!["/static/hls.min.js", "/static/app.js"];
        if page.starts_with("/sessions/") {
            // The player's data and the citation's.
            expected_scripts.splice(0..0, ["application/json", "application/json"]);
        }
        assert_eq!(scripts, expected_scripts, "{page}");
        if page.contains("%3Cscript%3E") {
            let value = html
                .select(&Selector::parse("input#q").unwrap())
                .next()
                .and_then(|i| i.value().attr("value"))
                .map(str::to_owned);
            assert_eq!(
                value.as_deref(),
                Some("<script>alert('q')</script>\"><img src=x onerror=alert(1)>"),
                "{page}: the search box"
            );
        }
        if page.starts_with("/search?q=") && !page.contains('%') {
            let hits = html.select(&Selector::parse("ol.hits a").unwrap()).count();
            assert!(hits > 0, "{page}: no hit");
        }
        if page.starts_with("/press") {
            let option: String = html
                .select(&Selector::parse("select#session option").unwrap())
                .flat_map(|o| o.text())
                .collect();
            assert_eq!(option, m.title(), "{page}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_a_sessions_texts_runs_no_script_in_chromium() {
    let m = markup_session();
    let base = format!("http://127.0.0.1:{}", m.port());
    let pages = m.pages();
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    for page in &pages {
        client.goto(&format!("{base}{page}")).await.unwrap();
        // An injected <img onerror> would fire once the page has loaded.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let alert = client.get_alert_text().await;
        assert!(alert.is_err(), "{page}: an alert fired: {alert:?}");
        let found = client
            .execute(
                "return [document.title, document.querySelector('h1').textContent, \
                 document.images.length, document.scripts.length]",
                vec![],
            )
            .await
            .unwrap();
        // A session page also has the player's and the citation's data.
        let scripts = if page.starts_with("/sessions/") { 4 } else { 2 };
        let h1 = found[1].as_str().unwrap();
        assert_eq!(
            found[0].as_str(),
            Some(format!("{h1} · aula").as_str()),
            "{page}"
        );
        assert_eq!(found[2].as_u64(), Some(0), "{page}: images");
        assert_eq!(found[3].as_u64(), Some(scripts), "{page}: scripts");
        if page.starts_with("/sessions/") {
            assert_eq!(h1, m.title(), "{page}");
        }
    }
    client.close().await.unwrap();
}

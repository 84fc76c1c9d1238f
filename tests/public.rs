//! What the city's website and reusers take from the public site: the embeddable player in a
//! frame of another origin (and no other page in one), its oEmbed description, the open data
//! (JSON valid against the shipped schema, CSV that parses, never a closed word) and the sitemap.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::browser::{chromium, screenshots, start_driver};
use common::serve::{fixture, http, http_raw, start_server};

/// Runs a Python `script` with `args`, `input` on its standard input; its output.
fn python(program: &Path, script: &str, args: &[&Path], input: &str) -> std::process::Output {
    common::output_with_input(Command::new(program).args(["-c", script]).args(args), input)
}

/// Checks `document` against the shipped schema (`pointer` names a part of it, `#` the whole)
/// with Python's jsonschema; the validator's complaint when it fails.
fn schema_errors(document: &str, pointer: &str) -> Option<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join(".venv-tests/bin/python");
    assert!(
        venv.is_file(),
        "{} is missing: run scripts/setup",
        venv.display()
    );
    let script = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        if sys.argv[2] != '#':\n    schema = dict(schema['$defs'][sys.argv[2]], **{'$defs': schema['$defs']})\n\
        doc = json.load(sys.stdin)\n\
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)\n";
    let schema = root.join("web/open-data.schema.json");
    let out = python(&venv, script, &[&schema, Path::new(pointer)], document);
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Rows of a CSV document, parsed by Python's csv module.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let script = "import csv, json, sys; print(json.dumps(list(csv.reader(sys.stdin))))";
    let out = python(Path::new("python3"), script, &[], text);
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_reuser_gets_valid_open_data_an_oembed_and_the_sitemap() {
    let f = fixture();
    let server = start_server(&f.home(), None);
    let port = server.port;

    let (status, index) = http(port, "GET", "/open-data/", None, "");
    assert_eq!(status, 200, "{index}");
    assert_eq!(schema_errors(&index, "index"), None);
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    assert_eq!(index["licence"], "CC-BY-4.0");
    let entry = &index["sessions"][0];
    assert_eq!(entry["id"], f.id.as_str());

    let (status, doc) = http(
        port,
        "GET",
        &format!("/open-data/sessions/{}.json", f.id),
        None,
        "",
    );
    assert_eq!(status, 200, "{doc}");
    assert_eq!(schema_errors(&doc, "#"), None);
    assert!(!doc.to_lowercase().contains(&f.closed_word), "{doc}");
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let passages = doc["transcript"].as_array().unwrap();
    assert!(passages.len() >= 3, "{doc}");
    assert!(
        !doc["interventions"].as_array().unwrap().is_empty(),
        "{doc}"
    );
    assert_eq!(doc["agenda"].as_array().unwrap().len(), 2);

    let (status, csv) = http(
        port,
        "GET",
        &format!("/open-data/sessions/{}.csv", f.id),
        None,
        "",
    );
    assert_eq!(status, 200);
    assert!(!csv.to_lowercase().contains(&f.closed_word));
    let rows = csv_rows(&csv);
    assert_eq!(rows[0][0], "session");
    assert_eq!(rows.len(), passages.len() + 1, "{csv}");
    assert_eq!(rows[1][6], passages[0]["text"].as_str().unwrap());
    let (status, csv) = http(port, "GET", "/open-data/index.csv", None, "");
    assert_eq!(status, 200);
    assert_eq!(csv_rows(&csv)[1][0], f.id);
    assert_eq!(
        http(
            port,
            "GET",
            "/open-data/sessions/..%2Fsecret.json",
            None,
            ""
        )
        .0,
        404
    );

    // The search a journalist uses: a spoken word, narrowed to its speaker, grouped by session.
    let passage = passages
        .iter()
        .find(|p| !p["person"].is_null())
        .expect("a passage with a known speaker");
    let word: String = passage["text"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_alphabetic())
        .max_by_key(|w| w.len())
        .unwrap()
        .to_lowercase();
    let person = passage["person"].as_str().unwrap();
    let (status, page) = http(
        port,
        "GET",
        &format!("/search?q={word}&person={person}&lang=en"),
        None,
        "",
    );
    assert_eq!(status, 200);
    assert!(page.contains("class=\"hit-session\""), "{page}");
    assert!(
        page.contains(passage["speaker"].as_str().unwrap()),
        "{page}"
    );
    // The word looked for is marked where it was said.
    assert!(
        page.to_lowercase().contains(&format!("<mark>{word}")),
        "{word} not marked: {page}"
    );
    // A councillor's name, misspelt, offers the councillor's page.
    let speaker = passage["speaker"].as_str().unwrap();
    let surname = speaker.split_whitespace().last().unwrap();
    let misspelt: String = surname.chars().take(surname.chars().count() - 1).collect();
    let (_, page) = http(
        port,
        "GET",
        &format!("/search?q={misspelt}&lang=en"),
        None,
        "",
    );
    assert!(
        page.contains("Councillors with a similar name")
            && page.contains(&format!("/consiglieri/{person}")),
        "{misspelt}: {page}"
    );
    let (_, page) = http(
        port,
        "GET",
        &format!("/search?q={word}&person=nobody&lang=en"),
        None,
        "",
    );
    assert!(page.contains("0 results"), "{page}");
    let (status, body) = http(
        port,
        "GET",
        &format!("/api/v1/search?q={word}&from=yesterday"),
        None,
        "",
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("from: \\\"yesterday\\\" is not a day"),
        "{body}"
    );

    let page = format!("http://localhost:8080/sessions/{}", f.id);
    let (status, oembed) = http(
        port,
        "GET",
        &format!("/oembed?format=json&maxwidth=480&url={page}"),
        None,
        "",
    );
    assert_eq!(status, 200, "{oembed}");
    let oembed: serde_json::Value = serde_json::from_str(&oembed).unwrap();
    assert_eq!(oembed["version"], "1.0");
    assert_eq!(oembed["type"], "video");
    assert_eq!(oembed["width"], 480);
    assert_eq!(oembed["height"], 270);
    // The template engine writes `/` in attributes as `&#x2f;`, as HTML allows.
    let html = oembed["html"].as_str().unwrap().replace("&#x2f;", "/");
    assert!(
        html.starts_with(&format!(
            "<iframe src=\"http://localhost:8080/embed/{}\" width=\"480\" height=\"270\"",
            f.id
        )),
        "{html}"
    );
    assert_eq!(
        http(
            port,
            "GET",
            "/oembed?url=https://elsewhere.example/x",
            None,
            ""
        )
        .0,
        404
    );

    let (status, sitemap) = http(port, "GET", "/sitemap.xml", None, "");
    assert_eq!(status, 200);
    assert!(sitemap.starts_with("<?xml"), "{sitemap}");
    assert!(sitemap.contains(&format!("<loc>{page}</loc>")), "{sitemap}");
    // Every councillor of the roster has a page listed.
    let roster = f.aula.ok(&["session", "show", &f.id, "--json"]);
    let roster: serde_json::Value = serde_json::from_str(&roster).unwrap();
    for person in roster["roster"].as_array().unwrap() {
        let loc = format!(
            "<loc>http://localhost:8080/consiglieri/{}</loc>",
            person["id"].as_str().unwrap()
        );
        assert!(sitemap.contains(&loc), "{loc} in {sitemap}");
    }
    assert!(sitemap.contains("/gruppi/"), "{sitemap}");

    // The archive's playlists may be read by a player on another site.
    let raw = http_raw(
        port,
        "GET",
        &format!("/files/{}/archive/index.m3u8", f.id),
        None,
        "",
    );
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(
        raw.to_lowercase()
            .contains("access-control-allow-origin: *"),
        "{raw}"
    );
}

/// Serves one page on a free port of 127.0.0.1 (another origin than aula's) until the test ends.
fn serve_page(html: String) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                html.len()
            );
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_city_website_plays_the_embedded_archive_in_a_frame() {
    let f = fixture();
    let aula_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = serve_page(format!(
        "<!doctype html><html lang=\"it\"><head><title>Comune</title></head><body>\
         <h1>Il consiglio comunale</h1>\
         <iframe id=\"aula\" title=\"Seduta\" width=\"640\" height=\"400\" \
         src=\"http://127.0.0.1:{aula_port}/embed/{}\"></iframe></body></html>",
        f.id
    ));
    std::fs::write(
        f.home().join("aula.toml"),
        format!("embed_origins = [\"http://127.0.0.1:{site}\"]\n"),
    )
    .unwrap();
    let server = start_server(&f.home(), Some(aula_port));
    let base = format!("http://127.0.0.1:{}", server.port);
    let raw = http_raw(server.port, "GET", &format!("/embed/{}", f.id), None, "");
    assert!(
        raw.contains(&format!(
            "content-security-policy: frame-ancestors 'self' http://127.0.0.1:{site}"
        )),
        "{raw}"
    );
    let raw = http_raw(server.port, "GET", &format!("/sessions/{}", f.id), None, "");
    assert!(
        raw.contains("content-security-policy: frame-ancestors 'none'"),
        "{raw}"
    );

    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    screenshots(
        &client,
        "public",
        &format!("{base}/embed/{}", f.id),
        "embed",
    )
    .await;
    client
        .goto(&format!("http://127.0.0.1:{site}/"))
        .await
        .unwrap();
    let frame = client.find(fantoccini::Locator::Id("aula")).await.unwrap();
    frame.enter_frame().await.unwrap();
    let mut played = 0.0;
    for _ in 0..100 {
        let v = client
            .execute(
                "const v = document.getElementById('player'); return v ? v.currentTime : 0;",
                vec![],
            )
            .await
            .unwrap();
        played = v.as_f64().unwrap_or(0.0);
        if played > 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        played > 1.0,
        "the embedded player did not play ({played} s)"
    );
    let png = client.screenshot().await.unwrap();
    std::fs::write(common::browser::shots("public").join("framed.png"), png).unwrap();
    client.close().await.unwrap();
}

/// Selects words 1 to 3 of the `k`th transcript line with four words or more; returns the
/// selected words' first start and last end (ms).
async fn select_words(client: &fantoccini::Client) -> (f64, f64) {
    let v = client
        .execute(
            "const ls = Array.from(document.querySelectorAll('#transcript .line'))\
               .filter((l) => l.querySelectorAll('.w').length >= 4);\
             const ws = ls[Math.floor(ls.length / 2)].querySelectorAll('.w');\
             const r = document.createRange();\
             r.setStart(ws[1].firstChild, 0);\
             r.setEnd(ws[3].firstChild, ws[3].textContent.length);\
             const s = window.getSelection(); s.removeAllRanges(); s.addRange(r);\
             return [Number(ws[1].dataset.ms), Number(ws[3].dataset.end)];",
            vec![],
        )
        .await
        .unwrap();
    (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
}

/// The citation shown once the selection is made: its text and its link's path and query.
async fn citation(client: &fantoccini::Client) -> (String, String) {
    for _ in 0..50 {
        let v = client
            .execute(
                "const b = document.getElementById('cite'); if (b.hidden) return null;\
                 const a = document.getElementById('cite-link');\
                 return [document.getElementById('cite-text').textContent, a.pathname + a.search];",
                vec![],
            )
            .await
            .unwrap();
        if let Some(v) = v.as_array() {
            return (
                v[0].as_str().unwrap().to_owned(),
                v[1].as_str().unwrap().to_owned(),
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no citation shown for the selection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journalist_cites_selected_words_and_the_link_plays_exactly_them() {
    let f = fixture();
    let server = start_server(&f.home(), None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    let page = format!("{base}/sessions/{}?lang=en", f.id);
    screenshots(&client, "public", &page, "session").await;
    client.goto(&page).await.unwrap();
    let (start_ms, end_ms) = select_words(&client).await;
    let (text, link) = citation(&client).await;
    assert!(text.contains("machine transcription"), "{text}");
    assert!(
        text.contains(&f.id) || text.contains("Ordinary session"),
        "{text}"
    );
    assert!(text.starts_with('\u{201c}'), "{text}");
    let png = client.screenshot().await.unwrap();
    std::fs::write(common::browser::shots("public").join("citation.png"), png).unwrap();
    client
        .find(fantoccini::Locator::Id("cite-copy"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The link opens the player on the first selected word and stops after the last.
    client.goto(&format!("{base}{link}")).await.unwrap();
    let state = "const v = document.getElementById('player');\
                 return [v.currentTime, v.paused, window.aulaSessionMs ? window.aulaSessionMs() : -1, v.seeking];";
    let mut started = None;
    for _ in 0..200 {
        let v = client.execute(state, vec![]).await.unwrap();
        if v[0].as_f64().unwrap() > 0.0 && v[1] == false && v[3] == false {
            started = Some(v[2].as_f64().unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = started.expect("the cited link did not play");
    assert!(
        (started - start_ms).abs() <= 500.0,
        "played from {started} ms, the first selected word starts at {start_ms} ms"
    );
    let mut stopped = None;
    for _ in 0..300 {
        let v = client.execute(state, vec![]).await.unwrap();
        if v[1] == true {
            stopped = Some(v[2].as_f64().unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stopped = stopped.expect("the cited link did not stop");
    assert!(
        (stopped - end_ms).abs() <= 500.0,
        "stopped at {stopped} ms, the last selected word ends at {end_ms} ms"
    );

    // Once the council's staff reviewed the items, the citation says so.
    for item in ["1", "2"] {
        f.aula.ok(&["session", "review", &f.id, "--item", item]);
    }
    client.goto(&page).await.unwrap();
    select_words(&client).await;
    let (text, _) = citation(&client).await;
    assert!(text.contains("reviewed by the council's staff"), "{text}");
    for item in ["1", "2"] {
        f.aula
            .ok(&["session", "review", &f.id, "--item", item, "--clear"]);
    }
    client.close().await.unwrap();
}

/// The first address of the sitemap under `prefix` (`/consiglieri/`), without the site.
fn listed_page(sitemap: &str, prefix: &str) -> String {
    let at = sitemap
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} page in {sitemap}"));
    sitemap[at..].split('<').next().unwrap().to_owned()
}

/// Every public page, Italian and English, fits a phone's width and passes axe-core (WCAG 2.1 A
/// and AA) in Chromium: home, the session, a search with hits and one narrowed to a speaker, the
/// press office, a councillor, a group, the alerts, the sign-in and a page not found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_public_page_passes_axe_core() {
    let f = fixture();
    let server = start_server(&f.home(), None);
    let port = server.port;
    let (_, sitemap) = http(port, "GET", "/sitemap.xml", None, "");
    let councillor = listed_page(&sitemap, "/consiglieri/");
    let group = listed_page(&sitemap, "/gruppi/");
    let person = councillor.trim_start_matches("/consiglieri/");
    let (_, doc) = http(
        port,
        "GET",
        &format!("/open-data/sessions/{}.json", f.id),
        None,
        "",
    );
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let word = doc["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["text"].as_str().unwrap().split_whitespace())
        .find(|w| w.len() >= 5 && w.chars().all(char::is_alphabetic))
        .expect("a word of the transcript")
        .to_owned();
    let pages = [
        ("home", "/".to_owned()),
        ("session", format!("/sessions/{}", f.id)),
        ("search", format!("/search?q={word}")),
        ("search-person", format!("/search?q={word}&person={person}")),
        ("press", "/press".to_owned()),
        ("councillor", councillor.clone()),
        ("group", group.clone()),
        ("alerts", "/avvisi".to_owned()),
        ("signin", "/signin".to_owned()),
        ("not-found", "/consiglieri/nessuno".to_owned()),
    ];
    let base = format!("http://127.0.0.1:{port}");
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    for (name, page) in &pages {
        for lang in ["it", "en"] {
            let join = if page.contains('?') { '&' } else { '?' };
            let url = format!("{base}{page}{join}lang={lang}");
            screenshots(&client, "public-pages", &url, &format!("{name}-{lang}")).await;
        }
    }
    client.close().await.unwrap();
}

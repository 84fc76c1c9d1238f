//! The press office's documents end to end: the resoconto of a transcribed session with a closed
//! part (PDF read back with pdftotext, pages escaped, roles enforced), the clips report over 16
//! sessions (15/16, then 16/16, on the page, in the CSV and in the PDF), and screenshots of both
//! pages in Chromium at 1280 and 360 px.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::serve::{http, start_server};
use common::{read_json, Aula, Evidence, Spec};

/// An agenda title that would break a page that did not escape it.
const HOSTILE: &str = "<script>alert(1)</script> Bilancio & \"altro\"";

struct Recorded {
    aula: Aula,
    id: String,
    closed_word: String,
    /// Every agenda item's title.
    titles: Vec<String>,
    /// The names of the people heard outside the closed part.
    speakers: BTreeSet<String>,
    press: String,
    admin: String,
}

/// One session for the resoconto tests: English, 60 s, 2 items (the first with a hostile title),
/// 2 speakers, closed 40-52 s, placed by the clerk's markers, transcribed with tiny.en.
fn recorded() -> &'static Recorded {
    static SESSION: OnceLock<Recorded> = OnceLock::new();
    SESSION.get_or_init(|| {
        let aula = Aula::new();
        let sample = aula.sample(&Spec {
            lang: "en",
            seconds: 60,
            items: 2,
            speakers: 2,
            seed: 3,
            closed: Some((40, 52)),
            ..Spec::default()
        });
        let closed_word = sample.truth().closed[0].word.to_lowercase();
        let mut document = read_json(sample.document());
        document["agenda"][0]["title"] = HOSTILE.into();
        std::fs::write(sample.document(), document.to_string()).unwrap();
        let id = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
        aula.transcribed(&id, "tiny.en");
        let titles = document["agenda"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_owned())
            .collect();
        let timeline: session::Timeline =
            serde_json::from_str(&aula.ok(&["session", "timeline", &id, "--json"])).unwrap();
        let session = session::parse(&document.to_string(), session::Format::Json).unwrap();
        let speakers = timeline
            .words
            .iter()
            .filter(|w| !session.touches_closed(w.start_ms, w.end_ms.max(w.start_ms + 1)))
            .filter_map(|w| w.person.as_deref())
            .map(|p| session.name_of(p).to_owned())
            .collect();
        let token = |role: &str| {
            aula.ok(&["token", "create", "--role", role])
                .trim()
                .to_owned()
        };
        let (press, admin) = (token("press"), token("admin"));
        Recorded {
            aula,
            id,
            closed_word,
            titles,
            speakers,
            press,
            admin,
        }
    })
}

/// The text of a PDF, with every run of white space made one space (a title may wrap).
fn pdf_text(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext not found: run scripts/setup (poppler-utils)");
    assert!(out.status.success(), "pdftotext {}", pdf.display());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The body of an HTTP response that may be binary, with its status and headers.
fn fetch(port: u16, path: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, response[split + 4..].to_vec())
}

#[test]
fn the_resoconto_pdf_has_every_item_and_speaker_and_not_the_closed_part() {
    let r = recorded();
    assert!(!r.speakers.is_empty(), "nobody was heard");
    let pdf = r.aula.path().join("resoconto.pdf");
    let started = Instant::now();
    r.aula.ok(&[
        "session",
        "resoconto",
        &r.id,
        "--pdf",
        pdf.to_str().unwrap(),
    ]);
    eprintln!("resoconto PDF printed in {:?}", started.elapsed());
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));
    let text = pdf_text(&pdf);
    for title in &r.titles {
        assert!(text.contains(title.as_str()), "no item {title:?} in {text}");
    }
    for name in &r.speakers {
        assert!(
            text.contains(name.as_str()),
            "no speaker {name:?} in {text}"
        );
    }
    assert!(
        text.contains("Seduta segreta dalle 00:00:40 alle 00:00:52"),
        "{text}"
    );
    assert!(
        !text.to_lowercase().contains(&r.closed_word),
        "the closed part's word {:?} is in {text}",
        r.closed_word
    );

    // In English, and as JSON: the same record, nothing of the closed part.
    let english = r.aula.path().join("record-en.pdf");
    r.aula.ok(&[
        "session",
        "resoconto",
        &r.id,
        "--pdf",
        english.to_str().unwrap(),
        "--lang",
        "en",
    ]);
    assert!(pdf_text(&english).contains("Closed session from 00:00:40 to 00:00:52"));
    let json = r
        .aula
        .ok(&["session", "resoconto", &r.id, "--json"])
        .to_lowercase();
    assert!(!json.contains(&r.closed_word));

    // A bad language and an unknown session are refused as bad input.
    for (args, expected) in [
        (
            vec!["session", "resoconto", r.id.as_str(), "--lang", "fr"],
            "fr",
        ),
        (vec!["session", "resoconto", "nosuch"], "nosuch"),
    ] {
        let out = r.aula.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            common::stderr(&out).contains(expected),
            "{}",
            common::stderr(&out)
        );
    }
}

#[test]
fn the_resoconto_pages_are_for_the_press_escaped_and_never_show_the_closed_part() {
    let r = recorded();
    let server = start_server(&r.aula.path().join("data"), None);
    let page = format!("/sessions/{}/resoconto", r.id);
    assert_eq!(fetch(server.port, &page, None).0, 401);
    for token in [&r.press, &r.admin] {
        let (status, head, body) = fetch(server.port, &page, Some(token));
        assert_eq!(status, 200, "{head}");
        assert!(
            head.to_lowercase().contains("content-type: text/html"),
            "{head}"
        );
        let html = String::from_utf8(body).unwrap();
        // The hostile title is text, not markup.
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains(
            "&lt;script&gt;alert(1)&lt;&#x2f;script&gt; Bilancio &amp; &quot;altro&quot;"
        ));
        // Not even the presidency's staff find a closed word in a public record.
        assert!(!html.to_lowercase().contains(&r.closed_word));
        assert!(html.contains("Seduta segreta"));
    }
    let (_, _, english) = fetch(server.port, &format!("{page}?lang=en"), Some(&r.press));
    let english = String::from_utf8(english).unwrap();
    assert!(
        english.starts_with("<!doctype html>\n<html lang=\"en\">")
            && english.contains("Closed session")
    );

    let (status, head, pdf) = fetch(server.port, &format!("{page}.pdf"), Some(&r.press));
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_lowercase()
            .contains("content-type: application/pdf"),
        "{head}"
    );
    assert!(pdf.starts_with(b"%PDF"));
    assert_eq!(fetch(server.port, &format!("{page}.pdf"), None).0, 401);
    assert_eq!(
        fetch(server.port, "/sessions/nosuch/resoconto", Some(&r.press)).0,
        404
    );

    // The session's API record links the press to it.
    let (_, body) = http(
        server.port,
        "GET",
        &format!("/api/v1/sessions/{}", r.id),
        Some(&r.press),
        "",
    );
    let session: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(session["resoconto"]["html"], page);
    assert_eq!(session["resoconto"]["pdf"], format!("{page}.pdf"));
}

/// 16 sessions of 2021 (one a month, four more in the autumn), each imported from the same short
/// sample with its own id, day and clerk's marker, and transcribed. Returns their ids.
fn sixteen_sessions(aula: &Aula) -> Vec<String> {
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 20,
        items: 1,
        speakers: 1,
        seed: 5,
        ..Spec::default()
    });
    let base = read_json(sample.document());
    let days = [
        "01-18", "02-15", "03-15", "04-19", "05-17", "06-21", "07-19", "08-30", "09-13", "09-27",
        "10-11", "10-25", "11-08", "11-22", "12-06", "12-20",
    ];
    days.iter()
        .enumerate()
        .map(|(i, day)| {
            let mut document = base.clone();
            let start = format!("2021-{day}T17:00:00Z");
            document["id"] = format!("cc-2021-{:02}", i + 1).into();
            document["title"] = format!("Seduta n. {}", i + 1).into();
            common::move_start(&mut document, &start);
            document["agenda_markers"] = serde_json::json!([{ "at": start, "item": 1 }]);
            document["floor_events"] = serde_json::json!([]);
            let path = sample.dir.join(format!("session-{i}.json"));
            std::fs::write(&path, document.to_string()).unwrap();
            let id = aula.import(&path, Evidence::None);
            aula.transcribed(&id, "tiny.en");
            id
        })
        .collect()
}

#[test]
fn the_report_counts_the_sessions_with_a_published_clip() {
    let aula = Aula::new();
    let started = Instant::now();
    let ids = sixteen_sessions(&aula);
    eprintln!(
        "16 sessions imported and transcribed in {:?}",
        started.elapsed()
    );
    // The cheapest published clip: the item as MP3.
    let publish = |id: &str| {
        let report: serde_json::Value =
            serde_json::from_str(&aula.ok(&["publish", id, "--presets", "audio-mp3", "--json"]))
                .unwrap();
        assert_eq!(report["clips"], 1, "{report}");
    };
    for id in &ids[..15] {
        publish(id);
    }
    eprintln!("15 published after {:?}", started.elapsed());
    let press = aula
        .ok(&["token", "create", "--role", "press"])
        .trim()
        .to_owned();
    let server = start_server(&aula.path().join("data"), None);
    let period = "?from=2021-01-01&to=2021-12-31";
    let page = |token: &str| {
        let (status, head, body) = fetch(server.port, &format!("/report{period}"), Some(token));
        assert_eq!(status, 200, "{head}");
        String::from_utf8(body).unwrap()
    };
    let csv_total = || {
        let (status, head, body) =
            fetch(server.port, &format!("/report.csv{period}"), Some(&press));
        assert_eq!(status, 200);
        assert!(
            head.to_lowercase().contains("content-type: text/csv"),
            "{head}"
        );
        let csv = String::from_utf8(body).unwrap();
        assert_eq!(
            csv.lines().count(),
            14,
            "a line a month, a header and the total: {csv}"
        );
        csv.lines().last().unwrap().to_owned()
    };

    let html = page(&press);
    assert!(html.contains("<strong>15/16</strong>"), "{html}");
    assert!(html.contains("Nessuna clip pubblicata."));
    assert_eq!(csv_total(), "total,16,15,15");

    publish(&ids[15]);
    let html = page(&press);
    assert!(html.contains("<strong>16/16</strong>"), "{html}");
    assert!(html.contains("role=\"img\""));
    assert_eq!(csv_total(), "total,16,16,16");
    // September had two sessions, both with their clip.
    let (_, _, csv) = fetch(server.port, &format!("/report.csv{period}"), Some(&press));
    assert!(String::from_utf8(csv)
        .unwrap()
        .contains("\n2021-09,2,2,2\n"));

    // The final report as PDF says the same.
    let (status, head, pdf) = fetch(server.port, &format!("/report.pdf{period}"), Some(&press));
    assert_eq!(status, 200, "{head}");
    let file = aula.path().join("report.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let text = pdf_text(&file);
    assert!(text.contains("16/16 sedute con clip pubblicate"), "{text}");
    assert!(text.contains("Seduta n. 16"), "{text}");

    // Only the press and up; a bad period is named.
    assert_eq!(fetch(server.port, &format!("/report{period}"), None).0, 401);
    assert_eq!(
        fetch(server.port, &format!("/report.csv{period}"), None).0,
        401
    );
    let (status, _, body) = fetch(
        server.port,
        "/report?from=2021-12-31&to=2021-01-01",
        Some(&press),
    );
    assert_eq!(status, 400);
    assert!(String::from_utf8(body).unwrap().contains("before"));
    assert_eq!(
        fetch(server.port, "/report?from=yesterday", Some(&press)).0,
        400
    );

    // The command line reads the same catalogue.
    let months = aula.ok(&[
        "report",
        "--from",
        "2021-01-01",
        "--to",
        "2021-12-31",
        "--format",
        "months",
    ]);
    assert_eq!(months.lines().last(), Some("total,16,16,16"));
    eprintln!("report test done in {:?}", started.elapsed());
}

/// Where the screenshots go (not committed): the test target's temporary folder.
fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_the_resoconto_and_the_report() {
    let r = recorded();
    let server = start_server(&r.aula.path().join("data"), None);
    let dir = screenshots_dir();
    // The pages need a press token, which a browser's address bar cannot send: the test fetches
    // them with it and shows the self-contained page from a file.
    let pages = [
        ("resoconto", format!("/sessions/{}/resoconto", r.id)),
        ("report", "/report?from=2021-01-01&to=2021-12-31".to_owned()),
    ];
    let mut files = Vec::new();
    for (name, path) in &pages {
        let (status, _, body) = fetch(server.port, path, Some(&r.press));
        assert_eq!(status, 200);
        let file = dir.join(format!("{name}.html"));
        std::fs::write(&file, body).unwrap();
        files.push((name, file));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("chromedriver not found: run scripts/setup (chromium-driver)");
    let _driver = Stopped(driver);
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    for width in [1280u32, 360] {
        let mut caps = serde_json::Map::new();
        // Chromium's windows are at least 500 px wide: a phone's width is emulated.
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
                "--window-size=1280,900"],
                "mobileEmulation": { "deviceMetrics": { "width": width, "height": 800, "pixelRatio": 1.0 } } }),
        );
        let client = fantoccini::ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("connecting to chromedriver");
        for (name, file) in &files {
            client
                .goto(&format!("file://{}", file.display()))
                .await
                .unwrap();
            let viewport = client
                .execute("return window.innerWidth", vec![])
                .await
                .unwrap();
            assert_eq!(viewport.as_u64(), Some(u64::from(width)));
            // Nothing is wider than the window: no sideways scrolling on a phone.
            let overflow = client
                .execute(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(
                overflow.as_i64(),
                Some(0),
                "{name} at {width} px scrolls sideways"
            );
            let png = client.screenshot().await.unwrap();
            let out = dir.join(format!("{name}-{width}.png"));
            std::fs::write(&out, png).unwrap();
            eprintln!("screenshot {}", out.display());
        }
        client.close().await.unwrap();
    }
}

/// A child process stopped when the test ends, passed or failed.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

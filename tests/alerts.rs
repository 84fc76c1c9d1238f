//! Alerts against a real SMTP server (Python's aiosmtpd with STARTTLS) the test starts: a
//! journalist subscribes to a word through the form, confirms from the mail's link, and when the
//! session is published gets one mail with the passage, its deep link and RFC 8058's one-click
//! unsubscribe, which works; the subscription's Atom feed lists the passage; an address that never
//! confirms receives nothing but the confirmation, and a closed word is never mailed.

mod common;

use common::browser::{chromium, screenshots, start_driver};
use common::deliver::{free_port, SmtpSink};
use common::serve::{fixture, http, http_form, start_server};

/// The token of the first link to `path` (`/avvisi/conferma`, ...) in `text`.
fn token_after(text: &str, path: &str) -> String {
    let start = text
        .find(&format!("{path}?t="))
        .unwrap_or_else(|| panic!("no {path} link in {text}"))
        + path.len()
        + 3;
    text[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

/// The addresses each received mail went to, in order.
fn recipients(smtp: &SmtpSink) -> Vec<String> {
    (1..=smtp.mails())
        .map(|n| smtp.mail(n)["rcpt_tos"][0].as_str().unwrap().to_owned())
        .collect()
}

fn form(email: &str, topic: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("email", email)
        .append_pair("topic", topic)
        .append_pair(topic, value)
        .finish()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_confirmed_subscriber_is_mailed_the_passage_and_can_unsubscribe() {
    let f = fixture();
    let aula = f.aula.copy();
    let smtp = SmtpSink::start();
    let port = free_port();
    std::fs::write(
        aula.path().join("data").join("aula.toml"),
        format!(
            "public_url = \"http://127.0.0.1:{port}\"\n{}",
            smtp.alerts_table()
        ),
    )
    .unwrap();
    let server = start_server(&aula.path().join("data"), Some(port));

    // A word said in the open part of the session, as the transcript has it.
    let (status, timeline) = http(
        port,
        "GET",
        &format!("/api/v1/sessions/{}/timeline", f.id),
        Some(&f.admin),
        "",
    );
    assert_eq!(status, 200, "{timeline}");
    let timeline: serde_json::Value = serde_json::from_str(&timeline).unwrap();
    let word = timeline["words"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| {
            let text = w["text"].as_str().unwrap();
            w["start_ms"].as_u64().unwrap() < 35_000
                && text.chars().count() >= 6
                && text.chars().all(char::is_alphabetic)
        })
        .expect("a long word before the closed part");
    let keyword = word["text"].as_str().unwrap().to_lowercase();
    let said_ms = word["start_ms"].as_u64().unwrap();

    // Refused with what is wrong; nothing mailed.
    let (status, page) = http_form(port, "/avvisi?lang=en", &form("anna", "words", &keyword));
    assert_eq!(status, 400);
    assert!(
        page.contains("email: &quot;anna&quot; is not an e-mail address"),
        "{page}"
    );
    let (status, page) = http_form(
        port,
        "/avvisi",
        &form("anna@example.org", "kind", "petition"),
    );
    assert_eq!(status, 400);
    assert!(page.contains("petition"), "{page}");
    assert_eq!(smtp.mails(), 0);

    // Anna follows the word and the closed word; Bruno follows the word and never confirms.
    for (email, word) in [
        ("anna@example.org", keyword.as_str()),
        ("anna@example.org", f.closed_word.as_str()),
        ("bruno@example.org", keyword.as_str()),
    ] {
        let (status, page) = http_form(port, "/avvisi?lang=en", &form(email, "words", word));
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("id=\"alert-sent\""), "{page}");
    }
    assert_eq!(
        recipients(&smtp),
        ["anna@example.org", "anna@example.org", "bruno@example.org"]
    );
    // Asking again sends no second confirmation.
    http_form(
        port,
        "/avvisi",
        &form("bruno@example.org", "words", &keyword),
    );
    assert_eq!(smtp.mails(), 3);

    let mut feed = String::new();
    for n in [1, 2] {
        let mail = smtp.mail(n);
        assert!(mail["tls"].as_bool().unwrap(), "{mail}");
        let text = mail["text"].as_str().unwrap();
        assert!(text.contains("7 days"), "{text}");
        let token = token_after(text, "/avvisi/conferma");
        let (status, page) = http(
            port,
            "GET",
            &format!("/avvisi/conferma?t={token}"),
            None,
            "",
        );
        assert_eq!(status, 200);
        assert!(page.contains("id=\"confirm\""), "{page}");
        let (status, page) = http_form(port, &format!("/avvisi/conferma?t={token}"), "");
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("id=\"alert-confirmed\""), "{page}");
        if n == 1 {
            let page = page.replace("&#x2f;", "/");
            let at = page.find("/avvisi/").unwrap();
            let id = page[at + 8..].split('/').next().unwrap().to_owned();
            feed = format!("/avvisi/{id}/feed.atom");
        }
    }
    let (status, _) = http_form(port, "/avvisi/conferma?t=abcdef", "");
    assert_eq!(status, 404, "an unknown token");
    let (status, atom) = http(port, "GET", &feed, None, "");
    assert_eq!(status, 200, "{atom}");
    assert_eq!(
        roxmltree::Document::parse(&atom)
            .unwrap()
            .descendants()
            .filter(|n| n.has_tag_name("entry"))
            .count(),
        0,
        "nothing before a publication"
    );

    // The session is published: one mail, to Anna, for the word and not for the closed word.
    let report: serde_json::Value =
        serde_json::from_str(&aula.ok(&["publish", &f.id, "--presets", "web-720p", "--json"]))
            .unwrap();
    assert_eq!(report["alerts"]["queued"], 1, "{report}");
    assert_eq!(report["alerts"]["mailed"], 1, "{report}");
    assert_eq!(smtp.mails(), 4);
    let mail = smtp.mail(4);
    assert_eq!(mail["rcpt_tos"][0], "anna@example.org");
    let text = mail["text"].as_str().unwrap();
    assert!(text.to_lowercase().contains(&keyword), "{text}");
    assert!(!text.to_lowercase().contains(&f.closed_word), "{text}");
    let link = format!("http://127.0.0.1:{port}/sessions/{}?t=", f.id);
    let at = text.find(&link).unwrap_or_else(|| panic!("{text}"));
    let second: u64 = text[at + link.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap();
    assert!(
        second * 1000 <= said_ms && said_ms < second * 1000 + 20_000,
        "the link at {second} s, the word at {said_ms} ms"
    );
    let raw = smtp.raw_mail(4);
    let unsubscribe = format!("/avvisi/disdici?t={}", token_after(&raw, "/avvisi/disdici"));
    assert!(
        raw.contains(&format!(
            "List-Unsubscribe: <http://127.0.0.1:{port}{unsubscribe}>"
        )),
        "{raw}"
    );
    assert!(
        raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
        "{raw}"
    );

    let (_, atom) = http(port, "GET", &feed, None, "");
    let doc = roxmltree::Document::parse(&atom).unwrap();
    let entries: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("entry"))
        .collect();
    assert!(!entries.is_empty(), "{atom}");
    assert!(atom.to_lowercase().contains(&keyword), "{atom}");
    assert!(atom.contains(&link), "{atom}");

    // Published again: the session was mailed already.
    aula.ok(&["publish", &f.id, "--presets", "web-720p"]);
    assert_eq!(smtp.mails(), 4);

    // The pages, in Chromium, with axe-core.
    let base = format!("http://127.0.0.1:{port}");
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    screenshots(&client, "alerts", &format!("{base}/avvisi"), "alerts").await;
    screenshots(
        &client,
        "alerts",
        &format!("{base}{unsubscribe}&lang=en"),
        "unsubscribe",
    )
    .await;
    client.close().await.unwrap();

    // The mail client's one-click unsubscribe (RFC 8058): the feed is gone, the link spent.
    let (status, page) = http_form(port, &unsubscribe, "List-Unsubscribe=One-Click");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"alert-stopped\""), "{page}");
    assert_eq!(http(port, "GET", &feed, None, "").0, 404);
    assert_eq!(
        http_form(port, &unsubscribe, "List-Unsubscribe=One-Click").0,
        404
    );

    // Bruno never confirmed: his confirmation is all he got.
    assert_eq!(
        recipients(&smtp)
            .iter()
            .filter(|r| r.as_str() == "bruno@example.org")
            .count(),
        1
    );
    drop(server);
}

//! The press kit page in Chromium, signed in as the press office and driven by keyboard: the kit
//! is built and its ZIP downloaded, then delivered to Debian's OpenSSH server (SFTP), to aiosmtpd
//! (SMTP) and to a webhook receiver, all started on loopback ports: the files arrive with the
//! manifest's SHA-256, the mail carries the links the page shows, the webhook's signature
//! verifies; a kit delivered once is not sent again unless asked; with the SFTP server gone, a
//! delivery sent again retries and reports the server's answer, on the page and in the API's log.
//! Screenshots at 1280 and 360 px, each checked with axe-core, go to the target's tmp folder.

mod common;

use std::time::{Duration, Instant};

use common::browser::{chromium, screenshots, sign_in, start_driver, wait_text};
use common::deliver::{
    assert_kit_arrived, free_port, sha256_of, signature, Receiver, SmtpSink, Sshd,
};
use common::serve::{http, start_server};
use common::{read_json, Aula, Evidence, Spec};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};

const PASSWORD: &str = "una password lunga";
const SECRET: &str = "s3cret-of-the-city-web-team";

/// Presses and releases `key` where the focus is.
async fn press(client: &Client, key: Key) {
    let value: char = key.into();
    let actions = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value })
        .then(KeyAction::Up { value });
    client.perform_actions(actions).await.unwrap();
}

/// Moves the focus with Tab until `focused` (a script's boolean about `document.activeElement`)
/// holds, then presses `key` there.
async fn tab_and_press(client: &Client, focused: &str, key: Key) {
    let check = format!("const e = document.activeElement; return !!({focused});");
    for _ in 0..200 {
        if client.execute(&check, vec![]).await.unwrap() == serde_json::json!(true) {
            press(client, key).await;
            return;
        }
        press(client, Key::Tab).await;
    }
    panic!("Tab never reached the element where {focused}");
}

/// The data-state of a destination's line on the page.
fn state_of(name: &str) -> String {
    format!(
        "return document.querySelector('.destinations li[data-destination=\"{name}\"] .state').dataset.state"
    )
}

async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_press_office_publishes_the_kit_and_delivers_it_then_the_sftp_server_is_gone() {
    let aula = Aula::new();
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 30,
        items: 2,
        speakers: 2,
        seed: 5,
        ..Spec::default()
    });
    let id = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
    aula.transcribed(&id, "tiny.en");
    aula.create_user("stampa", "press", PASSWORD);
    let token = aula
        .ok(&["token", "create", "--role", "press"])
        .trim()
        .to_owned();
    let home = aula.path().join("data");
    let packages = home.join("sessions").join(&id).join("packages");

    let mut sshd = Sshd::start();
    let sink = SmtpSink::start();
    let receiver = Receiver::start(200, "ok");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    std::fs::write(
        home.join("aula.toml"),
        format!(
            "public_url = \"{base}\"\n\n{}\n{}\n{}",
            sshd.destination("agenzia", "both", 1000),
            sink.destination("lista-stampa", &["redazione@example.org"]),
            receiver.destination("sito", SECRET),
        ),
    )
    .unwrap();
    let server = start_server(&home, Some(port));
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    let kit = format!("/workspace/sessions/{id}/kit");

    sign_in(&client, &base, "stampa", PASSWORD, "/workspace").await;
    let link = format!("a[href=\"{kit}\"]");
    client.find(Locator::Css(&link)).await.unwrap();
    client
        .goto(&format!("{base}/workspace/sessions/{id}/clips"))
        .await
        .unwrap();
    client
        .find(Locator::Css(&link))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Id("no-kit"))
        .await
        .unwrap();
    let disabled = client
        .find(Locator::Id("deliver"))
        .await
        .unwrap()
        .attr("disabled")
        .await
        .unwrap();
    assert!(
        disabled.is_some(),
        "nothing to deliver before the kit is built"
    );
    screenshots(&client, "kit", &format!("{base}{kit}"), "kit-empty").await;

    // Build the kit by keyboard and follow its job to the end.
    tab_and_press(&client, "e.id === 'publish'", Key::Enter).await;
    let job = "return document.getElementById('publish-job').dataset.state || ''";
    assert_eq!(wait_text(&client, job, "done", 300).await, "done");
    let zip_link = client.find(Locator::Id("zip")).await.unwrap();
    let href = zip_link.attr("href").await.unwrap().unwrap();
    assert_eq!(
        href,
        format!("/files/{id}/packages/{id}-press.zip?download=1")
    );
    let files = client.find_all(Locator::Css("a.file")).await.unwrap();
    let manifest = read_json(packages.join("press").join("manifest.json"));
    assert_eq!(
        files.len(),
        manifest["files"].as_array().unwrap().len() + 1,
        "every file of the manifest, and the manifest"
    );
    zip_link.click().await.unwrap();
    let zip = format!("{id}-press.zip");
    let downloaded = downloads.path().join(&zip);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !downloaded.is_file() {
        assert!(Instant::now() < deadline, "{zip} was not downloaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sha256_of(&downloaded), sha256_of(&packages.join(&zip)));

    // Deliver to the three destinations.
    tab_and_press(&client, "e.id === 'deliver'", Key::Enter).await;
    let job = "return document.getElementById('deliver-job').dataset.state || ''";
    assert_eq!(wait_text(&client, job, "done", 120).await, "done");
    for name in ["agenzia", "lista-stampa", "sito"] {
        assert_eq!(
            wait_text(&client, &state_of(name), "delivered", 5).await,
            "delivered",
            "{name}"
        );
    }
    assert_kit_arrived(&sshd.inbox(), &packages, &id);
    assert_eq!(sink.mails(), 1);
    let mail = sink.mail(1);
    assert_eq!(mail["tls"], true, "{mail}");
    let text = mail["text"].as_str().unwrap();
    let shown: Vec<String> = client
        .execute(
            "return Array.from(document.querySelectorAll('a.file, #zip')).map(a => a.href.split('?')[0])",
            vec![],
        )
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect();
    let zip_url = format!("{base}/files/{id}/packages/{zip}");
    let index_url = format!("{base}/files/{id}/packages/press/index.html");
    let metadata = read_json(packages.join("press").join("metadata.json"));
    let clips: Vec<String> = metadata["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{base}/files/{id}/packages/press/{}",
                c["media"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(clips.len(), 2, "a clip per agenda item");
    for url in clips.iter().chain([&zip_url, &index_url]) {
        assert!(text.contains(url.as_str()), "{url} not in the mail: {text}");
        assert!(shown.contains(url), "{url} not on the page: {shown:?}");
    }
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].header("X-Aula-Signature"),
        Some(signature(SECRET, &got[0].body).as_str())
    );
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["zip"]["sha256"], sha256_of(&packages.join(&zip)));
    screenshots(
        &client,
        "kit",
        &format!("{base}{kit}#deliver-h"),
        "kit-delivered",
    )
    .await;

    // The webhook alone, without "send again": it has this kit, nothing is sent.
    tab_and_press(
        &client,
        "e.name === 'to' && e.value === 'agenzia'",
        Key::Space,
    )
    .await;
    tab_and_press(
        &client,
        "e.name === 'to' && e.value === 'lista-stampa'",
        Key::Space,
    )
    .await;
    tab_and_press(&client, "e.id === 'deliver'", Key::Enter).await;
    assert_eq!(wait_text(&client, job, "done", 60).await, "done");
    let skipped = "return document.querySelector('#deliver-result li[data-destination=sito]')?.dataset.status || ''";
    assert_eq!(wait_text(&client, skipped, "skipped", 5).await, "skipped");
    assert_eq!(receiver.received().len(), 1, "nothing sent the second time");

    // The SFTP server is gone: sent again, the delivery retries, then fails with its answer.
    sshd.stop();
    client.goto(&format!("{base}{kit}")).await.unwrap();
    tab_and_press(
        &client,
        "e.name === 'to' && e.value === 'lista-stampa'",
        Key::Space,
    )
    .await;
    tab_and_press(&client, "e.name === 'to' && e.value === 'sito'", Key::Space).await;
    tab_and_press(&client, "e.id === 'again'", Key::Space).await;
    tab_and_press(&client, "e.id === 'deliver'", Key::Enter).await;
    let live = "return document.querySelectorAll('#log tr[data-outcome=failed]').length > 0 \
        && document.getElementById('deliver-job').dataset.state === 'running' ? 'live' : ''";
    assert_eq!(
        wait_text(&client, live, "live", 30).await,
        "live",
        "a failed attempt shown while the job still runs"
    );
    assert_eq!(wait_text(&client, job, "failed", 60).await, "failed");
    assert_eq!(
        wait_text(&client, &state_of("agenzia"), "failed", 5).await,
        "failed"
    );
    let line = text_of(&client, ".destinations li[data-destination=agenzia] .state").await;
    assert!(line.contains("Connection refused"), "{line}");
    assert!(line.contains("tentativo 3"), "{line}");
    let status = text_of(&client, "#deliver-job").await;
    assert!(
        status.contains("agenzia") && status.contains("Connection refused"),
        "{status}"
    );
    let rows = client
        .find_all(Locator::Css("#log tr[data-destination=agenzia]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 4, "one delivered, then three failed attempts");
    assert_eq!(sink.mails(), 1, "only the SFTP destination was asked");
    assert_eq!(receiver.received().len(), 1);

    let (code, body) = http(
        server.port,
        "GET",
        &format!("/api/v1/sessions/{id}/deliveries"),
        Some(&token),
        "",
    );
    assert_eq!(code, 200, "{body}");
    let log: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    let agenzia: Vec<&serde_json::Value> = log
        .iter()
        .filter(|a| a["destination"] == "agenzia")
        .collect();
    let outcomes: Vec<(u64, &str)> = agenzia
        .iter()
        .map(|a| {
            (
                a["attempt"].as_u64().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, "delivered"),
            (1, "failed"),
            (2, "failed"),
            (3, "failed")
        ]
    );
    let at = |a: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(a["at"].as_str().unwrap()).unwrap()
    };
    // Backoff of 1 s, then 2 s.
    assert!(at(agenzia[2]) - at(agenzia[1]) >= chrono::Duration::milliseconds(1000));
    assert!(at(agenzia[3]) - at(agenzia[2]) >= chrono::Duration::milliseconds(2000));
    for failed in &agenzia[1..] {
        let answer = failed["answer"].as_str().unwrap();
        assert!(answer.contains("Connection refused"), "{answer}");
    }
    screenshots(
        &client,
        "kit",
        &format!("{base}{kit}#deliver-h"),
        "kit-failed",
    )
    .await;
    screenshots(
        &client,
        "kit",
        &format!("{base}{kit}#log-h"),
        "kit-failed-log",
    )
    .await;
    let english = format!("{base}{kit}?lang=en#deliver-h");
    screenshots(&client, "kit", &english, "kit-failed-en").await;
    client.close().await.unwrap();
}

//! The workspace in Chromium, signed in through the real form: the press office picks three
//! sentences in the clip builder, cuts a web-720p clip, follows it to 100 % and downloads it; a
//! selection across the closed part is refused on the page; the clerk runs a live session from
//! the control room. Screenshots of each page at 1280 and 360 px go to the target's tmp folder.

mod common;

use std::time::{Duration, Instant};

use common::browser::{chromium, screenshots, sign_in, start_driver, wait_text};
use common::serve::{fixture, start_server};
use common::{read_json, Aula, Evidence, Spec};
use fantoccini::Locator;

const PASSWORD: &str = "una password lunga";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_press_office_cuts_three_sentences_and_downloads_the_clip() {
    let f = fixture();
    f.aula.create_user("stampa", "press", PASSWORD);
    let server = start_server(&f.home(), None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    let clips = format!("/workspace/sessions/{}/clips", f.id);
    screenshots(&client, "workspace", &format!("{base}/signin"), "signin").await;
    sign_in(&client, &base, "stampa", PASSWORD, &clips).await;
    screenshots(&client, "workspace", &format!("{base}/workspace"), "board").await;
    screenshots(&client, "workspace", &format!("{base}{clips}"), "clips").await;
    client
        .goto(&format!("{base}{clips}?lang=en"))
        .await
        .unwrap();

    let lines = client
        .find_all(Locator::Css("#lines button.line"))
        .await
        .unwrap();
    assert!(lines.len() >= 4, "{} lines", lines.len());
    lines[0].click().await.unwrap();
    lines[2].click().await.unwrap();
    let pressed = client
        .find_all(Locator::Css("#lines button.line[aria-pressed=true]"))
        .await
        .unwrap();
    assert_eq!(pressed.len(), 3, "three sentences selected");
    let selection = client.find(Locator::Id("selection")).await.unwrap();
    let from_ms: u64 = selection
        .attr("data-from")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    let to_ms: u64 = selection
        .attr("data-to")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        selection.text().await.unwrap().contains(" s · "),
        "speakers and duration shown"
    );
    client
        .find(Locator::Css("#preset option[value='web-720p']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .find(Locator::Id("cut"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let state = wait_text(
        &client,
        "return document.getElementById('job').dataset.state || ''",
        "done",
        240,
    )
    .await;
    assert_eq!(state, "done");
    let progress = client
        .execute("return document.getElementById('progress').value", vec![])
        .await
        .unwrap();
    assert_eq!(progress.as_f64(), Some(100.0));
    let link = client
        .find(Locator::Css("#download a.output"))
        .await
        .unwrap();
    let href = link.attr("href").await.unwrap().unwrap();
    link.click().await.unwrap();
    let name = href
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let downloaded = downloads.path().join(&name);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !downloaded.is_file() {
        assert!(Instant::now() < deadline, "{name} was not downloaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = common::ffprobe_ms(&downloaded);
    let want = to_ms - from_ms;
    assert!(
        got.abs_diff(want) <= 40,
        "the clip lasts {got} ms, the selection {want} ms"
    );
    screenshots(
        &client,
        "workspace",
        &format!("{base}{clips}"),
        "clips-made",
    )
    .await;
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_presidency_previews_the_selection_in_the_player_before_cutting() {
    let f = fixture();
    f.aula.create_user("anteprima", "admin", PASSWORD);
    let server = start_server(&f.home(), None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    let clips = format!("/workspace/sessions/{}/clips?lang=en", f.id);
    sign_in(&client, &base, "anteprima", PASSWORD, &clips).await;
    let lines = client
        .find_all(Locator::Css("#lines button.line"))
        .await
        .unwrap();
    lines[1].click().await.unwrap();
    lines[2].click().await.unwrap();
    let ready =
        "const v = document.getElementById('player'); return v.readyState >= 1 ? 'ready' : ''";
    assert_eq!(wait_text(&client, ready, "ready", 30).await, "ready");
    client
        .find(Locator::Id("preview"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let playing = "return document.getElementById('player').paused ? '' : 'playing'";
    assert_eq!(wait_text(&client, playing, "playing", 10).await, "playing");
    let paused = "return document.getElementById('player').paused ? 'paused' : ''";
    assert_eq!(
        wait_text(&client, paused, "paused", 60).await,
        "paused",
        "the preview stops at the selection's end"
    );
    let at = client
        .execute(
            "const s = document.getElementById('selection').dataset;
             return [document.getElementById('player').currentTime * 1000, Number(s.from), Number(s.to)];",
            vec![],
        )
        .await
        .unwrap();
    let (at_ms, from_ms, to_ms) = (
        at[0].as_f64().unwrap(),
        at[1].as_f64().unwrap(),
        at[2].as_f64().unwrap(),
    );
    assert!(
        at_ms >= to_ms - 50.0 && at_ms < to_ms + 600.0 && from_ms < to_ms,
        "the preview of {from_ms}-{to_ms} ms stopped at {at_ms} ms"
    );
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selection_across_the_closed_part_is_refused_before_anything_is_queued() {
    let aula = Aula::new();
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 30,
        items: 1,
        speakers: 2,
        seed: 4,
        closed: Some((12, 19)),
        ..Spec::default()
    });
    let id = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
    aula.transcribed(&id, "tiny.en");
    aula.create_user("redazione", "press", PASSWORD);
    let server = start_server(&aula.path().join("data"), None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    let clips = format!("/workspace/sessions/{id}/clips");
    sign_in(
        &client,
        &base,
        "redazione",
        PASSWORD,
        &format!("{clips}?lang=en"),
    )
    .await;
    let lines = client
        .find_all(Locator::Css("#lines button.line"))
        .await
        .unwrap();
    // The first and the last line lie on either side of the closed part at 12-19 s.
    let span = client
        .execute(
            "const l = JSON.parse(document.getElementById('clips-data').textContent).lines; \
             return [l[0].start_ms, l[l.length - 1].end_ms];",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        span[0].as_u64().unwrap() < 12_000 && span[1].as_u64().unwrap() > 19_000,
        "{span}"
    );
    lines[0].click().await.unwrap();
    lines.last().unwrap().click().await.unwrap();
    let selection = client.find(Locator::Id("selection")).await.unwrap();
    assert!(
        selection.text().await.unwrap().contains("closed part"),
        "{}",
        selection.text().await.unwrap()
    );
    let disabled = client
        .find(Locator::Id("cut"))
        .await
        .unwrap()
        .attr("disabled")
        .await
        .unwrap();
    assert!(disabled.is_some(), "the cut button stays off");
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clerk_runs_a_live_session_from_the_control_room() {
    let aula = Aula::new();
    let sample = aula.sample(&Spec {
        seconds: 24,
        items: 2,
        speakers: 2,
        mode: "hybrid",
        seed: 9,
        ..Spec::default()
    });
    let document = sample.document();
    let mut doc = read_json(&document);
    common::move_start(&mut doc, &chrono::Utc::now().to_rfc3339());
    std::fs::write(&document, doc.to_string()).unwrap();
    let id = aula.import(&document, Evidence::None);
    aula.create_user("chiara", "clerk", PASSWORD);
    let server = start_server(&aula.path().join("data"), None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    let live = format!("/workspace/sessions/{id}/live");
    sign_in(
        &client,
        &base,
        "chiara",
        PASSWORD,
        &format!("{live}?lang=en"),
    )
    .await;

    client
        .find(Locator::Id("start"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let remote = "return Array.from(document.querySelectorAll('#sources tr[data-state=live]')).length > 1 ? 'live' : ''";
    assert_eq!(
        wait_text(&client, remote, "live", 30).await,
        "live",
        "the sources went live"
    );
    let act = |css: &'static str| {
        let client = client.clone();
        async move {
            client
                .find(Locator::Css(css))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    act("button[data-live*='item_starts'][data-live*='2']").await;
    act("button[data-live='\"closed_starts\"']").await;
    screenshots(
        &client,
        "workspace",
        &format!("{base}{live}?lang=en"),
        "control",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    act("button[data-live='\"closed_ends\"']").await;
    let kinds = "return Array.from(document.querySelectorAll('#log li')).map(l => l.dataset.kind).join(',')";
    assert_eq!(
        wait_text(&client, kinds, "item,closed_start,closed_end", 5).await,
        "item,closed_start,closed_end"
    );

    // The public page, live: the item marked is highlighted; when the clerk gives the floor, the
    // page says who has it within its 5 s round.
    client
        .goto(&format!("{base}/sessions/{id}?lang=en"))
        .await
        .unwrap();
    let current = "return Array.from(document.querySelectorAll('.agenda > li.current')).map(l => l.dataset.item).join(',')";
    assert_eq!(wait_text(&client, current, "2", 5).await, "2");
    let floor = "return document.getElementById('floor').textContent";
    assert_eq!(wait_text(&client, floor, "", 1).await, "");
    let speaker = &doc["roster"][0];
    client
        .execute(
            "const token = document.querySelector('meta[name=csrf-token]').content;\n\
             fetch(arguments[0], { method: 'POST', headers: { 'x-csrf-token': token,\n\
               'content-type': 'application/json' }, body: JSON.stringify({ has_the_floor: arguments[1] }) });",
            vec![
                serde_json::json!(format!("/api/v1/sessions/{id}/live-actions")),
                speaker["id"].clone(),
            ],
        )
        .await
        .unwrap();
    let says = format!("Has the floor: {}", speaker["name"].as_str().unwrap());
    assert_eq!(wait_text(&client, floor, &says, 8).await, says);
    screenshots(
        &client,
        "workspace",
        &format!("{base}/sessions/{id}?lang=en"),
        "live-session",
    )
    .await;
    client.goto(&format!("{base}{live}?lang=en")).await.unwrap();
    client
        .find(Locator::Id("stop"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let state = "return document.getElementById('rec-state').textContent";
    assert_eq!(
        wait_text(&client, state, "recorded and joined", 90).await,
        "recorded and joined"
    );
    client.close().await.unwrap();
}

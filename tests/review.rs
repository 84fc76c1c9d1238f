//! The review page in Chromium, signed in through the real form: the presidency's staff reassign
//! a line, fix a word, drag an item's start and undo the last fix, and the API's timeline and
//! history agree with what the page did, with the public transcript showing the fixed word; the
//! player answers the keyboard; the press office reads the page without correction controls,
//! closed part or recording. Screenshots at 1280 and 360 px.

mod common;

use std::time::Duration;

use common::browser::{chromium, screenshots, sign_in, start_driver, wait_text};
use common::serve::{fixture, http, start_server};
use fantoccini::actions::{
    InputSource, KeyAction, KeyActions, MouseActions, PointerAction, MOUSE_BUTTON_LEFT,
};
use fantoccini::{Client, Locator};
use serde_json::Value;

const PASSWORD: &str = "una password lunga";

/// Waits for the page to show `n` corrections in its history (it reloads after each).
async fn corrections_shown(client: &Client, n: usize) {
    let script = "return String(document.querySelectorAll('#history tr[data-revision]').length)";
    assert_eq!(
        wait_text(client, script, &n.to_string(), 30).await,
        n.to_string(),
        "the page shows {n} corrections; status: {:?}",
        client
            .execute(
                "return document.getElementById('status').textContent",
                vec![]
            )
            .await
            .unwrap()
    );
}

/// The session's timeline as the API gives it to the presidency.
fn timeline(port: u16, id: &str, admin: &str) -> Value {
    let (status, body) = http(
        port,
        "GET",
        &format!("/api/v1/sessions/{id}/timeline"),
        Some(admin),
        "",
    );
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Where item `number` starts in `timeline`.
fn item_start(timeline: &Value, number: u32) -> u64 {
    timeline["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["number"] == number)
        .unwrap_or_else(|| panic!("item {number} in the timeline"))["start_ms"]
        .as_u64()
        .unwrap()
}

async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

async fn press_key(client: &Client, key: char) {
    js(
        client,
        "document.activeElement && document.activeElement.blur()",
    )
    .await;
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    client.perform_actions(keys).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_presidency_corrects_the_record_and_undoes_the_last_fix() {
    let f = fixture();
    let aula = f.aula.copy();
    aula.create_user("presidenza", "admin", PASSWORD);
    let home = aula.path().join("data");
    let server = start_server(&home, None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    let review = format!("/workspace/sessions/{}/review", f.id);
    sign_in(&client, &base, "presidenza", PASSWORD, &review).await;
    screenshots(&client, "review", &format!("{base}{review}"), "review").await;
    let page = format!("{base}{review}?lang=en");
    client.goto(&page).await.unwrap();
    let item_2_start = item_start(&timeline(server.port, &f.id, &f.admin), 2);

    // Reassign the first open line to someone else.
    let line = js(
        &client,
        "const l = document.querySelector('#lines .rline:not(.closed)');
         const other = Array.from(l.querySelectorAll('select.who option'))
             .find(o => o.value !== 'unknown' && o.value !== l.dataset.person);
         return [l.dataset.from, l.dataset.to, other.value];",
    )
    .await;
    let reassigned_from: u64 = line[0].as_str().unwrap().parse().unwrap();
    let reassigned_to: u64 = line[1].as_str().unwrap().parse().unwrap();
    let person = line[2].as_str().unwrap().to_owned();
    client
        .find(Locator::Css(&format!(
            ".rline[data-from='{reassigned_from}'] select.who option[value='{person}']"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    corrections_shown(&client, 1).await;

    // Fix the first word of the last open line.
    let fixed_from = js(
        &client,
        "const l = Array.from(document.querySelectorAll('#lines .rline:not(.closed)')).pop();
         return l.dataset.from;",
    )
    .await;
    let fixed_from = fixed_from.as_str().unwrap().to_owned();
    let line = format!(".rline[data-from='{fixed_from}']");
    client
        .find(Locator::Css(&format!("{line} button.edit")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let input = client
        .find(Locator::Css(&format!("{line} input.text")))
        .await
        .unwrap();
    let old = input.prop("value").await.unwrap().unwrap();
    let mut words: Vec<&str> = old.split_whitespace().collect();
    words[0] = "Xylophone";
    let typed = words.join(" ");
    input.clear().await.unwrap();
    input.send_keys(&format!("{typed}\u{E007}")).await.unwrap();
    corrections_shown(&client, 2).await;

    // Drag item 2's start three seconds later on the bar.
    let (bar_px, end_ms) = {
        let v = js(
            &client,
            "return [document.getElementById('bar').getBoundingClientRect().width,
                     JSON.parse(document.getElementById('review-data').textContent).end_ms];",
        )
        .await;
        (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
    };
    let handle = client
        .find(Locator::Css("#bar .handle[data-item='2']"))
        .await
        .unwrap();
    let dx = (3000.0 * bar_px / end_ms).round();
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: handle,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: Some(Duration::from_millis(200)),
            x: dx,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    client.perform_actions(drag).await.unwrap();
    corrections_shown(&client, 3).await;
    let moved_start = item_start(&timeline(server.port, &f.id, &f.admin), 2);
    assert!(
        moved_start.abs_diff(item_2_start + 3000) < 1000,
        "item 2 moved from {item_2_start} to {moved_start} ms, about 3 s later"
    );

    // Undo the last fix: the move.
    client
        .find(Locator::Id("undo"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    corrections_shown(&client, 4).await;
    screenshots(&client, "review", &page, "review-corrected").await;

    let after = timeline(server.port, &f.id, &f.admin);
    assert_eq!(item_start(&after, 2), item_2_start, "the move is undone");
    let words = after["words"].as_array().unwrap();
    let said: Vec<&Value> = words
        .iter()
        .filter(|w| {
            let at = w["start_ms"].as_u64().unwrap();
            (reassigned_from..reassigned_to).contains(&at)
        })
        .collect();
    assert!(!said.is_empty());
    assert!(
        said.iter().all(|w| w["person"] == person.as_str()),
        "the line is {person}'s now: {said:?}"
    );
    assert!(
        words.iter().any(|w| w["text"] == "Xylophone"),
        "the fixed word is in the timeline"
    );
    let (_, history) = http(
        server.port,
        "GET",
        &format!("/api/v1/sessions/{}/corrections", f.id),
        Some(&f.admin),
        "",
    );
    let history: Value = serde_json::from_str(&history).unwrap();
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 4, "{history:#?}");
    assert!(history.iter().all(|r| r["author"] == "presidenza"));
    assert_eq!(history[0]["correction"]["op"], "reassign");
    assert_eq!(history[1]["correction"]["op"], "replace_text");
    assert_eq!(history[2]["correction"]["op"], "move_boundary");
    assert_eq!(
        history[2]["reverted_by"], 4,
        "the move is reverted by the undo"
    );
    assert!(history[0]["reverted_by"].is_null() && history[1]["reverted_by"].is_null());
    let shown = js(
        &client,
        "return Array.from(document.querySelectorAll('#history tr[data-revision]')).map(r => r.textContent).join('\\n')",
    )
    .await;
    assert!(
        shown.as_str().unwrap().contains("presidenza"),
        "the page's history names who: {shown}"
    );
    let (status, public) = http(server.port, "GET", &format!("/sessions/{}", f.id), None, "");
    assert_eq!(status, 200);
    assert!(
        public.contains("Xylophone"),
        "the public transcript shows the fixed word"
    );

    // Item 1 reviewed; then the keyboard drives the player.
    client
        .find(Locator::Css("button.mark[data-item='1']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let reviewed = "return document.querySelector('.agenda-review li[data-item=\"1\"] [data-reviewed]').dataset.reviewed";
    assert_eq!(wait_text(&client, reviewed, "true", 30).await, "true");
    let (_, marks) = http(
        server.port,
        "GET",
        &format!("/api/v1/sessions/{}/reviews", f.id),
        None,
        "",
    );
    let marks: Value = serde_json::from_str(&marks).unwrap();
    assert_eq!(marks[0]["item"], 1);
    assert_eq!(marks[0]["reviewer"], "presidenza");

    let ready =
        "const v = document.getElementById('player'); return v.readyState >= 2 ? 'ready' : ''";
    assert_eq!(wait_text(&client, ready, "ready", 30).await, "ready");
    press_key(&client, 'k').await;
    let playing = "return document.getElementById('player').paused ? '' : 'playing'";
    assert_eq!(wait_text(&client, playing, "playing", 10).await, "playing");
    press_key(&client, 'k').await;
    assert_eq!(
        wait_text(
            &client,
            "return document.getElementById('player').paused ? 'paused' : ''",
            "paused",
            10
        )
        .await,
        "paused"
    );
    js(
        &client,
        "document.getElementById('player').currentTime = 20",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    press_key(&client, 'j').await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let at = js(
        &client,
        "return document.getElementById('player').currentTime",
    )
    .await;
    let at = at.as_f64().unwrap();
    assert!((at - 15.0).abs() < 0.5, "back 5 s from 20 s: at {at} s");
    let low = js(
        &client,
        "const w = Array.from(document.querySelectorAll('#lines .w.low')).find(w => Number(w.dataset.s) > window.aulaReviewMs() + 10);
         return w ? Number(w.dataset.s) : null;",
    )
    .await;
    if let Some(low_ms) = low.as_f64() {
        press_key(&client, 'n').await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = js(&client, "return window.aulaReviewMs()").await;
        assert!(
            (now.as_f64().unwrap() - low_ms).abs() < 300.0,
            "n went to the next uncertain word at {low_ms} ms: at {now}"
        );
    }
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_press_office_reads_the_review_without_corrections_or_the_closed_part() {
    let f = fixture();
    f.aula.create_user("lettore", "press", PASSWORD);
    let server = start_server(&f.home(), None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;
    let review = format!("/workspace/sessions/{}/review", f.id);
    sign_in(
        &client,
        &base,
        "lettore",
        PASSWORD,
        &format!("{review}?lang=en"),
    )
    .await;
    screenshots(
        &client,
        "review",
        &format!("{base}{review}?lang=en"),
        "review-press",
    )
    .await;
    let count = |css: &'static str| {
        let client = client.clone();
        async move { client.find_all(Locator::Css(css)).await.unwrap().len() }
    };
    assert!(count("#lines .rline").await > 0, "the transcript is shown");
    for control in [
        "select.who",
        "button.edit",
        "#undo",
        "#bar .handle",
        "button.mark",
        "button.set-start",
        "#player",
    ] {
        assert_eq!(count(control).await, 0, "press sees no {control}");
    }
    assert_eq!(count(".rline.closed").await, 0, "no closed line");
    let page = client.source().await.unwrap().to_lowercase();
    assert!(
        !page.contains(&f.closed_word),
        "the closed part's word {:?} is not in the page",
        f.closed_word
    );
    let refused = js(
        &client,
        &format!(
            "return fetch('/workspace/sessions/{}/media').then(r => String(r.status))",
            f.id
        ),
    )
    .await;
    assert_eq!(
        refused, "404",
        "the recording with its closed part is withheld"
    );
    let post = js(
        &client,
        &format!(
            "return fetch('/api/v1/sessions/{}/corrections', {{method: 'POST', headers: {{'content-type': 'application/json',
             'x-csrf-token': document.querySelector('meta[name=\"csrf-token\"]').content}}, body: JSON.stringify({{kind: 'undo'}})}})
             .then(r => String(r.status))",
            f.id
        ),
    )
    .await;
    assert_eq!(post, "403", "press cannot correct");
    client.close().await.unwrap();
}

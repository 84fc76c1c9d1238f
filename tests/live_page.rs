//! The live page in Chromium (hls.js) while a generated English session is recorded live at its
//! own pace with captions: opened a minute into the session it plays near the live edge, its
//! caption track is showing and its cue carries the words being spoken in the picture, "back to
//! live" returns to the edge after a pause, and "watch from the start" goes to the first second.
//! The glass-to-glass delay (a frame's capture, from the playlists' program dates, to its display)
//! is printed for the note.

mod common;

use std::time::{Duration, Instant};

use common::browser::{chromium, start_driver};
use common::serve::start_serving_only;
use common::{model, Aula, Evidence, Spec};
use fantoccini::{Client, Locator};

/// How far behind the newest listed segment a viewer at the live edge may be.
const EDGE_S: f64 = 10.0;
/// How far a word's time in the picture may be from its time in truth.
const SLACK_MS: u64 = 1500;

/// What the player shows now: the media time of the frame on screen, the newest listed segment's
/// end, how long ago the frame on screen was captured, and the active cue of the showing track.
#[derive(Debug, serde::Deserialize)]
struct Shown {
    media_s: f64,
    edge_s: f64,
    glass_to_glass_ms: Option<f64>,
    cue: Option<String>,
    showing: bool,
}

impl Shown {
    fn behind_s(&self) -> f64 {
        self.edge_s - self.media_s
    }
}

/// Reads the rendition's media playlist (its segments' durations and program dates) and waits for
/// the next frame the player presents.
const SHOWN_JS: &str = r##"
const done = arguments[arguments.length - 1];
const video = document.getElementById("player");
const data = JSON.parse(document.getElementById("data").textContent);
fetch(data.live.replace("index.m3u8", "720p/index.m3u8"), { cache: "no-store" })
  .then((r) => r.text())
  .then((text) => {
    const segments = [];
    let edge = 0, date = null;
    for (const line of text.split("\n")) {
      if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) date = Date.parse(line.slice(25));
      else if (line.startsWith("#EXTINF:")) {
        const d = parseFloat(line.slice(8));
        segments.push({ start: edge, d, date });
        edge += d;
        date = null;
      }
    }
    video.requestVideoFrameCallback((now, meta) => {
      const m = meta.mediaTime;
      const s = segments.find((x) => m < x.start + x.d) || segments[segments.length - 1];
      const shown = performance.timeOrigin + meta.expectedDisplayTime;
      const track = Array.from(video.textTracks).find((t) => t.mode === "showing");
      const cues = track && track.activeCues ? Array.from(track.activeCues) : [];
      done(JSON.stringify({
        media_s: m,
        edge_s: edge,
        glass_to_glass_ms: shown - (s.date + (m - s.start) * 1000),
        cue: cues.length ? cues.map((c) => c.text).join("\n") : null,
        showing: !!track,
      }));
    });
    if (video.paused) done(JSON.stringify({ media_s: video.currentTime, edge_s: edge,
      glass_to_glass_ms: NaN, cue: null, showing: false }));
  });
"##;

async fn shown(client: &Client) -> Shown {
    let value = client.execute_async(SHOWN_JS, vec![]).await.unwrap();
    serde_json::from_str(value.as_str().unwrap()).unwrap()
}

/// Waits until the player plays within `EDGE_S` of the edge, for up to `secs`.
async fn near_the_edge(client: &Client, secs: u64) -> Shown {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let now = shown(client).await;
        if now.glass_to_glass_ms.is_some() && now.behind_s() <= EDGE_S {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "not within {EDGE_S} s of the live edge: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| !w.starts_with(">>"))
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| w.len() > 2)
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_joins_at_the_edge_with_captions_in_sync() {
    let aula = Aula::new();
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 120,
        items: 2,
        speakers: 2,
        seed: 5,
        ..Spec::default()
    });
    let truth = sample.truth();
    let id = aula.imported(&sample, Evidence::FloorEvents);
    let tiny = model("tiny.en");
    let started = Instant::now();
    let log = aula.path().join("record.log");
    let record = aula
        .command(&[
            "record",
            &id,
            "--live",
            "--realtime",
            "--captions-model",
            tiny.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let server = start_serving_only(&aula, &[]);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;

    // A viewer opens the live page a minute into the session.
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(started.elapsed())).await;
    client
        .goto(&format!(
            "http://127.0.0.1:{}/sessions/{id}?lang=en",
            server.port
        ))
        .await
        .unwrap();
    let joined = near_the_edge(&client, 20).await;
    eprintln!("joined: {joined:?}");
    assert!(joined.showing, "no caption track is showing: {joined:?}");

    // For 20 s, the cue on screen carries words spoken around the frame it is shown with.
    let mut delays = vec![joined.glass_to_glass_ms];
    let (mut cues, mut in_sync) = (0, 0);
    let sampling = Instant::now();
    while sampling.elapsed() < Duration::from_secs(20) {
        let now = shown(&client).await;
        delays.push(now.glass_to_glass_ms);
        if let Some(cue) = now.cue.as_deref() {
            let at_ms = (now.media_s * 1000.0) as u64;
            let spoken: Vec<String> = truth
                .utterances
                .iter()
                .filter(|u| {
                    u.start_ms.0 <= at_ms + SLACK_MS
                        && at_ms <= u.end_ms.0 + pipeline::captions::LINGER_MS + SLACK_MS
                })
                .flat_map(|u| words(&u.text))
                .collect();
            // The newest words on screen, those the picture is saying now.
            let carried = words(cue);
            let newest = &carried[carried.len().saturating_sub(4)..];
            cues += 1;
            if newest.iter().any(|w| spoken.contains(w)) {
                in_sync += 1;
            } else {
                eprintln!("at {at_ms} ms the cue {cue:?} is not in {spoken:?}");
            }
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    assert!(cues >= 5, "only {cues} samples showed a cue");
    assert!(
        in_sync * 10 >= cues * 7,
        "{in_sync} of {cues} cues carried the words being spoken"
    );

    // Paused, the viewer falls behind; "back to live" returns to the edge.
    client
        .execute("document.getElementById('player').pause()", vec![])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(14)).await;
    let paused = shown(&client).await;
    assert!(paused.behind_s() > EDGE_S, "{paused:?}");
    client
        .find(Locator::Id("back-to-live"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let back = near_the_edge(&client, 10).await;
    eprintln!("back to live: {back:?}");

    // "Watch from the start" goes to the session's first seconds.
    client
        .find(Locator::Id("from-start"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start = shown(&client).await;
    assert!(start.media_s < 5.0, "{start:?}");

    let delays: Vec<f64> = delays.into_iter().flatten().collect();
    eprintln!(
        "glass-to-glass (hls.js, default caption delay): median {:.0} ms over {} frames",
        median(delays.clone()),
        delays.len()
    );
    client.close().await.unwrap();
    let status = record.wait_with_output().unwrap().status;
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

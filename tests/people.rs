//! Councillors, groups and votes in public: two generated sessions drawn from the same cast (so
//! their rosters share every person id) are imported, transcribed and aligned, one of them with a
//! closed part and one published; each councillor's page in Chromium lists exactly their
//! interventions of both sessions against `truth.json` with the time spoken, a group's page lists
//! its members' interventions and the items it tabled with their outcome, and the votes are on
//! the agenda items, on each councillor's voting record, in metadata.json and in the feed. A
//! document with bad votes is refused with the field path. Screenshots at 1280 and 360 px.

mod common;

use std::collections::BTreeMap;

use common::browser::{chromium, screenshots, start_driver};
use common::serve::{http, start_server};
use common::{read_json, stderr, Aula, Evidence, Sample, Spec};
use fantoccini::Client;
use serde_json::{json, Value};

/// Start and end of a turn allowed to differ from the truth (Whisper's word times, the tiny model).
const TOLERANCE_MS: i64 = 1_500;

/// One person's contiguous turn on one item, as the truth has it.
#[derive(Clone, Debug, PartialEq)]
struct Turn {
    person: String,
    start_ms: i64,
    end_ms: i64,
}

/// The truth's turns: consecutive utterances of one person on one item.
fn truth_turns(sample: &Sample) -> Vec<Turn> {
    let truth = sample.truth();
    let mut turns: Vec<(Turn, Option<u32>)> = Vec::new();
    for u in &truth.utterances {
        match turns.last_mut() {
            Some((t, item)) if t.person == u.person && *item == u.item => {
                t.end_ms = u.end_ms.0 as i64;
            }
            _ => turns.push((
                Turn {
                    person: u.person.clone(),
                    start_ms: u.start_ms.0 as i64,
                    end_ms: u.end_ms.0 as i64,
                },
                u.item,
            )),
        }
    }
    turns.into_iter().map(|(t, _)| t).collect()
}

async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

/// The interventions a councillor's or group's page lists: (session, person, start, end).
async fn listed(client: &Client) -> Vec<(String, String, i64, i64)> {
    let found = js(
        client,
        "return Array.from(document.querySelectorAll('#interventions li.spoken')).map(li =>
             [li.dataset.session, li.dataset.person, +li.dataset.startMs, +li.dataset.endMs]);",
    )
    .await;
    found
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v[0].as_str().unwrap().to_owned(),
                v[1].as_str().unwrap().to_owned(),
                v[2].as_i64().unwrap(),
                v[3].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Asserts that `shown` (start, end) are exactly `truth`'s turns, each within the tolerance.
fn same_turns(what: &str, mut shown: Vec<(i64, i64)>, truth: &[Turn]) {
    shown.sort();
    assert_eq!(
        shown.len(),
        truth.len(),
        "{what}: shown {shown:?}, truth {truth:?}"
    );
    for (s, t) in shown.iter().zip(truth) {
        assert!(
            (s.0 - t.start_ms).abs() <= TOLERANCE_MS && (s.1 - t.end_ms).abs() <= TOLERANCE_MS,
            "{what}: shown {s:?} for the truth's {t:?}"
        );
    }
}

/// The votes of a document not taken inside a closed part.
fn public_votes(doc: &Value) -> Vec<&Value> {
    let time = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let start = time(&doc["start"]);
    let closed: Vec<(i64, i64)> = doc["closed_ranges"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|c| {
                    (
                        c["start_ms"].as_i64().unwrap(),
                        c["end_ms"].as_i64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    doc["votes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| {
            let at_ms = (time(&v["at"]) - start).num_milliseconds();
            !closed.iter().any(|&(a, b)| a <= at_ms && at_ms < b)
        })
        .collect()
}

fn spec(seed: u64, closed: Option<(u64, u64)>) -> Spec {
    Spec {
        lang: "en",
        seconds: 60,
        items: 2,
        speakers: 3,
        seed,
        cast_seed: Some(5),
        closed,
        ..Spec::default()
    }
}

/// The two sessions: their ids, the truth's turns and the documents.
struct Two {
    ids: Vec<String>,
    turns: Vec<Vec<Turn>>,
    docs: Vec<Value>,
}

/// The agenda items of the documents that name a proposer group, with their document's index.
fn tabled(docs: &[Value]) -> Vec<(usize, &Value)> {
    docs.iter()
        .enumerate()
        .flat_map(|(k, d)| d["agenda"].as_array().unwrap().iter().map(move |a| (k, a)))
        .filter(|(_, a)| a["proposer_group"].is_string())
        .collect()
}

/// A group's page, their interventions against the truth, its tabled items with
/// the outcome of the last vote on each.
async fn check_group(client: &Client, base: &str, two: &Two, group: &str, members: &[String]) {
    let Two { ids, turns, docs } = two;
    let tabled = tabled(docs);
    let group_id = group.to_lowercase().replace(' ', "-");
    client
        .goto(&format!("{base}/gruppi/{group_id}?lang=en"))
        .await
        .unwrap();
    let member_links = js(
        client,
        "return Array.from(document.querySelectorAll('#member-list a')).map(a => a.getAttribute('href'));",
    )
    .await;
    let mut links: Vec<&str> = member_links
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    links.sort();
    let mut want: Vec<String> = members
        .iter()
        .map(|m| format!("/consiglieri/{m}?lang=en"))
        .collect();
    want.sort();
    assert_eq!(links, want, "{group}'s members");
    let shown = listed(client).await;
    for (k, id) in ids.iter().enumerate() {
        let truth: Vec<Turn> = turns[k]
            .iter()
            .filter(|t| members.contains(&t.person))
            .cloned()
            .collect();
        let mine: Vec<(i64, i64)> = shown
            .iter()
            .filter(|(s, ..)| s == id)
            .map(|&(_, _, from, to)| (from, to))
            .collect();
        same_turns(&format!("{group} in {id}"), mine, &truth);
    }
    let items = js(
        client,
        "return Array.from(document.querySelectorAll('#tabled-items li')).map(li => li.textContent);",
    )
    .await;
    let items = items.as_array().unwrap();
    let ours: Vec<&(usize, &Value)> = tabled
        .iter()
        .filter(|(_, a)| a["proposer_group"] == group)
        .collect();
    assert_eq!(items.len(), ours.len(), "{items:?}");
    for (k, a) in ours {
        let line = items
            .iter()
            .filter_map(Value::as_str)
            .find(|l| l.contains(a["title"].as_str().unwrap()))
            .unwrap_or_else(|| panic!("{a} among {items:?}"));
        let vote = public_votes(&docs[*k])
            .into_iter()
            .rfind(|v| v["item"] == a["number"]);
        match vote {
            Some(v) => {
                let outcome = if v["result"] == "approved" {
                    "Approved"
                } else {
                    "Rejected"
                };
                let c = &v["counts"];
                let counts = format!(
                    "in favour {}, against {}, abstained {}",
                    c["favour"], c["against"], c["abstained"]
                );
                assert!(line.contains(outcome) && line.contains(&counts), "{line}");
            }
            None => assert!(line.contains("not voted"), "{line}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn councillor_and_group_pages_across_two_sessions_with_their_votes() {
    let aula = Aula::new();
    // Seed 8 tables a motion (voted) and a question; seed 6, a week earlier, a motion (voted).
    let a = aula.sample_in("a", &spec(8, None));
    let b = aula.sample_in("b", &spec(6, Some((40, 52))));
    let docs: Vec<Value> = [&a, &b].map(|s| read_json(s.document())).to_vec();
    assert_eq!(
        docs[0]["roster"], docs[1]["roster"],
        "the same cast seed gives the same roster"
    );
    let ids: Vec<String> = [&a, &b]
        .iter()
        .map(|s| aula.imported(s, Evidence::FloorEventsAndMarkers))
        .collect();
    for id in &ids {
        aula.transcribed(id, "tiny.en");
    }
    aula.ok(&["publish", &ids[0], "--presets", "web-720p"]);
    let server = start_server(&aula.path().join("data"), None);
    let base = format!("http://127.0.0.1:{}", server.port);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let client = chromium(&driver, downloads.path()).await;

    let turns = [truth_turns(&a), truth_turns(&b)];
    let closed = &b.truth().closed[0];
    let roster = docs[0]["roster"].as_array().unwrap();
    let councillors: Vec<&Value> = roster
        .iter()
        .filter(|p| p["role"] == "councillor")
        .collect();
    assert_eq!(councillors.len(), 3);

    // Each councillor's page: exactly their turns of both sessions, and the time they spoke.
    for person in roster {
        let pid = person["id"].as_str().unwrap();
        client
            .goto(&format!("{base}/consiglieri/{pid}"))
            .await
            .unwrap();
        let shown = listed(&client).await;
        assert!(shown.iter().all(|(_, p, _, _)| p == pid));
        for (k, id) in ids.iter().enumerate() {
            let truth: Vec<Turn> = turns[k]
                .iter()
                .filter(|t| t.person == pid)
                .cloned()
                .collect();
            let mine: Vec<(i64, i64)> = shown
                .iter()
                .filter(|(s, ..)| s == id)
                .map(|&(_, _, from, to)| (from, to))
                .collect();
            same_turns(&format!("{pid} in {id}"), mine, &truth);
            let spoken = js(
                &client,
                &format!("return +document.querySelector('.spoken-time[data-session=\"{id}\"]').dataset.ms"),
            )
            .await
            .as_i64()
            .unwrap();
            let truth_ms: i64 = truth.iter().map(|t| t.end_ms - t.start_ms).sum();
            assert!(
                (spoken - truth_ms).abs() <= 2_000,
                "{pid} spoke {spoken} ms in {id}, the truth says {truth_ms} ms"
            );
        }
        assert!(
            shown.iter().all(|(s, _, from, to)| s != &ids[1]
                || *to as u64 <= closed.start_ms.0
                || *from as u64 >= closed.end_ms.0),
            "{pid}: nothing of the closed part"
        );
        // The voting record: one line per public roll call in which they voted, with their vote.
        let record = js(
            &client,
            "return Array.from(document.querySelectorAll('#vote-record .choice')).map(e => e.dataset.vote);",
        )
        .await;
        let mut expected = Vec::new();
        let mut newest_first: Vec<&Value> = docs.iter().collect();
        newest_first.sort_by_key(|d| std::cmp::Reverse(d["start"].as_str().unwrap().to_owned()));
        for doc in newest_first {
            for vote in public_votes(doc) {
                let ballot = vote["ballots"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|b| b["person"] == pid);
                expected.extend(ballot.map(|b| b["vote"].clone()));
            }
        }
        assert!(!expected.is_empty(), "{pid} voted");
        assert_eq!(
            record.as_array().unwrap(),
            &expected,
            "{pid}'s voting record"
        );
    }
    let first = councillors[0]["id"].as_str().unwrap();
    screenshots(
        &client,
        "people",
        &format!("{base}/consiglieri/{first}"),
        "councillor",
    )
    .await;

    // A group's page: its members, their interventions, the items it tabled with the outcome.
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in roster {
        if let Some(g) = p["group"].as_str() {
            groups
                .entry(g.to_owned())
                .or_default()
                .push(p["id"].as_str().unwrap().to_owned());
        }
    }
    let two = Two {
        ids: ids.clone(),
        turns: turns.to_vec(),
        docs: docs.clone(),
    };
    let tabled = tabled(&docs);
    assert!(!tabled.is_empty(), "the samples table a motion or question");
    let tabling: Vec<(&String, &Vec<String>)> = groups
        .iter()
        .filter(|(g, _)| {
            tabled
                .iter()
                .any(|(_, a)| a["proposer_group"] == g.as_str())
        })
        .collect();
    assert!(tabling.len() >= 2, "{groups:?}");
    for (group, members) in tabling {
        check_group(&client, &base, &two, group, members).await;
    }
    let group = groups.keys().next().unwrap();
    screenshots(
        &client,
        "people",
        &format!(
            "{base}/gruppi/{}?lang=en",
            group.to_lowercase().replace(' ', "-")
        ),
        "group",
    )
    .await;

    // The votes on the session page's items, in metadata.json and in the feed.
    let votes = public_votes(&docs[0]);
    assert!(!votes.is_empty(), "the first sample votes");
    client
        .goto(&format!("{base}/sessions/{}", ids[0]))
        .await
        .unwrap();
    let on_items = js(
        &client,
        "return Array.from(document.querySelectorAll('li.vote')).map(li => [+li.dataset.item, li.textContent]);",
    )
    .await;
    let on_items = on_items.as_array().unwrap();
    assert_eq!(on_items.len(), votes.len(), "{on_items:?}");
    for (shown, vote) in on_items.iter().zip(&votes) {
        assert_eq!(shown[0], vote["item"]);
        let c = &vote["counts"];
        let text = shown[1].as_str().unwrap();
        assert!(
            text.contains(vote["subject"].as_str().unwrap())
                && text.contains(&format!(
                    "favorevoli {}, contrari {}, astenuti {}",
                    c["favour"], c["against"], c["abstained"]
                )),
            "{text}"
        );
    }
    screenshots(
        &client,
        "people",
        &format!("{base}/sessions/{}", ids[0]),
        "session",
    )
    .await;
    let package = aula
        .path()
        .join(format!("data/sessions/{}/packages/press", ids[0]));
    let metadata = read_json(package.join("metadata.json"));
    assert_eq!(metadata["votes"].as_array().unwrap().len(), votes.len());
    for (m, v) in metadata["votes"].as_array().unwrap().iter().zip(&votes) {
        for field in ["item", "subject", "result", "counts"] {
            assert_eq!(m[field], v[field], "{field}");
        }
        assert_eq!(
            m["ballots"].as_array().unwrap().len(),
            v["ballots"].as_array().unwrap().len()
        );
    }
    let feed = std::fs::read_to_string(package.join("feed.xml")).unwrap();
    for v in &votes {
        let c = &v["counts"];
        let line = format!(
            "Vote: {}: {} (in favour {}, against {}, abstained {})",
            v["subject"].as_str().unwrap(),
            v["result"].as_str().unwrap(),
            c["favour"],
            c["against"],
            c["abstained"]
        );
        assert!(feed.contains(&line), "{line} in {feed}");
    }

    // Unknown ids: a 404 page.
    for path in ["/consiglieri/nessuno", "/gruppi/nessuno"] {
        let (status, body) = http(server.port, "GET", path, None, "");
        assert_eq!(status, 404, "{path}");
        assert!(body.contains("<h1>Pagina non trovata</h1>"), "{body}");
    }
    client.close().await.unwrap();
}

#[test]
fn votes_round_trip_and_bad_votes_are_refused_with_the_field_path() {
    let aula = Aula::new();
    let doc = json!({
        "id": "cc-2021-05-10", "body": "Consiglio comunale", "title": "Seduta ordinaria",
        "start": "2021-05-10T17:00:00Z", "mode": "in_person", "language": "it", "sources": [],
        "closed_ranges": [], "floor_events": [], "agenda_markers": [],
        "roster": [
            {"id": "mario-rossi", "name": "Mario Rossi", "role": "chair", "seat": 1},
            {"id": "luca-neri", "name": "Luca Neri", "role": "councillor", "group": "Gruppo Misto", "seat": 2},
            {"id": "anna-verdi", "name": "Anna Verdi", "role": "councillor", "group": "Futuro Comune", "seat": 3}
        ],
        "agenda": [
            {"number": 1, "title": "Bilancio", "kind": "resolution"},
            {"number": 2, "title": "Mozione sui parchi", "kind": "motion", "proposer_group": "Futuro Comune"}
        ],
        "votes": [
            {"item": 2, "at": "2021-05-10T17:40:00Z", "subject": "Mozione sui parchi", "result": "approved",
             "counts": {"favour": 2, "against": 1, "abstained": 0},
             "ballots": [{"person": "anna-verdi", "vote": "favour"}, {"person": "mario-rossi", "vote": "favour"},
                         {"person": "luca-neri", "vote": "against"}]},
            {"item": 1, "at": "2021-05-10T17:50:00Z", "subject": "Bilancio", "result": "rejected",
             "counts": {"favour": 12, "against": 14, "abstained": 2}}
        ]
    });
    let dir = aula.path().join("docs");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, doc: &Value| {
        let path = dir.join(name);
        std::fs::write(&path, doc.to_string()).unwrap();
        path.to_str().unwrap().to_owned()
    };

    let mut bad = doc.clone();
    bad["votes"][0]["ballots"][2]["person"] = json!("nessuno");
    bad["votes"][0]["counts"]["favour"] = json!(3);
    let out = aula.run(&["session", "import", &write("bad.json", &bad)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("votes[0].ballots[2].person: \"nessuno\" is not in the roster"),
        "{err}"
    );
    assert!(
        err.contains("votes[0].counts.favour: is 3, but 2 of the ballots say favour"),
        "{err}"
    );
    let mut bad = doc.clone();
    bad["votes"][1]["result"] = json!("passed");
    let out = aula.run(&["session", "import", &write("bad2.json", &bad)]);
    assert!(
        stderr(&out).contains("votes[1].result: unknown variant `passed`"),
        "{}",
        stderr(&out)
    );
    let list: Value = serde_json::from_str(&aula.ok(&["session", "list", "--json"])).unwrap();
    assert_eq!(list, json!([]), "nothing of a refused document stays");

    aula.ok(&["session", "import", &write("good.json", &doc)]);
    let shown: Value =
        serde_json::from_str(&aula.ok(&["session", "show", "cc-2021-05-10", "--json"])).unwrap();
    assert_eq!(shown, doc, "the votes and the proposer group round-trip");
}

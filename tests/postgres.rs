//! aula on PostgreSQL (`AULA_DATABASE=postgres://...`, a database of a throwaway cluster the test
//! starts): a generated session is imported with its floor events, transcribed and aligned,
//! corrected, published, served (its page, a search that finds its words) and deleted as on
//! SQLite, and no SQLite file is made.

mod common;

use common::serve::{http, start_server_with};
use common::{Aula, Evidence, Spec};

#[test]
fn a_session_goes_from_import_to_publication_on_postgres() {
    let aula = Aula::on_postgres();
    let sample = aula.sample(&Spec {
        lang: "en",
        seconds: 24,
        items: 2,
        speakers: 2,
        seed: 3,
        ..Spec::default()
    });
    let id = aula.imported(&sample, Evidence::FloorEventsAndMarkers);
    let listed: serde_json::Value =
        serde_json::from_str(&aula.ok(&["session", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    aula.transcribed(&id, "tiny.en");
    let timeline: serde_json::Value =
        serde_json::from_str(&aula.ok(&["session", "timeline", &id, "--json"])).unwrap();
    let words = timeline["words"].as_array().unwrap();
    assert!(words.len() >= 10, "{timeline}");
    assert_eq!(timeline["items"].as_array().unwrap().len(), 2, "{timeline}");

    // A correction is a revision, as on SQLite.
    let at = session::SessionMs(words[0]["start_ms"].as_u64().unwrap());
    aula.ok(&[
        "session",
        "fix",
        &id,
        "replace-text",
        "--from",
        &at.to_string(),
        "--to",
        &(at + 1).to_string(),
        "--text",
        "Buonasera",
    ]);
    let history: serde_json::Value =
        serde_json::from_str(&aula.ok(&["session", "history", &id, "--json"])).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    let timeline: serde_json::Value =
        serde_json::from_str(&aula.ok(&["session", "timeline", &id, "--json"])).unwrap();
    assert_eq!(timeline["words"][0]["text"], "Buonasera");

    let report: serde_json::Value =
        serde_json::from_str(&aula.ok(&["publish", &id, "--presets", "web-720p", "--json"]))
            .unwrap();
    assert_eq!(report["clips"], 2, "{report}");
    assert!(
        !aula.path().join("data").join("aula.db").exists(),
        "a SQLite catalogue was made"
    );

    // Served from PostgreSQL: the session's page, and the search finds a word said in it.
    let server = start_server_with(&aula.path().join("data"), None, aula.database.as_deref());
    let (status, page) = http(server.port, "GET", &format!("/sessions/{id}"), None, "");
    assert_eq!(status, 200, "{page}");
    let word = words
        .iter()
        .map(|w| w["text"].as_str().unwrap().trim().to_lowercase())
        .find(|w| w.chars().count() >= 5 && w.chars().all(char::is_alphabetic))
        .expect("a long word");
    let (status, hits) = http(
        server.port,
        "GET",
        &format!("/api/v1/search?q={word}"),
        None,
        "",
    );
    assert_eq!(status, 200, "{hits}");
    let hits: serde_json::Value = serde_json::from_str(&hits).unwrap();
    assert_eq!(hits[0]["session"], id.as_str(), "{word}: {hits}");
    drop(server);

    aula.ok(&["session", "delete", &id]);
    let listed: serde_json::Value =
        serde_json::from_str(&aula.ok(&["session", "list", "--json"])).unwrap();
    assert_eq!(listed, serde_json::json!([]));
}
